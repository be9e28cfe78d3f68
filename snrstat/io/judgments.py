"""Tidy tables of LLM-judge verdicts: one row per judgment.

An LLM judge either compares two answers to the same instruction (``pairwise``: which of
answer 1 and answer 2 is better) or scores one answer on its own (``rating``: an ordinal
score, LLMBar's 1-10 scale). :func:`read_judgments` reads any such table into one shape that
:mod:`snrstat.judges` accepts:

==============  ======================================================================
column          meaning
==============  ======================================================================
``item``        the pair of answers judged (text id; the same pair across judges)
``subset``      group of items (a benchmark split); items are pooled within it
``judge``       the judging model
``strategy``    the prompting strategy (Vanilla, CoT, Rating, ...)
``mode``        ``pairwise`` or ``rating`` (per judge and strategy)
``swap``        False: answers shown in the original order; True: answer 2 shown first
``repeat``      index of the verdict within one (judge, strategy, item, swap) cell
``label``       gold: 1 or 2 (which answer is better), NA when unknown
``winner``      the verdict in the original numbering, 1 or 2 (NA: no verdict)
``score_1``     rating mode: the scores given to answer 1 and answer 2 (else NA)
``score_2``
``system_1``    optional: the systems that wrote answer 1 and answer 2
``system_2``
==============  ======================================================================

Accepted spellings: ``verdict``/``preferred`` for ``winner``, ``order``/``position`` for
``swap`` (``original``/``swapped``, ``1``/``2`` or booleans), ``gold`` for ``label``,
``answer_1``/``answer_2`` or ``model_1``/``model_2`` for ``system_1``/``system_2``. In rating
mode a missing ``winner`` is derived from the scores, a tie going to the answer shown second
(the convention of the LLMBar evaluators, Zeng et al. 2024).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from snrstat.schema import DataError

#: Columns of a validated judgment frame, in this order.
JUDGMENT_COLUMNS = ("subset", "item", "judge", "strategy", "mode", "swap", "repeat", "label", "winner",
                    "score_1", "score_2", "system_1", "system_2")
REQUIRED = ("item", "judge")
MODES = ("pairwise", "rating")
_ALIASES = {
    "verdict": "winner", "preferred": "winner", "order": "swap", "position": "swap", "gold": "label",
    "answer_1": "system_1", "answer_2": "system_2", "model_1": "system_1", "model_2": "system_2",
    "prompt": "strategy",
}
_SWAP_TEXT = {"false": False, "true": True, "original": False, "swapped": True, "0": False, "1": False,
              "2": True, "first": False, "second": True}


def read_judgments(source: str | Path | pd.DataFrame, *, rename: dict | None = None) -> pd.DataFrame:
    """A validated judgment frame from a CSV/TSV (``.gz`` allowed) or Parquet file, or a frame.

    ``rename`` maps your column names to the ones above (applied before the aliases). Missing
    optional columns are filled: ``subset`` 'all', ``strategy`` 'default', ``swap`` False,
    ``repeat`` 0, ``label``/``winner``/scores/systems NA; ``mode`` is 'rating' for every
    (judge, strategy) with any score, else 'pairwise'. Raises :class:`DataError` naming the
    column and the offending values for a missing required column, verdicts or labels other
    than 1/2, a pairwise row with scores, a rating row without them, and duplicated rows.
    """
    if isinstance(source, pd.DataFrame):
        raw, where = source.copy(), "the judgment frame"
    else:
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(f"no such judgment file: {path}")
        where = str(path)
        name = path.name.lower()
        if name.endswith(".parquet"):
            raw = pd.read_parquet(path)
        elif name.endswith((".tsv", ".tsv.gz")):
            raw = pd.read_csv(path, sep="\t", dtype={"item": str})
        elif name.endswith((".csv", ".csv.gz")):
            raw = pd.read_csv(path, dtype={"item": str})
        else:
            raise DataError(f"{where}: unknown file type (expected .csv, .tsv, .csv.gz or .parquet)")
    if rename:
        raw = raw.rename(columns=dict(rename))
    raw = raw.rename(columns={k: v for k, v in _ALIASES.items() if k in raw.columns and v not in raw.columns})
    return validate_judgments(raw, where=where)


def validate_judgments(raw: pd.DataFrame, *, where: str = "the judgment frame") -> pd.DataFrame:
    """Check and normalise a frame with the columns above (see :func:`read_judgments`)."""
    absent = [c for c in REQUIRED if c not in raw.columns]
    if absent:
        raise DataError(f"{where}: required column(s) {absent} missing; columns are {list(raw.columns)}")
    if len(raw) == 0:
        raise DataError(f"{where}: no judgments (0 rows)")
    n = len(raw)
    out = pd.DataFrame(index=pd.RangeIndex(n))
    defaults = {"subset": "all", "strategy": "default"}
    for col in ("subset", "item", "judge", "strategy", "system_1", "system_2"):
        if col in raw.columns:
            values = raw[col].reset_index(drop=True)
            text = values.astype("string").str.strip()
            if col in REQUIRED or col in defaults:
                bad = values.isna() | (text == "")
                if bad.any():
                    raise DataError(f"{where}: column {col!r} is empty in {int(bad.sum())} row(s), e.g. row "
                                    f"{int(np.flatnonzero(bad.to_numpy())[0])}")
            out[col] = text
        else:
            out[col] = pd.array([defaults.get(col)] * n, dtype="string")
    out["swap"] = _swap_column(raw, where)
    out["repeat"] = _int_column(raw, "repeat", where, default=0)
    for col in ("label", "winner"):
        out[col] = _one_two(raw, col, where)
    for col in ("score_1", "score_2"):
        if col in raw.columns:
            vals = pd.to_numeric(raw[col].reset_index(drop=True), errors="coerce")
            bad = raw[col].reset_index(drop=True).notna() & vals.isna()
            if bad.any():
                raise DataError(f"{where}: column {col!r} holds non-numbers {sorted(map(str, raw[col][bad.values].unique()))[:5]}")
            if not np.isfinite(vals.dropna()).all():
                raise DataError(f"{where}: column {col!r} holds infinite scores")
            out[col] = vals.astype("float64")
        else:
            out[col] = np.nan
    out["mode"] = _mode_column(raw, out, where)
    rating = out["mode"] == "rating"
    derive = rating & out["winner"].isna() & out["score_1"].notna() & out["score_2"].notna()
    if derive.any():
        s1, s2 = out.loc[derive, "score_1"], out.loc[derive, "score_2"]
        second = np.where(out.loc[derive, "swap"], 1, 2)  # a tie goes to the answer shown second
        out.loc[derive, "winner"] = np.where(s1 > s2, 1, np.where(s1 < s2, 2, second))
    keys = ["judge", "strategy", "subset", "item", "swap", "repeat"]
    dup = out.duplicated(keys, keep=False)
    if dup.any():
        first = out.loc[dup, keys].iloc[0].to_dict()
        raise DataError(f"{where}: {int(dup.sum())} rows share (judge, strategy, subset, item, swap, repeat), e.g. "
                        f"{first}; number repeated verdicts with column 'repeat'")
    labels = out.dropna(subset=["label"]).groupby(["subset", "item"])["label"].nunique()
    if (labels > 1).any():
        raise DataError(f"{where}: column 'label' differs between rows of the same item, e.g. {labels[labels > 1].index[0]}")
    extra = [c for c in raw.columns if c not in out.columns]
    frame = out[list(JUDGMENT_COLUMNS)]
    frame.attrs["dropped_columns"] = extra
    return frame


def _swap_column(raw, where):
    if "swap" not in raw.columns:
        return pd.Series(False, index=pd.RangeIndex(len(raw)))
    col = raw["swap"].reset_index(drop=True)
    if col.dtype == bool:
        return col
    text = col.astype("string").str.strip().str.lower()
    mapped = text.map(_SWAP_TEXT)
    bad = mapped.isna()
    if bad.any():
        raise DataError(f"{where}: column 'swap' (or order/position) must be True/False, original/swapped or 1/2; "
                        f"got {sorted(map(str, col[bad].unique()))[:5]}")
    return mapped.astype(bool)


def _int_column(raw, col, where, default):
    if col not in raw.columns:
        return pd.Series(default, index=pd.RangeIndex(len(raw)), dtype="int64")
    vals = pd.to_numeric(raw[col].reset_index(drop=True), errors="coerce")
    bad = vals.isna() | (vals < 0) | (vals != np.round(vals))
    if bad.any():
        raise DataError(f"{where}: column {col!r} must hold integers >= 0; got {sorted(map(str, raw[col][bad.values].unique()))[:5]}")
    return vals.astype("int64")


def _one_two(raw, col, where):
    if col not in raw.columns:
        return pd.Series(pd.array([pd.NA] * len(raw), dtype="Int64"))
    values = raw[col].reset_index(drop=True)
    vals = pd.to_numeric(values.astype("string").str.strip(), errors="coerce")
    bad = values.notna() & ~vals.isin([1, 2])
    if bad.any():
        raise DataError(f"{where}: column {col!r} must be 1 or 2 (or empty); got {sorted(map(str, values[bad].unique()))[:5]}")
    return vals.astype("Int64")


def _mode_column(raw, out, where):
    scored = out["score_1"].notna() | out["score_2"].notna()
    if "mode" in raw.columns:
        mode = raw["mode"].reset_index(drop=True).astype("string").str.strip().str.lower()
        bad = ~mode.isin(MODES)
        if bad.any():
            raise DataError(f"{where}: column 'mode' must be one of {MODES}; got {sorted(map(str, mode[bad].unique()))[:5]}")
    else:
        rated = scored.groupby([out["judge"], out["strategy"]]).transform("any")
        mode = pd.Series(np.where(rated, "rating", "pairwise"), dtype="string")
    wrong = (mode == "pairwise") & scored
    if wrong.any():
        raise DataError(f"{where}: {int(wrong.sum())} pairwise row(s) carry scores in score_1/score_2; set mode 'rating'")
    return mode
