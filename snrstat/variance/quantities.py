"""Score-scale quantities from link-scale parameters, vectorised over posterior draws.

Every function takes numpy arrays (or xarray DataArrays) that broadcast against each other
and works the same for one parameter value (the truth of a simulation) as for every draw
of a posterior, so a simulation's truth and a fit's posterior are computed by the same code.

Definitions (logit link; with the identity link of continuous metrics every sd is simply
``scale * sigma`` and every mean ``center + scale * eta``):

- ``score_sd(mu, s)``: the sd of ``expit(mu + s z)``, ``z ~ N(0, 1)``: the spread of scores
  that a component of link-scale sd ``s`` alone produces around the typical model (logit
  ``mu``). Exact (Gauss-Hermite quadrature), not a delta-method linearisation.
- ``binomial_sd(mu, s_ckpt, n)``: item-sampling sd of one observed score, ``sqrt(E[p (1 -
  p)] / n)`` with ``p = expit(mu + s_ckpt z)``.
- ``noise_sd = sqrt(score_sd(mu, s_ckpt)^2 + binomial_sd^2)``: by the law of total variance
  the sd of one observed checkpoint score around its run's mean at link mean ``mu``.
- ``pooled_sd(eta_m, ...)``: the root mean over the models of such variances, each at the
  model's own link mean ``eta_m = mu + a_m``. The posterior's ``noise_sd``, ``sigma_ckpt``,
  ``sigma_binom``, ``sigma_seed`` and ``sigma_order`` are pooled this way: the paper's
  per-run noise (Heineman et al. 2025) is the root mean of the runs' own variances, and near
  a ceiling with a wide spread of models a variance at the grand mean is a different number.
  ``sigma_model`` stays the spread of the between-model distribution at its centre ``mu``.
- Checkpoint effects are normal, or Student-t with ``nu`` degrees of freedom and scale s
  (likelihoods ``logit_t`` and ``binomial_t``): the score-scale sds then integrate over the t
  distribution (quantile nodes), finite for any ``nu``. On the natural scale the sd of a t
  effect with scale s is ``s sqrt(nu / (nu - 2))`` (infinite for ``nu <= 2``); the
  ``student_t`` likelihood therefore samples the sd itself, with nu > 2
  (:func:`snrstat.variance.model.t_scale`), and its sigma needs no conversion.
- ``expected_range(mu, s_model, k)``: ``E[max_j m_j - min_j m_j]`` for k models with
  ``m_j = expit(mu + s_model z_j)``; since expit is monotone it is ``E[expit(mu + s M) -
  expit(mu - s M)]`` with M the maximum of k standard normals.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit
from scipy.stats import norm

_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(48)
_GH_W = _GH_W / _GH_W.sum()
_M_GRID = np.linspace(-6.0, 9.0, 1201)
_GL_U, _GL_W = np.polynomial.legendre.leggauss(64)
_GL_U, _GL_W = (_GL_U + 1) / 2, _GL_W / 2


def _nodes(nu=None):
    """Standardised nodes and weights of the checkpoint effect: normal, or Student-t(nu).

    Normal: Gauss-Hermite. Student-t: Gauss-Legendre in the probability u with nodes
    ``t_nu^-1(u)`` (an integrand bounded on the score scale converges fast this way); ``nu``
    may be an array, nodes then along a new last axis.
    """
    if nu is None:
        return _GH_X, _GH_W
    from scipy.stats import t as student_t

    nu = np.asarray(nu, dtype=float)
    return student_t.ppf(_GL_U, nu[..., None]), _GL_W


def _gh(mu, s, nu=None):
    """Nodes ``expit(mu + s z_i)`` and their weights along a new last axis."""
    mu, s = np.asarray(mu, dtype=float), np.asarray(s, dtype=float)
    z, w = _nodes(nu)
    return expit(mu[..., None] + s[..., None] * z), w


def score_sd(mu, s, link: str = "logit", scale: float = 1.0, nu=None):
    """Score-scale sd of a link-scale component of sd (normal) or scale (Student-t ``nu``) ``s``
    at link mean ``mu``."""
    if link != "logit":
        out = np.abs(np.asarray(s, dtype=float)) * scale
        if nu is None:
            return out
        nu = np.asarray(nu, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(nu > 2, out * np.sqrt(nu / np.where(nu > 2, nu - 2, 1.0)), np.inf)
    p, w = _gh(mu, s, nu)
    mean = (p * w).sum(-1)
    # sum of w (p - mean)^2 instead of E[p^2] - mean^2: no cancellation for tiny s
    sd = np.sqrt((w * (p - mean[..., None]) ** 2).sum(-1))
    return np.where(np.asarray(s) == 0, 0.0, sd)


def binomial_sd(mu, s_ckpt, n_items: float, nu=None):
    """Item-sampling sd of one observed score (logit link; 0 when ``n_items`` is NaN)."""
    if not np.isfinite(n_items):
        return np.zeros(np.broadcast(np.asarray(mu), np.asarray(s_ckpt)).shape)
    p, w = _gh(mu, s_ckpt, nu)
    return np.sqrt((w * p * (1 - p)).sum(-1) / n_items)


def noise_sd(mu, s_ckpt, n_items: float, link: str = "logit", scale: float = 1.0, nu=None):
    """Sd of one observed checkpoint score around its run's mean (see module docstring)."""
    if link != "logit":
        return score_sd(mu, s_ckpt, link, scale, nu)
    return np.sqrt(score_sd(mu, s_ckpt, nu=nu) ** 2 + binomial_sd(mu, s_ckpt, n_items, nu) ** 2)


