"""SNR of one task at one scale from a tidy frame, and the paper's subtask selection."""

from __future__ import annotations

from dataclasses import dataclass

import warnings

import numpy as np
import pandas as pd

from snrstat.point import _frame
from snrstat.point._core import UndefinedSNRWarning, warn_infinite, warn_undefined
from snrstat.schema import DataError

GROUP = ("task", "metric", "size")


@dataclass(frozen=True)
class SmallScaleSNR:
    """Signal, noise and SNR of one (task, metric, size); ``float(result)`` is the SNR."""

    signal: float
    noise: float
    snr: float
    n_models: int
    n_runs: int
    last_n: int
    mode: str

    def __float__(self) -> float:
        return float(self.snr)


def small_scale_snr(frame: pd.DataFrame, last_n: int = 5, mode: str = "per_run", *,
                    kind: str = "range", metric=None) -> SmallScaleSNR:
    """SNR of one task, metric and size from its training curves (Heineman et al. 2025).

    Each run's score is the mean of its last ``last_n`` checkpoints (by step); each model's
    score is the mean over its runs (seeds and data orders weigh equally); the signal is
    :func:`snrstat.point.signal` of ``kind`` over the per-model scores.

    Noise, ``mode="per_run"`` (default): the within-run spread of the window. It *estimates*
    the estimand of the Bayesian ``noise_sd`` (the sd of one checkpoint score around its run's
    true mean, pooled over the models, :mod:`snrstat.variance.quantities`) but is not the same
    number: the ddof=0 sd of a few checkpoints runs low, and the signal uses observed, noisy
    model means, which run wide, so this SNR is biased upward with few checkpoints and models
    (median x1.2 in simulation). Print it as the paper's number, beside the posterior of the
    same estimand; one lying inside the other's interval is no validation.
    With ``v_r`` the population variance (ddof=0) of
    run r's window and ``mu_r`` its mean, over the R runs with at least two scores in the
    window, ``noise = sqrt(mean_r v_r) / mean_r(mu_r)`` (root-mean of per-run variances
    over the grand mean of the runs' window means; every run weighs equally).

    ``mode="reference"`` reproduces the paper's quick-start script: noise is
    ``std / mean`` (ddof=0) of *all* models' window scores flattened together, so the
    spread between models leaks into the noise. With equally many scores per model the
    SNR is then range / std of the pooled scores, which can never exceed ``sqrt(2 k)``
    for k models (about 7.1 for 25 mixes: the std of k values spanning a range R is at
    least R / sqrt(2 k)), and stays near 4 even with zero checkpoint noise: this ceiling,
    not the benchmark, is why the paper's small-scale SNRs sit between 3 and 6. The
    posterior SNR has no such ceiling. (With several seeds per model we take each run's
    last n checkpoints; the script took the model's last n rows, whatever their seed.)

    The frame must hold one (task, metric, size) after the optional ``metric`` filter;
    subtasks are averaged per checkpoint. Raises DataError for one model, for windows with
    no run holding two scores, and for ambiguous records (two scores at one step of a run).
    Noise 0 gives SNR = +inf with :class:`snrstat.point.InfiniteSNRWarning`.
    """
    df = _frame.prepare(frame, metric=metric)
    w = _frame.windows(df, GROUP, last_n)
    if w.n_groups != 1:
        shown = w.groups.astype(str).agg("/".join, axis=1).tolist()
        raise DataError(
            f"small_scale_snr needs one (task, metric, size); the frame holds {w.n_groups}: {shown[:6]}"
            f"{' ...' if len(shown) > 6 else ''}. Filter it, or use snrstat.snr_table"
        )
    if len(w.model_mean) < 2:
        raise DataError(f"signal needs at least two models; the frame holds only {list(w.model_name)}")
    sig = float(_frame.group_signal(w, kind)[0])
    noi = float(_frame.group_noise(w, mode)[0])
    if np.isnan(sig):
        raise DataError("the mean of the model scores is 0, so the relative signal is undefined")
    if np.isnan(noi):
        raise DataError(
            f"noise needs at least two scores in a window (last_n={last_n}); no run has two checkpoints, "
            "or the mean score is 0"
        )
    if noi == 0 and sig == 0:
        warn_undefined(f"for all {len(w.run_n)} run(s)")
        snr = float("nan")
    elif noi == 0:
        warn_infinite(f"for all {len(w.run_n)} run(s)")
        snr = float("inf")
    else:
        snr = sig / noi
    return SmallScaleSNR(sig, noi, snr, len(w.model_mean), len(w.run_n), int(last_n), mode)


