"""Entry points: :func:`fit_variance` for one task, :func:`fit_variance_many` for many.

Many tasks with the same design share one compiled graph: the data are ``pm.Data``
containers swapped with nutpie's ``with_data``, so a batch pays the compilation (seconds)
once per distinct structure instead of once per task.
"""

from __future__ import annotations

import logging
import time
import warnings

import numpy as np
import pandas as pd

from snrstat.schema import DataError, validate
from snrstat.select import DEFAULT_LAST_N
from snrstat.inference import COMPILE_CACHE, SamplerSettings, SamplerWarning, check_level, diagnose, sample
from snrstat.variance.fit import VarianceFit
from snrstat.variance.collapsed import draw_effects, low_rank_columns, run_marginal
from snrstat.variance.model import build_model, choose_centering, data_arrays, draw_nu, is_collapsed
from snrstat.variance.paper import point_estimates
from snrstat.variance.quantities import derive
from snrstat.variance.records import select_records
from snrstat.variance.spec import COMPONENTS, SHORT, Priors, build_design

log = logging.getLogger("snrstat.variance")

_HYPER = ("mu_link", "sigma_model_link", "sigma_seed_link", "sigma_order_link", "sigma_ckpt_link", "trend_mean",
          "trend_sd_link", "nu", "effect_model")
_DERIVED_CHECKED = ("sigma_model", "sigma_seed", "sigma_order", "sigma_ckpt", "signal", "noise", "snr", "snr_pop")