def pooled(fn, eta_models, *args, **kwargs):
    """Root mean over models (last axis of ``eta_models``) of ``fn(eta_m, *args)^2``; the
    other arguments broadcast against ``eta_models[..., 0]``."""
    eta = np.asarray(eta_models, dtype=float)
    args = [np.asarray(a, dtype=float)[..., None] if np.ndim(a) else a for a in args]
    if kwargs.get("nu") is not None:
        kwargs["nu"] = np.asarray(kwargs["nu"], dtype=float)[..., None]
    return np.sqrt(np.mean(np.broadcast_to(fn(eta, *args, **kwargs) ** 2, eta.shape), axis=-1))


def _max_density(k: int) -> np.ndarray:
    """Quadrature weights of M = max of k standard normals on :data:`_M_GRID`."""
    m = _M_GRID
    logf = np.log(k) + norm.logpdf(m) + (k - 1) * norm.logcdf(m)
    w = np.exp(logf) * np.gradient(m)
    return w / w.sum()


def expected_range(mu, s_model, k: int, link: str = "logit", scale: float = 1.0):
    """Expected range of the scores of k models drawn from the between-model distribution."""
    if k < 2:
        raise ValueError(f"the range needs at least two models, got k={k}")
    w = _max_density(int(k))
    s = np.asarray(s_model, dtype=float)
    if link != "logit":
        return 2.0 * np.abs(s) * scale * float((w * _M_GRID).sum())
    mu = np.asarray(mu, dtype=float)[..., None]
    t = s[..., None] * _M_GRID
    return ((expit(mu + t) - expit(mu - t)) * w).sum(-1)


def to_score(eta, link: str = "logit", center: float = 0.0, scale: float = 1.0):
    """Link scale to score scale: ``expit`` for proportions, ``center + scale * eta`` otherwise."""
    eta = np.asarray(eta, dtype=float)
    return expit(eta) if link == "logit" else center + scale * eta


