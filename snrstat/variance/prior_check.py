"""Prior predictive check: what the priors say about scores before the data are seen."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from snrstat.variance.quantities import derive, to_score


def prior_predictive_table(fit, draws: int = 500, random_seed: int = 0, level: float = 0.9) -> pd.DataFrame:
    """Prior median and ``level`` interval of simulated-score summaries and derived quantities.

    Rows ``score_mean``, ``score_sd``, ``score_min``, ``score_max`` (over the fitted records
    of each prior draw; for the ``logit_normal`` likelihood the simulated empirical logits
    are mapped back with expit) and the score-scale quantities of the summary. ``observed``
    is the data's value (REML for the sds, the paper's point estimate for signal, noise and
    snr), ``inside``
    whether it lies in the prior interval: priors that exclude the data are too tight.
    """
    import pymc as pm

    from snrstat.variance.model import build_model
    from snrstat.variance.spec import Priors, build_design

    spec = fit.spec
    design = build_design(fit.records, components=spec["components"], likelihood=spec["likelihood"],
                          trend=spec["trend"], seed_design=spec["designs"].get("seed", "auto"),
                          order_design=spec["designs"].get("data_order", "auto"), warn=False)
    priors = Priors(**spec["priors"])
    # explicit effects and plain HalfNormal sigmas: every variable can be drawn forwards
    pm_log = logging.getLogger("pymc")
    old = pm_log.level
    pm_log.setLevel(logging.WARNING)  # PyMC announces the sampled variables at INFO
    try:
        with build_model(design, priors, marginalize=False, shares=False):
            prior = pm.sample_prior_predictive(draws=draws, random_seed=random_seed)
    finally:
        pm_log.setLevel(old)
    obs = prior.prior_predictive["obs"].values.reshape(draws, -1)
    if design.likelihood == "logit_normal":
        sim = to_score(obs, "logit")
    elif design.link == "logit":
        sim = obs / design.data["n"][None, :]
    else:
        sim = to_score(obs, "identity", design.center, design.scale)
    value = design.records.table["value"].to_numpy()
    rows = {
        "score_mean": (sim.mean(1), value.mean()), "score_sd": (sim.std(1), value.std()),
        "score_min": (sim.min(1), value.min()), "score_max": (sim.max(1), value.max()),
    }
    derived = derive(prior.prior, spec)
    try:  # the data's own estimate of each sd: REML on the same records
        from snrstat.variance.reml import reml_from_design

        observed = {**reml_from_design(design)["reml"].to_dict(), **fit.point}
    except Exception:  # REML is only a reference here
        observed = dict(fit.point)
    for name in ("sigma_model", "sigma_seed", "sigma_order", "sigma_ckpt", "noise_sd", "signal", "noise", "snr",
                 "snr_pop"):
        if name in derived:
            rows[name] = (derived[name].values.ravel(), observed.get(name, np.nan))
    lo_q, hi_q = (1 - level) / 2, (1 + level) / 2
    out = pd.DataFrame({
        "prior_median": [np.median(v) for v, _ in rows.values()],
        "prior_lo": [np.quantile(v, lo_q) for v, _ in rows.values()],
        "prior_hi": [np.quantile(v, hi_q) for v, _ in rows.values()],
        "observed": [float(o) for _, o in rows.values()],
    }, index=pd.Index(list(rows), name="quantity"))
    inside = (out["observed"] >= out["prior_lo"]) & (out["observed"] <= out["prior_hi"])
    out["inside"] = pd.array(inside.to_numpy(), dtype="boolean")
    out.loc[out["observed"].isna().to_numpy(), "inside"] = pd.NA
    return out
