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
  the sd of one observed checkpoint score around its run's mean, the quantity the paper's
  per-run noise (std of a run's last checkpoints) estimates.
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


def _gh(mu, s):
    """Nodes ``expit(mu + s z_i)`` and their weights along a new last axis."""
    mu, s = np.asarray(mu, dtype=float), np.asarray(s, dtype=float)
    return expit(mu[..., None] + s[..., None] * _GH_X), _GH_W


def score_sd(mu, s, link: str = "logit", scale: float = 1.0):
    """Score-scale sd of a link-scale normal component of sd ``s`` at link mean ``mu``."""
    if link != "logit":
        return np.abs(np.asarray(s, dtype=float)) * scale
    p, w = _gh(mu, s)
    mean = (p * w).sum(-1)
    # sum of w (p - mean)^2 instead of E[p^2] - mean^2: no cancellation for tiny s
    sd = np.sqrt((w * (p - mean[..., None]) ** 2).sum(-1))
    return np.where(np.asarray(s) == 0, 0.0, sd)


def binomial_sd(mu, s_ckpt, n_items: float):
    """Item-sampling sd of one observed score (logit link; 0 when ``n_items`` is NaN)."""
    if not np.isfinite(n_items):
        return np.zeros(np.broadcast(np.asarray(mu), np.asarray(s_ckpt)).shape)
    p, w = _gh(mu, s_ckpt)
    return np.sqrt((w * p * (1 - p)).sum(-1) / n_items)


def noise_sd(mu, s_ckpt, n_items: float, link: str = "logit", scale: float = 1.0):
    """Sd of one observed checkpoint score around its run's mean (see module docstring)."""
    if link != "logit":
        return np.abs(np.asarray(s_ckpt, dtype=float)) * scale
    return np.sqrt(score_sd(mu, s_ckpt) ** 2 + binomial_sd(mu, s_ckpt, n_items) ** 2)


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


def derive(posterior, spec: dict):
    """Score-scale quantities of every draw, as an ``xarray.Dataset`` (dims chain, draw[, model]).

    ``spec`` is :meth:`Design.spec_dict` (link, center, scale, n_bar, components, residual).
    Variables: ``model_mean`` (model), ``grand_mean``, ``sigma_<component>`` (score-scale sds
    of the kept components), ``sigma_binom`` (item sampling, binomial likelihoods),
    ``noise_sd`` (one checkpoint score around its run's mean), ``signal``, ``noise``,
    ``snr`` (finite population: the paper's formulas on the model means of this draw),
    ``snr_pop`` (superpopulation: :func:`expected_range` of k = number of models over
    ``noise_sd``), and with seed or data-order noise ``total_sd`` (one score of a new run
    around its model's mean, all noise sources) and ``snr_total = range / total_sd``.
    """
    import xarray as xr

    link, center, scale = spec["link"], spec["center"], spec["scale"]
    comps, residual = spec["components"], spec["residual"]
    mu = posterior["mu_link"]
    dims = mu.dims
    mu_v = mu.values
    out = {}
    mm = to_score(mu_v[..., None] + posterior["effect_model"].values, link, center, scale)
    out["model_mean"] = xr.DataArray(mm, dims=dims + ("model",), coords={"model": posterior["model"].values})
    out["grand_mean"] = (dims, mm.mean(-1))
    link_sd = {c: posterior[f"sigma_{c}_link"].values for c in ("model", "seed", "order", "ckpt")
               if f"sigma_{c}_link" in posterior}
    for c, s in link_sd.items():
        out[f"sigma_{c}"] = (dims, score_sd(mu_v, s, link, scale))
    n_bar = spec.get("n_bar", np.nan)
    s_ckpt = link_sd.get("ckpt", np.zeros_like(mu_v))
    noise = None
    if link == "logit":
        if np.isfinite(n_bar):
            out["sigma_binom"] = (dims, binomial_sd(mu_v, s_ckpt, n_bar))
        noise = noise_sd(mu_v, s_ckpt, n_bar)
    elif residual == "ckpt":
        noise = noise_sd(mu_v, s_ckpt, n_bar, link, scale)
    if noise is None:
        return xr.Dataset(out, coords={d: posterior[d] for d in dims})
    out["noise_sd"] = (dims, noise)
    sig, rel_noise, snr = finite_snr(mm, noise)
    out["signal"], out["noise"], out["snr"] = (dims, sig), (dims, rel_noise), (dims, snr)
    k = mm.shape[-1]
    with np.errstate(divide="ignore"):
        out["snr_pop"] = (dims, np.where(noise > 0, expected_range(mu_v, link_sd["model"], k, link, scale)
                                         / np.where(noise > 0, noise, 1.0), np.inf))
    run_sds = [link_sd[c] for c in ("seed", "order") if c in link_sd and c != _short(residual)]
    if run_sds:
        s_all = np.sqrt(sum(s**2 for s in run_sds) + s_ckpt**2)
        total = noise_sd(mu_v, s_all, n_bar, link, scale)
        out["total_sd"] = (dims, total)
        out["snr_total"] = (dims, finite_snr(mm, total)[2])
    return xr.Dataset(out, coords={d: posterior[d] for d in dims})


def _short(component):
    return {"data_order": "order"}.get(component, component)
