"""Vectorised windows over a tidy frame: the last n checkpoints of every run, and the
per-run, per-model and per-group statistics the paper's estimators need.

Everything here is array arithmetic over integer group codes (``np.bincount`` and
``ufunc.reduceat``), so a whole table costs a few passes over the records, with no Python
loop per group, model or run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from snrstat.point._core import SIGNAL_KINDS, warn_infinite, warn_undefined
from snrstat.schema import DataError, parse_size

#: Columns (besides the group's) that identify a run (Heineman et al. 2025).
RUN_PARTS = ("model", "seed", "data_order")
#: What the windows need; missing optional columns are filled with NA.
WORK_COLUMNS = ("task", "subtask", "metric", "size", "params", "model", "seed", "data_order", "step", "value")
MODES = ("per_run", "reference")


# --------------------------------------------------------------------------- preparation

def prepare(frame: pd.DataFrame, *, metric=None, subtasks: str = "mean") -> pd.DataFrame:
    """The columns the estimators use, one score per (task, [subtask], metric, run, step).

    ``subtasks="mean"`` averages the subtasks of a suite into one score per record (the
    macro average the paper uses for aggregates); every record must then hold the same,
    complete set of subtasks. ``"separate"`` keeps ``subtask`` as part of the group.
    """
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"expected a tidy pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in ("task", "metric", "model", "value") if c not in frame.columns]
    if missing:
        raise DataError(f"missing required column(s) {missing}; validate the frame with snrstat.validate first")
    if subtasks not in ("mean", "separate"):
        raise DataError(f"subtasks must be 'mean' or 'separate', got {subtasks!r}")
    if "item" in frame.columns and frame["item"].notna().any():
        raise DataError("the frame holds item-level records (column 'item'); aggregate them to one score per checkpoint first")
    _refuse_hidden_settings(frame)
    if metric is not None:
        wanted = [metric] if isinstance(metric, str) else list(metric)
        absent = sorted(set(wanted) - set(frame["metric"].dropna().unique()))
        if absent:
            raise DataError(
                f"metric(s) {absent} not in column 'metric'; available: {sorted(frame['metric'].dropna().unique())}"
            )
        frame = frame[frame["metric"].isin(wanted).to_numpy()]
    if len(frame) == 0:
        raise DataError("the frame has no records")
    data = {}
    for col in WORK_COLUMNS:
        if col in frame.columns:
            if col == "params":
                data[col] = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            else:
                data[col] = frame[col].to_numpy() if col == "value" else frame[col].array
        elif col == "params":
            data[col] = np.full(len(frame), np.nan)
        else:
            data[col] = _missing(len(frame), "Int64" if col == "step" else "string")
    out = pd.DataFrame(data)
    try:
        out["value"] = out["value"].astype("float64")
    except (TypeError, ValueError) as exc:
        raise DataError(f"column 'value' must be numeric: {exc}") from None
    bad = np.flatnonzero(~np.isfinite(out["value"].to_numpy()))
    if len(bad):
        raise DataError(f"column 'value' has {len(bad)} NaN/infinite score(s); drop or fill them before analysis")
    try:
        out["step"] = out["step"].astype("Int64")
    except (TypeError, ValueError) as exc:
        raise DataError(f"column 'step' must hold integers: {exc}") from None
    if out["subtask"].notna().any() and subtasks == "mean":
        out = _mean_over_subtasks(out)
    return out


def _refuse_hidden_settings(frame: pd.DataFrame) -> None:
    """Records that differ only in a setting that is not a schema column (``num_fewshot``,
    ``split``) would be averaged or clash; refuse them, naming the setting and its values."""
    from snrstat.schema import SETTING_COLUMNS

    for col in SETTING_COLUMNS:
        if col not in frame.columns or col in ("epoch", "log"):
            continue
        values = frame[col].dropna().unique()
        if len(values) < 2:
            continue
        varies = frame.groupby(["task", "metric"], dropna=False)[col].nunique()
        varies = varies[varies > 1]
        if len(varies):
            task, metric = varies.index[0]
            shown = sorted(map(str, frame.loc[(frame["task"] == task), col].dropna().unique()))
            raise DataError(
                f"task {task!r} / {metric} holds records that differ only in {col!r} ({', '.join(shown)}), a "
                f"setting snrstat does not analyse as a column; keep one value (frame[frame['{col}'] == ...]) "
                f"or make it part of the task name (e.g. {task}_{shown[-1]}{'shot' if col == 'num_fewshot' else ''})"
            )


def _missing(n: int, dtype: str):
    """An all-NA column (``take`` avoids building a list of n NA objects)."""
    return pd.array([pd.NA], dtype=dtype).take(np.zeros(n, dtype=np.intp))


def _mean_over_subtasks(df: pd.DataFrame) -> pd.DataFrame:
    has = df["subtask"].notna()
    tm = ["task", "metric"]
    mixed = df.assign(_has=has.to_numpy()).groupby(tm, dropna=False)["_has"].agg(["any", "all"])
    mixed = mixed[mixed["any"] & ~mixed["all"]]
    if len(mixed):
        raise DataError(
            f"task(s) {sorted(set(mixed.index.get_level_values('task')))} mix rows with and without a subtask; "
            "drop the aggregate rows (subtask missing) or pass subtasks='separate'"
        )
    keys = ["task", "subtask", "metric", "size", "model", "seed", "data_order", "step"]
    ids = combine_codes(df, keys)
    if np.bincount(ids).max() > 1:
        first = int(np.flatnonzero(np.bincount(ids)[ids] > 1)[0])
        raise DataError(f"several records for {_describe(df, first, keys)}; keep one score per checkpoint")
    rec = combine_codes(df, [k for k in keys if k != "subtask"])
    per_record = np.bincount(rec)
    n_sub = df.groupby(tm, dropna=False)["subtask"].transform("nunique").to_numpy()
    first_row = _first_rows(rec)
    short = per_record < n_sub[first_row]
    if short.any():
        row = int(first_row[np.flatnonzero(short)[0]])
        raise DataError(
            f"{_describe(df, row, ['task', 'metric', 'model', 'size', 'seed', 'data_order', 'step'])} has "
            f"{per_record[np.flatnonzero(short)[0]]} of the {n_sub[row]} subtasks of its task; an average over "
            "different subtask sets is not comparable (drop incomplete checkpoints or pass subtasks='separate')"
        )
    mean = np.bincount(rec, df["value"].to_numpy()) / per_record
    out = df.iloc[first_row].reset_index(drop=True)
    out["subtask"] = _missing(len(out), "string")
    out["value"] = mean
    return out


# --------------------------------------------------------------------------- codes

def factorize(series) -> tuple[np.ndarray, int]:
    codes, uniques = pd.factorize(series, sort=True, use_na_sentinel=False)
    return codes.astype(np.int64), max(len(uniques), 1)


def combine_codes(df: pd.DataFrame, cols, cache: dict | None = None) -> np.ndarray:
    """Dense ids of the distinct combinations of ``cols`` in lexicographic order (NA last)."""
    key = np.zeros(len(df), dtype=np.int64)
    radix = 1
    for col in cols:
        if cache is not None and col in cache:
            codes, n = cache[col]
        else:
            codes, n = factorize(df[col])
            if cache is not None:
                cache[col] = (codes, n)
        if radix * n >= 2**62:
            key = np.unique(key, return_inverse=True)[1].astype(np.int64)
            radix = int(key.max()) + 1
        key = key * n + codes
        radix *= n
    return np.unique(key, return_inverse=True)[1].astype(np.int64).reshape(-1)


def _first_rows(ids: np.ndarray) -> np.ndarray:
    """Row index of the first occurrence of each id 0..max."""
    first = np.full(int(ids.max()) + 1, len(ids), dtype=np.int64)
    np.minimum.at(first, ids, np.arange(len(ids)))
    return first


def _describe(df: pd.DataFrame, row: int, cols) -> str:
    parts = [f"{c}={df[c].iloc[row]!r}" for c in cols if c in df.columns and not pd.isna(df[c].iloc[row])]
    return "(" + ", ".join(parts) + ")"


# --------------------------------------------------------------------------- windows

@dataclass
class Windows:
    """Last-n windows of every run, with per-run, per-model and per-group statistics.

    Runs are ordered by (group, model, seed, data_order), so the models and runs of one
    group, and the window scores of one run or group, are contiguous.
    """

    group_cols: tuple
    groups: pd.DataFrame          # one row per group: its labels
    run_group: np.ndarray
    run_model: np.ndarray
    run_n: np.ndarray             # scores in the window
    run_mean: np.ndarray
    run_var: np.ndarray           # population variance (ddof=0) of the window; exactly 0 if constant
    model_group: np.ndarray
    model_name: np.ndarray
    model_mean: np.ndarray        # mean over the model's runs of their window means
    model_runs: np.ndarray
    win_group: np.ndarray         # group of every window score (contiguous)
    win_value: np.ndarray

    @property
    def n_groups(self) -> int:
        return len(self.groups)


def windows(df: pd.DataFrame, group_cols, last_n: int) -> Windows:
    """Take the last ``last_n`` checkpoints (by step) of every run within each group."""
    if not isinstance(last_n, (int, np.integer)) or isinstance(last_n, bool) or last_n < 1:
        raise DataError(f"last_n must be a positive integer, got {last_n!r}")
    group_cols = tuple(group_cols)
    cache: dict = {}
    g = combine_codes(df, group_cols, cache)
    m = combine_codes(df, group_cols + ("model",), cache)
    r = combine_codes(df, group_cols + RUN_PARTS, cache)
    step_na = df["step"].isna().to_numpy()
    step = df["step"].to_numpy(dtype="int64", na_value=-1)
    order = np.lexsort((step, r))
    rs, ss, nas = r[order], step[order], step_na[order]
    same_run = rs[1:] == rs[:-1]
    clash = same_run & (ss[1:] == ss[:-1]) & ~nas[1:] & ~nas[:-1]
    unordered = same_run & (nas[1:] | nas[:-1])
    for bad, what in ((clash, "several records at the same step"), (unordered, "a missing step among several checkpoints")):
        if bad.any():
            row = int(order[np.flatnonzero(bad)[0] + 1])
            raise DataError(
                f"run {_describe(df, row, group_cols + RUN_PARTS)} has {what} "
                f"(step={df['step'].iloc[row]!r}), so its last checkpoints are ambiguous; "
                "keep one score per run and step"
            )
    n_runs = int(r.max()) + 1
    run_size = np.bincount(r, minlength=n_runs)
    starts = np.concatenate(([0], np.cumsum(run_size)[:-1]))
    pos = np.arange(len(rs)) - starts[rs]
    keep = pos >= (run_size - last_n)[rs]
    rows = order[keep]
    rw = rs[keep]
    v = df["value"].to_numpy(dtype=float)[rows]
    run_n = np.minimum(run_size, last_n)
    run_mean = np.bincount(rw, v, minlength=n_runs) / run_n
    run_var = _var(v, rw, run_mean, run_n)

    run_first = order[starts]
    run_model, run_group = m[run_first], g[run_first]
    n_models = int(m.max()) + 1
    model_runs = np.bincount(run_model, minlength=n_models)
    model_mean = np.bincount(run_model, run_mean, minlength=n_models) / model_runs
    model_group = np.empty(n_models, dtype=np.int64)
    model_group[run_model] = run_group
    model_row = np.empty(n_models, dtype=np.int64)
    model_row[run_model] = run_first
    n_groups = int(g.max()) + 1
    group_row = np.empty(n_groups, dtype=np.int64)
    group_row[run_group] = run_first
    groups = df.iloc[group_row][list(group_cols)].reset_index(drop=True)
    return Windows(
        group_cols=group_cols, groups=groups, run_group=run_group, run_model=run_model,
        run_n=run_n, run_mean=run_mean, run_var=run_var, model_group=model_group,
        model_name=df["model"].to_numpy()[model_row], model_mean=model_mean, model_runs=model_runs,
        win_group=run_group[rw], win_value=v,
    )


def _var(values: np.ndarray, ids: np.ndarray, mean: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Population variance per contiguous id; exactly 0 where all values are equal (not a
    rounding residue of the mean)."""
    dev = values - mean[ids]
    var = np.bincount(ids, dev * dev, minlength=len(count)) / count
    starts = np.concatenate(([0], np.cumsum(count)[:-1]))
    constant = np.maximum.reduceat(values, starts) == np.minimum.reduceat(values, starts)
    var[constant] = 0.0
    return var


