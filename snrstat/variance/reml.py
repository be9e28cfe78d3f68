"""REML variance components (statsmodels MixedLM) on the records of a fit: a cross-check.

The same linear mixed model as the Bayesian fit, on the same scale: the empirical logit of
each record for proportions (``log((y + 0.5) / (n - y + 0.5))``), the standardised score for
continuous metrics. In a nested design each model is a group with a random intercept and
the nested seeds / data orders are variance components within it; with crossed labels,
model, seed and data-order effects are variance components of one all-encompassing group.
The residual is checkpoint noise plus, on the logit scale, the
binomial variance, so ``sigma_ckpt^2 = max(0, residual - mean known binomial variance)``.
With ``trend`` a common slope in centred log step is a fixed effect (per-run slopes are
not). Score-scale values use :func:`snrstat.variance.quantities.score_sd` at the REML
intercept, like the posterior.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from snrstat.variance.quantities import score_sd
from snrstat.variance.records import select_records
from snrstat.variance.spec import COMPONENTS, SHORT, Design, build_design


def reml_components(frame: pd.DataFrame, task=None, metric=None, *, size=None, components=COMPONENTS,
                    likelihood: str = "auto", last_n: int | None = None, trend: bool = False,
                    seed_design: str = "auto", order_design: str = "auto") -> pd.DataFrame:
    """REML sds of the identifiable components of one task/metric (see module docstring).

    Returns a frame indexed by ``sigma_<component>`` with columns ``reml`` (score scale)
    and ``reml_link`` (logit or standardised scale).
    """
    records = select_records(frame, task, metric, size=size, last_n=last_n)
    design = build_design(records, components=components, likelihood=likelihood, trend=trend,
                          seed_design=seed_design, order_design=order_design)
    return reml_from_design(design)


def reml_from_design(design: Design) -> pd.DataFrame:
    """REML sds of ``design``'s components: score scale (``reml``) and link scale (``reml_link``)."""
    var = reml_link_variances(design)
    order = [c for c in COMPONENTS if c in var]
    rows = [f"sigma_{SHORT[c]}" for c in order]
    link = [float(np.sqrt(max(var[c], 0.0))) for c in order]
    score = [float(score_sd(var["mu"], s, design.link, design.scale)) for s in link]
    return pd.DataFrame({"reml": score, "reml_link": link}, index=pd.Index(rows, name="quantity"))


def reml_link_variances(design: Design) -> dict:
    """REML variances on the link scale by component, plus ``residual`` (the whole residual
    variance of one record, binomial part included) and ``mu`` (the intercept)."""
    import statsmodels.formula.api as smf

    t = design.records.table
    df = pd.DataFrame({"resp": _response(design), "unit": t["unit"].astype(str).to_numpy(), "grp": 1,
                       "xstep": design.x})
    # nested designs: one group per model (block-diagonal, fast); crossed ones need one group
    nested = all(v == "nested" for c, v in design.designs.items() if design.residual != c)
    vc = {} if nested else {"model": "0 + C(unit)"}
    runs = design.rec_run
    for col, codes in design.run_level.items():
        if design.residual == col:
            continue
        df[f"lev_{SHORT[col]}"] = np.asarray(design.levels[col])[codes[runs]]
        vc[SHORT[col]] = f"0 + C(lev_{SHORT[col]})"
    formula = "resp ~ 1 + xstep" if design.trend else "resp ~ 1"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = smf.mixedlm(formula, df, groups="unit" if nested else "grp", re_formula="1" if nested else "0",
                            vc_formula=vc or None)
        res = model.fit(reml=True)
    names = {SHORT[c]: c for c in COMPONENTS}
    var = {names[k]: float(v) for k, v in zip(model.exog_vc.names, np.asarray(res.vcomp, dtype=float))} if vc else {}
    if nested:
        var["model"] = float(np.asarray(res.cov_re)[0, 0])
    resid = float(res.scale)
    if design.link == "logit":
        if "ckpt" in design.components:
            var["ckpt"] = resid - float(np.mean(_known_var(design)))
    else:
        var[design.residual] = resid
    var["residual"] = resid
    var["mu"] = float(res.fe_params["Intercept"])
    return var


def _response(design: Design) -> np.ndarray:
    if design.likelihood == "logit_normal":
        return design.data["ell"]
    if design.link == "logit":
        y, n = design.data["y"].astype(float), design.data["n"].astype(float)
        return np.log((y + 0.5) / (n - y + 0.5))
    return design.data["y"]


def _known_var(design: Design) -> np.ndarray:
    if "known_var" in design.data:
        return design.data["known_var"]
    y, n = design.data["y"].astype(float), design.data["n"].astype(float)
    r = design.rec_run
    p = ((np.bincount(r, y) + 0.5) / (np.bincount(r, n) + 1.0))[r]
    return 1.0 / (n * p * (1 - p))
