"""Records for a decision analysis: one task/metric/size, the last n checkpoints of each run,
through the package's one record selection (:mod:`snrstat.select`)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from snrstat.schema import RUN_COLUMNS, DataError, run_ids, validate
from snrstat.select import DEFAULT_LAST_N, last_checkpoints as _last, macro_average, warn_if_trending
from snrstat.select import pick_records as _pick_records


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
    rows = _pick_records(validate(frame), task=task, metric=metric, size=size)
    if subtask is False:
        whole = rows["subtask"].isna()
        rows = rows[whole] if whole.any() else macro_average(rows, ["task", "metric", *RUN_COLUMNS, "step"])[0]
    elif subtask is not None:
        task_name = rows["task"].iloc[0]
        rows = rows[(rows["subtask"] == subtask).fillna(False).to_numpy(dtype=bool)]
        if rows.empty:
            raise DataError(f"subtask {subtask!r} not in column 'subtask' for task {task_name!r}")
    return rows


def last_checkpoints(rows: pd.DataFrame, last_n: int | None = DEFAULT_LAST_N, *,
                     by: Sequence[str] = ("model",)) -> pd.DataFrame:
    """The last ``last_n`` checkpoints (by step) of every run, as columns unit, run, step, value.

    ``unit`` labels the model of a run (``by`` columns joined with '@'); ``by`` must include
    'size' when the rows hold several sizes, so that runs of different sizes are never pooled.
    A run with two records at one step is ambiguous (two subtasks or metrics?) and refused.
    """
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
    if last_n is not None:
        out = _last(out, last_n)
        what = f"task {rows['task'].iloc[0]!r}" if "task" in rows.columns and len(rows) else "the records"
        warn_if_trending(out, what, stacklevel=3)
    out = out.sort_values(["unit", "run", "step"], na_position="first", kind="mergesort")
    return out.reset_index(drop=True)


def final_scores(window: pd.DataFrame) -> pd.Series:
    """The paper's observed score per model: each run's final checkpoint, averaged over runs."""
    last = window.groupby("run", sort=False).tail(1)
    return last.groupby("unit", sort=True)["value"].mean()
