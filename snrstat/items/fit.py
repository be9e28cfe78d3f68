"""Fitting the item model and reading it: :func:`fit_items` -> :class:`ItemFit`.

Two ways to draw the posterior, both through PyMC:

- ``method="nuts"``: NUTS through :func:`snrstat.inference.sample` (nutpie, PyMC fallback,
  divergence retry), with the usual diagnostics (R-hat, ESS, divergences, E-BFMI);
- ``method="advi"``: mean-field ADVI (Kucukelbir et al. 2017, ``pymc.fit``, Adam), for matrices too large for NUTS on two cores (all of MMLU-Pro: 350,000
  answers, 12,000 difficulties: NUTS takes about 90 minutes on two cores). Against NUTS
  (``validation/items_advi.py``, ``validation/results/items_advi.md``) its medians are within
  0.015 but P(A > B) of close pairs is off by up to 0.22, outside the stated tolerances; the
  fit's diagnostics say that it is an approximation and whether the ELBO settled.

``method="auto"`` picks NUTS below :data:`NUTS_MAX_CELLS` (model, item) cells and ADVI above.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd
import xarray as xr

from snrstat.inference import Diagnostics, Fit, SamplerSettings, diagnose, register_fit, sample
from snrstat.inference.intervals import check_level, median_interval
from snrstat.items import quantities as Q
from snrstat.items.design import ItemDesign, ItemPriors, ItemSpec, item_design, item_spec
from snrstat.items.model import SUMMARY_VARS, build_item_model
from snrstat.schema import DataError

METHODS = ("auto", "nuts", "advi")
#: Above this many (respondent, item) cells, ``method="auto"`` uses ADVI.
NUTS_MAX_CELLS = 60_000
#: ADVI: iterations, learning rate, draws kept.
ADVI_ITERATIONS = 8_000
ADVI_LEARNING_RATE = 0.02

#: Posterior variables kept in the fit (raw non-centred z's are dropped).
KEEP = ("theta", "sigma_theta", "mu_b", "tau", "mu_c", "sigma_c", "b", "a", "sigma_a", "delta", "sigma_mc",
        "sigma_run", "sigma_ckpt", "zr", "zw")


@register_fit
class ItemFit(Fit):
    """A fitted item-response model (Madaan et al. 2024; Lord 1980 for item response theory).

    ``summary()`` rows: each model's ability ``theta``, its expected score on this item set
    (``score_items``, point = the observed accuracy) and on the population of items
    (``score_population``), and the hyperparameters. Methods read further quantities off the
    same draws: :meth:`scores`, :meth:`prob_superior`, :meth:`orderings`, :meth:`variance_shares`,
    :meth:`items_needed`, :meth:`item_table`.
    """

    kind = "items"
    summary_vars = ("score_items", "score_population", "theta") + tuple(v for v in SUMMARY_VARS if v != "theta")

    # ------------------------------------------------------------------ parameters
    @property
    def models(self) -> list[str]:
        return [str(m) for m in self.idata.posterior["model"].values]

    @property
    def spec(self) -> ItemSpec:
        return ItemSpec.from_dict(self.config["spec"])

    def params(self, max_draws: int | None = None) -> Q.Params:
        """Posterior draws as flat arrays (:class:`snrstat.items.quantities.Params`)."""
        post = self.idata.posterior
        n = post.sizes["chain"] * post.sizes["draw"]
        idx = slice(None) if max_draws is None or max_draws >= n else np.linspace(0, n - 1, max_draws).astype(int)

        def get(name):
            if name not in post:
                return None
            da = post[name].stack(sample=("chain", "draw"))
            da = da.transpose("sample", *[d for d in da.dims if d != "sample"])
            return np.asarray(da.values, dtype=float)[idx]

        spec = self.spec
        return Q.Params(theta=get("theta"), b=get("b"), mu_c=get("mu_c"), sigma_c=get("sigma_c"),
                        item_category=np.asarray(self.idata.constant_data["item_category"].values, dtype=int),
                        guess=spec.guess, a=get("a"), sigma_a=get("sigma_a"), delta=get("delta"),
                        sigma_mc=get("sigma_mc"), sigma_run=get("sigma_run"), sigma_ckpt=get("sigma_ckpt"),
                        sigma_theta=get("sigma_theta"))

    def _as_draws(self, values: np.ndarray, dims=("model",), coords=None) -> xr.DataArray:
        post = self.idata.posterior
        c, d = post.sizes["chain"], post.sizes["draw"]
        arr = np.asarray(values).reshape((c, d) + np.asarray(values).shape[1:])
        coords = {"chain": post["chain"].values, "draw": post["draw"].values, **(coords or {"model": self.models})}
        return xr.DataArray(arr, dims=("chain", "draw") + tuple(dims), coords=coords)

    # ------------------------------------------------------------------ quantities
    def scores(self, level: float | None = None) -> pd.DataFrame:
        """Each model's observed accuracy, its expected score on this item set and on the
        population of items (median, lo, hi), and the item-sampling sd of its score."""
        level = self.level if level is None else check_level(level)
        post = self.idata.posterior
        rows = []
        var = self.variance_components_draws()
        for m in self.models:
            si = median_interval(post["score_items"].sel(model=m).values, level)
            sp = median_interval(post["score_population"].sel(model=m).values, level)
            sd = np.sqrt(var["item"].sel(model=m) + var["answer"].sel(model=m)).values
            rows.append({"model": m, "observed": self.config["observed"][m], "n_items": self.config["n_items"][m],
                         "items_median": si[0], "items_lo": si[1], "items_hi": si[2],
                         "population_median": sp[0], "population_lo": sp[1], "population_hi": sp[2],
                         "item_sampling_sd": float(np.median(sd))})
        return pd.DataFrame(rows).set_index("model").sort_values("population_median", ascending=False)

    def prob_superior(self, on: str = "population") -> pd.DataFrame:
        """P(row model's score > column model's score), every pair, on the population of items
        (``on="population"``) or on this item set (``on="items"``)."""
        name = {"population": "score_population", "items": "score_items"}.get(on)
        if name is None:
            raise DataError(f"on must be 'population' or 'items', got {on!r}")
        s = self.draws(name).stack(sample=("chain", "draw")).transpose("sample", "model").values
        return pd.DataFrame(Q.prob_superior(s), index=self.models, columns=self.models)

    def orderings(self, *, level: float = 0.95, tie: float = 0.005) -> tuple[pd.DataFrame, float]:
        """Which pairwise orderings of population scores the posterior resolves, jointly at
        ``level`` (see :func:`snrstat.items.quantities.resolved_orderings`), and practical ties
        (``|difference| < tie`` with probability >= level). Returns (table, joint probability)."""
        s = self.draws("score_population").stack(sample=("chain", "draw")).transpose("sample", "model").values
        rows, joint = Q.resolved_orderings(s, self.models, level=level, tie=tie)
        return pd.DataFrame(rows, columns=["a", "b", "p_a_better", "p_tie", "diff_median", "status"]), joint

    @property
    def repeats(self) -> float:
        """Answers per (respondent, item) cell in the data: repeated trials or epochs of one
        checkpoint on one item (1 for a benchmark answered once)."""
        d = self.config["design"]
        return d["answers"] / max(1, d["cells"])

    def variance_components_draws(self, n_items: int | None = None,
                                  repeats: float | None = None) -> dict[str, xr.DataArray]:
        """Variance of each model's score over re-drawn benchmarks of ``n_items`` items (default:
        this benchmark's size), each answered ``repeats`` times (default: as in the data), by
        source: item, answer, run, ckpt (draws, dims chain/draw/model). Repeats average the
        answer noise only: an item's difficulty is shared by every trial on it."""
        key = ("_var", n_items, repeats)
        cache = self.__dict__.setdefault("_cache", {})
        if key not in cache:
            n = n_items or int(self.config["design"]["items"])
            r = self.repeats if repeats is None else float(repeats)
            if not r > 0:
                raise DataError(f"repeats must be positive, got {repeats!r}")
            comps = Q.variance_components(self.params(), n)
            comps["answer"] = comps["answer"] / r
            cache[key] = {k: self._as_draws(v) for k, v in comps.items()}
        return cache[key]

    def variance_shares(self, n_items: int | None = None, level: float | None = None,
                        repeats: float | None = None) -> pd.DataFrame:
        """Share of a score's variance from each source, averaged over the models (median and
        interval): item sampling (difficulties), answer noise (over ``repeats`` trials per item,
        default as in the data), run and checkpoint (training) noise.

        Training terms absent from the model (one run per model, one checkpoint per run) are NaN:
        the data cannot separate them (see ``spec.dropped``)."""
        level = self.level if level is None else check_level(level)
        comps = self.variance_components_draws(n_items, repeats)
        total = sum(comps.values())
        rows = []
        spec = self.spec
        present = {"item": True, "answer": True, "run": spec.run, "ckpt": spec.ckpt}
        for name, v in comps.items():
            share = (v / total).mean("model").values
            sd = np.sqrt(v).mean("model").values
            med, lo, hi = median_interval(share, level) if present[name] else (np.nan,) * 3
            sdm = median_interval(sd, level) if present[name] else (np.nan,) * 3
            rows.append({"source": name, "share": med, "lo": lo, "hi": hi, "sd": sdm[0], "sd_lo": sdm[1], "sd_hi": sdm[2]})
        return pd.DataFrame(rows).set_index("source")

    def items_needed(self, gap: float | None = None, *, model_a: str | None = None, model_b: str | None = None,
                     power: float = 0.8, alpha: float = 0.05, level: float | None = None,
                     max_draws: int = 400) -> dict:
        """Items a paired comparison needs to separate two models with ``power`` at ``alpha``.

        Give ``gap`` (a difference in population accuracy, for a typical model of this fit) or
        two models of the fit. Returns the median and interval of the item count over the draws.
        """
        level = self.level if level is None else check_level(level)
        p = self.params(max_draws)
        if gap is not None:
            if not 0 < gap < 1:
                raise DataError(f"gap must be a difference in accuracy in (0, 1), got {gap!r}")
            n = Q.items_for_gap(p, gap, power=power, alpha=alpha)
            what = {"gap": gap}
        else:
            ia, ib = (self._model_index(m) for m in (model_a, model_b))
            d, v = Q.paired_item_variance(p, ia, ib)
            n = Q.items_for_power(d, v, power=power, alpha=alpha)
            what = {"model_a": model_a, "model_b": model_b, "gap": float(np.median(d))}
        med, lo, hi = median_interval(np.where(np.isfinite(n), n, np.nan), level)
        return {**what, "power": power, "alpha": alpha, "items_median": med, "items_lo": lo, "items_hi": hi,
                "benchmark_items": int(self.config["design"]["items"])}

    def _model_index(self, name) -> int:
        if name not in self.models:
            raise DataError(f"model {name!r} is not in this fit; models: {self.models}")
        return self.models.index(name)

    def item_table(self, max_draws: int = 200) -> pd.DataFrame:
        """One row per item: category, posterior median difficulty (and discrimination), its sd,
        and the Fisher information at the models' abilities; most informative first."""
        p = self.params(max_draws)
        info = Q.item_information(p)
        post = self.idata.posterior
        items = [str(i) for i in post["item"].values]
        cats = [str(c) for c in post["category"].values]
        out = pd.DataFrame({"item": items, "category": [cats[c] for c in p.item_category],
                            "difficulty": np.median(p.b, 0), "difficulty_sd": p.b.std(0),
                            "information": np.median(info, 0)})
        if p.a is not None:
            out["discrimination"] = np.median(p.a, 0)
        return out.set_index("item").sort_values("information", ascending=False)

    def _extra(self) -> dict:
        return {}