def subtask_selection(frame: pd.DataFrame, task: str, last_n: int = 5, *, metric=None, size=None,
                      mode: str = "per_run", kind: str = "range", ks=None) -> pd.DataFrame:
    """Keep the subtasks of a suite with the highest own SNR (Heineman et al. 2025).

    Ranks the subtasks of ``task`` by their own SNR (highest first; ties and undefined
    SNRs by name, undefined last), then for each k the aggregate score of every record is
    the mean over the k best subtasks, and its SNR is computed like
    :func:`small_scale_snr`. The paper found 16 of MMLU's 57 subjects beat all 57.

    A subtask whose scores are constant over the last ``last_n`` checkpoints of every run (a
    frozen subject: signal and noise both 0, SNR undefined) is left out with an
    :class:`~snrstat.point.UndefinedSNRWarning` naming it; the rest are still ranked.

    Returns a frame indexed by k with columns ``snr``, ``signal``, ``noise``, ``subtasks``
    (tuple kept), ``added`` (the subtask added at k) and ``added_snr`` (its own SNR).
    ``metric`` and ``size`` must be given when the task has several.
    """
    if not isinstance(frame, pd.DataFrame) or "task" not in frame.columns:
        raise DataError("subtask_selection needs a tidy frame with a 'task' column")
    sub = frame[(frame["task"] == task).fillna(False).to_numpy(dtype=bool)]
    if len(sub) == 0:
        raise DataError(f"task {task!r} not in column 'task'; available: {sorted(frame['task'].dropna().unique())[:10]}")
    sub = _only(sub, "metric", metric)
    sub = _only(sub, "size", size)
    if "subtask" not in sub.columns or sub["subtask"].isna().any():
        raise DataError(f"task {task!r} needs a subtask on every record for subtask selection")
    df = _frame.prepare(sub, subtasks="separate")
    frozen = constant_subtasks(df, last_n)
    if frozen:
        if len(frozen) == df["subtask"].nunique():
            raise DataError(f"every subtask of {task!r} has constant scores in the last {last_n} checkpoints "
                            f"({', '.join(frozen[:10])}): their SNR is undefined, nothing to rank")
        warnings.warn(
            f"subtask(s) {', '.join(frozen)} of {task!r} have constant scores in the last {last_n} checkpoints "
            "(signal and noise both 0, SNR undefined) and are left out of the selection", UndefinedSNRWarning,
            stacklevel=2)
        df = df[~df["subtask"].isin(frozen).to_numpy()].reset_index(drop=True)
    w = _frame.windows(df, ("subtask",), last_n)
    if len(w.model_mean) < 2 * w.n_groups:
        raise DataError("signal needs at least two models in every subtask")
    with np.errstate(all="ignore"):
        own = _frame.ratio(_frame.group_signal(w, kind), _frame.group_noise(w, mode), " (subtasks)")
    names = w.groups["subtask"].astype(str).to_numpy()
    rank_key = np.where(np.isnan(own), -np.inf, own)
    order = np.lexsort((names, -rank_key))  # highest SNR first, then by name

    # one row per record (run x step), one column per subtask in rank order
    rec_cols = ["model", "seed", "data_order", "step"]
    rec = _frame.combine_codes(df, rec_cols)
    sub_code = _frame.combine_codes(df, ["subtask"])
    n_rec, n_sub = int(rec.max()) + 1, int(sub_code.max()) + 1
    wide = np.full((n_rec, n_sub), np.nan)
    wide[rec, sub_code] = df["value"].to_numpy()
    if np.isnan(wide).any():
        r, c = np.argwhere(np.isnan(wide))[0]
        row = int(np.flatnonzero(rec == r)[0])
        raise DataError(
            f"record {_frame._describe(df, row, rec_cols)} lacks subtask {names[c]!r}; every checkpoint "
            "must hold every subtask to compare aggregates"
        )
    ranked = wide[:, order]
    k_all = np.arange(1, n_sub + 1)
    agg = np.cumsum(ranked, axis=1) / k_all
    ks = k_all if ks is None else np.asarray(sorted(set(int(k) for k in ks)))
    if ks.min() < 1 or ks.max() > n_sub:
        raise DataError(f"ks must lie in 1..{n_sub}, got {list(ks)}")
    first = _frame._first_rows(rec)
    base = df.iloc[first][rec_cols].reset_index(drop=True)
    long = base.iloc[np.tile(np.arange(n_rec), len(ks))].reset_index(drop=True)
    long["k"] = np.repeat(ks, n_rec)
    long["value"] = agg[:, ks - 1].T.ravel()
    wk = _frame.windows(long, ("k",), last_n)
    sig = _frame.group_signal(wk, kind)
    noi = _frame.group_noise(wk, mode)
    out = pd.DataFrame({
        "snr": _frame.ratio(sig, noi, " (aggregates)"),
        "signal": sig,
        "noise": noi,
        "subtasks": [tuple(names[order[:k]]) for k in ks],
        "added": names[order[ks - 1]],
        "added_snr": own[order[ks - 1]],
    }, index=pd.Index(ks, name="k"))
    return out


