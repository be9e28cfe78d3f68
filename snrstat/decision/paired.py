"""Two models on the same items: a paired comparison of accuracy.

Item-level records (column ``item``, values 0/1 per item, from lm-eval samples or OLMES
predictions) let a comparison pair the two models' answers item by item. Three views,
side by side:

- a Bayesian item model (PyMC, sampled with nutpie):
  ``y[model, item] ~ Bernoulli(invlogit(mu[model] + u[item] + c[cluster]))`` with item
  effects ``u ~ N(0, sigma_item)`` (difficulty shared by both models) and optional
  clusters of items sharing a passage ``c ~ N(0, sigma_cluster)``. The estimand is the
  accuracy difference on the population of items the benchmark samples:
  ``E[invlogit(mu_a + v) - invlogit(mu_b + v)]`` with ``v ~ N(0, sigma_item^2 +
  sigma_cluster^2)``, integrated per draw by Gauss-Hermite quadrature;
- McNemar's exact test (a binomial test on the discordant items);
- a seeded paired bootstrap of the accuracy difference over items, or over whole
  clusters when clusters are given (items of one passage are not independent).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr
from scipy import special, stats

from snrstat.decision._draws import interval
from snrstat.schema import DataError, validate


def paired_items(frame: pd.DataFrame, model_a: str, model_b: str, *, task: str | None = None,
                 metric: str | None = None, step: int | None = None, cluster: str | None = None) -> pd.DataFrame:
    """One row per item scored for both models: columns item, a, b (0/1) and cluster.

    Items are keyed by (subtask, item) so that suites whose subtasks reuse item ids stay
    apart. Each model must have exactly one record per item (choose ``step`` otherwise).
    """
    if "item" not in frame.columns:
        raise DataError("paired comparison needs item-level records: the frame has no 'item' column")
    if cluster is not None and cluster not in frame.columns:
        raise DataError(f"cluster column {cluster!r} is not in the frame; columns: {list(frame.columns)}")
    frame = validate(frame)
    rows = frame[frame["item"].notna()]
    if rows.empty:
        raise DataError("column 'item' is empty in every row: no item-level records")
    for col, want in (("task", task), ("metric", metric)):
        have = sorted(rows[col].unique())
        if want is None:
            if len(have) != 1:
                raise DataError(f"item-level records have several {col}s {have}; choose one with {col}=")
            want = have[0]
        elif want not in have:
            raise DataError(f"{col} {want!r} has no item-level records; available: {have}")
        rows = rows[rows[col] == want]
    if step is not None:
        rows = rows[rows["step"] == step]
        if rows.empty:
            raise DataError(f"no item-level records at step {step}")
    models = set(rows["model"].unique())
    missing = [m for m in (model_a, model_b) if m not in models]
    if missing:
        raise DataError(f"model(s) {missing} have no item-level records here; available: {sorted(models)}")
    if model_a == model_b:
        raise DataError("model_a and model_b are the same model")
    rows = rows[rows["model"].isin([model_a, model_b])].copy()
    rows["_key"] = rows["subtask"].fillna("").astype(str) + "/" + rows["item"].astype(str)
    dup = rows.duplicated(["model", "_key"], keep=False)
    if dup.any():
        first = rows.loc[dup].iloc[0]
        raise DataError(
            f"model {first['model']!r} has several records for item {first['_key']!r} "
            f"(steps {sorted(rows.loc[dup, 'step'].dropna().unique())[:5]}, seeds or sizes); choose one with step= or filter first"
        )
    bad = rows.loc[~rows["value"].isin([0.0, 1.0]), "value"]
    if len(bad):
        raise DataError(f"column 'value' must be 0/1 per item for a paired comparison; got {sorted(bad.unique())[:5]}")
    wide = rows.pivot(index="_key", columns="model", values="value").dropna()
    if wide.empty:
        raise DataError(f"models {model_a!r} and {model_b!r} share no items")
    out = pd.DataFrame({"item": wide.index.to_numpy(), "a": wide[model_a].to_numpy(dtype=int),
                        "b": wide[model_b].to_numpy(dtype=int)})
    if cluster is not None:
        cl = rows.drop_duplicates("_key").set_index("_key")[cluster]
        per_item = rows.groupby("_key")[cluster].nunique(dropna=False)
        if (per_item > 1).any():
            raise DataError(f"cluster column {cluster!r} differs between the models' records of one item")
        out["cluster"] = cl.loc[wide.index].astype("string").fillna("NA").to_numpy()
    return out


def mcnemar_exact(a, b) -> dict:
    """McNemar's exact test: discordant counts and the two-sided binomial p-value."""
    a, b = np.asarray(a, dtype=int), np.asarray(b, dtype=int)
    only_a = int(((a == 1) & (b == 0)).sum())
    only_b = int(((a == 0) & (b == 1)).sum())
    n = only_a + only_b
    p = 1.0 if n == 0 else float(stats.binomtest(only_a, n, 0.5).pvalue)
    return {"only_a": only_a, "only_b": only_b, "p_value": p}


