"""The joint posterior of model means at two scales, for decision accuracy.

Decision accuracy asks whether the small scale orders models as the target scale does, so
its posterior needs the *joint* posterior of both scales' model means. Two independent
fits treat the scales as unrelated a priori: every pair whose order is uncertain at
either scale then agrees with probability near 1/2, and the posterior decision accuracy
is biased down whenever noise is comparable to the gaps between models (in simulation,
25 models with noisy small-scale runs: 0.08 too low and 28% coverage of a 90% interval).
This model lets the data say how alike the two scales are:

    y[s, m, r, c] = theta[s, m] + b[s, m, r] + e[s, m, r, c]      s = small, target
    (theta[small, m], theta[target, m]) ~ N2(mu, Sigma)          correlation rho between scales
    b[s] ~ N(0, sigma_run[s]),  e[s] ~ N(0, sigma_ckpt[s])        noise of each scale

with mu flat, half-Cauchy(A_s) priors on every sd (A_s = the sd of the scale's scores, as
in :mod:`snrstat.decision.single_scale`) and a uniform prior on rho. Given the
hyperparameters (two between-model sds, rho, and per scale sigma_ckpt and, where
identified, sigma_run) everything else is normal: run effects, model means and mu are
integrated out in closed form, the 5-7 hyperparameters are sampled from their exact
marginal posterior with an affine-invariant ensemble sampler (Goodman & Weare 2010;
several independent ensembles, seeded, vectorised in numpy, a few seconds), and the
model means are then drawn exactly given each hyperparameter draw. R-hat across the
ensembles and ESS are checked. Levels without replication are dropped as in
:mod:`snrstat.decision.single_scale`; with one checkpoint per run but several runs, the
runs play the role of checkpoints (their spread is all the noise).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from io import StringIO

import numpy as np
import pandas as pd
import xarray as xr

from snrstat.decision._pairs import check_same_models
from snrstat.decision._window import final_scores, last_checkpoints, pick_records
from snrstat.inference import Diagnostics, Fit, register_fit, renamed
from snrstat.schema import DataError
from snrstat.select import DEFAULT_LAST_N

SCALES = ("small", "target")
_LOG_2PI = np.log(2 * np.pi)


@dataclass(frozen=True)
class _Scale:
    """Sufficient statistics of one scale, runs sorted by model."""

    run_model: np.ndarray
    starts: np.ndarray
    n: np.ndarray
    ybar: np.ndarray
    ssw: float
    n_records: int
    has_run: bool
    prior_scale: float
    note: str | None

    @classmethod
    def from_window(cls, window: pd.DataFrame, models: list[str], name: str) -> _Scale:
        df = window[["unit", "run", "value"]].copy()
        note = None
        per_run = df.groupby("run")["value"].size()
        per_model = df.groupby("unit")["run"].nunique()
        if (per_run < 2).all():
            if (per_model < 2).all():
                raise DataError(f"{name} scale: every model has one run with one checkpoint; noise cannot be separated from signal")
            # one checkpoint per run: the runs of a model are its replicates
            df["run"] = df["unit"]
            note = f"{name} scale: one checkpoint per run; the spread between runs is all the noise"
        runs = df.groupby(["unit", "run"], sort=True)["value"].agg(["size", "mean", "var"]).reset_index()
        run_model = pd.Categorical(runs["unit"], categories=models).codes.astype(int)
        if (run_model < 0).any():
            raise DataError(f"{name} scale: unexpected model(s) {sorted(set(runs['unit']) - set(models))}")
        order = np.argsort(run_model, kind="stable")
        runs, run_model = runs.iloc[order].reset_index(drop=True), run_model[order]
        n = runs["size"].to_numpy(dtype=float)
        ssw = float((runs["var"].fillna(0.0) * (n - 1)).sum())
        if ssw <= 0:
            raise DataError(f"{name} scale: scores do not vary between checkpoints of a run (noise 0, SNR infinite)")
        scale = float(df["value"].std(ddof=0))
        return cls(run_model, np.searchsorted(run_model, np.arange(len(models))), n, runs["mean"].to_numpy(), ssw,
                   len(df), bool((np.bincount(run_model, minlength=len(models)) >= 2).any()), scale, note)


def _inv2(m):
    """Inverse of (..., 2, 2) matrices."""
    det = m[..., 0, 0] * m[..., 1, 1] - m[..., 0, 1] * m[..., 1, 0]
    out = np.empty_like(m)
    out[..., 0, 0] = m[..., 1, 1] / det
    out[..., 1, 1] = m[..., 0, 0] / det
    out[..., 0, 1] = -m[..., 0, 1] / det
    out[..., 1, 0] = -m[..., 1, 0] / det
    return out


def _logdet2(m):
    return np.log(m[..., 0, 0] * m[..., 1, 1] - m[..., 0, 1] * m[..., 1, 0])


def _chol2(m):
    """Lower Cholesky factor of (..., 2, 2) symmetric positive definite matrices."""
    l11 = np.sqrt(m[..., 0, 0])
    l21 = m[..., 1, 0] / l11
    l22 = np.sqrt(np.maximum(m[..., 1, 1] - l21**2, 1e-300))
    out = np.zeros_like(m)
    out[..., 0, 0], out[..., 1, 0], out[..., 1, 1] = l11, l21, l22
    return out


def _mvn2(rng, mean, cov):
    z = rng.standard_normal(mean.shape)
    return mean + np.einsum("...ij,...j->...i", _chol2(cov), z)


class _Model:
    """The two-scale model with the model means, run effects and mu integrated out.

    Parameters (unconstrained, per draw): log sigma_model (small, target), atanh rho, then
    per scale log sigma_ckpt and, where identified, log sigma_run.
    """

    def __init__(self, scales: list[_Scale], n_models: int):
        self.scales, self.M = scales, n_models
        self.names = ["sigma_model_small", "sigma_model_target", "rho"]
        self.slots = []
        for name, s in zip(SCALES, scales):
            ckpt = len(self.names)
            self.names.append(f"sigma_ckpt_{name}")
            run = None
            if s.has_run:
                run = len(self.names)
                self.names.append(f"sigma_run_{name}")
            self.slots.append((ckpt, run))
        self.dim = len(self.names)
        self.A = np.array([s.prior_scale for s in scales])

    def unpack(self, x):
        sm = np.exp(x[:, :2])
        rho = np.tanh(x[:, 2])
        sigma = np.empty((len(x), 2, 2))
        sigma[:, 0, 0], sigma[:, 1, 1] = sm[:, 0] ** 2, sm[:, 1] ** 2
        sigma[:, 0, 1] = sigma[:, 1, 0] = rho * sm[:, 0] * sm[:, 1]
        sc2 = np.stack([np.exp(2 * x[:, c]) for c, _ in self.slots], 1)
        sr2 = np.stack([np.exp(2 * x[:, r]) if r is not None else np.zeros(len(x)) for _, r in self.slots], 1)
        return sigma, sc2, sr2

    def collapse(self, x):
        """Log marginal likelihood and the per-model data summaries (ystar, W)."""
        sigma, sc2, sr2 = self.unpack(x)
        n_draws = len(x)
        ll = np.zeros(n_draws)
        W = np.empty((n_draws, self.M, 2))
        ystar = np.empty((n_draws, self.M, 2))
        for k, s in enumerate(self.scales):
            ll += -0.5 * (s.n_records - len(s.n)) * (_LOG_2PI + np.log(sc2[:, k])) - 0.5 * s.ssw / sc2[:, k]
            v = sr2[:, k, None] + sc2[:, k, None] / s.n[None, :]
            w = 1.0 / v
            Wk = np.add.reduceat(w, s.starts, axis=1)
            yk = np.add.reduceat(w * s.ybar, s.starts, axis=1) / Wk
            dev = s.ybar[None, :] - yk[:, s.run_model]
            ll += (-0.5 * (_LOG_2PI + np.log(v)) - 0.5 * w * dev**2).sum(1) + 0.5 * (_LOG_2PI - np.log(Wk)).sum(1)
            W[:, :, k], ystar[:, :, k] = Wk, yk
        total = sigma[:, None, :, :] + (1.0 / W)[..., None] * np.eye(2)       # (N, M, 2, 2)
        U = _inv2(total)
        Q = U.sum(1)
        muhat = np.einsum("nij,nj->ni", _inv2(Q), np.einsum("nmij,nmj->ni", U, ystar))
        dev = ystar - muhat[:, None, :]
        quad = np.einsum("nmi,nmij,nmj->nm", dev, U, dev)
        ll += (-_LOG_2PI - 0.5 * _logdet2(total) - 0.5 * quad).sum(1) + _LOG_2PI - 0.5 * _logdet2(Q)
        return ll, sigma, ystar, W, Q, muhat

    def log_prior(self, x):
        lp = np.log1p(-np.tanh(x[:, 2]) ** 2)  # uniform rho
        for k in range(2):
            lp += x[:, k] - np.log1p((np.exp(x[:, k]) / self.A[k]) ** 2)  # half-Cauchy sd, log scale
        for k, (c, r) in enumerate(self.slots):
            for j in (c, r):
                if j is not None:
                    lp += x[:, j] - np.log1p((np.exp(x[:, j]) / self.A[k]) ** 2)
        return lp

    def log_post(self, x):
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            lp = self.log_prior(x) + self.collapse(x)[0]
        return np.where(np.isfinite(lp), lp, -np.inf)

    def start(self, rng, chains):
        x = np.empty((chains, self.dim))
        means = []
        for k, s in enumerate(self.scales):
            m = np.bincount(s.run_model, weights=s.ybar * s.n) / np.bincount(s.run_model, weights=s.n)
            means.append(m)
            c, r = self.slots[k]
            sc = np.sqrt(s.ssw / max(s.n_records - len(s.n), 1))
            x[:, c] = np.log(sc)
            if r is not None:
                x[:, r] = np.log(sc)
            x[:, k] = np.log(max(np.std(m), 1e-3 * s.prior_scale))
        r = np.corrcoef(means[0], means[1])[0, 1] if self.M > 2 else 0.0
        x[:, 2] = np.arctanh(np.clip(np.nan_to_num(r), -0.9, 0.9))
        return x + 0.1 * rng.standard_normal(x.shape)

    def draw_means(self, x, rng):
        """Exact draws of the model means (N, M, 2) given hyperparameter draws x (N, d)."""
        _, sigma, ystar, W, Q, muhat = self.collapse(x)
        mu = _mvn2(rng, muhat, _inv2(Q))
        prec = _inv2(sigma)[:, None] + W[..., None] * np.eye(2)
        cov = _inv2(prec)
        h = np.einsum("nij,nj->ni", _inv2(sigma), mu)[:, None, :] + W * ystar
        return _mvn2(rng, np.einsum("nmij,nmj->nmi", cov, h), cov)


def _ensemble(model: _Model, rng, *, chains: int, walkers: int, warmup: int, steps: int, thin: int) -> np.ndarray:
    """Affine-invariant ensemble sampler (the stretch move of Goodman & Weare 2010).

    ``chains`` independent ensembles of ``walkers`` walkers each, all evaluated in one
    vectorised call per half-step. Affine invariance makes it indifferent to the very
    different scales and the correlation of the hyperparameters (a few models leave
    sigma_model and rho wide and skewed). Returns (chains, steps // thin, walkers, d).
    """
    d, K, E = model.dim, walkers, chains
    if K < 2 * d or K % 2:
        raise DataError(f"walkers must be even and at least {2 * d} (twice the {d} parameters), got {K}")
    x = model.start(rng, E * K).reshape(E, K, d)
    lp = model.log_post(x.reshape(-1, d)).reshape(E, K)
    half = K // 2
    a = 2.0
    kept = np.empty((E, steps // thin, K, d))
    for it in range(warmup + steps):
        for h in (0, 1):
            mine = np.arange(h * half, (h + 1) * half)
            other = np.arange((1 - h) * half, (2 - h) * half)
            partner = other[rng.integers(half, size=(E, half))]
            z = ((a - 1) * rng.random((E, half)) + 1) ** 2 / a
            xj = np.take_along_axis(x, partner[..., None], axis=1)
            y = xj + z[..., None] * (x[:, mine] - xj)
            lp_y = model.log_post(y.reshape(-1, d)).reshape(E, half)
            accept = np.log(rng.random((E, half))) < (d - 1) * np.log(z) + lp_y - lp[:, mine]
            x[:, mine] = np.where(accept[..., None], y, x[:, mine])
            lp[:, mine] = np.where(accept, lp_y, lp[:, mine])
        j = it - warmup
        if j >= 0 and (j + 1) % thin == 0:
            kept[:, j // thin] = x
    return kept


@dataclass
class ScaleView:
    """One scale of a :class:`TwoScaleFit`, with the ``draws(name)`` interface of a fit."""

    fit: TwoScaleFit
    scale: str

    @property
    def point_scores(self) -> pd.Series:
        return final_scores(self.fit.windows[self.scale])

    def draws(self, name: str) -> xr.DataArray:
        post = self.fit.posterior
        if name == "model_mean":
            return post[f"model_mean_{self.scale}"]
        if name == "sigma_run" and not self.fit.has_run[self.scale]:
            raise KeyError(f"sigma_run is not identified at the {self.scale} scale (one run per model)")
        if name in post and "scale" in post[name].dims:
            return post[name].sel(scale=self.scale, drop=True)
        raise KeyError(f"no draws named {name!r} for one scale; available: model_mean, "
                       f"{sorted(v for v in post.data_vars if 'scale' in post[v].dims)}")


@register_fit
class TwoScaleFit(Fit):
    """Joint posterior of model means at a small and a target scale (see module docstring).

    ``idata.posterior``: ``model_mean_small``/``model_mean_target`` (chain, draw, model),
    ``rho`` (correlation of model means between scales), and per scale (dim ``scale``)
    ``sigma_model``, ``sigma_ckpt``, ``sigma_run`` (0 where not identified) and ``snr`` =
    range(model_mean) / sigma_ckpt. ``small`` and ``target`` are single-scale views.
    ``diagnostics`` are those of the ensemble sampler's hyperparameters (chains = ensembles).
    """

    kind = "two-scales"
    summary_vars = ("rho", "sigma_model", "sigma_ckpt", "sigma_run", "snr", "model_mean_small", "model_mean_target")

    def __init__(self, posterior, windows: dict[str, pd.DataFrame], has_run: dict[str, bool] | None = None,
                 notes: list[str] | None = None, diagnostics: Diagnostics | None = None, config: dict | None = None,
                 level: float = 0.9):
        import arviz as az

        idata = posterior if hasattr(posterior, "groups") else az.InferenceData(posterior=posterior)
        config = {"has_run": dict(has_run or {}), "notes": list(notes or []), **(config or {})}
        super().__init__(idata, config, diagnostics, {}, level)
        self.windows = windows

    @property
    def posterior(self) -> xr.Dataset:
        return self.idata.posterior

    @property
    def has_run(self) -> dict[str, bool]:
        return self.config["has_run"]

    @property
    def notes(self) -> list[str]:
        return self.config["notes"]

    @property
    def warnings(self) -> list[str]:
        return [] if self.diagnostics is None else list(self.diagnostics.messages)

    @property
    def small(self) -> ScaleView:
        return ScaleView(self, "small")

    @property
    def target(self) -> ScaleView:
        return ScaleView(self, "target")

    def summary(self, level: float | None = None) -> pd.DataFrame:
        out = super().summary(level)
        # sigma_run is 0 where a scale has one run per model: not a quantity of that scale
        absent = [f"sigma_run[{s}]" for s in SCALES if not self.has_run.get(s)]
        return out.drop(index=[a for a in absent if a in out.index])

    def _extra(self) -> dict:
        return {k: w.astype({"step": "float64"}).to_json(orient="split", index=False)
                for k, w in self.windows.items()}

    @classmethod
    def _from_saved(cls, idata, config, diagnostics, point, level, extra):
        windows = {}
        for k, text in extra.items():
            w = pd.read_json(StringIO(text), orient="split", dtype={"unit": str, "run": str})
            w["step"] = w["step"].astype("Int64")
            windows[k] = w
        return cls(idata, windows, config["has_run"], config["notes"], diagnostics, config, level)


def two_scale_posterior(window_small: pd.DataFrame, window_target: pd.DataFrame, *, chains: int = 4,
                        walkers: int = 32, warmup: int = 1000, steps: int = 2000, thin: int = 16,
                        random_seed: int = 0, seed: int | None = None) -> TwoScaleFit:
    """Fit the two-scale model to windows (columns unit, run, value) of the same models.

    ``chains`` independent ensembles of ``walkers`` walkers run ``warmup`` + ``steps``
    stretch moves; every ``thin``-th step of every walker is kept, so each chain holds
    steps // thin * walkers draws. ``seed`` is the old name of ``random_seed`` (deprecated).
    """
    seed = renamed("seed", seed, "random_seed", random_seed)
    models = check_same_models(sorted(window_small["unit"].astype(str).unique()),
                               sorted(window_target["unit"].astype(str).unique()))
    if len(models) < 2:
        raise DataError(f"decision accuracy needs at least two models, got {models}")
    if chains < 1 or steps < thin or thin < 1 or warmup < 0:
        raise DataError("chains must be positive, steps at least thin (>= 1) and warmup non-negative")
    scales = [_Scale.from_window(w.assign(unit=w["unit"].astype(str)), models, name)
              for w, name in ((window_small, "small"), (window_target, "target"))]
    rng = np.random.default_rng(seed)
    model = _Model(scales, len(models))
    ens = _ensemble(model, rng, chains=chains, walkers=walkers, warmup=warmup, steps=steps, thin=thin)
    hyper = ens.reshape(chains, -1, model.dim)  # draw = (step, walker)
    draws = hyper.shape[1]
    flat = hyper.reshape(-1, model.dim)
    theta = model.draw_means(flat, rng).reshape(chains, draws, len(models), 2)
    sigma, sc2, sr2 = model.unpack(flat)
    shape = (chains, draws)
    sd = np.sqrt(np.stack([sigma[:, 0, 0], sigma[:, 1, 1]], -1)).reshape(*shape, 2)
    sc = np.sqrt(sc2).reshape(*shape, 2)
    spread = theta.max(2) - theta.min(2)  # (C, D, 2)
    coords = {"chain": np.arange(chains), "draw": np.arange(draws), "model": models, "scale": list(SCALES)}
    data = {
        "model_mean_small": (("chain", "draw", "model"), theta[..., 0]),
        "model_mean_target": (("chain", "draw", "model"), theta[..., 1]),
        "rho": (("chain", "draw"), np.tanh(hyper[..., 2])),
        "sigma_model": (("chain", "draw", "scale"), sd),
        "sigma_ckpt": (("chain", "draw", "scale"), sc),
        "sigma_run": (("chain", "draw", "scale"), np.sqrt(sr2).reshape(*shape, 2)),
        "snr": (("chain", "draw", "scale"), spread / sc),
    }
    posterior = xr.Dataset(data, coords=coords)
    notes = [s.note for s in scales if s.note]
    for s, name in zip(scales, SCALES):
        if not s.has_run:
            notes.append(f"{name} scale: one run per model: seed noise is not identifiable and is part of each model's mean")
    config = {"chains": chains, "walkers": walkers, "warmup": warmup, "steps": steps, "thin": thin,
              "random_seed": int(seed)}
    fit = TwoScaleFit(posterior, {"small": window_small, "target": window_target},
                      {name: s.has_run for s, name in zip(scales, SCALES)}, notes, _health(ens, model.names), config)
    check = cluster_check(fit, seed=seed)
    if check and check["p"] < CLUSTER_ALPHA:
        fit.diagnostics.checks.append(
            f"the models' means form tighter groups than the model's bivariate normal allows (best split into "
            f"{check['k']} groups explains {check['r2']:.2f} of the spread at the target scale; posterior "
            f"predictive p = {check['p']:.3f}): orderings inside a group are closer to coin flips than the "
            f"fitted correlation rho says, so decision accuracy may be overstated; compare with the paper's "
            f"point estimate")
    return fit


#: Posterior predictive p below which the clustering check speaks.
CLUSTER_ALPHA = 0.05


def cluster_check(fit: TwoScaleFit, n_draws: int = 400, seed: int = 0) -> dict:
    """Posterior predictive check of the bivariate normal model of the means (issue 13's
    clustered models): are the observed model means, at both scales, better split into k tight
    groups (k = 2 .. models/3) than sets of new models drawn from the fitted bivariate normal,
    each with its mean's estimation error? Statistic: the share of the spread explained by the
    best split (:func:`snrstat.variance.checks.partition_r2`), summed over the two scales;
    several k at once through :func:`snrstat.variance.checks.min_p`. ``{}`` below 6 models."""
    from snrstat.variance.checks import min_p, partition_r2

    post = fit.posterior
    models = [str(m) for m in post["model"].values]
    ks = tuple(range(2, len(models) // 3 + 1))
    if not ks:
        return {}
    rng = np.random.default_rng(seed)
    rho = post["rho"].values.ravel()
    idx = rng.choice(rho.size, size=min(n_draws, rho.size), replace=False)
    z_t = rng.standard_normal((idx.size, len(models)))
    z_s = rho[idx, None] * z_t + np.sqrt(1 - rho[idx, None] ** 2) * rng.standard_normal(z_t.shape)
    obs_stat, rep_stat = 0.0, 0.0
    for scale, z in (("small", z_s), ("target", z_t)):
        obs = fit.windows[scale].groupby("unit", sort=True)["value"].mean().reindex(models).to_numpy()
        mm = post[f"model_mean_{scale}"].values.reshape(-1, len(models))
        sd = post["sigma_model"].sel(scale=scale).values.ravel()
        rep = (mm[idx].mean(1, keepdims=True) + sd[idx, None] * z
               + mm.std(0) * rng.standard_normal(z.shape))       # plus each model mean's own error
        obs_stat = obs_stat + partition_r2(obs, ks)
        rep_stat = rep_stat + partition_r2(rep, ks)
        if scale == "target":
            target_r2 = partition_r2(obs, ks)
    best = int(np.argmax(obs_stat - np.median(rep_stat, axis=0)))
    return {"p": min_p(obs_stat, rep_stat), "k": ks[best], "r2": float(target_r2[best]),
            "r2_by_k": {k: float(v) for k, v in zip(ks, target_r2)}}


def _health(ens: np.ndarray, names: list[str]) -> Diagnostics:
    """The inference core's diagnostics of the hyperparameters, each ensemble a chain.

    Walkers of one ensemble are not independent; R-hat compares the independent ensembles and
    the ESS runs over each ensemble's draws in (step, walker) order.
    """
    import arviz as az

    from snrstat.inference import diagnose

    E, T, K, d = ens.shape
    per_chain = ens.reshape(E, T * K, d)
    idata = az.InferenceData(posterior=xr.Dataset(
        {name: (("chain", "draw"), per_chain[:, :, i]) for i, name in enumerate(names)},
        coords={"chain": np.arange(E), "draw": np.arange(T * K)}))
    return diagnose(idata, advice={"r_hat": "run longer (steps=, warmup=)", "ess": "run longer (steps=, warmup=)"})


def fit_two_scales(
    frame: pd.DataFrame,
    *,
    task: str | None = None,
    metric: str | None = None,
    small: str,
    target: str,
    models: Sequence[str] | None = None,
    last_n: int = DEFAULT_LAST_N,
    chains: int = 4,
    walkers: int = 32,
    warmup: int = 1000,
    steps: int = 2000,
    thin: int = 16,
    random_seed: int = 0,
    seed: int | None = None,
) -> TwoScaleFit:
    """Joint fit of one task's last ``last_n`` checkpoints per run at sizes ``small`` and ``target``.

    ``models`` restricts both sizes to these models (default: those present at both; a
    DataError lists models present at only one size when ``models`` is given).
    ``seed`` is the old name of ``random_seed`` (deprecated).
    """
    random_seed = renamed("seed", seed, "random_seed", random_seed)
    windows = {}
    for name, size in (("small", small), ("target", target)):
        rows = pick_records(frame, task=task, metric=metric, size=size)
        if models is not None:
            missing = sorted(set(models) - set(rows["model"].unique()))
            if missing:
                raise DataError(f"model(s) {missing} have no records at size {size!r}")
            rows = rows[rows["model"].isin(list(models))]
        windows[name] = last_checkpoints(rows, last_n)
    if models is None:
        common = sorted(set(windows["small"]["unit"]) & set(windows["target"]["unit"]))
        windows = {k: w[w["unit"].isin(common)] for k, w in windows.items()}
    return two_scale_posterior(windows["small"], windows["target"], chains=chains, walkers=walkers, warmup=warmup,
                               steps=steps, thin=thin, random_seed=random_seed)
