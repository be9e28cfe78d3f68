"""A fast, exact posterior for model means: the nested normal model on a grid.

For the records of one task and metric (the last n checkpoints of every run),

    y[m, r, c] = theta[m] + b[m, r] + e[m, r, c]
    theta[m] ~ N(mu, sigma_model)   model means (signal); mu has a flat prior
    b[m, r]  ~ N(0, sigma_run)      run-to-run noise: seed and data order tied per run
    e        ~ N(0, sigma_ckpt)     checkpoint-to-checkpoint noise within a run
    sigma_*  ~ HalfCauchy(prior_scale)

on the score scale. Given the three sigmas every other parameter is normal and can be
integrated out in closed form (run means, then model means, then mu), so the marginal
posterior of the sigmas is evaluated on an adaptive grid in log-sigma and the means are
drawn exactly given each grid draw. The draws are independent (no MCMC, no R-hat).

This is the "normal approximation" allowed by the science notes: it ignores the binomial
item-sampling floor and any trend over the checkpoint window (a trend within the window
is counted as checkpoint noise, as in the paper's noise). It is meant for fast work —
many subtasks, simulation studies, ``--fast`` in the CLI — and is calibrated by simulation
(tests/test_decision_normal_model.py, benchmarks/calibrate_decision.py). The full
hierarchical model lives in :mod:`snrstat.variance`.

A level with no replication is not identifiable and is dropped with a note: with one run
per model, sigma_run is absent and ``model_mean`` is the mean of that run (seed noise is
then part of the "true" model mean); with one checkpoint per run, sigma_ckpt is absent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from io import StringIO

import numpy as np
import pandas as pd
import xarray as xr

from snrstat.decision._window import final_scores, last_checkpoints, pick_records
from snrstat.inference import Fit, register_fit, renamed
from snrstat.schema import DataError
from snrstat.select import DEFAULT_LAST_N

_LOG_2PI = np.log(2 * np.pi)


@dataclass(frozen=True)
class _Stats:
    """Sufficient statistics per run, runs sorted by model."""

    models: list[str]
    run_model: np.ndarray  # (R,) model index of each run
    starts: np.ndarray     # (M,) first run of each model
    n: np.ndarray          # (R,) checkpoints per run
    ybar: np.ndarray       # (R,) run means
    ssw: float             # within-run sum of squares, all runs
    df_within: int         # sum(n - 1)
    has_run: bool
    has_ckpt: bool
    scale: float           # sd of all values, for the default prior and grid range

    @classmethod
    def from_records(cls, unit, run, value) -> _Stats:
        df = pd.DataFrame({"unit": np.asarray(unit).astype(str), "run": np.asarray(run).astype(str),
                           "value": np.asarray(value, dtype=float)})
        if not np.isfinite(df["value"]).all():
            raise DataError("values must be finite")
        runs = df.groupby(["unit", "run"], sort=True)["value"].agg(["size", "mean", "var"]).reset_index()
        models = sorted(runs["unit"].unique())
        if len(models) < 2:
            raise DataError(f"the between-model spread needs at least two models, got {models}")
        n = runs["size"].to_numpy(dtype=float)
        ssw = float((runs["var"].fillna(0.0) * (n - 1)).sum())
        run_model = pd.Categorical(runs["unit"], categories=models).codes.astype(int)
        starts = np.searchsorted(run_model, np.arange(len(models)))
        has_ckpt = bool((n >= 2).any())
        has_run = bool((np.bincount(run_model) >= 2).any())
        if not (has_ckpt or has_run):
            raise DataError(
                "no replication: every model has one run with one checkpoint, so noise cannot be "
                "separated from signal; use more checkpoints per run (last_n) or more seeds"
            )
        if has_ckpt and ssw <= 0:
            raise DataError(
                "scores do not vary at all between checkpoints of a run: the checkpoint noise is 0 "
                "and the SNR infinite; there is nothing to estimate"
            )
        scale = float(df["value"].std(ddof=0))
        if not scale > 0:
            raise DataError("all scores are equal; signal and noise are both 0")
        return cls(models, run_model, starts, n, runs["mean"].to_numpy(), ssw,
                   int((n - 1).sum()), has_run, has_ckpt, scale)


def _collapse(stats: _Stats, sm2, sr2, sc2):
    """Integrate out the run effects and model means; returns pieces for the posterior.

    Inputs are (G,) arrays of variances. Returns log marginal likelihood (G,), and per
    model the precision-weighted run mean ystar (G, M) and its precision W (G, M), and the
    posterior precision Q (G,) and mean muhat (G,) of mu.
    """
    n, ybar = stats.n, stats.ybar
    v = sr2[:, None] + sc2[:, None] / n[None, :]            # (G, R) var of a run mean
    w = 1.0 / v
    W = np.add.reduceat(w, stats.starts, axis=1)            # (G, M)
    ystar = np.add.reduceat(w * ybar, stats.starts, axis=1) / W
    dev = ybar[None, :] - ystar[:, stats.run_model]
    ll = np.zeros(len(sm2))
    if stats.has_ckpt:
        # checkpoints within runs (constants in n dropped)
        ll += -0.5 * stats.df_within * (_LOG_2PI + np.log(sc2)) - 0.5 * stats.ssw / sc2
    # runs within models, given the model mean
    ll += (-0.5 * (_LOG_2PI + np.log(v)) - 0.5 * w * dev**2).sum(1) + 0.5 * (_LOG_2PI - np.log(W)).sum(1)
    # model means around mu, mu integrated under a flat prior
    u = sm2[:, None] + 1.0 / W
    q = 1.0 / u
    Q = q.sum(1)
    muhat = (q * ystar).sum(1) / Q
    ll += (-0.5 * (_LOG_2PI + np.log(u)) - 0.5 * q * (ystar - muhat[:, None]) ** 2).sum(1) + 0.5 * (_LOG_2PI - np.log(Q))
    return ll, ystar, W, Q, muhat


def _log_posterior(stats: _Stats, logs: np.ndarray, prior_scale: float) -> np.ndarray:
    """Log posterior density of the log-sigmas (G, K) with K active components."""
    sm2, sr2, sc2 = _variances(stats, logs)
    ll = _collapse(stats, sm2, sr2, sc2)[0]
    # half-Cauchy prior on each sigma; + log sigma is the Jacobian of the log scale
    sig = np.exp(logs)
    return ll + (logs - np.log1p((sig / prior_scale) ** 2)).sum(1)


def _variances(stats: _Stats, logs: np.ndarray):
    k = 0
    sm2 = np.exp(2 * logs[:, k])
    k += 1
    sr2 = np.zeros(len(logs))
    if stats.has_run:
        sr2 = np.exp(2 * logs[:, k])
        k += 1
    sc2 = np.zeros(len(logs))
    if stats.has_ckpt:
        sc2 = np.exp(2 * logs[:, k])
    return sm2, sr2, sc2


def _grid_posterior(stats: _Stats, prior_scale: float, points: int, passes: int = 3):
    """Adaptive grid: a wide pass, then zoom twice onto the region within 20 log units of the mode."""
    n_dim = 1 + stats.has_run + stats.has_ckpt
    center = np.log(stats.scale)
    lo = np.full(n_dim, center - 11.0)
    hi = np.full(n_dim, center + 4.0)
    for p in range(passes):
        axes = [np.linspace(lo[d], hi[d], points) for d in range(n_dim)]
        mesh = np.stack([g.ravel() for g in np.meshgrid(*axes, indexing="ij")], axis=1)
        lp = _log_posterior(stats, mesh, prior_scale)
        if p == passes - 1:
            break
        keep = lp > lp.max() - 20.0
        step = (hi - lo) / (points - 1)
        lo, hi = mesh[keep].min(0) - step, mesh[keep].max(0) + step
    step = (hi - lo) / (points - 1)
    return mesh, lp, step


def _draw(stats: _Stats, draws: int, rng: np.random.Generator, prior_scale: float, points: int):
    mesh, lp, step = _grid_posterior(stats, prior_scale, points)
    prob = np.exp(lp - lp.max())
    prob /= prob.sum()
    cells = rng.choice(len(mesh), size=draws, p=prob)
    logs = mesh[cells] + (rng.random((draws, mesh.shape[1])) - 0.5) * step
    sm2, sr2, sc2 = _variances(stats, logs)
    _, ystar, W, Q, muhat = _collapse(stats, sm2, sr2, sc2)
    mu = muhat + rng.standard_normal(draws) / np.sqrt(Q)
    prec = W + 1.0 / sm2[:, None]
    mean = (ystar * W + mu[:, None] / sm2[:, None]) / prec
    theta = mean + rng.standard_normal(mean.shape) / np.sqrt(prec)
    return np.sqrt(sm2), np.sqrt(sr2), np.sqrt(sc2), mu, theta


@register_fit
class NormalMeansFit(Fit):
    """Posterior of the nested normal model of one task: model means and noise sds.

    ``idata.posterior`` holds draws with dims (chain, draw[, model]): ``model_mean`` (each
    model's true mean score over the window, on the score scale), ``mu``,
    ``sigma_model``, ``sigma_run`` and ``sigma_ckpt`` (when identified), ``sigma_noise``
    (sd of one record around its model mean), and the finite-population ``signal``,
    ``noise`` and ``snr`` of Heineman et al. 2025 applied to the draws: signal =
    range(model_mean) / mean(model_mean), noise = sigma_ckpt / mean(model_mean), so
    snr = range(model_mean) / sigma_ckpt, the posterior counterpart of the paper's per-run
    checkpoint noise (absent when there is one checkpoint per run). The draws are independent
    (a grid posterior, no sampler), so ``diagnostics`` is None.
    """

    kind = "normal-means"
    summary_vars = ("mu", "sigma_model", "sigma_run", "sigma_ckpt", "sigma_noise", "signal", "noise", "snr",
                    "model_mean")

    def __init__(self, posterior: xr.Dataset, window: pd.DataFrame, notes: list[str] | None = None,
                 prior_scale: float = float("nan"), config: dict | None = None, level: float = 0.9):
        import arviz as az

        idata = posterior if hasattr(posterior, "groups") else az.InferenceData(posterior=posterior)
        config = {"prior_scale": float(prior_scale), "notes": list(notes or []), **(config or {})}
        super().__init__(idata, config, None, {}, level)
        self.window = window

    @property
    def posterior(self) -> xr.Dataset:
        return self.idata.posterior

    @property
    def notes(self) -> list[str]:
        return self.config["notes"]

    @property
    def prior_scale(self) -> float:
        return self.config["prior_scale"]

    @property
    def models(self) -> list[str]:
        return [str(m) for m in self.posterior["model"].values]

    @property
    def point_scores(self) -> pd.Series:
        """Each model's observed final-checkpoint score, averaged over its runs (the paper's choice)."""
        return final_scores(self.window)

    def _extra(self) -> dict:
        return {"window": self.window.astype({"step": "float64"}).to_json(orient="split", index=False)}

    @classmethod
    def _from_saved(cls, idata, config, diagnostics, point, level, extra):
        window = pd.read_json(StringIO(extra["window"]), orient="split", dtype={"unit": str, "run": str})
        window["step"] = window["step"].astype("Int64")
        return cls(idata, window, config["notes"], config["prior_scale"], config, level)


def normal_means_posterior(
    unit, run, value, *, draws: int = 2000, random_seed: int = 0, prior_scale: float | None = None, grid: int = 40,
) -> tuple[xr.Dataset, list[str], float]:
    """Draws of the nested normal model from record arrays (unit = model label, run label, value)."""
    seed = random_seed
    if draws < 1:
        raise DataError(f"draws must be positive, got {draws}")
    stats = _Stats.from_records(unit, run, value)
    scale = stats.scale if prior_scale is None else float(prior_scale)
    if not scale > 0:
        raise DataError(f"prior_scale must be positive, got {prior_scale}")
    rng = np.random.default_rng(seed)
    sm, sr, sc, mu, theta = _draw(stats, draws, rng, scale, grid)
    notes = []
    if not stats.has_run:
        notes.append("one run per model: run-to-run (seed) noise is not identifiable and is part of each model's mean")
    elif (np.bincount(stats.run_model) >= 2).sum() == 1:
        notes.append("only one model has several runs: sigma_run rests on that model alone")
    if not stats.has_ckpt:
        notes.append("one checkpoint per run: checkpoint noise is not identifiable; sigma_run is all the noise")
    def da(x):
        return (("chain", "draw"), x[None, :])
    data = {"mu": da(mu), "sigma_model": da(sm)}
    if stats.has_run:
        data["sigma_run"] = da(sr)
    if stats.has_ckpt:
        data["sigma_ckpt"] = da(sc)
    data["sigma_noise"] = da(np.sqrt(sr**2 + sc**2))
    data["model_mean"] = (("chain", "draw", "model"), theta[None])
    spread = theta.max(1) - theta.min(1)
    avg = np.abs(theta.mean(1))
    data["signal"] = da(spread / avg)
    if stats.has_ckpt:
        data["noise"] = da(sc / avg)
        data["snr"] = da(spread / sc)
    posterior = xr.Dataset(data, coords={"chain": [0], "draw": np.arange(draws), "model": stats.models})
    return posterior, notes, scale


def fit_normal_means(
    frame: pd.DataFrame,
    *,
    task: str | None = None,
    metric: str | None = None,
    size: str | Sequence[str] | None = None,
    subtask=False,
    last_n: int = DEFAULT_LAST_N,
    by: Sequence[str] = ("model",),
    draws: int = 2000,
    random_seed: int = 0,
    prior_scale: float | None = None,
    grid: int = 40,
    seed: int | None = None,
) -> NormalMeansFit:
    """Fit the nested normal model to the last ``last_n`` checkpoints of every run of one task.

    ``by`` names the columns that make a "model" (``('model', 'size')`` treats each
    size of a recipe as its own model). ``prior_scale`` is the half-Cauchy scale of every
    sigma (default: the sd of the window's scores). ``grid`` points per dimension.
    ``seed`` is the old name of ``random_seed`` (deprecated).
    """
    random_seed = renamed("seed", seed, "random_seed", random_seed)
    rows = pick_records(frame, task=task, metric=metric, size=size, subtask=subtask)
    window = last_checkpoints(rows, last_n, by=by)
    fit = fit_window(window, draws=draws, random_seed=random_seed, prior_scale=prior_scale, grid=grid)
    fit.config.update({"task": str(rows["task"].iloc[0]), "metric": str(rows["metric"].iloc[0]), "last_n": last_n,
                       "by": list(by)})
    return fit


def fit_window(window: pd.DataFrame, *, draws: int = 2000, random_seed: int = 0,
               prior_scale: float | None = None, grid: int = 40, seed: int | None = None) -> NormalMeansFit:
    """:func:`fit_normal_means` on a prepared window (columns unit, run, value)."""
    random_seed = renamed("seed", seed, "random_seed", random_seed)
    missing = [c for c in ("unit", "run", "value") if c not in window.columns]
    if missing:
        raise DataError(f"window frame lacks column(s) {missing}")
    posterior, notes, scale = normal_means_posterior(
        window["unit"], window["run"], window["value"], draws=draws, random_seed=random_seed,
        prior_scale=prior_scale, grid=grid,
    )
    return NormalMeansFit(posterior, window, notes, scale,
                          {"draws": int(draws), "random_seed": int(random_seed), "grid": int(grid)})
