"""Does a judge-based score follow a proxy metric? Errors in variables on both axes.

A practitioner sees judge scores (win rates against a reference, mean ratings) of several
checkpoints or models "only loosely follow" their test loss. Both numbers are noisy: the judge
score by the judge noise of :mod:`snrstat.judges` and by the finite set of prompts, the loss
by its evaluation set. Regressing one noisy number on another attenuates the slope and
understates the correlation (regression dilution; Fuller 1987, "Measurement Error Models").
As :func:`snrstat.decision.snr_vs_decision` does for SNR and decision accuracy, both are
latent here, on scales where their sampling errors are roughly normal::

    x_t (true proxy, e.g. loss or BPB)    x_t ~ N(m_x, s_x)
    y_t (true judge score, logit scale)   y_t ~ N(alpha + beta * x_t, sigma)
    x_obs_t ~ N(x_t, sd_x_t),  y_obs_t ~ N(y_t, sd_y_t)

with measurement sds from each row's interval (``*_lo``/``*_hi`` at ``level``, transformed
with the quantity) or its ``*_sd`` (delta method). R^2 is the Bayesian R^2 of Gelman et al.
2019 over the latent x; ``correlation`` is the correlation of the latent x and y.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special, stats

from snrstat.inference import Fit, SamplerSettings, diagnose, register_fit, sample
from snrstat.inference.intervals import check_level
from snrstat.schema import DataError

SCALES = {
    "identity": (lambda v: v, lambda v: np.ones_like(v)),
    "log": (np.log, lambda v: 1 / v),
    "logit": (special.logit, lambda v: 1 / (v * (1 - v))),
}


@register_fit
class ProxyFit(Fit):
    """Errors-in-variables fit of a judge score on a proxy metric. ``summary()`` rows: slope,
    intercept (at proxy = 0 on its scale), sigma (residual sd), r2, correlation; ``point`` = the
    ordinary least squares fit of the observed values (what a point-estimate analysis reports)."""

    kind = "judge-proxy"
    summary_vars = ("slope", "intercept", "sigma", "r2", "correlation")

    @property
    def data(self) -> pd.DataFrame:
        return pd.DataFrame(self.config["data"])


def _measure(table, name, scale, level, eps):
    """Observed value and measurement sd on the ``scale`` (the kernel of
    :func:`snrstat.decision.across_tasks.snr_vs_decision`), checked finite."""
    from snrstat.decision.across_tasks import _measure as measure

    transform, derivative = SCALES[scale]
    clip = (eps, 1 - eps) if scale == "logit" else None
    obs, sd = measure(table, name, transform, derivative, level, clip=clip)
    bad = ~np.isfinite(obs)
    if bad.any():
        raise DataError(f"{name}_median is not finite on the {scale} scale in row(s) {list(table.index[bad])}")
    bad = ~(np.isfinite(sd) & (sd >= 0))
    if bad.any():
        raise DataError(f"the measurement sd of {name} is missing or negative in row(s) {list(table.index[bad])}")
    return obs, sd


def judge_vs_proxy(table: pd.DataFrame, *, x: str = "proxy", y: str = "judge", x_scale: str = "identity",
                   y_scale: str = "logit", level: float = 0.9, eps: float = 0.01, min_sd: float = 0.01,
                   settings: SamplerSettings | dict | None = None, **sampler) -> ProxyFit:
    """Slope, R^2 and correlation of a judge score ``y`` on a proxy metric ``x``, both with error.

    ``table``: one row per system or checkpoint with ``{x}_median`` and ``{x}_lo``/``{x}_hi`` (or
    ``{x}_sd``), and the same for ``y``; a ``system`` column names the rows. ``x_scale`` and
    ``y_scale`` are 'identity', 'log' or 'logit' (a win rate is fitted on the logit scale;
    rates of 0 or 1 are pulled in to [eps, 1 - eps]). Measurement sds are floored at ``min_sd``
    on the fitted scale. Sampler options as in :class:`snrstat.inference.SamplerSettings`.
    """
    if not isinstance(table, pd.DataFrame) or len(table) < 3:
        raise DataError("judge_vs_proxy needs a DataFrame with at least three rows (systems)")
    for name, scale in (("x_scale", x_scale), ("y_scale", y_scale)):
        if scale not in SCALES:
            raise DataError(f"{name} must be one of {sorted(SCALES)}, got {scale!r}")
    level = check_level(level)
    settings = SamplerSettings.build(settings, **sampler)
    x_obs, sd_x = _measure(table, x, x_scale, level, eps)
    y_obs, sd_y = _measure(table, y, y_scale, level, eps)
    sd_x, sd_y = np.maximum(sd_x, min_sd), np.maximum(sd_y, min_sd)
    ols = stats.linregress(x_obs, y_obs)
    point = {"slope": float(ols.slope), "intercept": float(ols.intercept), "r2": float(ols.rvalue**2),
             "correlation": float(ols.rvalue)}
    # standardised so that unit-scale priors are weakly informative whatever the units
    cx, sx = x_obs.mean(), x_obs.std() or 1.0
    cy, sy = y_obs.mean(), y_obs.std() or 1.0
    systems = [str(s) for s in table.get("system", pd.Series(range(len(table)))).tolist()]
    data = {"x": (x_obs - cx) / sx, "y": (y_obs - cy) / sy, "sd_x": sd_x / sx, "sd_y": sd_y / sy}

    centred = {"x": bool(np.median(data["sd_x"]) < 0.5)}

    def build():
        import pymc as pm

        with pm.Model(coords={"system": systems}) as model:
            xo = pm.Data("x_obs", data["x"], dims="system")
            yo = pm.Data("y_obs", data["y"], dims="system")
            sdx = pm.Data("sd_x", data["sd_x"], dims="system")
            sdy = pm.Data("sd_y", data["sd_y"], dims="system")
            # a proxy measured precisely is sampled centred, one measured loosely non-centred
            # (Papaspiliopoulos et al. 2007): each avoids the funnel the other would meet
            m_x = pm.Normal("m_x", 0.0, 1.0)
            s_x = pm.HalfNormal("s_x", 1.5)
            if centred["x"]:
                lat_x = pm.Normal("x", m_x, s_x, dims="system")
            else:
                lat_x = pm.Deterministic("x", m_x + s_x * pm.Normal("z_x", 0.0, 1.0, dims="system"), dims="system")
            pm.Normal("x_like", lat_x, sdx, observed=xo, dims="system")
            a = pm.Normal("a", 0.0, 1.0)
            b = pm.Normal("b", 0.0, 1.0)
            s = pm.HalfNormal("s", 1.0)
            # always non-centred: the residual sd may be near zero (a proxy that explains it all)
            lat_y = pm.Deterministic("y", a + b * lat_x + s * pm.Normal("z_y", 0.0, 1.0, dims="system"), dims="system")
            pm.Normal("y_like", lat_y, sdy, observed=yo, dims="system")
        return model

    idata = sample(build, settings, key=("judge-proxy", len(systems), centred["x"]), data={
        "x_obs": data["x"], "y_obs": data["y"], "sd_x": data["sd_x"], "sd_y": data["sd_y"]})
    post = idata.posterior
    slope = post["b"] * sy / sx
    post["slope"] = slope
    post["intercept"] = cy + sy * post["a"] - slope * cx
    post["sigma"] = post["s"] * sy
    fitted = post["b"] * post["x"]
    var_fit = fitted.var("system")
    post["r2"] = var_fit / (var_fit + post["s"] ** 2)
    xc = post["x"] - post["x"].mean("system")
    yc = post["y"] - post["y"].mean("system")
    post["correlation"] = (xc * yc).sum("system") / np.sqrt((xc**2).sum("system") * (yc**2).sum("system"))
    diagnostics = diagnose(idata, ["m_x", "s_x", "a", "b", "s", "slope", "r2"])
    config = {"x": x, "y": y, "x_scale": x_scale, "y_scale": y_scale, "eps": eps, "min_sd": min_sd, "centred": centred,
              "settings": settings.to_dict(),
              "data": {"system": systems, "x_obs": x_obs.tolist(), "x_sd": sd_x.tolist(), "y_obs": y_obs.tolist(),
                       "y_sd": sd_y.tolist()}}
    return ProxyFit(idata, config, diagnostics, point, level)