def fit_variance(frame: pd.DataFrame, task=None, metric=None, *, size=None, components=COMPONENTS,
                 likelihood: str = "auto", last_n: int | None = DEFAULT_LAST_N, trend: bool = False,
                 seed_design: str = "auto", order_design: str = "auto", priors: Priors | None = None,
                 centered="auto", marginalize: bool = True, random_seed: int = 0, draws: int = 1000,
                 tune: int = 1000, chains: int = 4,
                 sampler: str = "nutpie", target_accept: float | None = None, cores: int | None = None,
                 progress: bool = True, level: float = 0.9, checks: bool = True, backend: str = "auto"):
    """Hierarchical Bayesian variance decomposition of one task and metric (the hierarchical model of snrstat.variance.spec).

    Model, on the logit scale for proportions with known ``n_items``::

        logit p[r, c] = mu + a[model] + b[seed] + d[data_order] + f_r(step) + e[r, c]
        y[r, c] ~ Binomial(n_items, p[r, c])

    and on the natural (standardised) scale for continuous metrics such as bpb.

    Parameters
    ----------
    frame : tidy evaluation frame (validated here).
    task, metric, size : which records; ambiguous or absent choices raise DataError listing
        what is available. ``task`` may be a list: then :func:`fit_variance_many` is called.
        ``size="all"`` compares every (model, size) pair.
    components : subset of ("model", "seed", "data_order", "ckpt"). Components the data cannot
        identify are dropped with a :class:`~snrstat.variance.spec.ComponentDroppedWarning`
        (e.g. one seed per model, data order tied to seed, one checkpoint per run).
    likelihood : "auto" (``logit_normal`` for proportions with n_items, ``binomial`` where a
        run has fewer than 6 expected correct or wrong answers, ``normal`` for continuous
        metrics or counts under-dispersed against binomial; then ``logit_t``, ``binomial_t``
        or ``student_t`` respectively if the tail check flags spikes:
        ``fit.spec["likelihood_reason"]``), "logit_normal" (empirical logits with their
        binomial variance known and the checkpoint effects integrated out: fast, validated by
        simulation-based calibration), "logit_t" (the same empirical logits with Student-t
        checkpoint effects, a scale mixture integrated out, nu sampled), "binomial" (exact,
        checkpoint effects as parameters), "binomial_t" (exact binomial, Student-t checkpoint
        effects on the logit scale, nu on a grid), "betabinomial", "normal", "student_t".
    last_n : keep the last n checkpoints of every run: 5 by default, the paper's window and the
        same default as ``snr_table``, ``snrstat fit`` and ``snrstat table``; ``None`` keeps every
        checkpoint (a learning curve then counts as noise). A window whose scores still trend
        warns (:class:`~snrstat.select.TrendingWindowWarning`).
    trend : fit a per-run slope in centred log step, so a trend over the window is not
        counted as checkpoint noise.
    seed_design, order_design : "auto" (nested; crossed only when every model has the same
        labels and PSIS-LOO clearly prefers it, see ``checks``), "crossed" or "nested".
    priors : :class:`~snrstat.variance.spec.Priors`; default ``Priors.default(link)``
        (documented there; printed in ``fit.spec["priors_text"]``).
    centered : "auto" (per component from a quick REML fit: centred when the data pin each
        level down, see :func:`~snrstat.variance.model.choose_centering`; if that fit still
        diverges after the retry, the centred component whose funnel the divergences sit in
        (:func:`funnel_component`) is refitted non-centred and the fit that diverges less is
        kept, ``fit.settings["centering_fallback"]`` says so) or the components to sample
        centred; the others are non-centred.
    marginalize : with a Gaussian likelihood (logit_normal, normal) integrate the model
        effects and a nested per-run seed effect out exactly and draw the model effects
        from their conditional posterior afterwards (:mod:`snrstat.variance.collapsed`);
        ``False`` samples every effect.
    backend : nutpie's compilation backend (:data:`snrstat.inference.BACKENDS`): "auto" (JAX
        when installed: compiles in seconds), or "numba" (a slower compile, about 4x faster
        sampling: for long batches of one design).
    random_seed, draws, tune, chains, sampler, target_accept, cores : sampling. nutpie by
        default, PyMC's NUTS with ``sampler="pymc"`` or when nutpie fails. Same seed, same
        numbers. ``target_accept=None`` chooses it (:func:`auto_target_accept`: 0.9, or 0.99
        when some sigma rests on a single contrast, e.g. two models) and, if the sampler
        still diverges, refits once at 0.99 with the same seed (``settings["retried"]``).
    level : default credible level of :meth:`VarianceFit.summary`.
    checks : ``True``: run the misfit checks of :mod:`snrstat.variance.checks` (posterior predictive
        checks of tail weight, dispersion and clustering, prior-posterior overlap; results in
        ``fit.spec["checks"]``, flags as :class:`~snrstat.variance.checks.MisfitWarning`) and let
        them settle the "auto" choices: ``likelihood="auto"`` refits with a Student-t
        checkpoint likelihood when the residuals are heavier-tailed than predicted, and
        seed labels shared by every model are fitted nested and crossed, crossed kept only
        when PSIS-LOO clearly prefers it (``fit.spec["comparisons"]``, ``"design_reason"``).
        ``"flags"``: the checks only, no refits. ``False``: none. Findings and reasons are in
        ``fit.diagnostics.checks``.

    Returns a :class:`~snrstat.variance.fit.VarianceFit`. A fit whose diagnostics miss the
    thresholds (R-hat <= 1.01, ESS >= 400, no divergences, BFMI > 0.3) warns with advice.
    """
    if isinstance(task, (list, tuple)):
        return fit_variance_many(frame, tasks=task, metric=metric, size=size, components=components,
                                 likelihood=likelihood, last_n=last_n, trend=trend, seed_design=seed_design,
                                 order_design=order_design, priors=priors, centered=centered,
                                 marginalize=marginalize,
                                 random_seed=random_seed, draws=draws,
                                 tune=tune, chains=chains, sampler=sampler, target_accept=target_accept,
                                 cores=cores, progress=progress, level=level)
    _check_sampling(draws, tune, chains, level)
    records = select_records(frame, task, metric, size=size, last_n=last_n)
    user_priors = priors
    design = build_design(records, components=components, likelihood=likelihood, trend=trend,
                          seed_design=seed_design, order_design=order_design)
    priors = priors or Priors.default(design.link)

    def fit_design(d, pri, show_progress):
        def run(c):  # one fit with centring c, its warnings held back until it is kept
            comp, cs = _compiled_for(d, pri, c, sampler, marginalize, backend)
            st = _settings(random_seed, draws, tune, chains, target_accept, cs, c, marginalize, d)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                return _fit_compiled(comp, d, pri, st, cores, show_progress, level), caught

        c = _centering(d, centered, marginalize)
        fit, caught = run(c)
        if isinstance(centered, str) and centered == "auto" and c and fit.diagnostics.divergences:
            # centring fallback: refit the centred component whose funnel the divergences sit in
            # (funnel_component) non-centred; keep whichever fit diverges less
            drop = funnel_component(fit.idata, c)
            second, caught2 = run(tuple(col for col in c if col != drop))
            n1, n2 = fit.diagnostics.divergences, second.diagnostics.divergences
            if n2 < n1:
                fit, caught = second, caught2
            fit.settings["centering_fallback"] = (
                f"{n1} divergences with {'+'.join(c)} centred; refitted with {drop} non-centred: {n2}; "
                f"kept {'+'.join(fit.settings['centered']) or 'none'} centred")
            log.info("task %r: %s", d.records.task, fit.settings["centering_fallback"])
        for w in caught:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return fit

    fit = fit_design(design, priors, progress)
    if not checks:
        return fit

    def refit(**over):  # the same records with another likelihood or seed design (issue 13 checks)
        d = build_design(records, components=components, likelihood=over.get("likelihood", likelihood), trend=trend,
                         seed_design=over.get("seed_design", seed_design),
                         order_design=over.get("order_design", order_design), warn=False)
        return fit_design(d, user_priors or Priors.default(d.link), False)

    from snrstat.variance.checks import check_fit, refine

    if checks == "flags":  # the checks without refits (batches keep their options and say what misfits)
        fit.spec["checks"] = check_fit(fit)
        return _surface_checks(fit)
    return _surface_checks(refine(fit, refit, likelihood=likelihood, seed_design=seed_design,
                                  order_design=order_design))


