"""Across tasks: does a higher SNR go with a higher decision accuracy?

Heineman et al. 2025 regress decision accuracy on SNR across tasks (R^2 = 0.626) using
point estimates of both. Each task's SNR and decision accuracy are themselves uncertain,
and ignoring that attenuates the slope and misstates R^2. Here both are latent
(errors in variables), on scales where their posteriors are roughly normal:

    x_t = log SNR_t (true)       x_t ~ N(m_x, s_x)
    y_t = logit DA_t (true)      y_t ~ N(alpha + beta * x_t, sigma)
    x_obs_t ~ N(x_t, sd_x_t),    y_obs_t ~ N(y_t, sd_y_t)

with x_obs, y_obs the posterior medians per task and sd_x, sd_y their posterior sds on
those scales: from an equal-tailed interval ``*_lo``/``*_hi`` at ``level`` when given
(transformed with the quantity, so skewed posteriors keep their shape), else from ``*_sd``
by the delta method. Decision accuracies of 0 or 1 are pulled in to
[eps, 1 - eps] before the logit (default eps = 0.01), and measurement sds are floored at
``min_sd`` on the transformed scale (an interval of zero width is not perfect knowledge).
R^2 is the Bayesian R^2 of Gelman et al. 2019 over the latent x: var(alpha + beta x) /
(var(alpha + beta x) + sigma^2), per draw.
"""

from __future__ import annotations

from io import StringIO

import numpy as np
import pandas as pd
from scipy import special, stats

from snrstat.inference import Fit, SamplerSettings, diagnose, register_fit, sample
from snrstat.schema import DataError


def _measure(table: pd.DataFrame, name: str, transform, derivative, level: float, clip=None):
    """Observed value and measurement sd of one quantity on its transformed scale."""
    med_col = f"{name}_median"
    if med_col not in table:
        raise DataError(f"column {med_col!r} is required (got {list(table.columns)})")
    med = pd.to_numeric(table[med_col], errors="coerce").to_numpy(dtype=float)
    if clip is not None:
        med = np.clip(med, *clip)
    if f"{name}_lo" in table and f"{name}_hi" in table:
        lo = pd.to_numeric(table[f"{name}_lo"], errors="coerce").to_numpy(dtype=float)
        hi = pd.to_numeric(table[f"{name}_hi"], errors="coerce").to_numpy(dtype=float)
        if clip is not None:
            lo, hi = np.clip(lo, *clip), np.clip(hi, *clip)
        with np.errstate(divide="ignore", invalid="ignore"):
            sd = (transform(hi) - transform(lo)) / (2 * stats.norm.ppf(0.5 + level / 2))
    elif f"{name}_sd" in table:
        sd = pd.to_numeric(table[f"{name}_sd"], errors="coerce").to_numpy(dtype=float) * np.abs(derivative(med))
    else:
        raise DataError(f"give {name}_lo and {name}_hi, or {name}_sd, for the measurement error of {name}")
    with np.errstate(divide="ignore", invalid="ignore"):
        obs = transform(med)
    return obs, sd


@register_fit
class AcrossResult(Fit):
    """Errors-in-variables fit of logit decision accuracy on log SNR across tasks.

    Posterior quantities ``slope``, ``intercept`` (at log SNR = 0), ``sigma`` (residual sd) and
    ``r2``; ``point`` holds the ordinary least squares fit of the observed medians (``naive``);
    ``data`` the per-task observations and measurement sds on the transformed scales.
    """

    kind = "across-tasks"
    summary_vars = ("slope", "intercept", "sigma", "r2")

    def __init__(self, idata, config: dict, diagnostics, data: pd.DataFrame, naive: dict, level: float = 0.9):
        super().__init__(idata, config, diagnostics, naive, level)
        self.data = data

    @property
    def naive(self) -> dict:
        return self.point

    @property
    def slope(self):
        return self.draws("slope")

    @property
    def intercept(self):
        return self.draws("intercept")

    @property
    def sigma(self):
        return self.draws("sigma")

    @property
    def r2(self):
        return self.draws("r2")

    @property
    def warnings(self) -> list[str]:
        return list(self.diagnostics.messages)

    def _extra(self) -> dict:
        return {"data": self.data.to_json(orient="split", index=False)}

    @classmethod
    def _from_saved(cls, idata, config, diagnostics, point, level, extra):
        return cls(idata, config, diagnostics, pd.read_json(StringIO(extra["data"]), orient="split"), point, level)


def snr_decision_table(frame: pd.DataFrame, *, small: str, target: str, metric_for=None, tasks=None,
                       last_n: int = 5, seed: int = 0, **fit_kw) -> pd.DataFrame:
    """One row per task: posterior SNR at the small scale and posterior decision accuracy.

    Each task gets a joint two-scale fit (:func:`snrstat.decision.fit_two_scales`) of the
    models present at both sizes; ``metric_for(task, metrics) -> metric`` picks the metric
    (default: the first of len_norm, acc, acc_norm present). Tasks that cannot be fitted
    are skipped with the reason in column ``error``. The columns feed
    :func:`snr_vs_decision`: snr_median, snr_sd, da_median, da_sd (and intervals).
    """
    from snrstat.decision.two_scales import fit_two_scales
    from snrstat.decision.accuracy import decision_accuracy_from_fits

    def default_metric(task, metrics):
        for m in ("len_norm", "acc", "acc_norm"):
            if m in metrics:
                return m
        raise DataError(f"no accuracy metric among {metrics}")

    pick = metric_for or default_metric
    tasks = sorted(frame["task"].unique()) if tasks is None else list(tasks)
    rows = []
    for task in tasks:
        row = {"task": task}
        try:
            metric = pick(task, sorted(frame.loc[frame["task"] == task, "metric"].unique()))
            row["metric"] = metric
            fit = fit_two_scales(frame, task=task, metric=metric, small=small, target=target, last_n=last_n,
                                 random_seed=seed, **fit_kw)
            snr = fit.small.draws("snr").values.ravel()
            da = decision_accuracy_from_fits(fit.small, fit.target)
            acc = da.accuracy.values.ravel()
            summ = da.summary()
            row.update(snr_median=float(np.median(snr)), snr_sd=float(np.std(snr)),
                       snr_lo=float(np.quantile(snr, 0.05)), snr_hi=float(np.quantile(snr, 0.95)),
                       da_median=summ.median, da_mean=float(acc.mean()), da_sd=float(acc.std()),
                       da_lo=summ.lo, da_hi=summ.hi, da_point=summ.point, n_models=summ.n_models,
                       warnings="; ".join(fit.warnings))
        except DataError as exc:
            row["error"] = str(exc)
        rows.append(row)
    return pd.DataFrame(rows)


