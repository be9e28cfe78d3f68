"""Checks that notice misfit: posterior predictive checks and PSIS-LOO comparison of fits.

Sampler diagnostics say whether the sampler explored the posterior; they say nothing about
whether the model fits. A model with the wrong likelihood or the wrong design samples
perfectly and prints confident, wrong intervals. These checks are aimed at the failures
seen in simulation (issue 13):

- **tail weight** of checkpoint residuals (loss spikes, bad checkpoints): the kurtosis of
  the within-run centred scores (empirical logits for accuracies) against replicated data
  from the posterior predictive (Gelman, Meng & Stern 1996: posterior predictive p-value,
  ``P(T(y_rep) >= T(y))``);
- **dispersion against binomial** item sampling: Pearson's within-run statistic of the
  counts against its binomial null (:func:`snrstat.variance.spec.dispersion`) and against
  the posterior predictive of the fit;
- **clustering of models**: the share of the range of the model means taken by the largest
  one or two gaps, against model means replicated from the fitted between-model normal;
- **weak identification**: the overlap of each sd's prior and posterior densities; a
  large overlap means the interval is mostly prior;
- **PSIS-LOO** (Vehtari, Gelman & Gabry 2017) of candidate fits (likelihoods, crossed vs
  nested seeds) with :func:`arviz.compare`, on the same data scale: the empirical logits for
  ``logit_normal`` / ``logit_t`` fits, the counts for exact binomial fits, the scores for
  continuous metrics. The unit left out is a
  run (its run-level effect integrated out by quadrature), so effects fitted to a run's own
  records do not make every point influential.

Every function takes a fitted :class:`~snrstat.variance.fit.VarianceFit` and returns plain
numbers (JSON-able dicts), stored in ``fit.spec["checks"]``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.special import gammaln, log_expit, logsumexp

from snrstat.variance.model import t_scale
from snrstat.variance.spec import ELOGIT_LIKELIHOODS, ROBUST_LIKELIHOODS, empirical_logits

#: A posterior predictive p-value below this flags heavy tails or wrong dispersion (one-sided
#: for tails, the direction of the failure); a false flag costs a refit with a robust likelihood.
#: Measured (validation/misfit_study.py, 60 data sets per design): at 0.05 the tail check flags
#: 83% of Student-t(3) data sets fitted with the Gaussian likelihood and 7-8% of data sets whose
#: likelihood is right (73% and 0-3% at 0.01).
PPC_ALPHA = 0.05
#: The dispersion check's level (two-sided posterior predictive p).
DISPERSION_ALPHA = 0.01
#: The clustering check's level (it only warns).
CLUSTER_ALPHA = 0.05
#: Prior-posterior overlap above this: the sd's interval is mostly prior.
OVERLAP_MAX = 0.5
#: A crossed design is chosen over the nested default only when its elpd is higher by this much
#: and by two standard errors of the difference.
ELPD_CLEAR = 4.0

_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(20)
_GH_LW = np.log(_GH_W / _GH_W.sum())


class MisfitWarning(UserWarning):
    """A posterior predictive check or prior-posterior overlap says the fit should not be trusted as is."""


# ---------------------------------------------------------------------------- helpers
def _flat(post, name, idx):
    v = np.asarray(post[name].values, dtype=float)
    return v.reshape(-1, *v.shape[2:])[idx]


def _draw_index(post, n: int, seed: int) -> np.ndarray:
    total = post.sizes["chain"] * post.sizes["draw"]
    return np.sort(np.random.default_rng(seed).choice(total, size=min(n, total), replace=False))


def _runs(fit) -> list[str]:
    """Run labels in the design's order (sorted, as :func:`snrstat.variance.spec.build_design`)."""
    return sorted(fit.records.table["run"].astype(str).unique())


def _table(fit):
    t = fit.records.table
    run = pd.Categorical(t["run"].astype(str), categories=_runs(fit)).codes
    return t, np.asarray(run, dtype=np.int64)


def _counts(t):
    n = np.rint(t["n_items"].to_numpy(dtype=float)).astype(np.int64)
    y = np.rint(t["value"].to_numpy(dtype=float) * n).astype(np.int64)
    return y, n


def _elogit(y, n):
    return np.log((y + 0.5) / (n - y + 0.5))