# --------------------------------------------------------------------------- estimators

def group_signal(w: Windows, kind: str = "range") -> np.ndarray:
    """Signal of each group over its per-model means; NaN with fewer than two models or a
    zero mean (relative kinds)."""
    if kind not in SIGNAL_KINDS:
        raise DataError(f"signal kind must be one of {SIGNAL_KINDS}, got {kind!r}")
    count = np.bincount(w.model_group, minlength=w.n_groups)
    mean = np.bincount(w.model_group, w.model_mean, minlength=w.n_groups) / count
    if kind in ("range", "range_raw"):
        starts = np.concatenate(([0], np.cumsum(count)[:-1]))
        spread = np.maximum.reduceat(w.model_mean, starts) - np.minimum.reduceat(w.model_mean, starts)
    else:
        spread = np.sqrt(_var(w.model_mean, w.model_group, mean, count))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = spread if kind.endswith("_raw") else np.where(mean != 0, spread / mean, np.nan)
    return np.where(count >= 2, out, np.nan)


def group_noise(w: Windows, mode: str = "per_run") -> np.ndarray:
    """Noise of each group (see :func:`snrstat.point.small_scale_snr` for the two modes)."""
    if mode not in MODES:
        raise DataError(f"mode must be one of {MODES}, got {mode!r}")
    with np.errstate(divide="ignore", invalid="ignore"):
        if mode == "per_run":
            runs = np.bincount(w.run_group, minlength=w.n_groups)
            grand = np.bincount(w.run_group, w.run_mean, minlength=w.n_groups) / runs
            usable = (w.run_n >= 2).astype(float)
            n_usable = np.bincount(w.run_group, usable, minlength=w.n_groups)
            pooled = np.bincount(w.run_group, w.run_var * usable, minlength=w.n_groups) / n_usable
            noise = np.sqrt(pooled) / grand
            return np.where((n_usable > 0) & (grand != 0), noise, np.nan)
        count = np.bincount(w.win_group, minlength=w.n_groups)
        mean = np.bincount(w.win_group, w.win_value, minlength=w.n_groups) / count
        noise = np.sqrt(_var(w.win_value, w.win_group, mean, count)) / mean
        return np.where((count >= 2) & (mean != 0), noise, np.nan)


