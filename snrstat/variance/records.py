"""The records one variance fit uses: one task, metric and size, one score per run and step.

Selection goes through :mod:`snrstat.select` (the package's one record selection): names that
are absent or ambiguous raise a :class:`~snrstat.schema.DataError` that lists what is available;
suites with subtasks (MMLU's 57 subjects) are macro-averaged per checkpoint, as the paper
aggregates them; the window is the last n checkpoints of every run.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from snrstat.schema import BOUNDED_METRICS, DataError, validate
from snrstat.select import last_checkpoints, macro_average, pick, refuse_constant, warn_if_trending

#: Metrics where a lower score is better (a model "beats" another by scoring less).
LOWER_IS_BETTER = frozenset({"bpb", "loss", "ppl", "perplexity", "word_perplexity", "byte_perplexity",
                             "bits_per_byte", "ce_loss", "logprob_loss"})
#: Columns of the selected records, in this order.
RECORD_COLUMNS = ("unit", "run", "seed", "data_order", "step", "value", "n_items")


@dataclass(frozen=True)
class Records:
    """Selected records: ``table`` has one row per (run, step) with :data:`RECORD_COLUMNS`.

    ``unit`` is the model label the fit compares (``model``, or ``model@size`` when several
    sizes are fitted together); ``n_items`` is float (NaN when unknown; an effective count
    for macro-averaged suites).
    """

    table: pd.DataFrame
    task: str
    metric: str
    size: str | None
    n_subtasks: int
    bounded: bool
    lower_is_better: bool
    last_n: int | None

    @property
    def has_items(self) -> bool:
        return bool(np.isfinite(self.table["n_items"].to_numpy()).all())

    def data_hash(self) -> str:
        """SHA-256 of the records (labels, steps, values, item counts) in a canonical form."""
        t = self.table
        text = t.astype({"step": "float64"}).to_csv(index=False, float_format="%.17g", na_rep="NA")
        head = f"{self.task}\n{self.metric}\n{self.size}\n"
        return hashlib.sha256((head + text).encode()).hexdigest()

    def to_dict(self) -> dict:
        t = self.table
        cols = {c: [None if pd.isna(v) else v for v in t[c].tolist()] for c in RECORD_COLUMNS}
        return {"task": self.task, "metric": self.metric, "size": self.size, "n_subtasks": self.n_subtasks,
                "bounded": self.bounded, "lower_is_better": self.lower_is_better, "last_n": self.last_n,
                "columns": cols}

    @classmethod
    def from_dict(cls, d: dict) -> Records:
        cols = d["columns"]
        table = pd.DataFrame({
            "unit": pd.array(cols["unit"], dtype="string"),
            "run": pd.array(cols["run"], dtype="string"),
            "seed": pd.array(cols["seed"], dtype="string"),
            "data_order": pd.array(cols["data_order"], dtype="string"),
            "step": pd.array(cols["step"], dtype="Int64"),
            "value": np.asarray(cols["value"], dtype=float),
            "n_items": np.asarray([np.nan if v is None else v for v in cols["n_items"]], dtype=float),
        })
        return cls(table, d["task"], d["metric"], d["size"], int(d["n_subtasks"]), bool(d["bounded"]),
                   bool(d["lower_is_better"]), d["last_n"])


def select_records(frame: pd.DataFrame, task=None, metric=None, *, size=None, last_n: int | None = None,
                   validated: bool = False) -> Records:
    """Records of one task and metric (and size) as :class:`Records`.

    ``size=None`` needs a single size (or none at all); ``size="all"`` fits every size
    together with units ``model@size``. ``last_n`` keeps the last n checkpoints (by step)
    of every run. Raises DataError listing the available values when a choice is ambiguous
    or absent, when two records share a run and step, and when steps are missing but
    needed.
    """
    df = frame if validated else validate(frame)
    if "item" in df.columns and df["item"].notna().any():
        raise DataError("the frame holds item-level records (column 'item'); aggregate them per checkpoint first")
    rows, task = pick(df, "task", task, "the frame")
    rows, metric = pick(rows, "metric", metric, f"task {task!r}")
    sizes = sorted(rows["size"].dropna().unique())
    if size == "all":
        unit = rows["model"].astype("string") + "@" + rows["size"].fillna("?").astype("string")
        if len(sizes) <= 1:
            unit = rows["model"].astype("string")
    else:
        if size is None and len(sizes) > 1:
            raise DataError(
                f"task {task!r} / metric {metric!r} holds several sizes {sizes}; choose one with size= "
                "(models are compared at one scale), or size='all' to compare every (model, size)"
            )
        if size is not None:
            rows, size = pick(rows, "size", size, f"task {task!r} / metric {metric!r}")
        unit = rows["model"].astype("string")
        size = size if size is not None else (sizes[0] if sizes else None)
    rows = rows.assign(unit=unit.to_numpy())
    rows, n_sub = macro_average(rows, ["unit", "seed", "data_order", "step"])

    for col in ("seed", "data_order"):
        rows[col] = rows[col].astype("string")
    run = _run_labels(rows)
    rows = rows.assign(run=run.to_numpy())
    key = rows["run"].astype(str) + "#" + rows["step"].astype("string").fillna("NA").astype(str)
    dup = key.duplicated(keep=False).to_numpy()
    if dup.any():
        r = rows.loc[dup].iloc[0]
        raise DataError(
            f"several records for run {r['run']!r} at step {r['step']}: give them distinct seed/data_order/step "
            "(or select one subtask), the fit needs one score per run and checkpoint"
        )
    if last_n is not None:
        rows = last_checkpoints(rows, last_n)
        warn_if_trending(rows, f"task {task!r} / metric {metric!r}" + (f" / size {size!r}" if size else ""),
                         stacklevel=4)
    rows = rows.sort_values(["unit", "run", "step"], kind="stable")
    refuse_constant(rows, f"task {task!r} / metric {metric!r}" + (f" / size {size!r}" if size else ""))
    bounded = metric.split(",")[0] in BOUNDED_METRICS or bool(((rows["value"] >= 0) & (rows["value"] <= 1)).all()
                                                             and rows["n_items"].notna().all())
    table = pd.DataFrame({
        "unit": rows["unit"].astype("string").to_numpy(),
        "run": rows["run"].astype("string").to_numpy(),
        "seed": rows["seed"].astype("string").to_numpy(),
        "data_order": rows["data_order"].astype("string").to_numpy(),
        "step": rows["step"].astype("Int64").to_numpy(),
        "value": rows["value"].to_numpy(dtype=float),
        "n_items": pd.to_numeric(rows["n_items"], errors="coerce").to_numpy(dtype=float, na_value=np.nan),
    })
    return Records(table, task, metric, None if size is None else str(size), n_sub, bounded,
                   metric.split(",")[0] in LOWER_IS_BETTER, None if last_n is None else int(last_n))


def _run_labels(rows: pd.DataFrame) -> pd.Series:
    label = rows["unit"].astype("string")
    for col in ("seed", "data_order"):
        part = rows[col].astype("string")
        label = label.where(part.isna(), label + "|" + col[0] + "=" + part.fillna(""))
    return label
