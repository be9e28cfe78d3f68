"""OLMo model-ladder logs (wandb CSV exports) as a tidy frame.

The preset understands the files of allenai/OLMo ``scripts/scaling/data/peteish-moreeval``
(Bhagia et al. 2024; used by the signal-and-noise paper for its scaling laws):
``SIZE-MULTxC[-rerun].csv`` ladder runs and ``peteish{7,13,1}[_medlr]_eval_*.csv`` target runs.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from snrstat.schema import DataError, validate

#: Parameter counts N the signal-and-noise paper uses for the ladder and targets.
LADDER_PARAMS = {
    "190M": 190354176, "370M": 371262464, "760M": 758220288, "1B": 1279395840,
    "3B": 3169537280, "7B": 6887575552, "13B": 13202396160,
}
#: Tokens per optimizer step of the target runs, whose logs lack a token counter.
TARGET_TOKENS_PER_STEP = {"7": 4_194_304, "13": 8_388_608}
TARGET_SIZES = {"7": "7B", "13": "13B", "1": "1B"}

_DOWNSTREAM = re.compile(
    r"^eval/downstream(?:_bpb|_soft|_soft_log)?/(?P<task>.+?)(?:_(?P<split>val|test|train|validation))?"
    r"_rc_(?P<shots>\d+)shot_(?P<metric>len_norm|acc|bpb|soft_log|soft)(?:_(?P=metric))*$"
)
_LOSS = re.compile(r"^eval/(?P<corpus>[^/]+)-validation/CrossEntropyLoss$")
_LADDER_FILE = re.compile(r"^(?P<size>\d+(?:\.\d+)?[MB])-(?P<mult>[\d.]+)xC(?P<rerun>-rerun)?$")
_TARGET_FILE = re.compile(
    r"^peteish(?P<n>\d+)(?P<variant>[-_](?:medlr|highlr|lowlr))?(?:[-_]eval)?(?:[-_](?P<part>.+))?$")
_ANNEAL = re.compile(r"(?:^|[-_])anneal(?:ing)?(?:$|[-_])", re.IGNORECASE)


def read_wandb_csv(
    path: str | Path,
    *,
    model: str,
    size: str | None = None,
    params: float | None = None,
    seed: str | None = None,
    tokens_per_step: float | None = None,
    include_lm_loss: bool = False,
) -> pd.DataFrame:
    """One wandb CSV export of in-loop evaluations (one row per logged step) as tidy records.

    Downstream columns ``eval/downstream*/<task>_<split>_rc_<k>shot_<metric>`` become
    task ``<task>_<split>`` and metric ``len_norm``/``acc``/``bpb``/``soft``/``soft_log``;
    with ``include_lm_loss`` the ``eval/<corpus>-validation/CrossEntropyLoss`` columns become
    task ``<corpus>``, metric ``ce_loss``. ``tokens`` comes from ``throughput/total_tokens``,
    else ``step * tokens_per_step``; a file without ``_step`` gets ``tokens / tokens_per_step``.
    """
    path = Path(path)
    try:
        raw = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty") from None
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a readable CSV file ({exc})") from None
    specs = []
    for col in raw.columns:
        if m := _DOWNSTREAM.match(col):
            split = {"validation": "val"}.get(m["split"], m["split"])
            specs.append((col, f"{m['task']}_{split}" if split else m["task"], m["metric"]))
        elif include_lm_loss and (m := _LOSS.match(col)):
            specs.append((col, m["corpus"], "ce_loss"))
    if not specs:
        raise DataError(f"{path}: no evaluation columns like 'eval/downstream/<task>_<split>_rc_5shot_<metric>'")
    tokens = raw["throughput/total_tokens"].astype("float64") if "throughput/total_tokens" in raw else None
    if len(raw) == 0:
        raise DataError(f"{path}: the CSV has a header but no rows")
    if "_step" in raw:
        step = pd.to_numeric(raw["_step"], errors="coerce")
    elif tokens is not None and tokens_per_step:
        step = (tokens / tokens_per_step).round()
    elif tokens is not None and tokens.notna().any():
        # tokens only: the step is tokens / the tokens per step, taken as the greatest common
        # divisor of the logged token counts (each logged step is a whole number of batches)
        whole = tokens.dropna().round().astype("int64")
        per_step = int(np.gcd.reduce(whole[whole > 0].to_numpy())) if (whole > 0).any() else 0
        if per_step <= 0:
            raise DataError(f"{path}: no '_step' column, and 'throughput/total_tokens' is all zero")
        step = (tokens / per_step).round()
    else:
        raise DataError(f"{path}: no '_step' column, and no token count ('throughput/total_tokens') to "
                        "derive the step from; pass tokens_per_step=")
    if tokens is None:
        tokens = step * tokens_per_step if tokens_per_step else pd.Series(np.nan, index=raw.index)

    seen: dict = {}
    for col, task, metric in specs:
        seen.setdefault((task, metric), []).append(col)
    for (task, metric), same in seen.items():
        if len(same) == 1:
            continue
        # two spellings of one metric (``..._bpb`` and ``..._bpb_bpb``): one column, if they agree
        values = raw[same].apply(pd.to_numeric, errors="coerce")
        if not values.T.drop_duplicates().shape[0] == 1:
            raise DataError(f"{path}: columns {same} both hold task {task!r} metric {metric!r} with different values")
    specs = [(same[0], task, metric) for (task, metric), same in seen.items()]
    cols, tasks, metrics = zip(*specs)
    wide = raw[list(cols)].apply(pd.to_numeric, errors="coerce")
    wide.columns = pd.MultiIndex.from_arrays([tasks, metrics], names=["task", "metric"])
    wide.index = pd.Index(step.astype("Int64"), name="step")
    long = wide.stack(["task", "metric"], future_stack=True).rename("value").dropna().reset_index()
    token_by_step = pd.Series(tokens.to_numpy(), index=wide.index)
    long["tokens"] = token_by_step.reindex(long["step"]).to_numpy()
    long["model"] = model
    long["size"] = size
    long["params"] = params
    long["seed"] = seed
    return long


def _describe_file(path: Path) -> dict:
    """model, size, params, seed (and tokens_per_step) of one ladder or target file, by its name.

    ``SIZE-MULTxC[-rerun]`` ladder runs; ``peteishN[_medlr|_highlr][_eval][_PART]`` target runs
    (``PART`` ``anneal`` makes model ``peteishN-anneal``); any other name is one run named by
    the file's stem, its size the part of the name that spells a parameter count
    (``OLMo-7B-anneal.csv`` -> model ``OLMo-7B-anneal``, size ``7B``).
    """
    stem = path.stem
    if m := _LADDER_FILE.match(stem):
        size = m["size"]
        return dict(model=f"{m['mult']}xC", size=size, params=LADDER_PARAMS.get(size),
                    seed="1" if m["rerun"] else "0")
    if m := _TARGET_FILE.match(stem):
        n, variant, part = m["n"], m["variant"], m["part"] or ""
        model = (f"peteish{n}" + (f"-{variant[1:]}" if variant else "")
                 + ("-anneal" if _ANNEAL.search(part) else ""))
        size = TARGET_SIZES.get(n, f"{n}B")
        # peteish1 is not the ladder's 1B, so its parameter count is left unknown.
        params = LADDER_PARAMS.get(size) if n in TARGET_TOKENS_PER_STEP else None
        return dict(model=model, size=size, params=params, seed="0",
                    tokens_per_step=TARGET_TOKENS_PER_STEP.get(n))
    from snrstat.io.lm_eval import size_from_name

    size = size_from_name(stem)
    return dict(model=stem, size=size, params=None, seed="0")


def read_olmo_ladder(path: str | Path, *, include_lm_loss: bool = False, on_error: str = "raise") -> pd.DataFrame:
    """Read one OLMo ladder CSV or a directory of them into a validated tidy frame.

    Model = token multiplier (``0.5xC`` ... ``10xC``) for ladder runs, so the same "models"
    recur at every size; ``peteish7``, ``peteish7-medlr``, ``peteish13``, ``peteish1`` (and
    ``-anneal``) for the target runs; any other file is one run named by its stem (see
    :func:`_describe_file`). Seed ``"1"`` marks the ``-rerun`` replicate of 1xC.
    Overlapping slices of a target run (``_full``, ``_170k-450k``...) are merged; a step
    logged twice with different values is an error.

    Every vintage of the wandb export is read: metric columns with or without a split
    (``hellaswag_val_rc_5shot_len_norm``, ``hellaswag_rc_5shot_len_norm`` -> task ``hellaswag``),
    doubled metric suffixes (``..._bpb_bpb``), and files whose only clock is
    ``throughput/total_tokens`` (no ``_step``; see :func:`read_wandb_csv`).
    ``on_error="skip"``: in a directory, CSVs without evaluation columns are skipped with one
    warning naming them.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.glob("*.csv"))
        if not files:
            raise DataError(f"{path}: no .csv files")
    elif path.exists():
        files = [path]
    else:
        raise FileNotFoundError(f"{path}: no such file or directory")
    parts, skipped = [], []
    for f in files:
        try:
            parts.append(read_wandb_csv(f, include_lm_loss=include_lm_loss, **_describe_file(f)))
        except DataError as exc:
            if on_error != "skip" or not path.is_dir():
                raise
            skipped.append(str(exc))
    if skipped:
        import warnings

        warnings.warn(f"{path}: skipped {len(skipped)} CSV file(s) that are not OLMo ladder logs: "
                      + "; ".join(skipped[:5]), UserWarning, stacklevel=2)
    if not parts:
        raise DataError(f"{path}: no OLMo ladder logs among the .csv files")
    return validate(pd.concat(parts, ignore_index=True))