def _surface_checks(fit: VarianceFit) -> VarianceFit:
    """Model-check findings and the reasons for automatic choices, in ``fit.diagnostics.checks``
    (shown by ``repr(fit)`` and ``fit.diagnostics``, saved with the fit, listed by the report)."""
    spec = fit.spec
    found = list((spec.get("checks") or {}).get("flags", []))
    found += [spec[k] for k in ("likelihood_reason", "design_reason") if spec.get(k)]
    fit.diagnostics.checks = found
    return fit


def fit_variance_many(frame: pd.DataFrame, tasks=None, metric=None, *, size=None, components=COMPONENTS,
                      likelihood: str = "auto", last_n: int | None = DEFAULT_LAST_N, trend: bool = False,
                      seed_design: str = "auto", order_design: str = "auto", priors: Priors | None = None,
                      centered="auto", marginalize: bool = True, random_seed: int = 0, draws: int = 1000,
                      tune: int = 1000, chains: int = 4, sampler: str = "nutpie", target_accept: float | None = None,
                      cores: int | None = None, progress: bool = True, level: float = 0.9, client=None,
                      workers: int | None = None, store=None, checks="flags") -> FitCollection:
    """Fit many tasks (one metric) with :func:`fit_variance`'s options, compiling once per structure.

    ``tasks=None`` takes every task that has ``metric``. ``metric`` may also be a dict
    task -> metric. Tasks whose designs share a :meth:`Design.signature` reuse one
    compilation (only the data are swapped). Every task gets the same ``random_seed``.
    The misfit checks of :func:`fit_variance` run without refits (``checks="flags"``: every fit
    keeps the batch's options, and ``fit.diagnostics.checks`` says what misfits); ``checks=True``
    lets them choose the likelihood and seed design per task, ``False`` skips them.

    The fits run through :func:`snrstat.inference.batch.fit_many`: in this process by default,
    on Dask with ``client="local"`` / ``workers=N`` (a LocalCluster), a scheduler address or a
    ``Client`` (the numbers are the same to the bit). ``store``: a folder where each fit is
    saved as ``TASK--METRIC--SIZE.nc`` as it finishes; a rerun resumes from it. A task whose
    records cannot be selected raises DataError before any fit; a fit that fails while
    sampling is left out and named in ``failures`` (task -> error) and a warning.
    Returns a :class:`FitCollection` (a dict task -> VarianceFit) with a stacked ``summary()``.
    """
    from snrstat.inference.batch import FitSpec, fit_many

    _check_sampling(draws, tune, chains, level)
    frame = validate(frame)
    if tasks is None:
        rows = frame if metric is None or isinstance(metric, dict) else frame[frame["metric"] == metric]
        tasks = sorted(rows["task"].unique())
    tasks = [tasks] if isinstance(tasks, str) else list(tasks)
    if not tasks:
        raise DataError("no tasks to fit")
    options = dict(size=size, components=components, likelihood=likelihood, last_n=last_n, trend=trend,
                   seed_design=seed_design, order_design=order_design, priors=priors, centered=centered,
                   marginalize=marginalize, random_seed=int(random_seed), draws=draws, tune=tune, chains=chains,
                   sampler=sampler, target_accept=target_accept, level=level, checks=checks)
    if cores is not None:  # else each place chooses (Dask workers sample chains one after another)
        options["cores"] = cores
    specs, data = [], {}
    for t in tasks:
        rec = select_records(frame, t, metric.get(t) if isinstance(metric, dict) else metric, size=size,
                             last_n=last_n, validated=True)  # a bad selection fails here, before any fit
        data[t] = frame[frame["task"] == t]  # each fit gets (and is shipped) its task's rows only
        specs.append(FitSpec(f"{t}--{rec.metric}--{rec.size}", "variance", data=t, args=(t, rec.metric),
                             options=options))
    batch = fit_many(specs, data, client=client, workers=workers, store=store, progress=progress)
    out = FitCollection((t, batch[s.name]) for t, s in zip(tasks, specs) if s.name in batch)
    out.n_compilations = batch.n_compilations
    out.failures = {t: batch.failures[s.name] for t, s in zip(tasks, specs) if s.name in batch.failures}
    out.report = batch.report
    return out


