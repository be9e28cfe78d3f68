"""Posterior predictive of the scaling law: a numpy replica of the model, vectorised over chain,
draw and point, and the log scores of observed targets (Bayes and the paper's point fit)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr
from scipy.special import expit, logsumexp

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


