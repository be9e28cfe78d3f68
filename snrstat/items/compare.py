"""Frequentist views of models on shared items: pairing, McNemar, paired bootstrap, clustered SEs.

They sit beside the item model's posterior probabilities (:mod:`snrstat.items.fit`) so that a
reader sees the classical answer and the Bayesian one on the same items:

- McNemar's exact test (McNemar 1947): a binomial test on the discordant items;
- a seeded paired bootstrap of the accuracy difference over items, or over whole clusters
  (items of one passage or category are not independent);
- the cluster-robust (CR1) standard error of the accuracy difference with categories as
  clusters (Liang and Zeger 1986), as recommended for evaluation error bars when questions
  come in groups (Miller 2024, "Adding error bars to evals");
- all pairs at once, with Holm's step-down correction of the McNemar p-values (Holm 1979).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

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
    rows["_key"] = rows["subtask"].astype("string").fillna("") + "/" + rows["item"].astype("string")
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


def clustered_se(a, b, clusters=None) -> dict:
    """Standard error of acc(a) - acc(b): naive (items independent) and cluster-robust (CR1).

    CR1: ``sqrt(G / (G - 1) * sum_g (sum_{i in g} (d_i - dbar))^2) / n`` over G clusters.
    Returns ``{"diff", "se", "se_clustered", "n_clusters"}`` (se_clustered NaN without clusters).
    """
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    n = len(d)
    dbar = d.mean()
    se = float(d.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    out = {"diff": float(dbar), "se": se, "se_clustered": float("nan"), "n_clusters": None}
    if clusters is not None:
        codes, _ = pd.factorize(pd.Series(clusters))
        g = int(codes.max()) + 1
        resid = np.bincount(codes, weights=d - dbar, minlength=g)
        if g > 1:
            out["se_clustered"] = float(np.sqrt(g / (g - 1) * (resid**2).sum()) / n)
        out["n_clusters"] = g
    return out


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error control)."""
    p = np.asarray(pvalues, dtype=float)
    order = np.argsort(p)
    m = len(p)
    adj = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out


def compare_all_frequentist(matrix: np.ndarray, models, *, clusters=None, alpha: float = 0.05,
                            n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Every pair of models on the items both answered (``matrix``: model x item, NaN = no answer):
    accuracy difference, naive and clustered SE, paired-bootstrap interval, McNemar p-value and
    its Holm adjustment across all pairs, and whether the ordering is resolved at ``alpha``."""
    matrix = np.asarray(matrix, dtype=float)
    clusters = None if clusters is None else np.asarray(clusters)
    rows = []
    rng = np.random.SeedSequence(seed)
    seeds = rng.generate_state(len(models) * (len(models) - 1) // 2)
    k = 0
    for i in range(len(models)):
        for j in range(i + 1, len(models)):
            ok = ~np.isnan(matrix[i]) & ~np.isnan(matrix[j])
            a, b = matrix[i, ok], matrix[j, ok]
            cl = None if clusters is None else clusters[ok]
            se = clustered_se(a, b, cl)
            mc = mcnemar_exact(a, b)
            boot = paired_bootstrap(a, b, clusters=cl, n_boot=n_boot, seed=int(seeds[k]))
            k += 1
            lo, hi = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
            rows.append({"a": models[i], "b": models[j], "n_items": int(ok.sum()), "diff": se["diff"],
                         "se": se["se"], "se_clustered": se["se_clustered"], "boot_lo": float(lo), "boot_hi": float(hi),
                         "mcnemar_p": mc["p_value"]})
    out = pd.DataFrame(rows, columns=["a", "b", "n_items", "diff", "se", "se_clustered", "boot_lo", "boot_hi",
                                      "mcnemar_p"])
    out["mcnemar_p_holm"] = holm(out["mcnemar_p"].to_numpy()) if len(out) else pd.Series(dtype=float)
    out["resolved"] = out["mcnemar_p_holm"] < alpha
    return out
