"""The result of a variance fit: posterior, derived quantities, point estimates, health, save/load."""

from __future__ import annotations

import numpy as np
import pandas as pd

from snrstat.inference import Diagnostics, Fit, check_level, load_fit_file, register_fit
from snrstat.schema import DataError
from snrstat.variance.records import Records

#: Rows of :meth:`VarianceFit.summary`, in this order (absent quantities are left out).
SUMMARY_ROWS = ("grand_mean", "sigma_model", "sigma_seed", "sigma_order", "sigma_ckpt", "sigma_binom", "noise_sd",
                "total_sd", "signal", "noise", "snr", "snr_pop", "snr_total")
_SHARE_PARTS = (("model", "sigma_model"), ("seed", "sigma_seed"), ("data_order", "sigma_order"),
                ("ckpt", "sigma_ckpt"), ("items", "sigma_binom"))
_ALIASES = {"sigma_data_order": "sigma_order", "sigma_data_order_link": "sigma_order_link",
            "effect_data_order": "effect_order"}


@register_fit
class VarianceFit(Fit):
    """A fitted variance decomposition of one task and metric.

    ``idata`` is ArviZ InferenceData; its posterior holds the link-scale parameters
    (``mu_link``, ``sigma_*_link``, ``effect_model`` (model), ``effect_seed`` (seed),
    ``effect_order`` (data_order), ``trend_slope`` (run)) and the score-scale quantities
    of :func:`snrstat.variance.quantities.derive` (``model_mean``, ``sigma_*``, ``signal``,
    ``noise``, ``snr``, ``snr_pop``, ...); ``observed_data`` holds the scores by run and step.
    """

    kind = "variance"
    summary_vars = SUMMARY_ROWS

    def __init__(self, idata, records: Records, spec: dict, point: dict, diagnostics: Diagnostics,
                 settings: dict, level: float = 0.9):
        config = {"task": records.task, "metric": records.metric, "size": records.size, "last_n": records.last_n,
                  "data_hash": records.data_hash(), "spec": spec, "settings": settings}
        super().__init__(idata, config, diagnostics, point, level)
        self.records = records
        self.spec = spec
        self.settings = settings

    def _extra(self) -> dict:
        return {"records": self.records.to_dict()}

    @classmethod
    def _from_saved(cls, idata, config, diagnostics, point, level, extra):
        records = Records.from_dict(extra["records"])
        if records.data_hash() != config["data_hash"]:
            raise DataError("the stored records do not match the stored data hash")
        return cls(idata, records, config["spec"], point, diagnostics, config["settings"], level)

    # ------------------------------------------------------------------ reading the posterior
    @property
    def task(self) -> str:
        return self.records.task

    @property
    def metric(self) -> str:
        return self.records.metric

    @property
    def models(self) -> list[str]:
        return [str(m) for m in self.idata.posterior["model"].values]

    def draws(self, name: str):
        """Posterior draws of ``name`` as an xarray DataArray (dims chain, draw[, ...])."""
        return super().draws(_ALIASES.get(name, name))

    def variance_shares(self, level: float | None = None) -> pd.DataFrame:
        """Share of each source in the score-scale variance of one observed score.

        Share of ``sigma_X^2`` in the sum over model, seed, data order, checkpoint and item
        sampling (binomial) variances, per draw; median and interval over draws.
        """
        level = self.level if level is None else check_level(level)
        post = self.idata.posterior
        parts = [(name, post[var] ** 2) for name, var in _SHARE_PARTS if var in post]
        total = sum(v for _, v in parts)
        rows = {}
        for name, v in parts:
            share = (v / total).values.ravel()
            rows[name] = (np.median(share), np.quantile(share, (1 - level) / 2), np.quantile(share, (1 + level) / 2))
        return pd.DataFrame.from_dict(rows, orient="index", columns=["median", "lo", "hi"]).rename_axis("source")

    def prob_superior(self) -> pd.DataFrame:
        """P(model i beats model j) for every pair: rows i, columns j.

        "Beats" means a higher model mean, or a lower one for metrics where lower is better
        (bpb, loss, perplexity). The diagonal is NaN.
        """
        mm = self.draws("model_mean")
        x = mm.values.reshape(-1, mm.shape[-1])
        if self.records.lower_is_better:
            x = -x
        p = (x[:, :, None] > x[:, None, :]).mean(0)
        np.fill_diagonal(p, np.nan)
        names = self.models
        return pd.DataFrame(p, index=pd.Index(names, name="model"), columns=pd.Index(names, name="opponent"))

    def prob_ranking(self) -> float:
        """Posterior probability that the ranking by observed model means is the true ranking."""
        mm = self.draws("model_mean")
        x = mm.values.reshape(-1, mm.shape[-1])
        obs = self.records.table.groupby(["unit", "run"])["value"].mean().groupby("unit").mean()
        order = np.argsort(obs.loc[self.models].to_numpy(), kind="stable")
        return float(np.mean(np.all(np.diff(x[:, order], axis=1) > 0, axis=1)))

    # ------------------------------------------------------------------ checks
    def compare_reml(self, level: float | None = None) -> pd.DataFrame:
        """REML variance components (statsmodels MixedLM) next to the posterior, score scale.

        Column ``inside`` says whether the REML estimate lies in the posterior interval.
        """
        from snrstat.variance.reml import reml_from_design
        from snrstat.variance.spec import build_design

        design = build_design(self.records, components=self.spec["components"],
                              likelihood=self.spec["likelihood"], trend=self.spec["trend"],
                              seed_design=self.spec["designs"].get("seed", "auto"),
                              order_design=self.spec["designs"].get("data_order", "auto"), warn=False)
        reml = reml_from_design(design)
        s = self.summary(level)
        out = reml.join(s[["median", "lo", "hi"]], how="left")
        out["inside"] = (out["reml"] >= out["lo"]) & (out["reml"] <= out["hi"])
        return out

    def prior_predictive_check(self, draws: int = 500, random_seed: int = 0, level: float = 0.9) -> pd.DataFrame:
        """What the priors imply before seeing data, next to what the data show.

        Draws the PyMC model's prior predictive and reports, for the simulated scores
        (mean, sd, min, max over records) and the prior's score-scale quantities, the median
        and ``level`` interval, the observed value, and whether it lies inside.
        """
        from snrstat.variance.prior_check import prior_predictive_table

        return prior_predictive_table(self, draws=draws, random_seed=random_seed, level=level)

    # ------------------------------------------------------------------ plots
    def plot_components(self, level: float | None = None):
        """Forest plot of the noise and signal sds (score scale) with ``level`` intervals."""
        from snrstat.variance.plots import plot_components

        return plot_components({self.task: self}, level=level or self.level,
                               title=f"Variance components, {self.task} ({self.metric})")

    def plot_snr(self, level: float | None = None):
        """Posterior SNR (finite-population and superpopulation) against the paper's point estimate."""
        from snrstat.variance.plots import plot_snr

        return plot_snr({self.task: self}, level=level or self.level, title=f"Posterior SNR, {self.task}")

    def plot_diagnostics(self, var_names=None):
        """ArviZ rank plots of ``var_names`` (default sigma_model, sigma_ckpt, snr) and the energy plot."""
        from snrstat.inference.plots import plot_fit_diagnostics

        names = var_names or [v for v in ("sigma_model", "sigma_ckpt", "snr") if v in self.idata.posterior]
        return plot_fit_diagnostics(self.idata, names, f"{self.task} ({self.metric})")

    def __repr__(self) -> str:
        s = self.summary()
        lines = [f"VarianceFit(task={self.task!r}, metric={self.metric!r}, size={self.records.size!r}, "
                 f"likelihood={self.spec['likelihood']!r}, components={self.spec['components']})"]
        for name, row in s.iterrows():
            lines.append(f"  {name:<12} {row['median']:.4g} [{row['lo']:.4g}, {row['hi']:.4g}]"
                         + ("" if np.isnan(row["point"]) else f"  point {row['point']:.4g}"))
        for comp, why in self.spec["dropped"].items():
            lines.append(f"  dropped {why}")
        lines.append(f"  {self.diagnostics!r}")
        return "\n".join(lines)


def load_fit(path) -> VarianceFit:
    """Read a variance fit written by :meth:`VarianceFit.save` (no refitting; id hash checked)."""
    fit = load_fit_file(path)
    if not isinstance(fit, VarianceFit):
        raise DataError(f"{path} holds a {type(fit).__name__}, not a VarianceFit; use snrstat.load_fit")
    return fit
