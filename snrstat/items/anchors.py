"""Anchor subsets: k items whose answers predict a model's score on the whole benchmark.

Selection (:func:`select_anchors`): the k items are spread over the categories in proportion to
their size (largest remainders) and, within a category, over its range of difficulty: the
category's items are sorted by posterior difficulty, cut into equal-count strata, and each
stratum gives its most informative item (Fisher information at the fitted models' abilities).
This follows the idea of anchor points in tinyBenchmarks (Polo et al. 2024) with the item
model's own difficulties in place of their clustering of response patterns.

Prediction (:func:`predict_full_score`): for a new model answering only the anchors, per
posterior draw of the item parameters, its abilities (overall and per category) are drawn from
their posterior given the anchor answers (importance sampling from the population prior), its
answers to every other item from the model, and the full-benchmark score is the anchors' right
answers plus those; the predictive interval is over draws. :func:`check_anchors` checks its
coverage on models held out of both the item fit and the selection (leave models out), next to
a random subset of the same size (its plain mean with a finite-population binomial interval,
and the same item-model prediction).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from snrstat.inference.intervals import check_level, median_interval
from snrstat.items import quantities as Q
from snrstat.schema import DataError


#: Half-width of the uniform part of the importance proposal for a new model's ability (logit scale).
WIDE = 12.0


def _allocate(k: int, weights: np.ndarray, available: np.ndarray) -> np.ndarray:
    """k items over categories in proportion to ``weights`` (largest remainders), capped by ``available``."""
    raw = k * weights
    alloc = np.minimum(np.floor(raw).astype(int), available)
    while alloc.sum() < k:
        room = alloc < available
        if not room.any():
            break
        gain = np.where(room, raw - alloc, -np.inf)
        alloc[int(np.argmax(gain))] += 1
    return alloc


def select_anchors(fit, k: int = 100, *, method: str = "stratified", seed: int = 0, max_draws: int = 200) -> list[str]:
    """Item keys of a k-item anchor subset chosen from ``fit`` (see the module docstring).
    ``method="random"`` draws k items uniformly instead (the baseline)."""
    items = [str(i) for i in fit.idata.posterior["item"].values]
    if not 1 <= k <= len(items):
        raise DataError(f"k must lie between 1 and the number of items ({len(items)}), got {k!r}")
    if method == "random":
        rng = np.random.default_rng(seed)
        return sorted(rng.choice(items, size=k, replace=False).tolist())
    if method != "stratified":
        raise DataError(f"method must be 'stratified' or 'random', got {method!r}")
    p = fit.params(max_draws)
    info = np.median(Q.item_information(p), 0)
    diff = np.median(p.b, 0)
    cat = p.item_category
    counts = np.bincount(cat, minlength=p.n_categories)
    alloc = _allocate(k, counts / counts.sum(), counts)
    chosen = []
    for c in range(p.n_categories):
        if alloc[c] == 0:
            continue
        idx = np.flatnonzero(cat == c)
        idx = idx[np.argsort(diff[idx], kind="mergesort")]
        for stratum in np.array_split(idx, alloc[c]):
            chosen.append(items[stratum[np.argmax(info[stratum])]])
    return sorted(chosen)


def predict_full_score(fit, answers: pd.Series, *, n_total: int | None = None, level: float | None = None,
                       max_draws: int = 400, n_importance: int = 2000, seed: int = 0) -> dict:
    """Predictive distribution of a new model's score on all of ``fit``'s items from its answers
    to some of them (``answers``: 0/1 indexed by item key). Returns median, lo, hi, the draws
    and the effective importance sample size (its minimum over draws)."""
    level = fit.level if level is None else check_level(level)
    items = pd.Index([str(i) for i in fit.idata.posterior["item"].values])
    pos = items.get_indexer(answers.index.astype(str))
    if (pos < 0).any():
        raise DataError(f"answers name items that are not in the fit: {list(answers.index[pos < 0][:5])}")
    y = np.asarray(answers, dtype=float)
    p = fit.params(max_draws)
    rng = np.random.default_rng(seed)
    S, C = p.n_draws, p.n_categories
    g = p.guess
    n_total = len(items) if n_total is None else n_total
    rest = np.ones(len(items), dtype=bool)
    rest[pos] = False
    # a new model's ability relative to the fitted models' mean: sd sigma_theta * sqrt(1 + 1/M)
    m_fit = p.theta.shape[1]
    sig_t = (p.sigma_theta if p.sigma_theta is not None else np.full(S, 2.0)) * np.sqrt(1 + 1 / m_fit)
    preds = np.empty(S)
    ess_min = np.inf
    cat_a = p.item_category[pos]
    for s in range(S):
        # defensive mixture proposal (Hesterberg 1995): half from the population prior, half
        # uniform over a wide range, so a model stronger or weaker than every fitted one still
        # gets candidates where its answers put it
        half = n_importance // 2
        th = np.r_[rng.normal(0, sig_t[s], half), rng.uniform(-WIDE, WIDE, n_importance - half)]
        log_prior = stats.norm.logpdf(th, 0, sig_t[s])
        log_prop = np.logaddexp(np.log(0.5) + log_prior, np.log(0.5) - np.log(2 * WIDE) + np.where(np.abs(th) <= WIDE, 0, -np.inf))
        de = (rng.normal(0, p.sigma_mc[s], (n_importance, C)) if p.delta is not None else np.zeros((n_importance, C)))
        de -= de.mean(1, keepdims=True)  # zero-sum over categories, as each fitted model's row
        a_anchor = 1.0 if p.a is None else p.a[s, pos]
        eta = a_anchor * (th[:, None] + de[:, cat_a] - p.b[s, pos][None, :])
        lp = np.where(y == 1, np.logaddexp(np.log(g) if g > 0 else -np.inf, np.log1p(-g) - np.logaddexp(0, -eta)),
                      np.log1p(-g) - np.logaddexp(0, eta)).sum(1) + log_prior - log_prop
        w = np.exp(lp - lp.max())
        w /= w.sum()
        ess_min = min(ess_min, 1.0 / (w**2).sum())
        j = rng.choice(n_importance, p=w)
        a_rest = 1.0 if p.a is None else p.a[s, rest]
        prob = Q.response_prob(a_rest * (th[j] + de[j, p.item_category[rest]] - p.b[s, rest]), g)
        right_rest = rng.normal(prob.sum(), np.sqrt((prob * (1 - prob)).sum()))
        preds[s] = (y.sum() + right_rest) / n_total
    med, lo, hi = median_interval(preds, level)
    return {"median": med, "lo": lo, "hi": hi, "draws": preds, "ess_min": float(ess_min)}


def subset_mean_interval(y, n_total: int, level: float) -> tuple[float, float, float]:
    """The subset's mean and a normal interval with the finite-population correction
    (k items drawn without replacement from n_total), clipped to [0, 1]."""
    y = np.asarray(y, dtype=float)
    k = len(y)
    m = y.mean()
    # half a success added to each side keeps the interval open at 0 or 1 right answers
    pm = (y.sum() + 0.5) / (k + 1)
    se = np.sqrt(pm * (1 - pm) / k * max(n_total - k, 0) / max(n_total - 1, 1))
    z = stats.norm.ppf(0.5 + level / 2)
    return float(m), float(max(0.0, m - z * se)), float(min(1.0, m + z * se))


def check_anchors(frame: pd.DataFrame, *, k: int = 100, folds: int = 5, level: float = 0.9, seed: int = 0,
                  fit_kwargs: dict | None = None, max_draws: int = 300, n_importance: int = 2000,
                  progress=None) -> pd.DataFrame:
    """Leave-models-out check of anchor predictions.

    Models are split into ``folds``; for each fold the item model is fitted to the other models
    only, anchors are selected from that fit, and each held-out model's full-benchmark score
    (its accuracy over every item of the fit that it answered) is predicted from its answers to
    the anchors. The same is done for a random subset of k items. One row per (held-out model,
    method) with the prediction, interval, the true score and whether the interval covers it.
    """
    from snrstat.items.design import item_design
    from snrstat.items.fit import fit_items

    fit_kwargs = dict(fit_kwargs or {})
    level = check_level(level)
    design = item_design(frame, task=fit_kwargs.get("task"), metric=fit_kwargs.get("metric"))
    models = list(design.models)
    if len(models) < folds or folds < 2:
        raise DataError(f"folds must lie between 2 and the number of models ({len(models)}), got {folds}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(models))
    matrix = design.matrix()
    resp_model = design.resp_model
    rows = []
    for f, held in enumerate(np.array_split(order, folds)):
        held_names = [models[i] for i in held]
        train = [m for m in models if m not in held_names]
        fit = fit_items(frame, models=train, **fit_kwargs)
        fit_items_idx = pd.Index([str(i) for i in fit.idata.posterior["item"].values])
        anchor_sets = {"anchors": select_anchors(fit, k, method="stratified"),
                       "random": select_anchors(fit, k, method="random", seed=seed + f)}
        for i in held:
            r = np.flatnonzero(resp_model == i)
            if len(r) != 1:
                raise DataError("check_anchors needs one respondent (run and checkpoint) per model")
            ans = pd.Series(matrix[r[0]], index=pd.Index(design.items))
            ans = ans[ans.notna() & ans.index.isin(fit_items_idx)]
            truth = float(ans.mean())
            for name, chosen in anchor_sets.items():
                sub = ans[ans.index.isin(chosen)]
                pred = predict_full_score(fit, sub, n_total=len(ans), level=level, max_draws=max_draws,
                                          n_importance=n_importance, seed=seed + 1000 * f + int(i))
                rows.append({"fold": f, "model": models[i], "method": f"{name} (item model)", "k": len(sub),
                             "truth": truth, "pred": pred["median"], "lo": pred["lo"], "hi": pred["hi"],
                             "ess_min": pred["ess_min"]})
                if name == "random":
                    m, lo, hi = subset_mean_interval(sub.to_numpy(), len(ans), level)
                    rows.append({"fold": f, "model": models[i], "method": "random (subset mean)", "k": len(sub),
                                 "truth": truth, "pred": m, "lo": lo, "hi": hi, "ess_min": np.nan})
        if progress is not None:
            progress(f, folds)
    out = pd.DataFrame(rows)
    out["covered"] = (out["lo"] <= out["truth"]) & (out["truth"] <= out["hi"])
    out["abs_error"] = (out["pred"] - out["truth"]).abs()
    out["width"] = out["hi"] - out["lo"]
    return out


def anchor_summary(check: pd.DataFrame, level: float = 0.9) -> pd.DataFrame:
    """Coverage (with its binomial 95% range under the nominal rate), mean absolute error and
    mean interval width per method of :func:`check_anchors`."""
    rows = []
    for method, g in check.groupby("method", sort=False):
        n = len(g)
        lo, hi = stats.binom.ppf([0.025, 0.975], n, level) / n
        rows.append({"method": method, "models": n, "coverage": g["covered"].mean(), "nominal": level,
                     "nominal_range": f"[{lo:.2f}, {hi:.2f}]", "mae": g["abs_error"].mean(), "width": g["width"].mean()})
    return pd.DataFrame(rows).set_index("method")