def _derived(idata, params: Q.Params) -> None:
    """Add the model scores to the posterior as (chain, draw, model) variables."""
    post = idata.posterior
    c, d = post.sizes["chain"], post.sizes["draw"]
    for name, values in (("score_items", Q.score_on_items(params)), ("score_population", Q.score_population(params))):
        post[name] = (("chain", "draw", "model"), values.reshape(c, d, -1))


def _params_from_posterior(post, item_category, spec) -> Q.Params:
    def get(name):
        if name not in post:
            return None
        da = post[name].stack(sample=("chain", "draw"))
        return np.asarray(da.transpose("sample", *[x for x in da.dims if x != "sample"]).values, dtype=float)

    return Q.Params(theta=get("theta"), b=get("b"), mu_c=get("mu_c"), sigma_c=get("sigma_c"),
                    item_category=item_category, guess=spec.guess, a=get("a"), sigma_a=get("sigma_a"),
                    delta=get("delta"), sigma_mc=get("sigma_mc"), sigma_run=get("sigma_run"),
                    sigma_ckpt=get("sigma_ckpt"), sigma_theta=get("sigma_theta"))


def _advi(model, settings: SamplerSettings, iterations: int, learning_rate: float):
    """Mean-field ADVI draws as InferenceData (one chain) and the ELBO trace."""
    import pymc as pm
    from pymc.variational.callbacks import CheckParametersConvergence

    t0 = time.perf_counter()
    with model, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # no start at the joint mode: in a hierarchical model it collapses the scales to zero
        # (sigma_theta -> 0), a far worse start than the prior's centre
        approx = pm.fit(n=iterations, method=pm.ADVI(random_seed=settings.random_seed),
                        random_seed=settings.random_seed, progressbar=settings.progress,
                        obj_optimizer=pm.adam(learning_rate=learning_rate),
                        callbacks=[CheckParametersConvergence(every=500, diff="absolute", tolerance=1e-3)])
        idata = approx.sample(settings.draws * settings.chains, random_seed=settings.random_seed)
    post = idata.posterior
    n = settings.draws * settings.chains
    post = post.isel(chain=0).drop_vars("chain").assign_coords(draw=np.arange(n))
    post = post.coarsen(draw=settings.draws).construct(draw=("chain", "draw")).assign_coords(
        chain=np.arange(settings.chains), draw=np.arange(settings.draws))
    idata.posterior = post
    hist = np.asarray(approx.hist)
    idata.attrs.update({"sampler": "advi", "sample_s": time.perf_counter() - t0, "iterations": len(hist)})
    return idata, hist


