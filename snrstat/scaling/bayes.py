"""The two-step scaling law as one Bayesian model, with predictive intervals for the targets.

The paper's point fit (:mod:`snrstat.scaling.point`) says what the ladder predicts; this model
says how sure to be. Both steps are fitted *jointly* on the last checkpoints of the ladder runs:

```
L_law(N, D)  = T * ( sN (N/N0)^-alpha + sD (D/D0)^-beta + sE )          step 1 (sN+sD+sE = 1)
log Lbar_r   ~ Normal(log L_law(N_r, D_r), tau_L)                       run deviation from the law
log L[r, c]  ~ Normal(log Lbar_r + gamma_L off[r, c], sigma_L)          checkpoint noise
curve_r      = floor + (top - floor) logistic(k (L0 - Lbar_r))          step 2
acc[r, c]    = curve_r + tau_A w_r + gamma_A off[r, c] + sigma_A eps_rc,  w, eps ~ Normal(0, 1)
```

``off[r, c] = log(D_rc / D_r)`` places checkpoint c before run r's end (0 at the final
checkpoint): ``gamma`` absorbs drift over the window, ``sigma`` is the checkpoint-to-checkpoint
noise learned from the spread of each run's last ``noise_window`` checkpoints, and ``tau`` is
how far whole runs sit from the law (seed noise plus misfit); step 2 acts on each run's *true*
loss, so noise in the loss does not bias it. The accuracy's run deviation ``w`` enters linearly and
is integrated out exactly (science.md section 4 allows collapsing): a run's checkpoint mean is
``Normal(curve_r + gamma_A mean(off_r), sqrt(tau_A^2 + sigma_A^2 / n_r))`` and the deviations
from it carry ``n_r - 1`` degrees of freedom of checkpoint noise. ``Lbar_r`` is centred because
each run's checkpoints pin it far more tightly than ``tau_L`` spreads the runs; both choices
remove the funnels that a non-centred ``z, w`` per run gives (about 10x fewer gradient
evaluations per draw). In the paper's notation (science.md section 2)
``A = exp(a) = T sN N0^alpha``, ``B = exp(b) = T sD D0^beta``, ``E = T sE`` and step 2's
``a = floor - top``, ``b = top``; all are in the posterior as ``a, b, alpha, beta, E, acc_a,
acc_b, k, L0``.

Parametrisation (why the priors sit where they do): the ladder pins down the loss at the
design centre (N0, D0 = geometric means), its slopes in log N and log D, and the accuracy and
its slope at the centre's loss; the exponents, E and the top of the sigmoid are only weakly
identified and trade off along curved ridges. Sampling the well-pinned quantities directly
(``log_T``, ``g_n = alpha sN``, ``g_d = beta sD``, ``acc_ref``, ``slope``) with weakly
informative priors on the log/logit scale, and the rest as shares and fractions, removes most
divergences a direct (a, alpha, E) parametrisation gives. Priors: ``log T ~ N(log Lbar, 0.5)``;
``g_n, g_d ~ LogNormal(log 0.1, 1)``; shares ``~ Dirichlet(2, 2, 2)``; ``logit acc_ref ~ N(0,
1.5)``; ``floor / acc_ref ~ Beta(2, 2)``; the fraction of the sigmoid's range reached at the
centre ``~`` logistic(N(0, 1.5)) on the range that keeps ``top <= 1``; ``slope ~ LogNormal(log
0.5, 1.5)``; ``tau ~ HalfNormal(0.1)``, ``sigma ~ HalfNormal(0.05)``, ``gamma ~ N(0, 0.5)``.

Defaults: 4 chains x 2000 draws after 1500 tuning steps, ``target_accept=0.99``. On the bundled
ladder 134 of 140 fits (20 tasks: targets two- and one-step, leave-one-size-out) pass every
check of science.md section 5; ``validation/results/scaling.md`` names the others and why. A fit
takes about 5 s on 2 CPU cores once compiled (nutpie compiles once per number of runs and
observations, 15-35 s, and reuses it across tasks).

A target's predictive draws a new run deviation and new checkpoint noise: it is the
distribution of the *observed* score (its final checkpoint, or the mean of its last n), which
is what the observed 7B and 13B scores are checked against. ``one_step=True`` drops the loss:
accuracy is the same logistic curve of a power law in N and D (``sN (N/N0)^-alpha + (1 - sN)
(D/D0)^-beta``, 1 at the centre), fitted to accuracy alone (Bhagia et al.'s single-step
baseline).
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from io import StringIO
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import expit, logsumexp

from snrstat.scaling.ladder import (
    DEFAULT_TARGETS,
    RUN_KEYS,
    _n_checkpoints,
    checkpoint_table,
    ladder_points,
    parse_run,
    target_points,
)
from snrstat.scaling.point import chained_prediction, fit_points, loss_law
from snrstat.schema import DataError

#: Sampler-health thresholds of science.md section 5.
RHAT_MAX = 1.01
ESS_MIN = 400
BFMI_MIN = 0.3
TWO_STEP_SUMMARY = ("a", "b", "alpha", "beta", "E", "acc_a", "acc_b", "k", "L0", "top", "floor",
                    "tau_loss", "sigma_loss", "gamma_loss", "tau_acc", "sigma_acc", "gamma_acc")
ONE_STEP_SUMMARY = ("alpha", "beta", "share_n", "acc_a", "acc_b", "k", "L0", "top", "floor",
                    "tau_acc", "sigma_acc", "gamma_acc")


class ScalingFitWarning(UserWarning):
    """The sampler's diagnostics failed; the intervals may be wrong."""