def paired_bootstrap(a, b, *, clusters=None, n_boot: int = 10_000, seed: int = 0) -> np.ndarray:
    """Bootstrap draws of acc(a) - acc(b), resampling items (or whole clusters) with replacement."""
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if clusters is None:
        sums, sizes = d, np.ones_like(d)
    else:
        codes, _ = pd.factorize(pd.Series(clusters))
        sums = np.bincount(codes, weights=d)
        sizes = np.bincount(codes).astype(float)
    rng = np.random.default_rng(seed)
    n = len(sums)
    out = np.empty(n_boot)
    for start in range(0, n_boot, 500):
        stop = min(n_boot, start + 500)
        counts = rng.multinomial(n, np.full(n, 1.0 / n), size=stop - start)
        out[start:stop] = (counts @ sums) / (counts @ sizes)
    return out


@dataclass
class PairedResult:
    """The three views of a paired comparison; ``diff`` is the posterior (chain, draw)."""

    model_a: str
    model_b: str
    n_items: int
    n_clusters: int | None
    observed_diff: float
    diff: xr.DataArray
    bootstrap: np.ndarray = field(repr=False)
    mcnemar: dict = field(default_factory=dict)
    idata: object = field(default=None, repr=False)
    warnings: list[str] = field(default_factory=list)

    @property
    def p_a_better(self) -> float:
        """Posterior P(model_a's population accuracy > model_b's)."""
        return float((self.diff.values > 0).mean())

    def summary(self, level: float = 0.9) -> pd.DataFrame:
        """Estimate and interval of acc(a) - acc(b) under each method (rows), with p-values/probabilities."""
        med, lo, hi = interval(self.diff.values, level)
        _, blo, bhi = interval(self.bootstrap, level)
        return pd.DataFrame([
            {"method": "bayes (item model)", "estimate": med, "lo": lo, "hi": hi,
             "p_a_better": self.p_a_better, "p_value": np.nan},
            {"method": "paired bootstrap", "estimate": self.observed_diff, "lo": blo, "hi": bhi,
             "p_a_better": float((self.bootstrap > 0).mean()), "p_value": np.nan},
            {"method": "McNemar exact", "estimate": self.observed_diff, "lo": np.nan, "hi": np.nan,
             "p_a_better": np.nan, "p_value": self.mcnemar["p_value"]},
        ]).set_index("method")


def build_item_model(pairs: pd.DataFrame):
    """The PyMC item model of a paired table (columns a, b, optional cluster)."""
    import pymc as pm

    n = len(pairs)
    y = np.stack([pairs["a"].to_numpy(), pairs["b"].to_numpy()])
    coords = {"model": ["a", "b"], "item": np.arange(n)}
    has_cluster = "cluster" in pairs
    if has_cluster:
        cl_codes, cl_names = pd.factorize(pairs["cluster"])
        coords["cluster"] = list(cl_names)
    with pm.Model(coords=coords) as model:
        mu = pm.Normal("mu", 0.0, 2.5, dims="model")
        sigma_item = pm.HalfNormal("sigma_item", 3.0)
        z = pm.Normal("z_item", 0.0, 1.0, dims="item")
        eta = mu[:, None] + (sigma_item * z)[None, :]
        if has_cluster:
            sigma_cluster = pm.HalfNormal("sigma_cluster", 1.5)
            zc = pm.Normal("z_cluster", 0.0, 1.0, dims="cluster")
            eta = eta + (sigma_cluster * zc)[cl_codes][None, :]
        pm.Bernoulli("y", logit_p=eta, observed=y, dims=("model", "item"))
    return model


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
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 2,
    seed: int = 0,
    sampler: str = "nutpie",
    n_boot: int = 10_000,
) -> PairedResult:
    """Compare two models' accuracy on the same items (see the module docstring).

    ``cluster`` names a column whose value is shared by items of one passage (or, for a
    suite, e.g. 'subtask'); it adds a cluster level to the item model and makes the
    bootstrap resample clusters.
    """
    pairs = paired_items(frame, model_a, model_b, task=task, metric=metric, step=step, cluster=cluster)
    from snrstat.decision._sampling import health, sample

    model = build_item_model(pairs)
    idata = sample(model, draws=draws, tune=tune, chains=chains, seed=seed, sampler=sampler)
    post = idata.posterior
    spread2 = post["sigma_item"] ** 2
    if "sigma_cluster" in post:
        spread2 = spread2 + post["sigma_cluster"] ** 2
    diff = population_difference(post["mu"].sel(model="a").values, post["mu"].sel(model="b").values,
                                 np.sqrt(spread2.values))
    diff = xr.DataArray(diff, dims=("chain", "draw"), coords={"chain": post["chain"].values, "draw": post["draw"].values},
                        name="accuracy_difference")
    var_names = ["mu", "sigma_item"] + (["sigma_cluster"] if "sigma_cluster" in post else [])
    return PairedResult(
        model_a=model_a, model_b=model_b, n_items=len(pairs),
        n_clusters=int(pairs["cluster"].nunique()) if "cluster" in pairs else None,
        observed_diff=float(pairs["a"].mean() - pairs["b"].mean()), diff=diff,
        bootstrap=paired_bootstrap(pairs["a"], pairs["b"], clusters=pairs.get("cluster"), n_boot=n_boot, seed=seed),
        mcnemar=mcnemar_exact(pairs["a"], pairs["b"]), idata=idata, warnings=health(idata, var_names),
    )