def _advi_diagnostics(hist: np.ndarray, n_draws: int, iterations: int) -> Diagnostics:
    table = pd.DataFrame(columns=["r_hat", "ess_bulk", "ess_tail", "ok"], dtype=float)
    msgs = []
    tail = hist[-min(len(hist), 2000):]
    half = len(tail) // 2
    # the loss of the last iterations should no longer trend down
    drift = float(np.mean(tail[:half]) - np.mean(tail[half:])) if half else np.nan
    spread = float(np.std(tail)) if len(tail) else np.nan
    if len(hist) >= iterations and np.isfinite(drift) and drift > 0.5 * spread:
        msgs.append(f"ADVI's loss still falls at the last iteration (by {drift:.1f}, noise {spread:.1f}): "
                    "raise advi_iterations=")
    checks = [f"mean-field ADVI approximation ({len(hist)} iterations): no R-hat or ESS; against NUTS on MMLU-Pro "
              "its score medians differ by up to 0.015 and P(A > B) for close pairs by up to 0.22 "
              "(validation/results/items_advi.md): use method='nuts' for final figures"]
    return Diagnostics(table, 0, [], n_draws, msgs, checks)


def _score_check(score_items, observed: pd.Series, n_answers: np.ndarray, spec: ItemSpec) -> list[str]:
    """Posterior predictive check of each model's accuracy on the fitted items: the observed
    accuracy against the expected one plus answer noise (normal approximation of the binomial).
    A model outside the central 99% is misfitted, e.g. a guessing floor above what a model that
    often gives no valid answer scores on hard items."""
    s = score_items.stack(sample=("chain", "draw")).transpose("sample", "model").values
    pred_sd = np.sqrt(s.var(0) + (s * (1 - s)).mean(0) / np.maximum(n_answers, 1))
    z = (observed.to_numpy() - s.mean(0)) / pred_sd
    bad = np.flatnonzero(np.abs(z) > 2.576)
    if not len(bad):
        return []
    worst = bad[np.argsort(-np.abs(z[bad]))][:5]
    text = ", ".join(f"{observed.index[i]} (observed {observed.iloc[i]:.3f}, expected {s.mean(0)[i]:.3f})"
                     for i in worst)
    hint = (f"; most below expectation: the guessing floor {spec.guess:.2g} may be too high (answers that could "
            "not be read count as wrong), try n_options=None" if spec.guess > 0 and (z[bad] < 0).mean() > 0.5
            else "")
    return [f"{len(bad)} of {len(z)} models' observed accuracy lies outside the 99% posterior predictive "
            f"interval of their score on these items: {text}{hint}"]