def ratio(signal: np.ndarray, noise: np.ndarray, where: str = "") -> np.ndarray:
    """signal / noise with noise 0 -> +inf for a positive signal (and a warning); signal and
    noise both 0 (constant scores) -> NaN, undefined (and a warning)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = signal / noise
    undefined = (noise == 0) & (signal == 0)
    infinite = (noise == 0) & ~np.isnan(signal) & ~undefined
    if infinite.any():
        snr = np.where(infinite, np.inf, snr)
        warn_infinite(f"in {int(infinite.sum())} group(s){where}")
    if undefined.any():
        snr = np.where(undefined, np.nan, snr)
        warn_undefined(f"in {int(undefined.sum())} group(s){where}")
    return snr


def group_table(w: Windows, *, mode: str, kind: str) -> pd.DataFrame:
    sig = group_signal(w, kind)
    noi = group_noise(w, mode)
    out = w.groups.copy()
    out["n_models"] = np.bincount(w.model_group, minlength=w.n_groups)
    out["n_runs"] = np.bincount(w.run_group, minlength=w.n_groups)
    out["signal"] = sig
    out["noise"] = noi
    out["snr"] = ratio(sig, noi)
    return out


# --------------------------------------------------------------------------- sizes

def size_rank(labels, params=None) -> np.ndarray:
    """Rank of each size label from small to large, by :func:`snrstat.schema.size_order`'s
    rule: ``params`` where known (the median over records is passed in), else the number in
    the label ('190M', '1.4b'), else by name after all numeric ones."""
    labels = list(labels)
    params = np.full(len(labels), np.nan) if params is None else np.asarray(params, dtype=float)
    keys = []
    for label, p in zip(labels, params):
        num = p if np.isfinite(p) else parse_size(label)
        keys.append((0, num, str(label)) if np.isfinite(num) else (1, np.inf, "" if pd.isna(label) else str(label)))
    order = sorted(range(len(labels)), key=lambda i: keys[i])
    rank = np.empty(len(labels), dtype=np.int64)
    rank[order] = np.arange(len(labels))
    return rank