def constant_subtasks(frame: pd.DataFrame, last_n: int = 5) -> list[str]:
    """Subtasks whose window scores (the last ``last_n`` checkpoints of every run) are all one
    value: their signal and noise are both 0 and their SNR is undefined. ``frame`` holds one
    task's records with a ``subtask`` on each (one metric and size)."""
    if "subtask" not in frame.columns or frame["subtask"].isna().all():
        return []
    df = frame if "win" in frame.columns else _frame.prepare(frame, subtasks="separate")
    w = _frame.windows(df, ("subtask",), last_n)
    starts = np.flatnonzero(np.r_[True, w.win_group[1:] != w.win_group[:-1]])
    lo = np.minimum.reduceat(w.win_value, starts)
    hi = np.maximum.reduceat(w.win_value, starts)
    names = w.groups["subtask"].astype(str).to_numpy()[w.win_group[starts]]
    return sorted(names[lo == hi].tolist())


def without_constant_subtasks(frame: pd.DataFrame, task: str, last_n: int = 5) -> tuple[pd.DataFrame, list[str]]:
    """``frame`` without the subtasks of ``task`` that are constant (see :func:`constant_subtasks`)
    at some size and metric, and their names; other tasks' records are untouched."""
    rows = frame[(frame["task"] == task).fillna(False).to_numpy(dtype=bool) & frame["subtask"].notna().to_numpy()]
    frozen: set[str] = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _, group in rows.groupby(["metric", "size"], dropna=False):
            frozen.update(constant_subtasks(group, last_n))
    if not frozen:
        return frame, []
    drop = (frame["task"] == task).fillna(False).to_numpy(dtype=bool) & frame["subtask"].isin(frozen).fillna(False).to_numpy(dtype=bool)
    return frame[~drop], sorted(frozen)


def _only(frame: pd.DataFrame, col: str, wanted) -> pd.DataFrame:
    values = sorted(frame[col].dropna().unique()) if col in frame.columns else []
    if wanted is None:
        if len(values) > 1:
            raise DataError(f"the task has several values in column '{col}' {values}; pass {col}=...")
        return frame
    if wanted not in values:
        raise DataError(f"{col} {wanted!r} not found for this task; available: {values}")
    return frame[(frame[col] == wanted).fillna(False).to_numpy(dtype=bool)]