def fit_items(
    frame: pd.DataFrame,
    *,
    task: str | None = None,
    metric: str | None = None,
    models: list[str] | None = None,
    category: str | None = "subtask",
    last_n: int | None = None,
    twopl: bool = False,
    n_options: int | None = None,
    interaction: bool | str = "auto",
    training: bool | str = "auto",
    priors: ItemPriors | None = None,
    method: str = "auto",
    settings: SamplerSettings | dict | None = None,
    random_seed: int | None = None,
    draws: int | None = None,
    tune: int | None = None,
    chains: int | None = None,
    advi_iterations: int = ADVI_ITERATIONS,
    level: float = 0.9,
) -> ItemFit:
    """Fit the hierarchical item-response model to item-level records (Madaan et al. 2024; Lord 1980 for item response theory).

    ``P(correct) = g + (1 - g) logistic(a_i (theta_m + delta_mc + u_run + w_ckpt - b_i))``: model
    abilities, item difficulties pooled by ``category`` (default: the subtask), an optional 2PL
    discrimination (``twopl=True``), a guessing floor ``g = 1 / n_options`` where the number of
    answer options is known, model-by-category abilities (``interaction``), and run and
    checkpoint terms where several seeds or checkpoints of a run are scored on the same items
    (``training``), which separates item-sampling noise (shared by every checkpoint scored on
    one item set) from training noise. See :mod:`snrstat.items.fit` for ``method``.
    """
    if method not in METHODS:
        raise DataError(f"method must be one of {METHODS}, got {method!r}")
    settings = SamplerSettings.build(settings, random_seed=random_seed, draws=draws, tune=tune, chains=chains)
    t0 = time.perf_counter()
    design = item_design(frame, task=task, metric=metric, models=models, category=category, last_n=last_n)
    spec = item_spec(design, twopl=twopl, n_options=n_options, interaction=interaction, training=training,
                     priors=priors)
    return fit_design(design, spec, method=method, settings=settings, advi_iterations=advi_iterations,
                      level=level, prepare_s=time.perf_counter() - t0)


