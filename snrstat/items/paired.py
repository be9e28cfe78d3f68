"""Two models on the same items: the item model's P(A better than B) beside the classical tests.

``paired_comparison`` fits the hierarchical item model (:func:`snrstat.items.fit_items`) to the
two models' answers on their shared items (difficulties pooled by ``cluster``: a passage, or a
suite's subtask) and puts its posterior of the population accuracy difference next to
McNemar's exact test, a paired bootstrap (over items or whole clusters) and cluster-robust
standard errors (:mod:`snrstat.items.compare`). The population difference is
``E_b[P(A, b) - P(B, b)]`` over items drawn from the benchmark's clusters in their proportions
(Gauss-Hermite quadrature per draw), so it is the accuracy gap a larger benchmark of the same
kind would show, not just the gap on these items.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr
from scipy import special

from snrstat.inference.intervals import median_interval
from snrstat.items.compare import clustered_se, mcnemar_exact, paired_bootstrap, paired_items


@dataclass
class PairedResult:
    """The views of a paired comparison; ``diff`` is the posterior (chain, draw) of the population
    accuracy difference A - B and ``fit`` the :class:`~snrstat.items.fit.ItemFit` it comes from."""

    model_a: str
    model_b: str
    n_items: int
    n_clusters: int | None
    observed_diff: float
    diff: xr.DataArray
    bootstrap: np.ndarray = field(repr=False)
    mcnemar: dict = field(default_factory=dict)
    se: dict = field(default_factory=dict)
    fit: object = field(default=None, repr=False)

    @property
    def idata(self):
        return None if self.fit is None else self.fit.idata

    @property
    def diagnostics(self):
        return None if self.fit is None else self.fit.diagnostics

    @property
    def warnings(self) -> list[str]:
        return [] if self.diagnostics is None else list(self.diagnostics.messages)

    @property
    def p_a_better(self) -> float:
        """Posterior P(model_a's population accuracy > model_b's)."""
        return float((self.diff.values > 0).mean())

    def summary(self, level: float = 0.9) -> pd.DataFrame:
        """Estimate and ``level`` interval of acc(a) - acc(b) under each method (rows), with
        P(a better) where a method gives one and p-values where it gives those."""
        from scipy import stats

        med, lo, hi = median_interval(self.diff.values, level)
        _, blo, bhi = median_interval(self.bootstrap, level)
        z = stats.norm.ppf(0.5 + level / 2)
        rows = [
            {"method": "bayes (item model)", "estimate": med, "lo": lo, "hi": hi,
             "p_a_better": self.p_a_better, "p_value": np.nan},
            {"method": "paired bootstrap", "estimate": self.observed_diff, "lo": blo, "hi": bhi,
             "p_a_better": float((self.bootstrap > 0).mean()), "p_value": np.nan},
            {"method": "McNemar exact", "estimate": self.observed_diff, "lo": np.nan, "hi": np.nan,
             "p_a_better": np.nan, "p_value": self.mcnemar["p_value"]},
            {"method": "normal, items independent", "estimate": self.observed_diff,
             "lo": self.observed_diff - z * self.se["se"], "hi": self.observed_diff + z * self.se["se"],
             "p_a_better": np.nan, "p_value": float(2 * stats.norm.sf(abs(self.observed_diff) / self.se["se"]))
             if self.se["se"] > 0 else np.nan},
        ]
        if self.n_clusters:
            s = self.se["se_clustered"]
            rows.append({"method": "normal, clustered SE", "estimate": self.observed_diff,
                         "lo": self.observed_diff - z * s, "hi": self.observed_diff + z * s, "p_a_better": np.nan,
                         "p_value": float(2 * stats.norm.sf(abs(self.observed_diff) / s)) if s > 0 else np.nan})
        return pd.DataFrame(rows).set_index("method")


def population_difference(mu_a, mu_b, spread, nodes: int = 40) -> np.ndarray:
    """E[invlogit(mu_a + v) - invlogit(mu_b + v)], v ~ N(0, spread^2), by Gauss-Hermite."""
    x, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / np.sqrt(2 * np.pi)
    v = np.asarray(spread)[..., None] * x
    return ((special.expit(np.asarray(mu_a)[..., None] + v) - special.expit(np.asarray(mu_b)[..., None] + v)) * w).sum(-1)


def paired_comparison(
    frame: pd.DataFrame,
    model_a: str,
    model_b: str,
    *,
    task: str | None = None,
    metric: str | None = None,
    step: int | None = None,
    cluster: str | None = None,
    n_options: int | None = None,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 2,
    seed: int = 0,
    sampler: str = "nutpie",
    n_boot: int = 10_000,
) -> PairedResult:
    """Compare two models' accuracy on the same items (see the module docstring).

    ``cluster`` names a column whose value is shared by items of one passage (or, for a
    suite, e.g. 'subtask'); item difficulties are pooled within clusters, the bootstrap
    resamples whole clusters, and a cluster-robust standard error is added.
    """
    from snrstat.inference import SamplerSettings
    from snrstat.items.fit import fit_items

    pairs = paired_items(frame, model_a, model_b, task=task, metric=metric, step=step, cluster=cluster)
    rows = pd.DataFrame({
        "task": "paired", "metric": "acc", "model": np.repeat([model_a, model_b], len(pairs)),
        "item": np.tile(pairs["item"].to_numpy(), 2), "value": np.r_[pairs["a"], pairs["b"]].astype(float),
        "cluster": np.tile(pairs["cluster"].to_numpy(), 2) if "cluster" in pairs else "all",
    })
    settings = SamplerSettings(random_seed=seed, draws=draws, tune=tune, chains=chains, sampler=sampler)
    fit = fit_items(rows, category="cluster", n_options=n_options, interaction=False, training=False,
                    method="nuts", settings=settings)
    s = fit.draws("score_population")
    diff = (s.sel(model=model_a) - s.sel(model=model_b)).drop_vars("model", errors="ignore")
    diff.name = "accuracy_difference"
    clusters = pairs.get("cluster")
    return PairedResult(
        model_a=model_a, model_b=model_b, n_items=len(pairs),
        n_clusters=int(pairs["cluster"].nunique()) if "cluster" in pairs else None,
        observed_diff=float(pairs["a"].mean() - pairs["b"].mean()), diff=diff,
        bootstrap=paired_bootstrap(pairs["a"], pairs["b"], clusters=clusters, n_boot=n_boot, seed=seed),
        mcnemar=mcnemar_exact(pairs["a"], pairs["b"]), se=clustered_se(pairs["a"], pairs["b"], clusters), fit=fit,
    )
