"""The tidy evaluation frame: one row per evaluation record.

Every importer returns a frame that has passed through :func:`validate`, and every
analysis accepts one. Identifier columns are strings (missing = NA), ``step`` and
``n_items`` are nullable integers, numbers are float64.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

#: Columns that identify a record (besides ``value``); ``item`` only for item-level data.
ID_COLUMNS = ("task", "subtask", "metric", "model", "size", "seed", "data_order", "step", "item")
STRING_COLUMNS = ("task", "subtask", "metric", "model", "size", "seed", "data_order", "item")
INT_COLUMNS = ("step", "n_items")
FLOAT_COLUMNS = ("params", "tokens", "value", "stderr")
REQUIRED_COLUMNS = ("task", "metric", "model", "value")
#: Columns every validated frame has, in this order (optional ones filled with NA).
COLUMNS = (
    "task", "subtask", "metric", "model", "size", "params", "seed", "data_order",
    "step", "tokens", "value", "n_items", "stderr",
)
#: Extra columns that tell records apart when present: settings that are not schema columns
#: (the shot count, the split), Inspect's epoch (a repeated attempt at the same item) and log
#: (one evaluation run of several of the same model and task).
SETTING_COLUMNS = ("num_fewshot", "split", "epoch", "log")
#: Columns that define a training run (Heineman et al. 2025).
RUN_COLUMNS = ("model", "size", "seed", "data_order")

#: Metrics that are proportions in [0, 1]; others (bpb, loss, ppl) only need to be finite.
BOUNDED_METRICS = frozenset({
    "acc", "acc_norm", "len_norm", "acc_raw", "acc_per_char", "acc_per_token", "acc_uncond",
    "soft", "primary_score", "exact_match", "f1", "pct_stereotype", "mc1", "mc2",
})


#: The metric used for a task that has several when none is chosen (accuracy first), everywhere.
METRIC_PREFERENCE = ("len_norm", "acc", "acc_norm", "primary_score", "bpb")


def default_metric(metrics) -> str | None:
    """The first of :data:`METRIC_PREFERENCE` among ``metrics``, else the only one, else None."""
    metrics = sorted({str(m) for m in metrics})
    for m in METRIC_PREFERENCE:
        if m in metrics:
            return m
    return metrics[0] if len(metrics) == 1 else None


class DataError(ValueError):
    """An evaluation frame or file that cannot be used as it is."""


_SIZE_LABEL = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([kmbt]?)(?![a-z])", re.IGNORECASE)
_SIZE_INNER = re.compile(r"^\s*(\d+)([kmbt])(\d+)(?![a-z0-9])", re.IGNORECASE)
_SIZE_SCALE = {"": 1.0, "k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}


def parse_size(label) -> float:
    """The parameter count a size label spells: ``'70m'`` -> 7e7, ``'1.4b'``/``'1.4B'`` -> 1.4e9,
    ``'190M'`` -> 1.9e8, ``'1b1'`` -> 1.1e9, ``'3'`` -> 3; k/M/B/T suffixes in either case. NaN when the label does
    not start with a number followed by one of those suffixes (``'small'``, ``'7x'``)."""
    if label is None or (not isinstance(label, str) and pd.isna(label)):
        return float("nan")
    text = str(label)
    inner = _SIZE_INNER.match(text)  # '1b1' (BLOOM's 1.1B), '2m5'
    if inner:
        return float(f"{inner.group(1)}.{inner.group(3)}") * _SIZE_SCALE[inner.group(2).lower()]
    hit = _SIZE_LABEL.match(text)
    if not hit:
        return float("nan")
    return float(hit.group(1)) * _SIZE_SCALE[hit.group(2).lower()]


def size_order(labels, params=None) -> list:
    """Size labels sorted from small to large, each once; never alphabetically when a number is known.

    The key of a label is its parameter count from ``params`` (a mapping label -> number, or a
    sequence aligned with ``labels``, e.g. the median of column ``params`` per size) where that
    is finite, else the number the label spells (:func:`parse_size`: ``70m < 160m < 1b < 1.4b``);
    labels with neither come last, by name. Ties keep the order of first appearance. This is the
    one size ordering of the package (tables, ``snrstat decide``, record selection).
    """
    labels = list(labels)
    if params is None:
        given = [float("nan")] * len(labels)
    elif hasattr(params, "get") and not isinstance(params, (list, tuple, np.ndarray)):
        given = [params.get(label, float("nan")) for label in labels]
    else:
        given = list(params)
        if len(given) != len(labels):
            raise DataError(f"size_order: {len(labels)} labels but {len(given)} params")
    keys, seen = {}, []
    for i, (label, p) in enumerate(zip(labels, given)):
        if label in keys:
            continue
        try:
            p = float(p)
        except (TypeError, ValueError):
            p = float("nan")
        num = p if np.isfinite(p) else parse_size(label)
        keys[label] = (0, num, i) if np.isfinite(num) else (1, 0.0, str(label))
        seen.append(label)
    return sorted(seen, key=lambda label: keys[label])


def _show(values, limit: int = 5) -> str:
    values = list(values)
    shown = ", ".join(repr(v) for v in values[:limit])
    more = f" (and {len(values) - limit} more)" if len(values) > limit else ""
    return shown + more


def _is_bounded(metric: pd.Series) -> pd.Series:
    """Proportion-valued metrics: known names, and lm-eval style ``acc,none`` keys."""
    # per distinct name, not per record: frames hold few metrics and many records
    bounded = {m: str(m).split(",")[0] in BOUNDED_METRICS for m in metric.dropna().unique()}
    return metric.map(bounded).fillna(False).astype(bool)


def validate(frame: pd.DataFrame, *, allow_duplicates: bool = False) -> pd.DataFrame:
    """Check an evaluation frame and return it normalised (a copy).

    Raises :class:`DataError` naming the column and the first offending values for
    missing required columns, empty frames, NaN or infinite scores, proportions
    outside [0, 1], negative steps/params/tokens/n_items, and records that appear
    twice with different values. Exact duplicate records are collapsed to one.
    """
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(
            f"missing required column(s) {missing}; a tidy frame needs {list(REQUIRED_COLUMNS)} "
            f"(got {list(frame.columns)})"
        )
    if len(frame) == 0:
        raise DataError("the frame has no records")

    out = frame.copy()
    for col in COLUMNS:
        if col not in out.columns:
            out[col] = pd.NA
    for col in STRING_COLUMNS:
        if col in out.columns:
            out[col] = _as_string(out[col])
    for col in ("task", "metric", "model"):
        bad = out.index[out[col].isna() | (out[col] == "")]
        if len(bad):
            raise DataError(f"column '{col}' is empty at rows {_show(bad)}")
    for col in INT_COLUMNS:
        out[col] = _as_int(out, col)
    for col in FLOAT_COLUMNS:
        try:
            out[col] = pd.to_numeric(out[col], errors="raise").astype("float64")
        except (TypeError, ValueError) as exc:
            raise DataError(f"column '{col}' must be numeric: {exc}") from None

    value = out["value"].to_numpy()
    bad = out.index[~np.isfinite(value)]
    if len(bad):
        raise DataError(
            f"column 'value' has {len(bad)} NaN/infinite score(s) at rows {_show(bad)}; "
            "drop or fill them before analysis"
        )
    bounded = _is_bounded(out["metric"]).to_numpy()
    outside = bounded & ((value < 0) | (value > 1))
    if outside.any():
        rows = out.loc[outside, ["metric", "value"]]
        raise DataError(
            "column 'value' has proportions outside [0, 1] for metric(s) "
            f"{_show(rows['metric'].unique())}: values {_show(rows['value'])} at rows {_show(rows.index)}"
        )
    for col in ("step", "n_items", "params", "tokens", "stderr"):
        neg = out.index[(out[col] < 0).fillna(False).to_numpy(dtype=bool)]
        if len(neg):
            raise DataError(f"column '{col}' has negative values {_show(out.loc[neg, col])} at rows {_show(neg)}")
    zero_items = out.index[(out["n_items"] == 0).fillna(False).to_numpy(dtype=bool)]
    if len(zero_items):
        raise DataError(f"column 'n_items' is 0 at rows {_show(zero_items)}")

    keys = [c for c in ID_COLUMNS if c in out.columns]
    keys += [c for c in SETTING_COLUMNS if c in out.columns]
    dup = out.duplicated(keys, keep=False)
    if dup.any() and not allow_duplicates:
        groups = out.loc[dup].groupby(keys, dropna=False)["value"]
        conflicting = groups.nunique(dropna=False)
        conflicting = conflicting[conflicting > 1]
        if len(conflicting):
            first = conflicting.index[0]
            raise DataError(
                f"{len(conflicting)} record(s) appear more than once with different values in column "
                f"'value'; first: {dict(zip(keys, first))}. Give them distinct seed/data_order/step, "
                "or drop the extra rows"
            )
        out = out.drop_duplicates(keys, keep="first")
    ordered = list(COLUMNS) + [c for c in out.columns if c not in COLUMNS]
    return out[ordered].reset_index(drop=True)


def _as_string(series: pd.Series) -> pd.Series:
    """Identifiers as pandas strings; numbers like 1.0 become '1', missing stays NA."""
    def fmt(v):
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
            return pd.NA
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            return str(int(v))
        return str(v)

    if str(series.dtype) in ("string", "str"):  # already text: nothing to reformat
        return series.astype("string")
    if series.dtype.kind in "OUSfi":
        # format each distinct value once: identifier columns repeat a few values many times
        return series.map({v: fmt(v) for v in series.dropna().unique()}).astype("string")
    return series.astype("string")


def _as_int(frame: pd.DataFrame, col: str) -> pd.Series:
    raw = frame[col]
    num = pd.to_numeric(raw, errors="coerce")
    unparsable = raw.notna() & num.isna()
    if unparsable.any():
        raise DataError(f"column '{col}' must be an integer: got {_show(raw[unparsable].unique())}")
    frac = num.notna() & (num.round() != num)
    if frac.any():
        raise DataError(f"column '{col}' must be an integer: got {_show(num[frac].unique())}")
    return num.round().astype("Int64")


def run_ids(frame: pd.DataFrame) -> pd.Series:
    """A label per training run: model/size/seed/data_order joined (missing parts dropped)."""
    parts = [frame[c].astype("string") for c in RUN_COLUMNS]
    label = parts[0]
    for part in parts[1:]:
        label = label.str.cat(part, sep="|", na_rep="")
    # drop the separators of missing parts: "a||0|" -> "a|0"
    return label.str.replace(r"\|{2,}", "|", regex=True).str.strip("|").astype("string")