def snr_vs_decision(
    table: pd.DataFrame,
    *,
    level: float = 0.9,
    eps: float = 0.01,
    min_sd: float = 0.05,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 2,
    random_seed: int = 0,
    sampler: str = "nutpie",
    seed: int | None = None,
) -> AcrossResult:
    """Slope and R^2 of logit decision accuracy on log SNR, both measured with error.

    ``table``: one row per task with ``snr_median`` and ``snr_lo``/``snr_hi`` (or ``snr_sd``)
    and ``da_median`` and ``da_lo``/``da_hi`` (or ``da_sd``); intervals are read at
    ``level`` and preferred over sds when both are present. ``naive`` holds the ordinary least squares slope, intercept and R^2 of the
    observed medians on the same scales (what a point-estimate analysis would report).
    ``seed`` is the old name of ``random_seed`` (deprecated).
    """
    from snrstat.inference.settings import renamed

    random_seed = renamed("seed", seed, "random_seed", random_seed)
    if not isinstance(table, pd.DataFrame) or len(table) < 3:
        raise DataError("snr_vs_decision needs a DataFrame with at least three tasks (rows)")
    if not 0 < eps < 0.5:
        raise DataError(f"eps must be in (0, 0.5), got {eps}")
    x_obs, sd_x = _measure(table, "snr", np.log, lambda v: 1 / v, level)
    y_obs, sd_y = _measure(table, "da", special.logit, lambda v: 1 / (v * (1 - v)), level, clip=(eps, 1 - eps))
    for name, arr in (("snr_median (log)", x_obs), ("da_median (logit)", y_obs)):
        if not np.isfinite(arr).all():
            raise DataError(f"{name} is not finite for row(s) {list(table.index[~np.isfinite(arr)])}; SNR must be > 0")
    for name, arr in (("snr", sd_x), ("da", sd_y)):
        if not (np.isfinite(arr) & (arr >= 0)).all():
            raise DataError(f"the measurement sd of {name} is missing or negative in row(s) {list(table.index[~(np.isfinite(arr) & (arr >= 0))])}")
    sd_x, sd_y = np.maximum(sd_x, min_sd), np.maximum(sd_y, min_sd)

    ols = stats.linregress(x_obs, y_obs)
    naive = {"slope": float(ols.slope), "intercept": float(ols.intercept), "r2": float(ols.rvalue**2)}

    # standardise so that unit-scale priors are weakly informative whatever the data
    cx, sx_ = x_obs.mean(), x_obs.std() or 1.0
    cy, sy_ = y_obs.mean(), y_obs.std() or 1.0
    import pymc as pm

    tasks = [str(t) for t in table.get("task", pd.Series(range(len(table)))).tolist()]
    with pm.Model(coords={"task": tasks}) as model:
        # non-centred latents: measurement sds can dwarf the spreads they sit in (funnels)
        m_x = pm.Normal("m_x", 0.0, 1.0)
        s_x = pm.HalfNormal("s_x", 1.5)
        x = pm.Deterministic("x", m_x + s_x * pm.Normal("z_x", 0.0, 1.0, dims="task"), dims="task")
        pm.Normal("x_obs", x, sd_x / sx_, observed=(x_obs - cx) / sx_, dims="task")
        a = pm.Normal("a", 0.0, 1.0)
        b = pm.Normal("b", 0.0, 1.0)
        s = pm.HalfNormal("s", 1.0)
        y = pm.Deterministic("y", a + b * x + s * pm.Normal("z_y", 0.0, 1.0, dims="task"), dims="task")
        pm.Normal("y_obs", y, sd_y / sy_, observed=(y_obs - cy) / sy_, dims="task")
    settings = SamplerSettings(random_seed=random_seed, draws=draws, tune=tune, chains=chains, sampler=sampler)
    idata = sample(model, settings, default_target_accept=0.9)
    post = idata.posterior
    slope = post["b"] * sy_ / sx_
    intercept = cy + sy_ * post["a"] - slope * cx
    sigma = post["s"] * sy_
    fitted = post["b"] * post["x"]
    var_fit = fitted.var("task")
    r2 = var_fit / (var_fit + post["s"] ** 2)
    idata.posterior = post.assign(slope=slope, intercept=intercept, sigma=sigma, r2=r2)
    data = pd.DataFrame({"task": tasks, "log_snr": x_obs, "log_snr_sd": sd_x, "logit_da": y_obs, "logit_da_sd": sd_y})
    config = {"level": level, "eps": eps, "min_sd": min_sd, "settings": settings.to_dict(),
              "sample_s": float(idata.attrs["sample_s"]), "compile_s": float(idata.attrs["compile_s"])}
    return AcrossResult(idata, config, diagnose(idata, ["m_x", "s_x", "a", "b", "s", "slope", "r2"]), data, naive, level)