def _centre(v, run, n_runs):
    """Within-run centred values along the last axis (runs with one record give 0)."""
    cnt = np.bincount(run, minlength=n_runs)
    mean = np.stack([np.bincount(run, row, minlength=n_runs) for row in v.reshape(-1, v.shape[-1])])
    mean = mean.reshape(*v.shape[:-1], n_runs) / np.maximum(cnt, 1)
    return v - mean[..., run], cnt[run] > 1


def _kurtosis(r, keep):
    r = r[..., keep]
    m2 = (r**2).mean(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(m2 > 0, (r**4).mean(-1) / np.where(m2 > 0, m2, 1.0) ** 2, np.nan)


def _ckpt_noise(fit, idx, shape, rng):
    """Standardised checkpoint effects of the fit's likelihood (normal, or t with draw's nu;
    ``student_t``'s sigma is the sd, so its t draws are scaled to unit sd)."""
    post = fit.idata.posterior
    if fit.spec["likelihood"] in ROBUST_LIKELIHOODS and "nu" in post:
        nu = _flat(post, "nu", idx)[:, None]
        z = rng.standard_t(np.broadcast_to(nu, shape))
        return t_scale(z, nu) if fit.spec["likelihood"] == "student_t" else z
    return rng.standard_normal(shape)


# ---------------------------------------------------------------------------- posterior predictive
def ppc_tails(fit, n_draws: int = 400, seed: int = 0) -> dict:
    """Tail weight of the checkpoint residuals: kurtosis of within-run centred scores.

    Replicated data keep every run at its observed mean (its pooled proportion for counts)
    and draw checkpoint effects from the fit (sigma_ckpt, and nu for a Student-t
    likelihood) plus binomial item sampling; the same centring and statistic are applied to
    both. Returns ``{"stat": T(y), "rep_median": ..., "p": P(T_rep >= T(y))}``.
    """
    post = fit.idata.posterior
    resid = fit.spec.get("residual")
    sname = f"sigma_{'order' if resid == 'data_order' else resid}_link"
    if resid is None or sname not in post:
        return {"stat": np.nan, "rep_median": np.nan, "p": np.nan, "note": "no checkpoint residual"}
    t, run = _table(fit)
    n_runs = int(run.max()) + 1
    rng = np.random.default_rng(seed)
    idx = _draw_index(post, n_draws, seed)
    s = _flat(post, sname, idx)[:, None]
    z = _ckpt_noise(fit, idx, (len(idx), len(t)), rng)
    slope = _flat(post, "trend_slope", idx)[:, run] * _xs(fit, t, run) if "trend_slope" in post else 0.0
    if fit.spec["link"] == "logit":
        y, n = _counts(t)
        obs = _elogit(y, n)
        p_run = (np.bincount(run, y) + 0.5) / (np.bincount(run, n) + 1.0)
        eta = np.log(p_run / (1 - p_run))[run] + s * z + slope
        if fit.spec["likelihood"] == "normal":  # items dropped: scores on the natural scale
            obs = t["value"].to_numpy(dtype=float)
            rep = _run_means(obs, run, n_runs)[run] + fit.spec["scale"] * (s * z + slope)
        else:
            rep = _elogit(rng.binomial(n, 1.0 / (1.0 + np.exp(-eta))), n)
    else:
        obs = (t["value"].to_numpy(dtype=float) - fit.spec["center"]) / fit.spec["scale"]
        rep = _run_means(obs, run, n_runs)[run] + s * z + slope
    r_obs, keep = _centre(obs, run, n_runs)
    r_rep, _ = _centre(rep, run, n_runs)
    t_obs = float(_kurtosis(r_obs, keep))
    t_rep = _kurtosis(r_rep, keep)
    return {"stat": t_obs, "rep_median": float(np.nanmedian(t_rep)), "p": float(np.mean(t_rep >= t_obs))}


def _run_means(v, run, n_runs):
    return np.bincount(run, v, minlength=n_runs) / np.bincount(run, minlength=n_runs)


def _xs(fit, t, run):
    ls = np.log1p(t["step"].to_numpy(dtype=float))
    n_runs = int(run.max()) + 1
    return ls - _run_means(ls, run, n_runs)[run]


def ppc_dispersion(fit, n_draws: int = 400, seed: int = 1) -> dict:
    """Within-run Pearson dispersion of the counts: against pure binomial sampling
    (:func:`snrstat.variance.spec.dispersion`, bootstrap p of under-dispersion) and against the
    fit's posterior predictive (two-sided p). Accuracies with item counts only."""
    from snrstat.variance.spec import dispersion

    rec = fit.records
    if not (rec.bounded and rec.has_items):
        return {}
    ratio, p_binom = dispersion(rec)
    out = {"ratio": float(ratio), "p_under_binomial": float(p_binom)}
    post = fit.idata.posterior
    if fit.spec["link"] != "logit" or "sigma_ckpt_link" not in post:
        return out
    t, run = _table(fit)
    y, n = _counts(t)
    n_runs = int(run.max()) + 1
    rng = np.random.default_rng(seed)
    idx = _draw_index(post, n_draws, seed)
    s = _flat(post, "sigma_ckpt_link", idx)[:, None]
    p_run = (np.bincount(run, y) + 0.5) / (np.bincount(run, n) + 1.0)
    eta = np.log(p_run / (1 - p_run))[run] + s * _ckpt_noise(fit, idx, (len(idx), len(t)), rng)
    rep = rng.binomial(n, 1.0 / (1.0 + np.exp(-eta)))

    def pearson(yy):
        pr = np.stack([np.bincount(run, row, minlength=n_runs) for row in np.atleast_2d(yy)]) / np.bincount(run, n)
        p = pr[:, run]
        v = n * p * (1 - p)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(v > 0, (yy - n * p) ** 2 / np.where(v > 0, v, 1.0), 0.0).sum(-1)

    x_obs, x_rep = float(pearson(y)[0]), pearson(rep)
    p = float(min(1.0, 2 * min(np.mean(x_rep >= x_obs), np.mean(x_rep <= x_obs))))
    out.update(p_predictive=p)
    return out


def cluster_stat(means: np.ndarray) -> np.ndarray:
    """Share of the range of the model means (last axis) in its largest gap and in its two
    largest gaps: ``(..., 2)``. Near 1 when the models form two or three tight clusters."""
    m = np.sort(np.asarray(means, dtype=float), axis=-1)
    gaps = np.sort(np.diff(m, axis=-1), axis=-1)[..., ::-1]
    rng_ = m[..., -1] - m[..., 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        one = gaps[..., 0] / rng_
        two = gaps[..., :2].sum(-1) / rng_ if gaps.shape[-1] >= 2 else one
    return np.stack([one, two], -1)


def partition_r2(means: np.ndarray, ks=(2, 3, 4)) -> np.ndarray:
    """Share of the spread of the model means (last axis) explained by their best split into k
    groups, for each k in ``ks``: ``(..., len(ks))``. Exact 1-D k-means (the best groups of
    sorted values are contiguous), by dynamic programming over the sorted means (Wang and Song
    2011). Near 1 when the models form k tight clusters; well below for normal means."""
    m = np.sort(np.asarray(means, dtype=float), axis=-1)
    lead, n = m.shape[:-1], m.shape[-1]
    m = m.reshape(-1, n)
    s1 = np.concatenate([np.zeros((len(m), 1)), np.cumsum(m, -1)], -1)
    s2 = np.concatenate([np.zeros((len(m), 1)), np.cumsum(m**2, -1)], -1)
    a, b = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
    size = np.where(b > a, b - a, 1)
    # within-group sum of squares of the sorted values a..b-1, (rows, n+1, n+1); inf where a >= b
    cost = (s2[:, None, :] - s2[:, :, None]) - (s1[:, None, :] - s1[:, :, None]) ** 2 / size
    cost = np.where(b > a, np.maximum(cost, 0.0), np.inf)
    total = cost[:, 0, n]
    best = cost[:, 0, :]                                   # one group over the first b values
    out = {}
    for k in range(2, max(ks) + 1):
        best = np.min(best[:, :, None] + cost, axis=1)
        if k in ks:
            out[k] = best[:, n]
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.stack([1 - out[k] / total if k < n else np.ones(len(m)) for k in ks], -1)
    return r2.reshape(lead + (len(ks),))


def min_p(observed: np.ndarray, replicated: np.ndarray) -> float:
    """Upper-tail p-value of several statistics at once, without a Bonferroni penalty: the
    smallest per-statistic p of the observed set, referred to the same quantity of each
    replicated set among the others (Westfall and Young 1993). ``observed (K,)``, ``replicated (R, K)``."""
    rep = np.asarray(replicated, dtype=float)
    n = len(rep) + 1
    # the observed set counted as one of n exchangeable sets, so that p is uniform under the model
    p_obs = ((rep >= np.asarray(observed)[None, :]).sum(0) + 1).min() / n
    p_rep = np.stack([(rep[None, :, j] >= rep[:, None, j]).sum(1) for j in range(rep.shape[1])], 1).min(1) / n
    # mid-rank for ties (min-p values are discrete): neither anti- nor over-conservative on average
    return float(((p_rep < p_obs).sum() + ((p_rep == p_obs).sum() + 1) / 2) / n)


def cluster_pvalue(observed: np.ndarray, replicated: np.ndarray) -> dict:
    """One-sided p-values of :func:`cluster_stat` (observed model means vs replicated sets,
    ``(draws, models)``), the smaller doubled (two statistics)."""
    t_obs = cluster_stat(observed)
    t_rep = cluster_stat(replicated)
    ps = (t_rep >= t_obs).mean(0)
    return {"largest_gap": float(t_obs[0]), "two_largest_gaps": float(t_obs[1]),
            "p": float(min(1.0, 2 * ps.min()))}


def ppc_clusters(fit, n_draws: int = 400, seed: int = 2) -> dict:
    """Clustering of the observed model means against the fitted between-model normal.

    Replicated model means: new effects ``sigma_model z`` around ``mu`` (score scale) plus the
    observation error of each model's observed mean, the posterior sd of the model mean.
    """
    from snrstat.variance.quantities import to_score

    post = fit.idata.posterior
    if len(fit.models) < 4:
        return {}
    t = fit.records.table
    obs = t.groupby(["unit", "run"])["value"].mean().groupby("unit").mean().reindex(fit.models).to_numpy()
    idx = _draw_index(post, n_draws, seed)
    rng = np.random.default_rng(seed)
    mu = _flat(post, "mu_link", idx)[:, None]
    sm = _flat(post, "sigma_model_link", idx)[:, None]
    k = len(fit.models)
    se = np.asarray(post["model_mean"].std(("chain", "draw")).values)
    new = to_score(mu + sm * rng.standard_normal((len(idx), k)), fit.spec["link"], fit.spec["center"],
                   fit.spec["scale"])
    rep = new + se * rng.standard_normal((len(idx), k))
    return cluster_pvalue(obs, rep)


def prior_overlap(fit, bins: int = 60) -> dict:
    """Overlap ``int min(prior, posterior)`` of every link-scale sd's prior and posterior density.

    Near 1: the data hardly moved the prior, so the interval is mostly prior (e.g. one
    contrast for sigma_seed). Histogram estimate on a grid up to the larger 99.5% quantile.
    """
    from scipy.stats import halfnorm

    pri = fit.spec["priors"]
    scale = {"model": pri["model"], "seed": pri["noise"], "order": pri["noise"], "ckpt": pri["noise"]}
    post = fit.idata.posterior
    out = {}
    for c, sc in scale.items():
        name = f"sigma_{c}_link"
        if name not in post:
            continue
        x = post[name].values.ravel()
        hi = max(np.quantile(x, 0.995), halfnorm.ppf(0.995, scale=sc))
        edges = np.linspace(0, hi, bins + 1)
        dens, _ = np.histogram(x, edges, density=True)
        prior = np.diff(halfnorm.cdf(edges, scale=sc)) / np.diff(edges)
        out[f"sigma_{c}"] = float(np.sum(np.minimum(dens, prior) * np.diff(edges)))
    return out


# ---------------------------------------------------------------------------- PSIS-LOO
def run_loglik(fit, n_draws: int = 400, seed: int = 3) -> np.ndarray:
    """Log predictive density of each run's records, (draws, runs), for PSIS-LOO.

    Conditional on mu, the model effects and any crossed (or shared nested) seed / data-order
    effects; the run-level component with one level per run and every checkpoint effect are
    integrated out (Gauss-Hermite over the run effect; over the checkpoint effect for counts,
    normal or Student-t nodes). Accuracies: for ``logit_normal`` and ``logit_t`` fits the density
    of the empirical logits (their own data model; with thousands of items a record's count
    pins its logit far more tightly than fixed nodes over the checkpoint effect could resolve),
    for the exact binomial fits the predictive of the counts; continuous metrics: the normal
    or Student-t density of the standardised scores.
    """
    from snrstat.variance.quantities import _nodes

    post = fit.idata.posterior
    spec = fit.spec
    lik = spec["likelihood"]
    t, run = _table(fit)
    runs = _runs(fit)
    n_runs = len(runs)
    idx = _draw_index(post, n_draws, seed)
    D = len(idx)
    run_tab = t.drop_duplicates("run").set_index(t.drop_duplicates("run")["run"].astype(str)).reindex(runs)
    models = list(post["model"].values)
    run_model = pd.Categorical(run_tab["unit"].astype(str), categories=[str(m) for m in models]).codes
    eta_run = _flat(post, "mu_link", idx)[:, None] + _flat(post, "effect_model", idx)[:, run_model]
    designs = spec["designs"]
    marginal = _marginal(spec, t, run_tab)
    for col in ("seed", "data_order"):
        short = "order" if col == "data_order" else col
        if col not in spec["components"] or col == marginal or col == spec["residual"]:
            continue
        eff = post[f"effect_{short}"]
        labels = [str(v) for v in eff[col].values] if col in eff.coords else None
        key = (run_tab[col].astype(str) if designs[col] == "crossed"
               else run_tab["unit"].astype(str) + "/" + run_tab[col].astype(str))
        codes = pd.Categorical(key, categories=labels).codes
        eta_run = eta_run + _flat(post, f"effect_{short}", idx)[:, codes]
    eta = eta_run[:, run]
    if "trend_slope" in post:
        eta = eta + _flat(post, "trend_slope", idx)[:, run] * _xs(fit, t, run)
    resid = spec["residual"]
    s_ckpt = _flat(post, f"sigma_{'order' if resid == 'data_order' else resid}_link", idx)
    s_run = (_flat(post, f"sigma_{'order' if marginal == 'data_order' else marginal}_link", idx)
             if marginal else np.zeros(D))
    nu = _flat(post, "nu", idx) if lik in ROBUST_LIKELIHOODS and "nu" in post else None
    if lik in ELOGIT_LIKELIHOODS:
        # the fit's own data model: empirical logits, normal or Student-t checkpoint effects
        from snrstat.variance.model import elogit_t_logp

        ell, known, _ = empirical_logits(*_counts(t), run)
        out = np.empty((D, n_runs))
        for d in range(D):
            mean = eta[d][:, None] + s_run[d] * _GH_X[None, :]  # (records, run-effect nodes)
            if nu is None:
                var = known[:, None] + s_ckpt[d] ** 2
                ll = -0.5 * (np.log(2 * np.pi * var) + (ell[:, None] - mean) ** 2 / var)
            else:
                ll = elogit_t_logp(ell[:, None], known[:, None], mean, s_ckpt[d], nu[d], np)
            per_run = np.stack([np.bincount(run, ll[:, j], minlength=n_runs) for j in range(len(_GH_X))], -1)
            out[d] = logsumexp(per_run + _GH_LW[None, :], axis=-1)
        return out
    if spec["link"] == "logit" and lik != "normal":
        y, n = _counts(t)
        const = gammaln(n + 1) - gammaln(y + 1) - gammaln(n - y + 1)
        if nu is None:
            z, lw = _GH_X[None, :], _GH_LW[None, :]
        else:
            from snrstat.variance.quantities import _GL_W

            z, lw = _nodes(nu)[0], np.log(_GL_W)[None, :]
        out = np.empty((D, n_runs))
        for d in range(D):
            base = eta[d][:, None, None] + s_run[d] * _GH_X[None, :, None] + s_ckpt[d] * z[min(d, len(z) - 1)][None, None, :]
            ll = const[:, None, None] + y[:, None, None] * log_expit(base) + (n - y)[:, None, None] * log_expit(-base)
            rec = logsumexp(ll + lw[min(d, len(lw) - 1)][None, None, :], axis=-1)  # (records, b nodes)
            per_run = np.stack([np.bincount(run, rec[:, j], minlength=n_runs) for j in range(len(_GH_X))], -1)
            out[d] = logsumexp(per_run + _GH_LW[None, :], axis=-1)
        return out
    from scipy.stats import norm, t as student_t

    # continuous metrics, and accuracies under the normal likelihood: standardised scores
    yv = (t["value"].to_numpy(dtype=float) - spec["center"]) / spec["scale"]
    out = np.empty((D, n_runs))
    for d in range(D):
        mean = eta[d][:, None] + s_run[d] * _GH_X[None, :]
        if nu is None:
            ll = norm.logpdf(yv[:, None], mean, s_ckpt[d])
        else:
            ll = student_t.logpdf(yv[:, None], nu[d], mean, t_scale(s_ckpt[d], nu[d]))
        per_run = np.stack([np.bincount(run, ll[:, j], minlength=n_runs) for j in range(len(_GH_X))], -1)
        out[d] = logsumexp(per_run + _GH_LW[None, :], axis=-1) - np.bincount(run, minlength=n_runs) * np.log(
            spec["scale"])
    return out


def _marginal(spec, t, run_tab) -> str | None:
    """The nested component with one level per run (integrated out in :func:`run_loglik`)."""
    for col in ("seed", "data_order"):
        if (col in spec["components"] and col != spec["residual"] and spec["designs"].get(col) == "nested"
                and (run_tab["unit"].astype(str) + "/" + run_tab[col].astype(str)).nunique() == len(run_tab)):
            return col
    return None


def loo_idata(fit, n_draws: int = 400, seed: int = 3):
    """An InferenceData with the run-level log likelihood of :func:`run_loglik` (one chain)."""
    import arviz as az

    import xarray as xr

    ll = run_loglik(fit, n_draws, seed)
    coords = {"chain": [0], "draw": np.arange(ll.shape[0]), "run": _runs(fit)}
    post = xr.Dataset({"draw_index": (("chain", "draw"), np.arange(ll.shape[0])[None].astype(float))},
                      coords={k: coords[k] for k in ("chain", "draw")})
    log_lik = xr.Dataset({"obs": (("chain", "draw", "run"), ll[None])}, coords=coords)
    return az.InferenceData(posterior=post, log_likelihood=log_lik)


def compare_fits(fits: dict, n_draws: int = 400, seed: int = 3) -> pd.DataFrame:
    """:func:`arviz.compare` (PSIS-LOO, run level) of fits of the same records, keyed by name."""
    import arviz as az

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return az.compare({k: loo_idata(f, n_draws, seed) for k, f in fits.items()}, ic="loo")


def _compare_dict(table: pd.DataFrame) -> dict:
    return {str(k): {"elpd_loo": float(r["elpd_loo"]), "elpd_diff": float(r["elpd_diff"]), "dse": float(r["dse"]),
                     "p_loo": float(r["p_loo"]), "warning": bool(r["warning"])} for k, r in table.iterrows()}


# ---------------------------------------------------------------------------- all checks
def check_fit(fit, seed: int = 0) -> dict:
    """Every check of this module on one fit: a JSON-able dict with ``flags`` (list of
    messages, empty when nothing is wrong)."""
    out = {"tails": ppc_tails(fit, seed=seed), "dispersion": ppc_dispersion(fit, seed=seed + 1),
           "clusters": ppc_clusters(fit, seed=seed + 2), "prior_overlap": prior_overlap(fit)}
    flags = []
    tail = out["tails"]
    if np.isfinite(tail.get("p", np.nan)) and tail["p"] < PPC_ALPHA:
        flags.append(f"tails: checkpoint residuals are heavier-tailed than the {fit.spec['likelihood']} likelihood "
                     f"predicts (kurtosis {tail['stat']:.1f}, predicted {tail['rep_median']:.1f}, posterior "
                     f"predictive p = {tail['p']:.3f}): spikes or bad checkpoints; a robust likelihood "
                     f"({robust_likelihood(fit)}) fits them")
    disp = out["dispersion"]
    if disp.get("p_predictive", 1.0) < DISPERSION_ALPHA:
        flags.append(f"dispersion: the within-run spread of the counts is not what the fit predicts (Pearson "
                     f"ratio {disp['ratio']:.2f} against binomial; posterior predictive p = {disp['p_predictive']:.3f})")
    cl = out["clusters"]
    if cl.get("p", 1.0) < CLUSTER_ALPHA:
        flags.append(f"clusters: the model means form clusters (the largest two gaps hold "
                     f"{cl['two_largest_gaps']:.0%} of their range, p = {cl['p']:.3f}) that a normal between-model "
                     "distribution does not predict; sigma_model and snr_pop describe a population these models "
                     "do not look like")
    for name, ov in out["prior_overlap"].items():
        if ov > OVERLAP_MAX:
            flags.append(f"{name}: prior and posterior overlap {ov:.0%}: the data barely inform it, its interval "
                         "is mostly prior")
    out["flags"] = flags
    return _jsonable(out)


def _jsonable(d):
    if isinstance(d, dict):
        return {k: _jsonable(v) for k, v in d.items()}
    if isinstance(d, (list, tuple)):
        return [_jsonable(v) for v in d]
    if isinstance(d, (np.floating, float)):
        return float(d)
    if isinstance(d, (np.integer,)):
        return int(d)
    return d


def robust_likelihood(fit) -> str:
    """The heavy-tailed alternative of a fit's likelihood (:func:`robust_counterpart`)."""
    return robust_counterpart(fit.spec["likelihood"] if fit.spec["link"] == "logit" else "normal")


def robust_counterpart(likelihood: str) -> str:
    """``logit_t`` for empirical logits (enough items per run for the approximation),
    ``binomial_t`` for exact counts, ``student_t`` for scores (``normal``)."""
    if likelihood == "normal":
        return "student_t"
    return "logit_t" if likelihood in ELOGIT_LIKELIHOODS else "binomial_t"


def refine(fit, refit, *, likelihood: str = "auto", seed_design: str = "auto", order_design: str = "auto",
           warn: bool = True):
    """Check a fit and, for ``"auto"`` choices, let the checks choose (issue 13).

    ``refit(**overrides)`` fits the same records with other options (``likelihood``,
    ``seed_design``, ``order_design``). With ``likelihood="auto"`` and heavy tails flagged,
    the robust likelihood is fitted, compared by PSIS-LOO, and kept (the tail check is the
    rule: LOO is reported beside it). With ``seed_design="auto"`` (or ``order_design``) and
    the same labels in every model, the crossed design is fitted and kept only if PSIS-LOO
    clearly prefers it (elpd higher by :data:`ELPD_CLEAR` and two standard errors). The
    checks, comparisons and reasons go to ``fit.spec["checks"]``, ``fit.spec["comparisons"]``
    and ``fit.spec["likelihood_reason"]`` / ``fit.spec["design_reason"]``; flags warn with a
    :class:`MisfitWarning`.
    """
    checks = check_fit(fit)
    comparisons = {}
    if likelihood == "auto" and any(f.startswith("tails:") for f in checks["flags"]) and \
            fit.spec["likelihood"] not in ROBUST_LIKELIHOODS:
        alt_name = robust_likelihood(fit)
        alt = refit(likelihood=alt_name)
        table = compare_fits({fit.spec["likelihood"]: fit, alt_name: alt})
        comparisons["likelihood"] = _compare_dict(table)
        reason = (f"likelihood: {alt_name} (the {fit.spec['likelihood']} fit's checkpoint residuals were "
                  f"heavier-tailed than predicted, posterior predictive p = {checks['tails']['p']:.3f}; PSIS-LOO "
                  f"prefers {table.index[0]} by {float(table['elpd_diff'].iloc[1]):.1f} +- "
                  f"{float(table['dse'].iloc[1]):.1f})")
        first = checks
        fit, checks = alt, check_fit(alt)
        checks["replaced"] = first
        fit.spec["likelihood_reason"] = reason
    crossable = [c for c in fit.spec.get("crossable", [])
                 if (seed_design if c == "seed" else order_design) == "auto"]
    if crossable:
        kw = {("seed_design" if c == "seed" else "order_design"): "crossed" for c in crossable}
        alt = refit(likelihood=fit.spec["likelihood"], **kw)
        table = compare_fits({"nested": fit, "crossed": alt})
        comparisons["design"] = _compare_dict(table)
        diff, dse = float(table["elpd_diff"].iloc[1]), float(table["dse"].iloc[1])
        clear = table.index[0] == "crossed" and diff > max(ELPD_CLEAR, 2 * dse)
        what = "+".join(crossable)
        reason = (f"design: {what} {'crossed' if clear else 'nested'} (labels shared by every model; PSIS-LOO "
                  f"prefers {table.index[0]} by {diff:.1f} +- {dse:.1f}; crossed only when clearly better)")
        if clear:
            alt_checks = check_fit(alt)
            fit, checks = alt, alt_checks
        fit.spec["design_reason"] = reason
    fit.spec["checks"] = checks
    fit.spec["comparisons"] = comparisons
    if warn:
        for msg in checks["flags"]:
            warnings.warn(f"task {fit.task!r}: {msg}", MisfitWarning, stacklevel=3)
    return fit