@dataclass(frozen=True)
class ScalingConfig:
    """Everything that defines a fit (stored beside the posterior by :meth:`ScalingFit.save`)."""

    task: str
    loss_metric: str = "bpb"
    acc_metric: str | None = None
    targets: tuple[str, ...] = DEFAULT_TARGETS
    target_tokens: dict = field(default_factory=dict)
    target_params: dict = field(default_factory=dict)
    train_runs: tuple | None = None
    checkpoints: str | int = "final"
    noise_window: int = 5
    one_step: bool = False
    helper_sd: float | None = 0.02
    random_seed: int = 0
    draws: int = 2000
    tune: int = 1500
    chains: int = 4
    sampler: str = "nutpie"
    target_accept: float = 0.99

    def __post_init__(self):
        _n_checkpoints(self.checkpoints)
        if self.sampler not in ("nutpie", "pymc"):
            raise ValueError(f"sampler must be 'nutpie' or 'pymc', got {self.sampler!r}")
        for name in ("draws", "tune", "chains", "noise_window"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < (0 if name == "tune" else 1):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")


# ---------------------------------------------------------------------------------------------
# data


@dataclass
class ScalingData:
    """Arrays the model is built from: runs (log N, log D), checkpoint observations, anchors."""

    runs: list[str]
    log_n: np.ndarray
    log_d: np.ndarray
    obs_run: np.ndarray
    offset: np.ndarray
    loss: np.ndarray
    acc: np.ndarray
    log_n0: float
    log_d0: float
    log_loss_ref: float

    @property
    def shape_key(self) -> tuple[int, int]:
        return (len(self.runs), len(self.obs_run))

    @property
    def anchors(self) -> dict[str, float]:
        return {"log_n0": self.log_n0, "log_d0": self.log_d0, "log_loss_ref": self.log_loss_ref}

    def run_average(self) -> np.ndarray:
        """(run x obs) matrix that averages each run's checkpoints."""
        m = np.zeros((len(self.runs), len(self.obs_run)))
        m[self.obs_run, np.arange(len(self.obs_run))] = 1.0
        return m / m.sum(axis=1, keepdims=True)

    def model_data(self) -> dict[str, np.ndarray]:
        avg = self.run_average()
        acc_mean, off_mean = avg @ self.acc, avg @ self.offset
        return {
            "log_n": self.log_n, "log_d": self.log_d, "obs_run": self.obs_run, "offset": self.offset,
            "log_loss_obs": np.log(self.loss), "n_obs_run": np.bincount(self.obs_run, minlength=len(self.runs)).astype(float),
            "acc_mean": acc_mean, "offset_mean": off_mean,
            "acc_dev": self.acc - acc_mean[self.obs_run], "offset_dev": self.offset - off_mean[self.obs_run],
            "log_n0": np.asarray(self.log_n0), "log_d0": np.asarray(self.log_d0),
            "log_loss_ref": np.asarray(self.log_loss_ref),
        }


def scaling_data(table: pd.DataFrame, runs, noise_window: int) -> ScalingData:
    """The last ``noise_window`` checkpoints of each training run in one task's checkpoint table."""
    final = ladder_points(table, runs, "final")
    if final["task"].nunique() != 1:
        raise DataError(f"scaling_data needs one task, got {sorted(final['task'].unique())}")
    obs = table.merge(final[RUN_KEYS], on=RUN_KEYS, how="inner").sort_values([*RUN_KEYS, "step"], kind="stable")
    obs = obs.groupby(RUN_KEYS, sort=False).tail(noise_window)
    index = {tuple(r): i for i, r in enumerate(final[RUN_KEYS].itertuples(index=False))}
    obs_run = np.array([index[tuple(r)] for r in obs[RUN_KEYS].itertuples(index=False)], dtype="int64")
    d_final = final["tokens"].to_numpy(dtype=float)[obs_run]
    tokens = obs["tokens"].to_numpy(dtype=float)
    offset = np.where(np.isfinite(tokens), np.log(tokens / d_final), 0.0)
    loss = obs["loss"].to_numpy(dtype=float)
    acc = obs["acc"].to_numpy(dtype=float)
    if np.any(~np.isfinite(loss)) or np.any(~np.isfinite(acc)):
        raise DataError("the training runs' checkpoints have missing loss or accuracy values (column 'value')")
    if np.any(loss <= 0):
        raise DataError("the loss metric must be positive (it is modelled on the log scale)")
    log_n = np.log(final["params"].to_numpy(dtype=float))
    log_d = np.log(final["tokens"].to_numpy(dtype=float))
    return ScalingData(
        runs=list(final["run"]), log_n=log_n, log_d=log_d, obs_run=obs_run, offset=offset,
        loss=loss, acc=acc,
        log_n0=float(log_n.mean()), log_d0=float(log_d.mean()),
        log_loss_ref=float(np.log(final["loss"].to_numpy(dtype=float)).mean()),
    )


# ---------------------------------------------------------------------------------------------
# model


def build_model(data: ScalingData, *, one_step: bool = False, helper_sd: float | None = 0.02):
    """The PyMC model of the module docstring. Observations and anchors are ``pm.Data``, so a
    compiled model is reused for any task with the same number of runs and observations.

    ``helper_sd``: the paper's helper point (L = 0, acc = 1) as a soft constraint on step 2,
    ``acc(0) ~ Normal(1, helper_sd)`` (two-step only; ``None`` drops it). A model that puts all
    probability on the correct answer (zero BPB) is always right, so this is physics, not a
    fudge; it is what keeps the extrapolated top of the sigmoid from sagging."""
    import pymc as pm
    import pytensor.tensor as pt

    md = data.model_data()
    coords = {"run": data.runs, "obs": np.arange(len(data.obs_run)), "term": ["N", "D", "E"]}
    with pm.Model(coords=coords) as model:
        log_n = pm.Data("log_n", md["log_n"], dims="run")
        log_d = pm.Data("log_d", md["log_d"], dims="run")
        obs_run = pm.Data("obs_run", md["obs_run"], dims="obs")
        offset = pm.Data("offset", md["offset"], dims="obs")
        n_obs = pm.Data("n_obs_run", md["n_obs_run"], dims="run")
        acc_mean = pm.Data("acc_mean", md["acc_mean"], dims="run")
        offset_mean = pm.Data("offset_mean", md["offset_mean"], dims="run")
        acc_dev = pm.Data("acc_dev", md["acc_dev"], dims="obs")
        offset_dev = pm.Data("offset_dev", md["offset_dev"], dims="obs")
        log_n0 = pm.Data("log_n0", md["log_n0"])
        log_d0 = pm.Data("log_d0", md["log_d0"])
        dn, dd = log_n - log_n0, log_d - log_d0

        if one_step:
            alpha = pm.LogNormal("alpha", mu=np.log(0.3), sigma=0.75)
            beta = pm.LogNormal("beta", mu=np.log(0.3), sigma=0.75)
            share_n = pm.Beta("share_n", alpha=2.0, beta=2.0)
            x_run = share_n * pt.exp(-alpha * dn) + (1 - share_n) * pt.exp(-beta * dd)
            x_ref = 1.0
        else:
            log_ref = pm.Data("log_loss_ref", md["log_loss_ref"])
            log_loss_obs = pm.Data("log_loss_obs", md["log_loss_obs"], dims="obs")
            log_t = pm.Normal("log_T", mu=log_ref, sigma=0.5)
            g_n = pm.LogNormal("g_n", mu=np.log(0.1), sigma=1.0)
            g_d = pm.LogNormal("g_d", mu=np.log(0.1), sigma=1.0)
            shares = pm.Dirichlet("shares", a=np.full(3, 2.0), dims="term")
            alpha = pm.Deterministic("alpha", g_n / shares[0])
            beta = pm.Deterministic("beta", g_d / shares[1])
            pm.Deterministic("a", log_t + pt.log(shares[0]) + alpha * log_n0)
            pm.Deterministic("b", log_t + pt.log(shares[1]) + beta * log_d0)
            pm.Deterministic("E", pt.exp(log_t) * shares[2])
            law = pt.exp(log_t) * (shares[0] * pt.exp(-alpha * dn) + shares[1] * pt.exp(-beta * dd) + shares[2])
            tau_loss = pm.HalfNormal("tau_loss", sigma=0.1)
            sigma_loss = pm.HalfNormal("sigma_loss", sigma=0.05)
            gamma_loss = pm.Normal("gamma_loss", mu=0.0, sigma=0.5)
            # Centred: each run's last checkpoints pin its log loss far tighter than tau_loss
            # spreads the runs, the regime where a non-centred run effect makes a funnel.
            log_loss_run = pm.Normal("log_loss_run", mu=pt.log(law), sigma=tau_loss, dims="run")
            pm.Normal("loss_obs", mu=log_loss_run[obs_run] + gamma_loss * offset, sigma=sigma_loss,
                      observed=log_loss_obs, dims="obs")
            x_run = pt.exp(log_loss_run)
            x_ref = pt.exp(log_ref)

        # Step 2 through what the data pin down: accuracy and slope at the centre's loss.
        acc_ref = pm.Deterministic("acc_ref", pm.math.sigmoid(pm.Normal("acc_ref_logit", 0.0, 1.5)))
        floor = pm.Deterministic("floor", acc_ref * pm.Beta("floor_frac", alpha=2.0, beta=2.0))
        p_min = (acc_ref - floor) / (1 - floor)  # smallest fraction of the range that keeps top <= 1
        p_ref = pm.Deterministic("p_ref", p_min + (1 - p_min) * pm.math.sigmoid(pm.Normal("rho", 0.0, 1.5)))
        slope = pm.LogNormal("slope", mu=np.log(0.5), sigma=1.5)
        span = (acc_ref - floor) / p_ref
        top = pm.Deterministic("top", floor + span)
        k = pm.Deterministic("k", slope / (span * p_ref * (1 - p_ref)))
        l0 = pm.Deterministic("L0", x_ref + pm.math.logit(p_ref) / k)
        pm.Deterministic("acc_a", floor - top)
        pm.Deterministic("acc_b", top)
        if helper_sd is not None and not one_step:
            pm.Normal("helper", mu=floor + span * pm.math.sigmoid(k * l0), sigma=helper_sd, observed=1.0)

        tau_acc = pm.HalfNormal("tau_acc", sigma=0.1)
        sigma_acc = pm.HalfNormal("sigma_acc", sigma=0.05)
        gamma_acc = pm.Normal("gamma_acc", mu=0.0, sigma=0.5)
        curve = pm.Deterministic("acc_curve", floor + span * pm.math.sigmoid(k * (l0 - x_run)), dims="run")
        # The run deviation tau_acc * w_r enters linearly, so it is integrated out exactly: a run's
        # mean of n checkpoints is Normal(curve + drift, sqrt(tau^2 + sigma^2 / n)) and, independent
        # of it, the deviations from that mean carry n - 1 degrees of freedom of checkpoint noise.
        pm.Normal("acc_mean_obs", mu=curve + gamma_acc * offset_mean,
                  sigma=pt.sqrt(tau_acc ** 2 + sigma_acc ** 2 / n_obs), observed=acc_mean, dims="run")
        resid = acc_dev - gamma_acc * offset_dev
        pm.Potential("acc_within", -(n_obs.sum() - n_obs.shape[0]) * pt.log(sigma_acc)
                     - 0.5 * pt.sum(resid ** 2) / sigma_acc ** 2)
    return model


# ---------------------------------------------------------------------------------------------
# predictive (numpy replica of the model, vectorised over chain, draw and point)


def predictive_draws(
    posterior: xr.Dataset,
    log_n,
    log_d,
    anchors: Mapping[str, float],
    *,
    one_step: bool,
    n_checkpoints=1,
    offset=0.0,
    random_seed=0,
    dim: str = "target",
    coords=None,
) -> xr.Dataset:
    """Posterior predictive at new (N, D): ``acc`` is the observable score (new run deviation,
    new checkpoint noise averaged over ``n_checkpoints``, drift to ``offset``), ``acc_run`` the
    run's expected final score, ``acc_law`` the law's curve; ``loss``/``loss_law`` likewise
    (two-step only). Dims (chain, draw, ``dim``)."""
    rng = np.random.default_rng(random_seed)
    ln = xr.DataArray(np.atleast_1d(np.asarray(log_n, dtype=float)), dims=dim, coords=coords)
    ld = xr.DataArray(np.atleast_1d(np.asarray(log_d, dtype=float)), dims=dim, coords=coords)
    n_avg = xr.DataArray(np.broadcast_to(np.asarray(n_checkpoints, dtype=float), ln.shape), dims=dim, coords=coords)
    off = xr.DataArray(np.broadcast_to(np.asarray(offset, dtype=float), ln.shape), dims=dim, coords=coords)
    p = posterior
    shape = (p.sizes["chain"], p.sizes["draw"], ln.size)

    def normal():
        return xr.DataArray(rng.standard_normal(shape), dims=("chain", "draw", dim), coords=coords)

    dn, dd = ln - anchors["log_n0"], ld - anchors["log_d0"]
    out = {}
    if one_step:
        x_law = p["share_n"] * np.exp(-p["alpha"] * dn) + (1 - p["share_n"]) * np.exp(-p["beta"] * dd)
        x_run = x_law
    else:
        sh = p["shares"]
        x_law = np.exp(p["log_T"]) * (sh.sel(term="N") * np.exp(-p["alpha"] * dn)
                                      + sh.sel(term="D") * np.exp(-p["beta"] * dd) + sh.sel(term="E"))
        log_run = np.log(x_law) + p["tau_loss"] * normal()
        x_run = np.exp(log_run)
        out["loss_law"] = x_law
        out["loss"] = np.exp(log_run + p["gamma_loss"] * off + p["sigma_loss"] / np.sqrt(n_avg) * normal())
    span = p["top"] - p["floor"]
    out["acc_law"] = p["floor"] + span * expit(p["k"] * (p["L0"] - x_law))
    curve = p["floor"] + span * expit(p["k"] * (p["L0"] - x_run))
    out["acc_run"] = curve + p["tau_acc"] * normal()
    out["acc"] = out["acc_run"] + p["gamma_acc"] * off + p["sigma_acc"] / np.sqrt(n_avg) * normal()
    # For the log score: given a draw and the new run's loss, the observed score is normal.
    out["acc_loc"] = curve + p["gamma_acc"] * off
    out["acc_scale"] = np.sqrt(p["tau_acc"] ** 2 + p["sigma_acc"] ** 2 / n_avg)
    return xr.Dataset({k: v.transpose("chain", "draw", dim) for k, v in out.items()})


def log_predictive_density(pred: xr.Dataset, observed, dim: str = "target") -> np.ndarray:
    """log p(observed | ladder) under the Bayesian predictive: the mean over posterior draws of
    the normal density of the observed score given each draw's curve and new run loss."""
    y = xr.DataArray(np.atleast_1d(np.asarray(observed, dtype=float)), dims=dim, coords={dim: pred[dim]})
    z = (y - pred["acc_loc"]) / pred["acc_scale"]
    logpdf = -0.5 * z ** 2 - np.log(pred["acc_scale"]) - 0.5 * np.log(2 * np.pi)
    flat = logpdf.stack(sample=("chain", "draw")).transpose(dim, "sample").values
    return logsumexp(flat, axis=1) - np.log(flat.shape[1])


def point_log_density(observed, point_pred, point_sd) -> np.ndarray:
    """log density of the observed score under the point prediction taken as
    Normal(point prediction, residual sd of the chained fit on the training runs)."""
    y, m, s = (np.asarray(v, dtype=float) for v in (observed, point_pred, point_sd))
    return -0.5 * ((y - m) / s) ** 2 - np.log(s) - 0.5 * np.log(2 * np.pi)


# ---------------------------------------------------------------------------------------------
# sampling and diagnostics

_COMPILED: dict = {}


def _sample(data: ScalingData, config: ScalingConfig, progress: bool):
    """Sample the posterior; nutpie models are compiled once per (shape, kind) and reused."""
    cores = max(1, min(config.chains, os.cpu_count() or 1))
    t0 = time.perf_counter()
    if config.sampler == "nutpie":
        import nutpie

        key = (data.shape_key, config.one_step, config.helper_sd)
        cached = _COMPILED.get(key)
        if cached is None:
            model = build_model(data, one_step=config.one_step, helper_sd=config.helper_sd)
            cached = _COMPILED[key] = (model, nutpie.compile_pymc_model(model))
        model, compiled = cached
        t1 = time.perf_counter()
        new_data = {k: v for k, v in data.model_data().items() if k in compiled.shared_data}
        # nutpie's initial-point function reads the PyMC model's own shared variables, so they
        # must hold this task's data too (else the start depends on which task compiled first).
        import pymc as pm

        pm.set_data(new_data, model=model)
        idata = nutpie.sample(
            compiled.with_data(**new_data), draws=config.draws, tune=config.tune, chains=config.chains,
            cores=cores, seed=config.random_seed, progress_bar=progress, target_accept=config.target_accept,
            save_warmup=False,
        )
    else:
        import pymc as pm

        model = build_model(data, one_step=config.one_step, helper_sd=config.helper_sd)
        t1 = time.perf_counter()
        with model:
            idata = pm.sample(
                draws=config.draws, tune=config.tune, chains=config.chains, cores=cores,
                random_seed=config.random_seed, target_accept=config.target_accept,
                progressbar=progress, compute_convergence_checks=False,
            )
    t2 = time.perf_counter()
    keep = [g for g in ("posterior", "sample_stats") if g in idata.groups()]
    idata = idata.__class__(**{g: getattr(idata, g) for g in keep})
    idata.posterior = idata.posterior.assign_coords(run=data.runs, term=["N", "D", "E"])
    idata.add_groups({
        "observed_data": xr.Dataset(
            {"loss": ("obs", data.loss), "acc": ("obs", data.acc)},
            coords={"obs": np.arange(len(data.obs_run))}),
        "constant_data": xr.Dataset(
            {"log_n": ("run", data.log_n), "log_d": ("run", data.log_d),
             "obs_run": ("obs", data.obs_run), "offset": ("obs", data.offset)},
            coords={"run": data.runs, "obs": np.arange(len(data.obs_run))},
            attrs={k: float(v) for k, v in data.anchors.items()}),
    })
    return idata, {"compile_s": t1 - t0, "sample_s": t2 - t1}


def diagnose(idata) -> dict:
    """Sampler health against science.md's thresholds: R-hat <= 1.01, bulk and tail ESS >= 400,
    no divergences, BFMI > 0.3. Returns the numbers, ``ok`` and a list of ``problems``."""
    import arviz as az

    post = idata.posterior
    names = list(post.data_vars)
    problems = []
    n_chains = post.sizes["chain"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rhat = float(az.rhat(post, var_names=names).to_array().max()) if n_chains > 1 else float("nan")
        ess_bulk = float(az.ess(post, var_names=names, method="bulk").to_array().min())
        ess_tail = float(az.ess(post, var_names=names, method="tail").to_array().min())
        bfmi = float(np.min(az.bfmi(idata))) if "energy" in idata.sample_stats else float("nan")
    divergences = int(idata.sample_stats["diverging"].sum()) if "diverging" in idata.sample_stats else 0
    if n_chains < 2:
        problems.append("R-hat needs at least 2 chains")
    elif not rhat <= RHAT_MAX:
        problems.append(f"R-hat {rhat:.3f} > {RHAT_MAX}")
    if not ess_bulk >= ESS_MIN:
        problems.append(f"bulk ESS {ess_bulk:.0f} < {ESS_MIN}")
    if not ess_tail >= ESS_MIN:
        problems.append(f"tail ESS {ess_tail:.0f} < {ESS_MIN}")
    if divergences:
        problems.append(f"{divergences} divergent transitions")
    if np.isfinite(bfmi) and bfmi <= BFMI_MIN:
        problems.append(f"BFMI {bfmi:.2f} <= {BFMI_MIN}")
    return {"rhat_max": rhat, "ess_bulk_min": ess_bulk, "ess_tail_min": ess_tail,
            "divergences": divergences, "bfmi_min": bfmi, "ok": not problems, "problems": problems}


def _advice(diag: dict, config: ScalingConfig) -> str:
    tips = []
    if diag["divergences"]:
        tips.append(f"raise target_accept (now {config.target_accept}) towards 0.99; divergences on "
                    "tasks whose accuracy barely moves with loss (e.g. winogrande, boolq) mean the "
                    "sigmoid is poorly determined there, so read the intervals with care")
    if any("ESS" in p or "R-hat" in p for p in diag["problems"]):
        tips.append(f"run longer (draws={config.draws}, tune={config.tune}, chains={config.chains}: "
                    "try draws=4000, tune=2000, chains=4)")
    if any("BFMI" in p for p in diag["problems"]):
        tips.append("low BFMI: more tuning, or the noise scales are poorly identified")
    return "; ".join(tips)


# ---------------------------------------------------------------------------------------------
# the fit object


@dataclass
class ScalingFit:
    """A Bayesian scaling-law fit of one task: posterior, predictions of the targets, diagnostics.

    ``targets`` holds per target its N, D, observed score (``observed``, NaN if unknown), the
    paper's point prediction (``point_pred``) and the residual sd used to score it. ``points``
    holds the training runs (the final checkpoint or the mean of the last n).
    """

    config: ScalingConfig
    idata: object
    targets: pd.DataFrame
    points: pd.DataFrame
    anchors: dict
    diagnostics: dict
    timing: dict
    point_params: dict = field(default_factory=dict)

    @property
    def one_step(self) -> bool:
        return self.config.one_step

    def predictive(self, params, tokens, *, n_checkpoints=1, offset=0.0, random_seed=None,
                   dim="point") -> xr.Dataset:
        """Posterior predictive at arbitrary N (``params``) and D (``tokens``); see
        :func:`predictive_draws`."""
        seed = self.config.random_seed + 1 if random_seed is None else random_seed
        return predictive_draws(
            self.idata.posterior, np.log(np.asarray(params, dtype=float)),
            np.log(np.asarray(tokens, dtype=float)), self.anchors, one_step=self.one_step,
            n_checkpoints=n_checkpoints, offset=offset, random_seed=seed, dim=dim,
        )

    def predictions(self) -> pd.DataFrame:
        """Per target: observed, point_pred, the predictive median and 50%/90% intervals, whether
        the observed score falls inside them, and log scores (Bayes and point)."""
        pred = self.idata.predictions
        q = pred["acc"].quantile([0.05, 0.25, 0.5, 0.75, 0.95], dim=("chain", "draw")).transpose("target", "quantile").values
        t = self.targets
        out = pd.DataFrame({
            "target": t["target"].to_numpy(), "observed": t["observed"].to_numpy(dtype=float),
            "point_pred": t["point_pred"].to_numpy(dtype=float),
            "median": q[:, 2], "lo50": q[:, 1], "hi50": q[:, 3], "lo90": q[:, 0], "hi90": q[:, 4],
        })
        y = out["observed"]
        out["inside50"] = ((y >= out["lo50"]) & (y <= out["hi50"])).where(y.notna())
        out["inside90"] = ((y >= out["lo90"]) & (y <= out["hi90"])).where(y.notna())
        out["point_rel_error"] = (out["point_pred"] - y).abs() / y
        out["bayes_rel_error"] = (out["median"] - y).abs() / y
        out["log_score"] = log_predictive_density(pred, y.fillna(0.0).to_numpy()) if len(y) else []
        out.loc[y.isna(), "log_score"] = np.nan
        out["point_log_score"] = point_log_density(y, out["point_pred"], t["point_sd"].to_numpy(dtype=float))
        if "loss" in pred:
            out["loss_median"] = pred["loss"].median(dim=("chain", "draw")).values
            out["observed_loss"] = t["observed_loss"].to_numpy(dtype=float)
        return out

    def summary(self) -> pd.DataFrame:
        """ArviZ summary (90% HDI) of the law's parameters in the paper's notation and the noise
        scales, with the paper's point estimate beside them where it has one."""
        import arviz as az

        names = list(ONE_STEP_SUMMARY if self.one_step else TWO_STEP_SUMMARY)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = az.summary(self.idata, var_names=names, hdi_prob=0.9)
        point = {**{k: v for k, v in self.point_params.get("step1", {}).items()},
                 **{f"acc_{k}" if k in ("a", "b") else k: v for k, v in self.point_params.get("step2", {}).items()}}
        if not self.one_step:
            table["point"] = [point.get(name, np.nan) for name in table.index]
        return table

    def plot_fan(self, ax=None, **kwargs):
        from snrstat.scaling.plots import plot_fan

        return plot_fan(self, ax=ax, **kwargs)

    # -- persistence -------------------------------------------------------------------------

    def save(self, path) -> Path:
        """Write the InferenceData to ``path`` (NetCDF) and a JSON card beside it
        (``path`` with suffix ``.json``): config, anchors, targets, points, diagnostics."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # write beside and swap in: the file may be open (lazily) by a fit loaded from it
        tmp = path.with_name(f".{path.name}.tmp")
        self.idata.to_netcdf(str(tmp))
        os.replace(tmp, path)
        card = {
            "kind": "snrstat.scaling.ScalingFit",
            "config": _jsonable(asdict(self.config)),
            "anchors": self.anchors,
            "targets": self.targets.to_json(orient="split", index=False),
            "points": self.points.to_json(orient="split", index=False),
            "diagnostics": _jsonable(self.diagnostics),
            "timing": self.timing,
            "point_params": self.point_params,
        }
        card_path = path.with_suffix(".json")
        card_path.write_text(json.dumps(card, indent=2))
        return card_path

    @classmethod
    def load(cls, path) -> "ScalingFit":
        """Read a fit written by :meth:`save`."""
        import arviz as az

        path = Path(path)
        card = json.loads(path.with_suffix(".json").read_text())
        if card.get("kind") != "snrstat.scaling.ScalingFit":
            raise DataError(f"{path.with_suffix('.json')} is not a ScalingFit card")
        cfg = card["config"]
        cfg["targets"] = tuple(cfg["targets"])
        if cfg.get("train_runs") is not None:
            cfg["train_runs"] = tuple(tuple(r) for r in cfg["train_runs"])
        idata = az.from_netcdf(str(path))
        idata.load()
        return cls(
            config=ScalingConfig(**cfg), idata=idata,
            targets=pd.read_json(StringIO(card["targets"]), orient="split"),
            points=pd.read_json(StringIO(card["points"]), orient="split"),
            anchors=card["anchors"], diagnostics=card["diagnostics"], timing=card["timing"],
            point_params=card.get("point_params", {}),
        )

    def __repr__(self) -> str:
        kind = "one-step" if self.one_step else "two-step"
        health = "ok" if self.diagnostics.get("ok") else "PROBLEMS: " + "; ".join(self.diagnostics.get("problems", []))
        return f"ScalingFit({self.config.task!r}, {kind}, {len(self.points)} runs, diagnostics {health})"


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        return None if not np.isfinite(obj) else float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


# ---------------------------------------------------------------------------------------------
# entry points


def fit_table(table: pd.DataFrame, targets: pd.DataFrame, config: ScalingConfig, *, progress: bool = True) -> ScalingFit:
    """Fit one task's checkpoint table (:func:`~snrstat.scaling.ladder.checkpoint_table`) and
    predict ``targets`` (columns target, params, tokens, actual, actual_loss, n_checkpoints,
    log_offset_mean: :func:`~snrstat.scaling.ladder.target_points` or held-out ladder runs)."""
    runs = config.train_runs
    points = ladder_points(table, runs, config.checkpoints)
    n_sizes, n_tokens = points["params"].nunique(), points["tokens"].nunique()
    if n_sizes < 2 or n_tokens < 2 or len(points) < 5:
        raise DataError(
            f"task {config.task!r}: the training runs span {n_sizes} size(s) (column 'params') and "
            f"{n_tokens} token count(s) (column 'tokens') in {len(points)} runs; the law needs at least "
            "2 of each and 5 runs"
        )
    step1, step2, resid_sd, fitted = fit_points(points)
    data = scaling_data(table, runs, config.noise_window)
    idata, timing = _sample(data, config, progress)

    t = targets.reset_index(drop=True)
    n_ckpt = t["n_checkpoints"].where(t["n_checkpoints"] > 0, _n_checkpoints(config.checkpoints))
    pred = predictive_draws(
        idata.posterior, np.log(t["params"].to_numpy(dtype=float)), np.log(t["tokens"].to_numpy(dtype=float)),
        data.anchors, one_step=config.one_step, n_checkpoints=n_ckpt.to_numpy(dtype=float),
        offset=t["log_offset_mean"].fillna(0.0).to_numpy(dtype=float),
        random_seed=config.random_seed + 1, dim="target", coords={"target": t["target"].astype(str).to_numpy()},
    )
    idata.add_groups({"predictions": pred[["acc", "acc_run", "acc_law", "acc_loc", "acc_scale"]
                                          + (["loss", "loss_law"] if "loss" in pred else [])]})
    target_table = pd.DataFrame({
        "target": t["target"].astype(str), "params": t["params"], "tokens": t["tokens"],
        "observed": t["actual"], "observed_loss": t["actual_loss"], "n_checkpoints": n_ckpt,
        "log_offset_mean": t["log_offset_mean"].fillna(0.0),
        "point_pred": chained_prediction(t["params"], t["tokens"], step1, step2),
        "point_loss": loss_law(t["params"], t["tokens"], **step1),
        "point_sd": resid_sd,
    })
    diag = diagnose(idata)
    fit = ScalingFit(
        config=config, idata=idata, targets=target_table,
        points=pd.concat([points, fitted], axis=1), anchors=data.anchors, diagnostics=diag,
        timing={**timing, "total_s": timing["compile_s"] + timing["sample_s"]},
        point_params={"step1": step1, "step2": step2, "residual_sd": resid_sd},
    )
    if not diag["ok"]:
        warnings.warn(
            f"scaling-law fit of {config.task!r} ({'one' if config.one_step else 'two'}-step): "
            f"sampler diagnostics failed: {'; '.join(diag['problems'])}. Advice: {_advice(diag, config)}",
            ScalingFitWarning, stacklevel=3,
        )
    return fit


def fit_scaling_law(
    frame: pd.DataFrame,
    task: str,
    *,
    targets: Iterable[str] = DEFAULT_TARGETS,
    train_runs: Iterable | None = None,
    checkpoints: str | int = "final",
    loss_metric: str = "bpb",
    acc_metric: str | None = None,
    one_step: bool = False,
    helper_sd: float | None = 0.02,
    noise_window: int = 5,
    target_tokens: Mapping[str, float] | None = None,
    target_params: Mapping[str, float] | None = None,
    random_seed: int = 0,
    draws: int = 2000,
    tune: int = 1500,
    chains: int = 4,
    sampler: str = "nutpie",
    target_accept: float = 0.99,
    progress: bool = True,
) -> ScalingFit:
    """Bayesian two-step (or ``one_step``) scaling law of ``task``, fitted jointly on the ladder
    runs (default: the paper's, :data:`~snrstat.scaling.ladder.PAPER_TRAIN_RUNS`), with the
    posterior predictive of each target's observed score next to the paper's point prediction.

    ``checkpoints``: what a score is, as in :func:`~snrstat.scaling.point.fit_ladder_point`
    ("final" or the mean of the last n) for the point fit and the targets; the Bayesian model
    always sees each run's last ``noise_window`` checkpoints (at least ``checkpoints``) to learn
    the checkpoint noise. Sampling uses nutpie (compiled once per data shape and reused across
    tasks) or PyMC's NUTS with ``sampler="pymc"``; every random number comes from ``random_seed``.
    Failed diagnostics raise a :class:`ScalingFitWarning` with advice.
    """
    window = max(noise_window, _n_checkpoints(checkpoints))
    config = ScalingConfig(
        task=task, loss_metric=loss_metric, acc_metric=acc_metric, targets=tuple(targets),
        target_tokens=dict(target_tokens or {}), target_params=dict(target_params or {}),
        train_runs=None if train_runs is None else tuple(parse_run(r) for r in train_runs),
        checkpoints=checkpoints, noise_window=window, one_step=one_step, helper_sd=helper_sd,
        random_seed=random_seed,
        draws=draws, tune=tune, chains=chains, sampler=sampler, target_accept=target_accept,
    )
    table = checkpoint_table(frame, [task], loss_metric=loss_metric, acc_metric=acc_metric)
    tgt = target_points(table, config.targets, target_tokens=target_tokens,
                        target_params=target_params, checkpoints=checkpoints)
    return fit_table(table, tgt, config, progress=progress)
