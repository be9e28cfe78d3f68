"""Adapters from :mod:`snrstat.variance` fits to the decision functions.

The decision functions take posterior draws; a fit only has to offer ``model_mean``
(chain, draw, model) and noise sds through ``fit.draws(name)``. This module maps a
:class:`snrstat.variance.VarianceFit` onto the noise components of a planned experiment
(:mod:`snrstat.decision.planning`).
"""

from __future__ import annotations

from snrstat.decision._draws import fit_draws
from snrstat.schema import DataError


def variance_noise_components(fit) -> dict:
    """Noise draws of a VarianceFit for :func:`snrstat.decision.planning.p_correct` and friends.

    ``sigma_seed`` and ``sigma_order`` are the score-scale run-level sds; the checkpoint
    noise of one score is ``noise_sd`` when the fit has it (checkpoint noise and binomial
    item sampling together: the variance model draws a fresh binomial at every checkpoint,
    so a new experiment's checkpoint scores carry both), else ``sigma_ckpt``. Components the
    fit dropped (e.g. seed noise with one seed per model) are absent, i.e. zero in the
    design: say so when reporting.
    """
    out = {}
    for name in ("sigma_seed", "sigma_order"):
        try:
            out[name] = fit_draws(fit, name)
        except DataError:
            continue
    for name in ("noise_sd", "sigma_ckpt"):
        try:
            out["sigma_ckpt"] = fit_draws(fit, name)
            break
        except DataError:
            continue
    if not out:
        raise DataError(f"{type(fit).__name__} has none of sigma_seed, sigma_order, noise_sd, sigma_ckpt")
    return out


def variance_noise(frame, *, task, metric, window, seed, draws: int = 500, tune: int = 500, chains: int = 4) -> dict:
    """Fit the hierarchical variance model to one scale and return its noise components."""
    import warnings

    from snrstat.variance import fit_variance

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dropped components are visible in the returned keys
        fit = fit_variance(frame, task, metric, last_n=window, random_seed=seed, draws=draws, tune=tune,
                           chains=chains, progress=False)
    return variance_noise_components(fit)
