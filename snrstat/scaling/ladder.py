"""The OLMo model ladder as data for scaling laws: which runs, which checkpoints, which targets.

The signal-and-noise paper (Heineman et al. 2025, section on scaling-law error) follows the
ladder paper (Bhagia et al. 2024): fit on the final checkpoints of the 190M-3B ladder runs at
0.5-10x Chinchilla tokens and predict the OLMo 2 7B (``peteish7``) and 13B (``peteish13``) runs.
This module turns a tidy frame into the per-run table those fits need; it knows the ladder's
conventions (model = token multiplier, seed ``"1"`` = the ``-rerun`` replicate of 1xC).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from snrstat.schema import DataError

LADDER_SIZES = ("190M", "370M", "760M", "1B", "3B")
MULTIPLIERS = ("0.5xC", "1xC", "2xC", "5xC", "10xC")

#: The paper's training runs as (model, size, seed): every size x multiplier, where the 1xC
#: runs are the ``-rerun`` replicates (seed "1") "plus the original 1B-1xC" (Heineman et al. 2025, and the
#: model list of allenai/signal-and-noise). Read literally that is 26 runs: 25 configurations,
#: one of them (1B-1xC) present twice.
PAPER_TRAIN_RUNS: tuple[tuple[str, str, str], ...] = tuple(
    (mult, size, "1" if mult == "1xC" else "0") for size in LADDER_SIZES for mult in MULTIPLIERS
) + (("1xC", "1B", "0"),)

DEFAULT_TARGETS = ("peteish7", "peteish13")
#: Training tokens D of the targets used by the paper: 7B at step 925000 (4,194,304 tokens per
#: step), 13B at step 596057 (8,388,608 tokens per step).
TARGET_TOKENS = {"peteish7": 3_879_731_200_000.0, "peteish13": 5_000_088_518_656.0}
#: Parameter counts N of the targets (the paper's numbers; used when the frame has none).
TARGET_PARAMS = {"peteish7": 6_887_575_552.0, "peteish13": 13_202_396_160.0}

RUN_KEYS = ["model", "size", "seed"]
_RUN_LABEL = re.compile(r"^(?P<size>[\d.]+[MBK])-(?P<model>[\d.]+xC)(?:-(?P<rerun>rerun)|-seed(?P<seed>\w+))?$")


def parse_run(spec) -> tuple[str, str, str]:
    """A run as (model, size, seed) from a tuple or a label such as ``"1B-1xC-rerun"``.

    Labels follow the ladder file names: ``SIZE-MULTxC`` is seed "0", ``-rerun`` is seed "1",
    ``-seedS`` is seed S.
    """
    if isinstance(spec, str):
        m = _RUN_LABEL.match(spec)
        if not m:
            raise DataError(
                f"run label {spec!r} not understood; use 'SIZE-MULTxC', 'SIZE-MULTxC-rerun' "
                "or a (model, size, seed) tuple such as ('1xC', '1B', '1')"
            )
        seed = "1" if m["rerun"] else (m["seed"] or "0")
        return (m["model"], m["size"], seed)
    spec = tuple(spec)
    if len(spec) != 3:
        raise DataError(f"run {spec!r}: expected (model, size, seed)")
    return tuple(str(s) for s in spec)  # type: ignore[return-value]


def run_label(model: str, size: str, seed) -> str:
    """``SIZE-MODEL`` with ``-rerun`` for seed "1" and ``-seedS`` for other non-zero seeds."""
    seed = None if seed is None or seed is pd.NA or (isinstance(seed, float) and np.isnan(seed)) else str(seed)
    suffix = "" if seed in (None, "0") else ("-rerun" if seed == "1" else f"-seed{seed}")
    return f"{size}-{model}{suffix}"


def acc_metric_for(task: str, available: Iterable[str]) -> str:
    """The paper's accuracy metric of a task: ``len_norm`` (``acc`` for BoolQ, which has no
    length-normalised score), taken from what the frame has."""
    available = set(available)
    for metric in ("len_norm", "acc"):
        if metric in available:
            return metric
    raise DataError(f"task {task!r} has no accuracy metric 'len_norm' or 'acc' in column 'metric' (has {sorted(available)})")


def _check_frame(frame: pd.DataFrame) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"expected a tidy pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in ("task", "metric", "model", "size", "seed", "params", "tokens", "step", "value") if c not in frame]
    if missing:
        raise DataError(f"the frame lacks column(s) {missing} needed for scaling laws; pass a frame from snrstat.validate")


def checkpoint_table(
    frame: pd.DataFrame,
    tasks: Iterable[str] | None = None,
    *,
    loss_metric: str = "bpb",
    acc_metric: str | None = None,
) -> pd.DataFrame:
    """One row per (task, run, step) that has both the loss and the accuracy metric.

    Columns: task, model, size, seed, step, params, tokens, loss, acc, acc_metric. With
    ``acc_metric=None`` each task gets :func:`acc_metric_for`. Tasks lacking either metric are
    dropped when ``tasks`` is None and refused when named.
    """
    _check_frame(frame)
    all_tasks = pd.unique(frame["task"].dropna())
    if tasks is None:
        wanted = list(all_tasks)
        strict = False
    else:
        wanted = [tasks] if isinstance(tasks, str) else list(tasks)
        unknown = sorted(set(wanted) - set(all_tasks))
        if unknown:
            raise DataError(f"task(s) {unknown} not in column 'task' (has {sorted(all_tasks)[:8]}...)")
        strict = True
    sub = frame.loc[frame["task"].isin(wanted)]
    metrics_by_task = sub.groupby("task", observed=True)["metric"].agg(lambda s: set(s.dropna()))
    choice = {}
    for task, metrics in metrics_by_task.items():
        has_loss = loss_metric in metrics
        acc = acc_metric if acc_metric is not None else next((m for m in ("len_norm", "acc") if m in metrics), None)
        if has_loss and acc in metrics:
            choice[task] = acc
        elif strict:
            need = [m for m in (loss_metric, acc or "len_norm/acc") if m not in metrics]
            raise DataError(f"task {task!r} lacks metric(s) {need} in column 'metric' (has {sorted(metrics)})")
    if not choice:
        raise DataError(f"no task has both the loss metric {loss_metric!r} and an accuracy metric")

    keys = ["task", *RUN_KEYS, "step"]
    rows = sub.loc[sub["metric"] == loss_metric, keys + ["params", "tokens", "value"]].rename(columns={"value": "loss"})
    acc_rows = pd.concat(
        [sub.loc[(sub["task"] == t) & (sub["metric"] == m), keys + ["value"]] for t, m in choice.items()],
        ignore_index=True,
    ).rename(columns={"value": "acc"})
    # Merging on NA keys (seed/step missing) must match NA with NA: pandas merge does.
    table = rows.loc[rows["task"].isin(list(choice))].merge(acc_rows, on=keys, how="inner")
    if table.duplicated(keys).any():
        raise DataError(
            "several records share (task, model, size, seed, step) for the loss or accuracy metric "
            "(different data_order or subtask?); aggregate them before fitting scaling laws"
        )
    table["acc_metric"] = table["task"].map(choice).astype("string")
    return table.sort_values(keys, kind="stable").reset_index(drop=True)


def _last_n(table: pd.DataFrame, checkpoints, keys: list[str]) -> pd.DataFrame:
    """Aggregate the last checkpoints of every group: mean loss/acc, final step/tokens."""
    n = _n_checkpoints(checkpoints)
    ordered = table.sort_values([*keys, "step"], kind="stable")
    tail = ordered.groupby(keys, dropna=False, sort=False).tail(n)
    # Where the averaged checkpoints sit before the final one, as mean log(D_c / D_final):
    # the Bayesian model uses it to place a mean of n checkpoints on its within-run drift.
    final_tokens = tail.groupby(keys, dropna=False, sort=False)["tokens"].transform("last")
    tail = tail.assign(log_offset=np.log(tail["tokens"] / final_tokens).fillna(0.0))
    grouped = tail.groupby(keys, dropna=False, sort=False)
    out = grouped.agg(
        params=("params", "last"), tokens=("tokens", "last"), step=("step", "last"),
        loss=("loss", "mean"), acc=("acc", "mean"), n_checkpoints=("step", "size"),
        log_offset_mean=("log_offset", "mean"), acc_metric=("acc_metric", "last"),
    ).reset_index()
    return out


def _n_checkpoints(checkpoints) -> int:
    if checkpoints == "final":
        return 1
    if isinstance(checkpoints, (int, np.integer)) and not isinstance(checkpoints, bool) and checkpoints >= 1:
        return int(checkpoints)
    raise DataError(f"checkpoints must be 'final' or a positive integer (average of the last n), got {checkpoints!r}")


def ladder_points(table: pd.DataFrame, runs=None, checkpoints="final") -> pd.DataFrame:
    """The fitting data: one row per (task, training run), the final checkpoint or the mean of the
    last ``checkpoints`` (loss and accuracy averaged; params, tokens and step of the final one).

    ``runs`` defaults to :data:`PAPER_TRAIN_RUNS`; a requested run missing from the table is an error.
    """
    runs = [parse_run(r) for r in (PAPER_TRAIN_RUNS if runs is None else runs)]
    wanted = pd.DataFrame(runs, columns=RUN_KEYS).astype("string").drop_duplicates()
    have = table[RUN_KEYS].drop_duplicates()
    missing = wanted.merge(have, on=RUN_KEYS, how="left", indicator=True)
    missing = missing.loc[missing["_merge"] == "left_only"]
    if len(missing):
        labels = [run_label(*r) for r in missing[RUN_KEYS].itertuples(index=False)]
        raise DataError(f"training run(s) {labels} have no records with both metrics (columns model/size/seed)")
    chosen = table.merge(wanted, on=RUN_KEYS, how="inner")
    points = _last_n(chosen, checkpoints, ["task", *RUN_KEYS])
    bad = points.loc[~(np.isfinite(points["params"]) & np.isfinite(points["tokens"]))]
    if len(bad):
        labels = sorted({run_label(*r) for r in bad[RUN_KEYS].itertuples(index=False)})
        raise DataError(f"training run(s) {labels} lack 'params' or 'tokens' (N and D of the scaling law)")
    points["run"] = [run_label(*r) for r in points[RUN_KEYS].itertuples(index=False)]
    order = points["params"].rank(method="dense") * 1e6 + points["tokens"].rank(method="dense")
    points = points.assign(_o=order).sort_values(["task", "_o", "seed"], kind="stable").drop(columns="_o")
    return points.reset_index(drop=True)


def target_points(
    table: pd.DataFrame,
    targets=DEFAULT_TARGETS,
    *,
    target_tokens: Mapping[str, float] | None = None,
    target_params: Mapping[str, float] | None = None,
    checkpoints="final",
) -> pd.DataFrame:
    """The observed values of the targets: one row per (task, target).

    A target's checkpoint is its last step whose ``tokens`` do not exceed its training tokens D
    (``target_tokens``, default :data:`TARGET_TOKENS`: the 7B at step 925000, the 13B at step
    596057, as in the paper); ``checkpoints=n`` averages the last n such checkpoints. N comes from
    the frame's ``params``, else :data:`TARGET_PARAMS`. A target absent from the frame gets NaN
    observations (it can still be predicted).
    """
    tokens_map = {**TARGET_TOKENS, **(target_tokens or {})}
    params_map = {**TARGET_PARAMS, **(target_params or {})}
    n = _n_checkpoints(checkpoints)
    tasks = pd.unique(table["task"])
    rows = []
    for target in targets:
        runs = table.loc[table["model"] == target]
        if runs[["size", "seed"]].drop_duplicates().shape[0] > 1:
            raise DataError(f"target {target!r} has several runs (size/seed) in the frame; keep one")
        d_target = tokens_map.get(target)
        if d_target is not None:
            # Steps logged past the paper's D (e.g. after the anneal) are not the target.
            runs = runs.loc[~(runs["tokens"] > d_target * (1 + 1e-9)).fillna(False).to_numpy(dtype=bool)]
        for task in tasks:
            sel = runs.loc[runs["task"] == task].sort_values("step", kind="stable").tail(n)
            n_params = float(sel["params"].iloc[-1]) if len(sel) and np.isfinite(sel["params"].iloc[-1]) else params_map.get(target, np.nan)
            d = d_target if d_target is not None else (float(sel["tokens"].iloc[-1]) if len(sel) else np.nan)
            if not (np.isfinite(n_params) and np.isfinite(d)):
                raise DataError(
                    f"target {target!r}: no parameter count or token count; pass target_params/target_tokens"
                )
            offsets = np.log(sel["tokens"].to_numpy(dtype=float) / float(sel["tokens"].iloc[-1])) if len(sel) else np.zeros(0)
            rows.append({
                "task": task, "target": target, "params": n_params, "tokens": d,
                "step": sel["step"].iloc[-1] if len(sel) else pd.NA,
                "observed_tokens": float(sel["tokens"].iloc[-1]) if len(sel) else np.nan,
                "actual_loss": float(sel["loss"].mean()) if len(sel) else np.nan,
                "actual": float(sel["acc"].mean()) if len(sel) else np.nan,
                "n_checkpoints": len(sel),
                "log_offset_mean": float(np.nanmean(offsets)) if len(offsets) else 0.0,
            })
    columns = ["task", "target", "params", "tokens", "step", "observed_tokens", "actual_loss", "actual",
               "n_checkpoints", "log_offset_mean"]
    out = pd.DataFrame(rows, columns=columns)
    out["step"] = out["step"].astype("Int64")
    return out
