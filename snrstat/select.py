"""The one record selection of snrstat: which records an estimate or a model sees.

Every analysis (point estimates, tables, every Bayesian model, the CLI and the report) picks
records through these functions, so they all agree on

- the task, metric and size picked, with errors that list what is available;
- the window: the last :data:`DEFAULT_LAST_N` checkpoints of every run, as the
  signal-and-noise paper does (Heineman et al. 2025), unless asked otherwise; a warning
  (:class:`TrendingWindowWarning`) when scores still trend inside it, since a trend would
  count as checkpoint noise;
- the size order: by ``params``, else the parsed label (:func:`snrstat.schema.size_order`);
- suites with subtasks (MMLU's subjects): macro-averaged per checkpoint, every checkpoint
  holding every subtask, with the effective item count of the average.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from snrstat.schema import DataError, size_order

#: The window of the paper: the last 5 checkpoints of every run.
DEFAULT_LAST_N = 5
#: A window trends when the rank correlation of score with step, pooled over runs, exceeds this
#: and is significant (p < 0.01): checkpoint noise would then include learning.
TREND_TAU = 0.3


class TrendingWindowWarning(UserWarning):
    """Scores still rise or fall inside the window of last checkpoints."""


def pick(rows: pd.DataFrame, col: str, wanted, what: str, flag: str | None = None) -> tuple[pd.DataFrame, str]:
    """Rows whose ``col`` equals ``wanted`` (the only value when ``wanted`` is None).

    The error lists the available values and says how to choose (``flag``, e.g. ``--metric``,
    defaults to the keyword ``col=``)."""
    available = sorted(rows[col].dropna().unique()) if col != "size" else size_order(rows[col].dropna().unique())
    how = flag or f"{col}="
    if wanted is None:
        if len(available) != 1:
            raise DataError(f"{what} holds several values in column '{col}'; choose one with {how} from {available}")
        wanted = available[0]
    out = rows[(rows[col] == wanted).fillna(False).to_numpy(dtype=bool)]
    if out.empty:
        raise DataError(f"{col} {wanted!r} not in column '{col}' for {what}; available: {available}")
    return out, str(wanted)


def pick_records(frame: pd.DataFrame, *, task=None, metric=None, size=None) -> pd.DataFrame:
    """Rows of one task and metric, and of one size or a list of sizes (None: every size)."""
    rows, task = pick(frame, "task", task, "the frame")
    rows, metric = pick(rows, "metric", metric, f"task {task!r}")
    if size is not None:
        sizes = [size] if isinstance(size, str) else list(size)
        have = set(rows["size"].dropna())
        missing = [s for s in sizes if s not in have]
        if missing:
            raise DataError(f"size(s) {missing} not in column 'size' for task {task!r}; "
                            f"available: {size_order(have)}")
        rows = rows[rows["size"].isin(sizes).to_numpy(dtype=bool)]
    return rows


def macro_average(rows: pd.DataFrame, keys) -> tuple[pd.DataFrame, int]:
    """One score per ``keys`` group: the mean over the task's subtasks (the paper's aggregate).

    Rows without a subtask are the harness's own aggregate and are kept as they are when
    present. Every group must hold every subtask once. ``n_items`` becomes the effective count
    ``S^2 / sum_s 1/n_s`` (NaN if any is unknown), which gives the average the binomial
    variance it has at a common accuracy. Returns the rows and the number of subtasks (0: none).
    """
    keys = list(keys)
    has_sub = rows["subtask"].notna()
    if not has_sub.any():
        return rows.copy(), 0
    if not has_sub.all():
        return rows[~has_sub.to_numpy()].copy(), 0
    subs = rows["subtask"].unique()
    inv = 1.0 / pd.to_numeric(rows["n_items"], errors="coerce").astype(float)
    g = rows.assign(_inv=inv).groupby(keys, dropna=False, sort=False)
    agg = g.agg(value=("value", "mean"), k=("subtask", "nunique"), count=("subtask", "size"),
                inv=("_inv", "sum"), inv_na=("_inv", lambda s: s.isna().any()))
    if (agg["count"] != agg["k"]).any():
        bad = agg.index[(agg["count"] != agg["k"]).to_numpy()][0]
        raise DataError(f"several records of one subtask for {dict(zip(keys, bad))}; keep one score per checkpoint")
    short = agg["k"] < len(subs)
    if short.any():
        bad = agg.index[short.to_numpy()][0]
        raise DataError(
            f"{dict(zip(keys, bad))} has {int(agg.loc[bad, 'k'])} of the {len(subs)} subtasks; an average over "
            "different subtask sets is not comparable (drop incomplete checkpoints or select one subtask)")
    n_eff = np.where(agg["inv_na"].to_numpy(dtype=bool), np.nan, len(subs) ** 2 / agg["inv"].to_numpy())
    firsts = g.first().reset_index()
    out = firsts.assign(value=agg["value"].to_numpy(), n_items=n_eff,
                        subtask=pd.array([pd.NA] * len(firsts), dtype="string"))
    if "stderr" in out.columns:
        out["stderr"] = np.nan  # a subtask's stderr is not the average's
    return out, len(subs)


def last_checkpoints(rows: pd.DataFrame, last_n: int | None, run: str = "run") -> pd.DataFrame:
    """The last ``last_n`` checkpoints (by step) of every run (``None``: every checkpoint).

    ``run`` names the column holding run labels. A window that still trends warns with
    :class:`TrendingWindowWarning`.
    """
    if last_n is None:
        return rows
    if isinstance(last_n, bool) or not isinstance(last_n, (int, np.integer)) or last_n < 1:
        raise DataError(f"last_n must be a positive integer, got {last_n!r}")
    if rows["step"].isna().any():
        runs = sorted(rows.loc[rows["step"].isna(), run].astype(str).unique())
        raise DataError(f"last_n needs column 'step' on every record; missing for run(s) {runs[:5]}")
    order = rows.sort_values([run, "step"], ascending=[True, False], kind="stable")
    rank = order.groupby(run, sort=False).cumcount()
    return order[(rank < int(last_n)).to_numpy()]


def window_trend(window: pd.DataFrame, run: str = "run") -> tuple[float, float]:
    """Kendall's tau of score against step within runs, pooled (scores centred per run), and
    its p-value; (nan, nan) when no run has three checkpoints."""
    from scipy.stats import kendalltau

    w = window[[run, "step", "value"]].dropna()
    n = w.groupby(run)["step"].transform("size")
    w = w[(n >= 3).to_numpy()]
    if w.empty:
        return float("nan"), float("nan")
    step_rank = w.groupby(run)["step"].rank().to_numpy() - w.groupby(run)["step"].transform("size").add(1).div(2)
    centred = w["value"] - w.groupby(run)["value"].transform("mean")
    res = kendalltau(np.asarray(step_rank, dtype=float), centred.to_numpy(dtype=float))
    return float(res.statistic), float(res.pvalue)


def warn_if_trending(window: pd.DataFrame, what: str, run: str = "run", stacklevel: int = 3) -> None:
    tau, p = window_trend(window, run)
    if np.isfinite(tau) and abs(tau) > TREND_TAU and p < 0.01:
        warnings.warn(f"{what}: scores still {'rise' if tau > 0 else 'fall'} inside the window of last checkpoints "
                      f"(Kendall's tau {tau:.2f} with step, p={p:.1g}); the trend counts as checkpoint noise. Use a "
                      "shorter window (last_n=), or fit a trend (trend=True)", TrendingWindowWarning,
                      stacklevel=stacklevel)


def refuse_constant(rows: pd.DataFrame, what: str) -> None:
    """A DataError when every score of ``rows`` is one value (all 0, all 1, ...): signal and noise
    are both 0, the SNR is 0/0 and undefined, and there is nothing to fit."""
    values = rows["value"].to_numpy(dtype=float)
    if len(values) and values.min() == values.max():
        raise DataError(f"{what}: every score is {values[0]:g} ({len(values)} records), so signal and noise are "
                        "both 0 and the SNR is undefined; nothing to fit")