def fit_design(design: ItemDesign, spec: ItemSpec, *, method: str = "auto", settings: SamplerSettings | None = None,
               advi_iterations: int = ADVI_ITERATIONS, level: float = 0.9, prepare_s: float = 0.0,
               compile_key=None) -> ItemFit:
    """Fit an already built design (used by :func:`fit_items`, simulations and benchmarks).
    ``compile_key`` reuses a nutpie compilation across designs of one shape (data swapped)."""
    settings = settings or SamplerSettings()
    if method == "auto":
        method = "nuts" if design.n_cells <= NUTS_MAX_CELLS else "advi"
    model = build_item_model(design, spec)
    if method == "nuts":
        idata = sample(model, settings, key=compile_key, data={"k": design.k.astype("float64")},
                       keep=lambda v: v in KEEP)
        diag_vars = [v for v in ("theta" if len(design.models) > 1 else "mu_b", "sigma_theta", "mu_b", "tau", "sigma_c", "sigma_a", "sigma_mc",
                                 "sigma_run", "sigma_ckpt", "b") if v in idata.posterior]
    else:
        idata, hist = _advi(model, settings, advi_iterations, ADVI_LEARNING_RATE)
        idata.posterior = idata.posterior[[v for v in idata.posterior.data_vars if v in KEEP]]
    if "constant_data" in idata.groups():  # PyMC's own copy of the data container
        del idata.constant_data
    idata.add_groups(constant_data=xr.Dataset(
        {"item_category": (("item",), design.item_category), "k": (("cell",), design.k),
         "n": (("cell",), design.n), "cell_respondent": (("cell",), design.cell_resp),
         "cell_item": (("cell",), design.cell_item)},
        coords={"item": list(design.items)}) if design.n_cells <= NUTS_MAX_CELLS else
        xr.Dataset({"item_category": (("item",), design.item_category)}, coords={"item": list(design.items)}))
    params = _params_from_posterior(idata.posterior, design.item_category, spec)
    _derived(idata, params)
    if method == "nuts":
        diagnostics = diagnose(idata, diag_vars + ["score_population"],
                               advice={"divergences": "raise target_accept= or drop twopl=/interaction="})
    else:
        diagnostics = _advi_diagnostics(hist, settings.draws * settings.chains, advi_iterations)
    observed = design.observed_scores()
    n_per_model = np.bincount(design.resp_model[design.cell_resp], weights=design.n, minlength=len(design.models))
    cell_model = design.resp_model[design.cell_resp]
    items_per_model = np.bincount(np.unique(np.c_[cell_model, design.cell_item], axis=0)[:, 0],
                                  minlength=len(design.models))
    diagnostics.checks.extend(_score_check(idata.posterior["score_items"], observed, n_per_model, spec))
    config = {
        "task": design.task, "metric": design.metric, "method": method, "spec": spec.to_dict(),
        "spec_text": str(spec), "design": design.fingerprint(), "settings": settings.to_dict(),
        "advi_iterations": advi_iterations if method == "advi" else None,
        "observed": {m: float(v) for m, v in observed.items()},
        "n_items": {m: int(v) for m, v in zip(design.models, items_per_model)},
        "n_answers": {m: int(v) for m, v in zip(design.models, n_per_model)},
        "runs": list(design.runs), "respondents": list(design.respondents),
        "fit_s": float(idata.attrs.get("sample_s", np.nan)) + prepare_s,
    }
    point = {f"score_items[{m}]": float(v) for m, v in observed.items()}
    return ItemFit(idata, config, diagnostics, point, level)