def finite_snr(model_means, noise, axis: int = -1):
    """The paper's signal, noise and SNR from model means and an absolute noise sd.

    ``signal = (max - min) / mean`` of the model means, ``noise = noise_sd / mean`` and
    ``snr = signal / noise = (max - min) / noise_sd`` (Heineman et al. 2025). Returns
    ``(signal, relative noise, snr)``; a zero noise gives ``snr = inf``.
    """
    m = np.asarray(model_means, dtype=float)
    mean = m.mean(axis)
    spread = m.max(axis) - m.min(axis)
    noise = np.asarray(noise, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = np.where(noise > 0, spread / np.where(noise > 0, noise, 1.0), np.inf)
        return spread / mean, noise / mean, snr


def score_quantities(mu, effects, link_sd: dict, *, n_bar: float = np.nan, link: str = "logit",
                     center: float = 0.0, scale: float = 1.0, residual: str | None = "ckpt", nu=None,
                     t_component: str | None = None) -> dict:
    """Score-scale quantities from link-scale parameters: the numpy kernel of :func:`derive`.

    ``mu`` (...,), ``effects`` (..., model) the model effects, ``link_sd`` short component
    name (``model``, ``seed``, ``order``, ``ckpt``) -> link-scale sd (...,); ``nu`` the
    degrees of freedom of the Student-t component ``t_component`` (short name), if any.
    A simulation's truth goes through this same function, so truth and posterior share every
    definition. Returns name -> array (see :func:`derive` for the names).
    """
    mu = np.asarray(mu, dtype=float)
    eta_m = mu[..., None] + np.asarray(effects, dtype=float)
    mm = to_score(eta_m, link, center, scale)
    out = {"model_mean": mm, "grand_mean": mm.mean(-1)}
    nu_of = lambda c: nu if (nu is not None and c == t_component) else None
    for c, s in link_sd.items():
        if c == "model":
            out["sigma_model"] = score_sd(mu, s, link, scale)
        else:
            out[f"sigma_{c}"] = pooled(score_sd, eta_m, s, link, scale, nu=nu_of(c))
    s_ckpt = link_sd.get("ckpt", np.zeros_like(mu))
    nu_c = nu_of("ckpt")
    noise = pop = None
    if link == "logit":
        if np.isfinite(n_bar):
            out["sigma_binom"] = pooled(binomial_sd, eta_m, s_ckpt, n_bar, nu=nu_c)
        noise = pooled(noise_sd, eta_m, s_ckpt, n_bar, nu=nu_c)
        # the superpopulation's noise: pooled over the between-model distribution
        nodes = mu[..., None] + np.asarray(link_sd["model"])[..., None] * _GH_X
        pop = np.sqrt((noise_sd(nodes, np.asarray(s_ckpt)[..., None], n_bar,
                                nu=None if nu_c is None else np.asarray(nu_c)[..., None]) ** 2 * _GH_W).sum(-1))
    elif residual == "ckpt":
        noise = pop = noise_sd(mu, s_ckpt, n_bar, link, scale, nu=nu_c)
    if noise is None:
        return out
    out["noise_sd"] = noise
    out["signal"], out["noise"], out["snr"] = finite_snr(mm, noise)
    k = mm.shape[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["snr_pop"] = np.where(pop > 0, expected_range(mu, link_sd["model"], k, link, scale)
                                  / np.where(pop > 0, pop, 1.0), np.inf)
    run_sds = [link_sd[c] for c in ("seed", "order") if c in link_sd and c != _short(residual)]
    if run_sds:
        s_all = np.sqrt(sum(np.asarray(s) ** 2 for s in run_sds) + np.asarray(s_ckpt) ** 2)
        total = pooled(noise_sd, eta_m, s_all, n_bar, link, scale)
        out["total_sd"] = total
        out["snr_total"] = finite_snr(mm, total)[2]
    return out


def derive(posterior, spec: dict):
    """Score-scale quantities of every draw, as an ``xarray.Dataset`` (dims chain, draw[, model]).

    ``spec`` is :meth:`Design.spec_dict` (link, center, scale, n_bar, components, residual).
    Variables: ``model_mean`` (model), ``grand_mean``, ``sigma_model`` (between-model sd at
    the centre of the models), ``sigma_<noise component>`` and ``sigma_binom`` (item
    sampling, binomial likelihoods), each pooled over the models' own means
    (:func:`pooled`), ``noise_sd`` (one checkpoint score around its run's mean, pooled over
    the models: the estimand of the paper's per-run noise), ``signal``, ``noise``, ``snr``
    (finite population: the paper's formulas applied to the true model means and the pooled
    noise sd of this draw, Heineman et al. 2025), ``snr_pop`` (superpopulation:
    :func:`expected_range` of k = number of models over the noise sd pooled over the
    between-model distribution), and with seed or data-order noise ``total_sd`` (one score of
    a new run around its model's mean, all noise sources) and ``snr_total = range / total_sd``.

    The paper's *point* estimates (:mod:`snrstat.variance.paper`) use observed, noisy model
    means and a ddof=0 sd of a few checkpoints: they estimate the same ``snr`` with an upward
    bias (median x1.2 in simulation with 3-6 checkpoints), so a point estimate inside the
    posterior interval is not evidence of calibration.
    """
    import xarray as xr

    link, center, scale = spec["link"], spec["center"], spec["scale"]
    residual = spec["residual"]
    mu = posterior["mu_link"]
    dims = mu.dims
    link_sd = {c: posterior[f"sigma_{c}_link"].values for c in ("model", "seed", "order", "ckpt")
               if f"sigma_{c}_link" in posterior}
    # student_t samples its residual's sd itself (model.t_scale): no t integral on top
    t_component = {"logit_t": "ckpt", "binomial_t": "ckpt"}.get(spec.get("likelihood"))
    nu = posterior["nu"].values if "nu" in posterior and t_component else None
    q = score_quantities(mu.values, posterior["effect_model"].values, link_sd, n_bar=spec.get("n_bar", np.nan),
                         link=link, center=center, scale=scale, residual=residual, nu=nu, t_component=t_component)
    out = {"model_mean": xr.DataArray(q.pop("model_mean"), dims=dims + ("model",),
                                      coords={"model": posterior["model"].values})}
    out.update({k: (dims, v) for k, v in q.items()})
    return xr.Dataset(out, coords={d: posterior[d] for d in dims})


def _short(component):
    return {"data_order": "order"}.get(component, component)
