"""The result of a variance fit: posterior, derived quantities, point estimates, health, save/load."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np
import pandas as pd

from snrstat.schema import DataError
from snrstat.variance.records import Records
from snrstat.variance.sampling import Diagnostics

#: Rows of :meth:`VarianceFit.summary`, in this order (absent quantities are left out).
SUMMARY_ROWS = ("grand_mean", "sigma_model", "sigma_seed", "sigma_order", "sigma_ckpt", "sigma_binom", "noise_sd",
                "total_sd", "signal", "noise", "snr", "snr_pop", "snr_total")
_SHARE_PARTS = (("model", "sigma_model"), ("seed", "sigma_seed"), ("data_order", "sigma_order"),
                ("ckpt", "sigma_ckpt"), ("items", "sigma_binom"))
_ALIASES = {"sigma_data_order": "sigma_order", "sigma_data_order_link": "sigma_order_link",
            "effect_data_order": "effect_order"}


class VarianceFit:
    """A fitted variance decomposition of one task and metric.

    ``idata`` is ArviZ InferenceData; its posterior holds the link-scale parameters
    (``mu_link``, ``sigma_*_link``, ``effect_model`` (model), ``effect_seed`` (seed),
    ``effect_order`` (data_order), ``trend_slope`` (run)) and the score-scale quantities
    of :func:`snrstat.variance.quantities.derive` (``model_mean``, ``sigma_*``, ``signal``,
    ``noise``, ``snr``, ``snr_pop``, ...); ``observed_data`` holds the scores by run and step.
    """

    def __init__(self, idata, records: Records, spec: dict, point: dict, diagnostics: Diagnostics,
                 settings: dict, level: float = 0.9):
        self.idata = idata
        self.records = records
        self.spec = spec
        self.point = point
        self.diagnostics = diagnostics
        self.settings = settings
        self.level = level

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
        key = _ALIASES.get(name, name)
        post = self.idata.posterior
        if key not in post:
            raise DataError(f"{name!r} is not in this fit's posterior; available: {sorted(post.data_vars)}")
        return post[key]

    def summary(self, level: float | None = None) -> pd.DataFrame:
        """Median and equal-tailed ``level`` interval of every quantity, with the paper's point estimate.

        Columns ``median, lo, hi, point, r_hat, ess_bulk``; rows :data:`SUMMARY_ROWS` that
        the fit has. Score-scale sds are exact transforms of the link-scale ones (see
        :mod:`snrstat.variance.quantities`). ``point`` is the paper's estimate where one exists
        (signal, noise, snr: per-run noise mode of :func:`snrstat.point.small_scale_snr`;
        grand_mean: mean of the observed model means).
        """
        import arviz as az

        level = self.level if level is None else _check_level(level)
        post = self.idata.posterior
        rows = [r for r in SUMMARY_ROWS if r in post]
        ds = post[rows]
        q = ds.quantile([0.5, (1 - level) / 2, (1 + level) / 2], dim=("chain", "draw"))
        rhat = az.rhat(ds)
        ess = az.ess(ds, method="bulk")
        out = pd.DataFrame({
            "median": [float(q[r].values[0]) for r in rows],
            "lo": [float(q[r].values[1]) for r in rows],
            "hi": [float(q[r].values[2]) for r in rows],
            "point": [float(self.point.get(r, np.nan)) for r in rows],
            "r_hat": [float(rhat[r]) for r in rows],
            "ess_bulk": [float(ess[r]) for r in rows],
        }, index=pd.Index(rows, name="quantity"))
        return out

    def variance_shares(self, level: float | None = None) -> pd.DataFrame:
        """Share of each source in the score-scale variance of one observed score.

        Share of ``sigma_X^2`` in the sum over model, seed, data order, checkpoint and item
        sampling (binomial) variances, per draw; median and interval over draws.
        """
        level = self.level if level is None else _check_level(level)
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
        from snrstat.plots.variance import plot_components

        return plot_components({self.task: self}, level=level or self.level,
                               title=f"Variance components, {self.task} ({self.metric})")

    def plot_snr(self, level: float | None = None):
        """Posterior SNR (finite-population and superpopulation) against the paper's point estimate."""
        from snrstat.plots.variance import plot_snr

        return plot_snr({self.task: self}, level=level or self.level, title=f"Posterior SNR, {self.task}")

    def plot_diagnostics(self, var_names=None):
        """ArviZ rank plots of ``var_names`` (default sigma_model, sigma_ckpt, snr) and the energy plot."""
        from snrstat.plots.diagnostics import plot_fit_diagnostics

        names = var_names or [v for v in ("sigma_model", "sigma_ckpt", "snr") if v in self.idata.posterior]
        return plot_fit_diagnostics(self.idata, names, f"{self.task} ({self.metric})")

    # ------------------------------------------------------------------ persistence
    def card(self) -> dict:
        import arviz as az
        import pymc
        import snrstat

        try:
            import nutpie
            nutpie_version = nutpie.__version__
        except ImportError:  # pragma: no cover
            nutpie_version = None
        return {
            "kind": "snrstat.VarianceFit", "task": self.task, "metric": self.metric, "size": self.records.size,
            "data_hash": self.records.data_hash(), "spec": self.spec, "settings": self.settings,
            "diagnostics": self.diagnostics.to_dict(), "point": {k: _jsonable(v) for k, v in self.point.items()},
            "level": self.level, "records": self.records.to_dict(),
            "versions": {"snrstat": snrstat.__version__, "pymc": pymc.__version__, "arviz": az.__version__,
                         "nutpie": nutpie_version, "numpy": np.__version__, "python": platform.python_version()},
        }

    def save(self, path) -> tuple[Path, Path]:
        """Write the InferenceData to NetCDF (``path``, suffix .nc) and a JSON card beside it
        (same name, suffix .json: data hash, records, spec with priors, sampler settings,
        diagnostics, versions). Returns both paths."""
        nc, js = _paths(path)
        nc.parent.mkdir(parents=True, exist_ok=True)
        self.idata.to_netcdf(str(nc))
        js.write_text(json.dumps(self.card(), indent=1, default=_jsonable))
        return nc, js

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
    """Read a fit written by :meth:`VarianceFit.save` (no refitting)."""
    import arviz as az

    nc, js = _paths(path)
    for p in (nc, js):
        if not p.exists():
            raise FileNotFoundError(f"{p} not found (a saved fit is a .nc file with a .json card beside it)")
    card = json.loads(js.read_text())
    if card.get("kind") != "snrstat.VarianceFit":
        raise DataError(f"{js} is not a VarianceFit card (kind {card.get('kind')!r})")
    idata = az.from_netcdf(str(nc))
    records = Records.from_dict(card["records"])
    if records.data_hash() != card["data_hash"]:
        raise DataError(f"{js}: the stored records do not match the stored data hash (the card was edited?)")
    point = {k: (np.nan if v is None else float(v)) for k, v in card["point"].items()}
    return VarianceFit(idata, records, card["spec"], point, Diagnostics.from_dict(card["diagnostics"]),
                       card["settings"], card.get("level", 0.9))


def _paths(path) -> tuple[Path, Path]:
    p = Path(path)
    if p.suffix in (".nc", ".json"):
        p = p.with_suffix("")
    return p.with_suffix(".nc"), p.with_suffix(".json")


def _check_level(level: float) -> float:
    if not 0 < level < 1:
        raise DataError(f"level must lie in (0, 1), got {level!r}")
    return float(level)


def _jsonable(v):
    if isinstance(v, (np.floating, float)):
        return float(v) if np.isfinite(v) else (None if np.isnan(v) else str(float(v)))
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.bool_):
        return bool(v)
    return str(v)
