"""Records for a decision analysis: one task/metric/size, the last n checkpoints of each run."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from snrstat.schema import RUN_COLUMNS, DataError, run_ids, validate


def pick_records(
    frame: pd.DataFrame,
    *,
    task: str | None = None,
    metric: str | None = None,
    size: str | Sequence[str] | None = None,
    subtask: str | None | bool = False,
) -> pd.DataFrame:
    """Rows of one task and metric (and sizes), with names in the error when absent.

    ``subtask=False`` keeps only whole-task rows when the task has any; a suite with only
    subtask rows (e.g. MMLU's subjects) is macro-averaged into one score per run and step,
    as the paper aggregates suites (every record must hold every subtask).
    ``subtask=None`` keeps every row; a string keeps that subtask.
    """
    frame = validate(frame)
    if task is None:
        task = _only(frame["task"], "several tasks in the frame; choose one with task= from {}")
    rows = frame[frame["task"] == task]
    if rows.empty:
        raise DataError(f"task {task!r} not in column 'task'; available: {sorted(frame['task'].unique())}")
    if metric is None:
        metric = _only(rows["metric"], f"task {task!r} has several metrics {{}}; choose one with metric=")
    rows = rows[rows["metric"] == metric]
    if rows.empty:
        raise DataError(
            f"metric {metric!r} not in column 'metric' for task {task!r}; "
            f"available: {sorted(frame.loc[frame['task'] == task, 'metric'].unique())}"
        )
    if size is not None:
        sizes = [size] if isinstance(size, str) else list(size)
        missing = [s for s in sizes if s not in set(rows["size"].dropna())]
        if missing:
            raise DataError(
                f"size(s) {missing} not in column 'size' for task {task!r}; available: {sorted(rows['size'].dropna().unique())}"
            )
        rows = rows[rows["size"].isin(sizes)]
    if subtask is False:
        whole = rows["subtask"].isna()
        rows = rows[whole] if whole.any() else _macro_average(rows)
    elif subtask is not None:
        rows = rows[rows["subtask"] == subtask]
        if rows.empty:
            raise DataError(f"subtask {subtask!r} not in column 'subtask' for task {task!r}")
    return rows


def _only(values: pd.Series, message: str):
    """The single distinct value, else a DataError listing them (``message`` has one ``{}``)."""
    distinct = sorted(values.unique())
    if len(distinct) != 1:
        raise DataError(message.format(distinct))
    return distinct[0]


def _macro_average(rows: pd.DataFrame) -> pd.DataFrame:
    """One record per run and step: the mean over the suite's subtasks (all must be present)."""
    keys = ["task", "metric", *RUN_COLUMNS, "step"]
    n_sub = rows["subtask"].nunique()
    grouped = rows.groupby(keys, dropna=False, sort=False)
    counts = grouped["subtask"].agg(["size", "nunique"])
    if (counts["size"] != counts["nunique"]).any():
        first = counts.index[(counts["size"] != counts["nunique"]).to_numpy()][0]
        raise DataError(f"several records of one subtask at {dict(zip(keys, first))}; keep one score per checkpoint")
    short = counts["size"] < n_sub
    if short.any():
        first = counts.index[short.to_numpy()][0]
        raise DataError(
            f"{dict(zip(keys, first))} has {int(counts['size'][short].iloc[0])} of the {n_sub} subtasks; an average "
            "over different subtask sets is not comparable (drop incomplete checkpoints)"
        )
    out = grouped.first().reset_index()
    out["value"] = grouped["value"].mean().to_numpy()
    out["subtask"] = pd.array([pd.NA] * len(out), dtype="string")
    out["n_items"] = pd.array([pd.NA] * len(out), dtype="Int64")
    out["stderr"] = float("nan")
    return out


def last_checkpoints(rows: pd.DataFrame, last_n: int, *, by: Sequence[str] = ("model",)) -> pd.DataFrame:
    """The last ``last_n`` checkpoints (by step) of every run, as columns unit, run, step, value.

    ``unit`` labels the model of a run (``by`` columns joined with '@'); ``by`` must include
    'size' when the rows hold several sizes, so that runs of different sizes are never pooled.
    A run with two records at one step is ambiguous (two subtasks or metrics?) and refused.
    """
    if last_n < 1:
        raise DataError(f"last_n must be at least 1, got {last_n}")
    by = list(by)
    for col in by:
        if col not in rows.columns:
            raise DataError(f"column {col!r} (in by={by}) is not in the frame")
    if "size" not in by and rows["size"].nunique(dropna=False) > 1:
        raise DataError(
            f"the records span several sizes {sorted(rows['size'].dropna().unique())}; choose one with size= "
            "or treat each (model, size) as a model with by=('model', 'size')"
        )
    out = pd.DataFrame({
        "unit": rows[by].astype("string").fillna("NA").agg("@".join, axis=1).to_numpy(),
        "run": run_ids(rows).to_numpy(),
        "step": rows["step"].to_numpy(),
        "value": rows["value"].to_numpy(dtype=float),
    })
    dup = out.duplicated(["run", "step"], keep=False)
    if dup.any():
        first = out.loc[dup].iloc[0]
        raise DataError(
            f"run {first['run']!r} has {int(dup.sum())} records sharing a step (e.g. step {first['step']}); "
            "select one subtask/metric, or aggregate first"
        )
    out = out.sort_values(["unit", "run", "step"], na_position="first", kind="mergesort")
    out = out.groupby("run", sort=False, group_keys=False).tail(last_n)
    return out.reset_index(drop=True)


def final_scores(window: pd.DataFrame) -> pd.Series:
    """The paper's observed score per model: each run's final checkpoint, averaged over runs."""
    last = window.groupby("run", sort=False).tail(1)
    return last.groupby("unit", sort=True)["value"].mean()
