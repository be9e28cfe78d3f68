"""Does the predictive interval mean what it says? Leave-one-size-out checks on the ladder.

Every ladder size is held out in turn (all its multipliers, and both 1xC runs where both are
training runs), the law is fitted on the other sizes and the held-out runs are predicted:
3B from 190M-1B is a genuine extrapolation in N, the middle sizes are interpolations. Over
tasks and held-out runs the nominal 50% and 90% intervals should cover the observed scores
about 50% and 90% of the time.

Log scores compare the two ways of predicting: the Bayesian predictive density of the observed
score, against the point prediction taken as a normal with the residual sd of its own chained
fit on the training runs (the simplest honest density a point fit offers; higher is better).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import pandas as pd

from snrstat.scaling.data import ScalingConfig
from snrstat.scaling.fit import fit_table
from snrstat.scaling.ladder import (
    LADDER_SIZES,
    PAPER_TRAIN_RUNS,
    _n_checkpoints,
    checkpoint_table,
    ladder_points,
    parse_run,
)
from snrstat.schema import DataError


def _as_targets(points: pd.DataFrame) -> pd.DataFrame:
    """Held-out ladder runs in the shape of :func:`~snrstat.scaling.ladder.target_points`."""
    return pd.DataFrame({
        "target": points["run"].astype(str).to_numpy(), "params": points["params"].to_numpy(),
        "tokens": points["tokens"].to_numpy(), "actual": points["acc"].to_numpy(),
        "actual_loss": points["loss"].to_numpy(), "n_checkpoints": points["n_checkpoints"].to_numpy(),
        "log_offset_mean": points["log_offset_mean"].to_numpy(),
    })


def leave_one_size_out(
    frame: pd.DataFrame,
    task: str,
    *,
    sizes: Iterable[str] | None = None,
    train_runs: Iterable | None = None,
    checkpoints: str | int = "final",
    loss_metric: str = "bpb",
    one_step: bool = False,
    helper_sd: float | None = 0.02,
    noise_window: int = 5,
    random_seed: int = 0,
    draws: int = 2000,
    tune: int = 1500,
    chains: int = 4,
    sampler: str = "nutpie",
    target_accept: float = 0.99,
    progress: bool = False,
    table: pd.DataFrame | None = None,
    on_fit=None,
) -> pd.DataFrame:
    """Hold out each size in turn, fit on the rest, predict the held-out runs.

    Returns one row per held-out run: task, held_out (size), target (run), observed,
    point_pred, median, lo50, hi50, lo90, hi90, inside50, inside90, log_score (Bayes),
    point_log_score, relative errors, the fit's wall time (s) and whether its diagnostics passed.
    ``table``: a precomputed :func:`~snrstat.scaling.ladder.checkpoint_table` of the task;
    ``on_fit(size, fit)``: called after each fit (progress counts in multi-fit loops).
    """
    runs = [parse_run(r) for r in (PAPER_TRAIN_RUNS if train_runs is None else train_runs)]
    if table is None:
        table = checkpoint_table(frame, [task], loss_metric=loss_metric)
    else:
        table = table.loc[table["task"] == task]
    points = ladder_points(table, runs, checkpoints)
    present = list(dict.fromkeys(points["size"].astype(str)))
    sizes = [s for s in LADDER_SIZES if s in present] + [s for s in present if s not in LADDER_SIZES] if sizes is None else list(sizes)
    unknown = sorted(set(sizes) - set(present))
    if unknown:
        raise DataError(f"size(s) {unknown} are not among the training runs' sizes {present} (column 'size')")
    if len(present) < 3:
        raise DataError(f"leave-one-size-out needs at least 3 sizes among the training runs, got {present}")
    window = max(noise_window, _n_checkpoints(checkpoints))
    rows = []
    for size in sizes:
        keep = [r for r in runs if r[1] != size]
        held = points.loc[points["size"] == size]
        config = ScalingConfig(
            task=task, loss_metric=loss_metric, train_runs=tuple(keep), checkpoints=checkpoints,
            noise_window=window, one_step=one_step, helper_sd=helper_sd, random_seed=random_seed, draws=draws, tune=tune,
            chains=chains, sampler=sampler, target_accept=target_accept, targets=(),
        )
        start = time.perf_counter()
        fit = fit_table(table, _as_targets(held), config, progress=progress)
        elapsed = time.perf_counter() - start
        pred = fit.predictions()
        pred.insert(0, "held_out", size)
        pred.insert(0, "task", task)
        pred["fit_s"] = elapsed
        pred["compile_s"] = fit.timing["compile_s"]
        pred["sample_s"] = fit.timing["sample_s"]
        pred["diagnostics_ok"] = fit.diagnostics.ok
        pred["divergences"] = fit.diagnostics.divergences
        pred["rhat_max"] = fit.diagnostics.max_r_hat
        pred["ess_bulk_min"] = fit.diagnostics.min_ess_bulk
        pred["problems"] = "; ".join(fit.diagnostics.messages)
        rows.append(pred)
        if on_fit is not None:
            on_fit(size, fit)
    return pd.concat(rows, ignore_index=True)


def coverage_summary(results: pd.DataFrame, by: str | list[str] | None = None) -> pd.DataFrame:
    """Coverage of the 50%/90% intervals and mean log scores over prediction rows (from
    :func:`leave_one_size_out` or :meth:`ScalingFit.predictions`), overall or per ``by``.

    Columns: n, coverage50, coverage90, log_score (Bayes, mean), point_log_score (mean),
    log_score_gain (mean difference, Bayes minus point), and the mean relative errors.
    """
    r = results.loc[results["observed"].notna()].copy()
    r["gain"] = r["log_score"] - r["point_log_score"]
    groups = [("all", r)] if by is None else list(r.groupby(by, sort=False))
    out = []
    for key, g in groups:
        out.append({
            **({} if by is None else ({by: key} if isinstance(by, str) else dict(zip(by, key)))),
            "n": len(g),
            "coverage50": float(g["inside50"].astype(float).mean()),
            "coverage90": float(g["inside90"].astype(float).mean()),
            "log_score": float(g["log_score"].mean()),
            "point_log_score": float(g["point_log_score"].mean()),
            "log_score_gain": float(g["gain"].mean()),
            "point_rel_error": float(g["point_rel_error"].mean()),
            "bayes_rel_error": float(g["bayes_rel_error"].mean()),
        })
    return pd.DataFrame(out)