def _compiled_for(design, priors, centered, sampler, marginalize, backend: str = "auto"):
    """A compiled graph for ``design``: from the inference core's cache with this design's data
    (designs of one structure share a compilation), or new. Returns it and its compile time."""
    key = ("variance", design.signature(), tuple(centered), priors, bool(marginalize))
    collapsed = is_collapsed(design, marginalize)
    compiled = COMPILE_CACHE.get(key, lambda: build_model(design, priors, centered, marginalize),
                                 SamplerSettings(sampler=sampler, backend=backend), data_arrays(design, collapsed))
    return compiled, max(compiled.compile_s, 1e-9) if compiled.compile_s else 0.0


class FitCollection(dict):
    """Fits by task; :meth:`summary` stacks their summaries (index task, quantity).

    ``n_compilations`` counts the graphs compiled for the batch (cached ones are reused).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.n_compilations = 0

    def summary(self, level: float | None = None) -> pd.DataFrame:
        return pd.concat({t: f.summary(level) for t, f in self.items()}, names=["task", "quantity"])

    def table(self, quantity: str = "snr", level: float | None = None) -> pd.DataFrame:
        """One row per task: ``quantity``'s median, interval and point estimate, and diagnostics."""
        rows = {}
        for t, f in self.items():
            s = f.summary(level)
            if quantity in s.index:
                rows[t] = {**s.loc[quantity].to_dict(), "ok": f.diagnostics.ok}
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis("task")


def _fit_compiled(compiled, design, priors, settings, cores, progress, level) -> VarianceFit:
    t0 = time.perf_counter()
    sampler_settings = SamplerSettings(
        random_seed=settings["random_seed"], draws=settings["draws"], tune=settings["tune"],
        chains=settings["chains"], target_accept=None if settings["auto_target"] else settings["target_accept"],
        sampler=compiled.sampler, cores=cores, progress=progress)
    # target_accept=None: the core refits once at 0.99 after divergences (settings["retried"])
    idata = sample(compiled, sampler_settings, default_target_accept=settings["target_accept"])
    settings = {**settings, "sample_s": time.perf_counter() - t0, "sampler": idata.attrs.get("sampler"),
                "backend": idata.attrs.get("backend"), "target_accept": float(idata.attrs["target_accept"]),
                "retried": bool(idata.attrs.get("retried"))}
    spec = design.spec_dict(priors)
    post = _relabel(idata.posterior, design)
    spec["collapsed"] = is_collapsed(design, settings["marginalize"])
    spec["integrated_out"] = (["mu", "model"] + ([run_marginal(design)] if run_marginal(design) else [])
                              + low_rank_columns(design) if spec["collapsed"] else [])
    if spec["collapsed"]:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            post = post.assign(draw_effects(post, design, settings["random_seed"], priors.mu))
    nu = draw_nu(post, design, settings["random_seed"])  # binomial_t: nu summed out, drawn here
    if nu is not None:
        post = post.assign(nu=nu)
    derived = derive(post, spec)
    idata.posterior = post.merge(derived)
    _observed(idata, design)
    diag = diagnose(idata, _HYPER + _DERIVED_CHECKED, advice=_ADVICE)
    fit = VarianceFit(idata, design.records, spec, point_estimates(design.records), diag, settings, level)
    if not diag.ok:
        warnings.warn(f"task {design.records.task!r}, metric {design.records.metric!r}: sampler diagnostics "
                      "failed, intervals may be wrong: " + " | ".join(diag.messages), SamplerWarning, stacklevel=3)
    return fit


def _relabel(post, design):
    """Coordinates of this design (a shared compilation carries another task's labels)."""
    new = {"model": design.models, "run": design.runs}
    for col, labels in design.levels.items():
        new[col] = labels
    return post.assign_coords({k: v for k, v in new.items() if k in post.dims})


def _observed(idata, design) -> None:
    """Scores by run and step (NaN where a run has no record at a step) as ``observed_data``."""
    import xarray as xr

    t = design.records.table
    step = t["step"].astype("float64").fillna(-1).to_numpy()
    wide = pd.DataFrame({"run": t["run"].astype(str).to_numpy(), "step": step, "value": t["value"].to_numpy(),
                         "n_items": t["n_items"].to_numpy()})
    value = wide.pivot(index="run", columns="step", values="value").reindex(design.runs)
    n = wide.pivot(index="run", columns="step", values="n_items").reindex(design.runs)
    ds = xr.Dataset({"value": (("run", "step"), value.to_numpy()), "n_items": (("run", "step"), n.to_numpy())},
                    coords={"run": design.runs, "step": value.columns.to_numpy(),
                            "run_model": ("run", np.asarray(design.models)[design.run_model])})
    if "observed_data" in idata.groups():
        del idata.observed_data
    idata.add_groups(observed_data=ds)


#: target_accept of the automatic retry after divergences.
RETRY_TARGET = 0.99
#: Advice in the words of fit_variance's options (the thresholds are the inference core's).
_ADVICE = {
    "r_hat": "raise tune= (e.g. 2000) and draws=, and check for a component the data barely inform "
             "(drop it with components=)",
    "divergences": "raise target_accept= (e.g. 0.95), drop a component the data cannot inform (components=), "
                   "or try another likelihood (likelihood='binomial' keeps checkpoint effects as parameters)",
    "bfmi": "raise tune=, or drop the component whose sigma is pinned at 0",
}


def auto_target_accept(design) -> float:
    """NUTS target acceptance for ``design``: 0.99 when some sampled sigma rests on a single
    contrast (two models, or a crossed seed / data order with two labels), else 0.9.

    With one degree of freedom the posterior of that sigma, on the log scale NUTS works on,
    is a plateau between a steep wall at the measured difference and the prior's tail
    (e.g. Pythia's two data recipes); steps tuned to the plateau diverge at the walls.
    """
    dfs = [design.df(col) for col in ("model", "seed", "data_order")
           if col in design.components and col != design.residual]
    return RETRY_TARGET if min(dfs, default=2) <= 1 else 0.9


def funnel_component(idata, centred) -> str:
    """The centred component whose funnel a fit's divergences sit in: the one whose sd is lowest
    at the divergent draws, measured by the mean rank of those draws in its posterior (a centred
    hierarchy diverges where its sd nears 0, Betancourt & Girolami 2015). The centring rule
    judges by a REML bound, which a heavy-tailed or weakly informed posterior can reach far below."""
    div = np.asarray(idata.sample_stats["diverging"].values, dtype=bool).ravel()
    post = idata.posterior

    def rank(col):
        sd = np.asarray(post[f"sigma_{SHORT[col]}_link"].values, dtype=float).ravel()
        return float(np.mean(np.searchsorted(np.sort(sd), sd[div]) / sd.size)) if div.any() else 0.5

    return min(centred, key=rank)


def _settings(random_seed, draws, tune, chains, target_accept, compile_s, centered, marginalize, design) -> dict:
    auto = target_accept is None
    if not auto and not 0 < float(target_accept) < 1:
        raise DataError(f"target_accept must lie in (0, 1), got {target_accept!r}")
    return {"random_seed": int(random_seed), "draws": int(draws), "tune": int(tune), "chains": int(chains),
            "target_accept": auto_target_accept(design) if auto else float(target_accept), "auto_target": auto,
            "compile_s": float(compile_s), "centered": list(centered), "marginalize": bool(marginalize)}


def _centering(design, centered, marginalize: bool = True) -> tuple[str, ...]:
    if is_collapsed(design, marginalize):
        return ()  # every effect is integrated out: nothing to centre
    if isinstance(centered, str) and centered == "auto":
        return choose_centering(design)
    cen = (centered,) if isinstance(centered, str) else tuple(centered)
    bad = [c for c in cen if c not in ("model", "seed", "data_order")]
    if bad:
        raise DataError(f"centered must be 'auto' or a subset of ('model', 'seed', 'data_order'), got {bad}")
    return cen


def _check_sampling(draws, tune, chains, level) -> None:
    for name, v in (("draws", draws), ("tune", tune), ("chains", chains)):
        if int(v) < 1:
            raise DataError(f"{name} must be a positive integer, got {v}")
    check_level(level)
