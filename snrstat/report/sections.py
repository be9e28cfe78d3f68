"""The report's sections. Each takes the :class:`~snrstat.report.build.Context` and returns a
:class:`~snrstat.report.document.Section` (or None when the data set has nothing for it)."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd

from snrstat.report.document import Figure, Section

SUMMARY_ROWS = ("snr", "snr_pop", "signal", "noise", "sigma_model", "sigma_seed", "sigma_ckpt")


def point_estimates(ctx) -> Section:
    """The paper's point estimates"""
    from snrstat.reference import REFERENCE_SETS
    from snrstat.point.table import decision_table, snr_table

    ref = REFERENCE_SETS.get(ctx.name)
    frame = ref.frame(ctx.frame) if ref else ctx.frame
    metrics = ref.metrics(ctx.frame) if ref else None
    if metrics:
        frame = frame[frame["metric"] == frame["task"].map(metrics)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snr = snr_table(frame, last_n=ctx.settings.last_n)
        dec = decision_table(frame)
    wide = snr.pivot_table(index=["task", "metric"], columns="size", values="snr", sort=False)
    tables = [(f"SNR per size (last {ctx.settings.last_n} checkpoints, per-run noise)", wide)]
    if len(dec):
        tables.append(("Decision accuracy between sizes (final checkpoints)",
                       dec.pivot_table(index=["task", "metric"], columns=["small", "target"],
                                       values="decision_accuracy", sort=False)))
    ctx.point_snr = snr
    ctx.point_decision = dec
    text = ("Signal = (max - min) / mean of the model scores; noise = each run's checkpoint-to-checkpoint "
            "relative sd, pooled over runs; SNR = signal / noise (Heineman et al. 2025). Decision accuracy = "
            "fraction of model pairs ordered alike at the small and the target size.")
    return Section("The paper's point estimates", text=text, tables=tables)


def plan(ctx):
    """What the Bayesian sections fit: the bundled set's reference plan, or for any other data a
    plan read off the data (:func:`custom_plan`); None when nothing can be fitted."""
    from snrstat.reference import REFERENCE_SETS

    if not hasattr(ctx, "_plan"):
        ctx._plan = REFERENCE_SETS.get(ctx.name) or custom_plan(ctx.frame, ctx.name, ctx.settings.last_n)
    return ctx._plan


def custom_plan(frame: pd.DataFrame, name: str, last_n: int = 5):
    """A reference-style plan for a user's data: per task the default metric (len_norm, acc, ...),
    the smallest size that shares at least two models with a larger one as ``small`` and the
    largest such size as ``target`` (one size only: just that size), and those common models.
    Tasks are kept where every plan size has two or more models with two or more checkpoints per
    run and scores that are not constant. None when no task qualifies."""
    from snrstat.reference import ReferenceSet
    from snrstat.schema import default_metric, size_order

    whole = frame[frame["subtask"].isna()] if "subtask" in frame else frame
    if "item" in whole.columns:
        whole = whole[whole["item"].isna()]
    if not len(whole):
        return None
    params = whole.groupby("size")["params"].median().to_dict()
    sizes = [s for s in size_order(whole["size"].dropna().unique(), params)]
    models = {s: set(whole.loc[whole["size"] == s, "model"]) for s in sizes}
    pair = next(((a, b) for a in sizes for b in reversed(sizes)
                 if sizes.index(b) > sizes.index(a) and len(models[a] & models[b]) >= 2), None)
    if pair is not None:
        chosen, common = pair, models[pair[0]] & models[pair[1]]
    else:
        single = next((s for s in sizes if len(models[s]) >= 2), None)
        if single is None:
            return None
        chosen, common = (single,), models[single]
    metrics = {}
    rows = whole[whole["size"].isin(chosen) & whole["model"].isin(common)]
    for task, task_rows in rows.groupby("task"):
        metric = default_metric(task_rows["metric"].unique())
        if metric is None:
            continue
        ok = True
        for size in chosen:
            r = task_rows[(task_rows["metric"] == metric) & (task_rows["size"] == size)]
            per_run = r.groupby(["model", "seed", "data_order"], dropna=False)["step"].nunique()
            if r["model"].nunique() < 2 or per_run.min() < 2 or r["value"].nunique() < 2:
                ok = False
        if ok:
            metrics[str(task)] = metric
    if not metrics:
        return None
    main = pd.Series(metrics).mode().iloc[0]
    return ReferenceSet(dataset=name, sizes=tuple(chosen), models=tuple(sorted(common)), metric=main,
                        metric_overrides=tuple((t, m) for t, m in metrics.items() if m != main), last_n=last_n)


def _fit_custom(ctx, ref, tasks) -> tuple[dict, int]:
    """Variance fits of a user's data: one batch per size (one compile per design), each fit saved
    in ``settings.store`` as it finishes and reused from there on a rerun when its data match."""
    from snrstat.variance import fit_variance_many

    s = ctx.settings
    metrics = ref.metrics(ctx.frame)
    frame = ref.frame(ctx.frame)
    fits, reused = {}, 0
    for size in ref.sizes:
        if s.store is not None:
            reused += sum((s.store / f"{t}--{metrics[t]}--{size}.nc").exists() for t in tasks)
        ctx.console.print(f"  variance fits at {size}: {len(tasks)} task(s) ({s.chains} chains x {s.draws} draws)")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            batch = fit_variance_many(frame, tasks=tasks, metric={t: metrics[t] for t in tasks}, size=size,
                                      last_n=s.last_n, draws=s.draws, tune=s.tune, chains=s.chains,
                                      random_seed=s.random_seed, progress=not s.quiet,
                                      store=None if s.store is None else str(s.store))
        for failure in getattr(batch, "failures", {}) or {}:
            ctx.failures.append(f"variance fit {failure} at {size}: sampling failed")
        fits.update({(size, task): fit for task, fit in batch.items()})
    return fits, reused


def variance(ctx) -> Section | None:
    """Variance decomposition and posterior SNR"""
    from snrstat.plots import plot_components, plot_snr
    from snrstat.reference import REFERENCE_SETS, fit_reference, load_reference

    ref = plan(ctx)
    if ref is None:
        return None
    custom = ctx.name not in REFERENCE_SETS
    tasks = sorted(ref.metrics(ctx.frame))[: ctx.settings.max_tasks]
    start = time.perf_counter()
    fits = load_reference(ctx.name, ctx.frame) if ctx.settings.fast and not custom else {}
    fits = {key: fit for key, fit in fits.items() if key[1] in tasks}
    expected = len(ref.sizes) * len(tasks)
    source = f"{len(fits)} saved reference fits from models/ (data hash checked)"
    reused, sampled = len(fits), 0
    if custom:
        fits, reused = _fit_custom(ctx, ref, tasks)
        sampled = len(fits) - reused
        source = (f"{sampled} fits sampled now and {reused} reused from {ctx.settings.store} (data hash checked), "
                  f"nutpie, seed {ctx.settings.random_seed}; tasks where every size has two or more models with "
                  f"two or more checkpoints per run, sizes {', '.join(ref.sizes)}")
    elif len(fits) < expected:
        s = ctx.settings
        ctx.console.print(f"sampling {expected} variance fits ({s.chains} chains x {s.draws} draws)")
        with warnings.catch_warnings():
            # said once in the page below instead of once per fit on the terminal; sampler
            # failures reach the top of the page through each fit's diagnostics
            warnings.simplefilter("ignore")
            fits = fit_reference(ctx.name, ctx.frame, draws=s.draws, tune=s.tune, chains=s.chains,
                                 random_seed=s.random_seed, progress=not s.quiet, tasks=tasks)
        source = f"{len(fits)} fits sampled now (nutpie, seed {s.random_seed})"
        reused, sampled = 0, len(fits)
    ctx.record_fits("variance decomposition", sampled, reused, time.perf_counter() - start)
    notes = sorted({why.split(" (")[0] for fit in fits.values() for why in fit.spec.get("dropped", {}).values()})
    notes += sorted({note.split(" (")[0] for fit in fits.values() for note in fit.spec.get("notes", [])})
    ctx.fits = fits
    for (size, task), fit in fits.items():
        if not fit.diagnostics.ok:
            ctx.failures.append(f"variance fit {task} at {size}: " + "; ".join(fit.diagnostics.messages))
    section = Section("Variance decomposition and posterior SNR", text=(
        "One hierarchical model per task and size: logit score = mean + model + seed + checkpoint effects "
        "with binomial item noise (the hierarchical model of snrstat.variance.spec). Posterior medians with 90% intervals; 'point' is "
        f"the paper's estimate on the same records. Source: {source}."
        + ("\n\nWhat the data could not identify: " + "; ".join(notes) + "." if notes else "")))
    for size in ref.sizes:
        by_task = {task: fit for (sz, task), fit in sorted(fits.items()) if sz == size}
        rows = []
        for task, fit in by_task.items():
            s = fit.summary()
            row = {"task": task, "metric": fit.metric}
            for q in ("snr", "snr_pop"):
                if q in s.index:
                    row[f"{q}"] = s.loc[q, "median"]
                    row[f"{q} 90%"] = f"[{s.loc[q, 'lo']:.3g}, {s.loc[q, 'hi']:.3g}]"
            row["snr point"] = s.loc["snr", "point"] if "snr" in s.index else np.nan
            shares = fit.variance_shares()
            for src in shares.index:
                row[f"share {src}"] = shares.loc[src, "median"]
            row["diagnostics"] = "ok" if fit.diagnostics.ok else "FAILED"
            rows.append(row)
        section.tables.append((f"Size {size}", pd.DataFrame(rows).set_index("task")))
        section.figures.append(Figure(plot_components(by_task, title=f"Variance components at {size}"),
                                      f"Variance components per task at {size} (score scale, log axis)",
                                      f"components_{_slug(size)}"))
        section.figures.append(Figure(plot_snr(by_task, title=f"Posterior SNR at {size}"),
                                      f"Posterior SNR (finite-population and superpopulation) against the "
                                      f"paper's point estimate at {size}", f"snr_{_slug(size)}"))
    return section


def decisions(ctx) -> Section | None:
    """Decision accuracy with credible intervals"""
    from snrstat.decision import decision_accuracy_from_fits, fit_two_scales
    from snrstat.plots import plot_intervals

    ref = plan(ctx)
    if ref is None or len(ref.sizes) < 2:
        return None
    small, target = ref.sizes
    metrics = ref.metrics(ctx.frame)
    tasks = sorted(metrics)[: ctx.settings.max_tasks]
    steps = 1000 if ctx.settings.fast else 2000
    rows = {}
    frame = ref.frame(ctx.frame)
    start = time.perf_counter()
    for i, task in enumerate(tasks, 1):
        ctx.console.print(f"  decision fit {i}/{len(tasks)}: {task}")
        joint = fit_two_scales(frame, task=task, metric=metrics[task], small=small, target=target,
                               models=list(ref.models), last_n=ctx.settings.last_n, steps=steps,
                               warmup=steps // 2, random_seed=ctx.settings.random_seed)
        for problem in joint.warnings:
            ctx.failures.append(f"decision fit {task} ({small} vs {target}): {problem}")
        res = decision_accuracy_from_fits(joint.small, joint.target).summary(0.9)
        rho = joint.summary().loc["rho"]
        rows[task] = {"median": res.median, "lo": res.lo, "hi": res.hi, "point": res.point,
                      "n_models": res.n_models, "rho": rho["median"]}
    ctx.record_fits("decision accuracy (two-scale model)", len(tasks), 0, time.perf_counter() - start)
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("task")
    ctx.decision_table = table
    fig = plot_intervals(table, value="posterior decision accuracy", point="point",
                         xlabel=f"decision accuracy {small} -> {target} (median, 90% interval)",
                         title=f"Decision accuracy, {small} vs {target}")
    return Section(
        "Decision accuracy with credible intervals",
        text=(f"For every posterior draw, the fraction of model pairs ordered the same at {small} and at "
              f"{target}, from one joint model of both scales' model means (their correlation rho is learned; "
              "two separate fits would bias decision accuracy down). Last "
              f"{ctx.settings.last_n} checkpoints per run; the cross is the paper's point estimate from final "
              "checkpoints. With few models decision accuracy takes few values: read the interval, not the median."),
        tables=[("", table)], figures=[Figure(fig, f"Decision accuracy {small} vs {target}", "decision")])


def diagnostics(ctx) -> Section | None:
    """Sampler diagnostics"""
    from snrstat.plots import plot_fit_diagnostics

    fits = getattr(ctx, "fits", None)
    if not fits:
        return None
    rows = {}
    figures = []
    for (size, task), fit in sorted(fits.items()):
        d = fit.diagnostics
        table = d.table
        rows[f"{task} @ {size}"] = {
            "max r_hat": float(table["r_hat"].max()), "min ess_bulk": float(table["ess_bulk"].min()),
            "min ess_tail": float(table["ess_tail"].min()), "divergences": d.divergences,
            "min bfmi": float(min(d.bfmi)) if d.bfmi else np.nan, "ok": "ok" if d.ok else "FAILED",
        }
        names = [v for v in ("sigma_model", "sigma_ckpt", "snr") if v in fit.idata.posterior]
        label = f"{task} @ {size}"
        figures.append(Figure(plot_fit_diagnostics(fit.idata, names, label),
                              f"Rank plots and energy, {label}", f"diag_{_slug(task)}_{_slug(size)}", dpi=60))
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("fit")
    return Section("Sampler diagnostics", text=(
        "Thresholds: R-hat <= 1.01, bulk and tail ESS >= 400, no divergences, BFMI > 0.3 (computed on the "
        "full run; plots use the saved, thinned draws). Rank plots: uniform bars mean the chains agree."),
        tables=[("R-hat, ESS, divergences, BFMI per fit", table)], figures=figures)


def overview(ctx) -> Section | None:
    """Overview: which benchmarks to trust"""
    ref = plan(ctx)
    fits = getattr(ctx, "fits", None)
    if ref is None or not fits:
        return None
    small, target = ref.sizes[0], ref.sizes[-1]
    rows = {}
    for (size, task), fit in fits.items():
        summary = fit.summary()
        row = rows.setdefault(task, {"metric": fit.metric})
        quantities = ("snr",) if size == target else ("snr", "signal", "noise")
        for q in quantities:
            if q in summary.index:
                r = summary.loc[q]
                row[f"{q} {size}"] = _interval_text(r["median"], r["lo"], r["hi"])
                row[f"{q} {size} (paper)"] = r["point"]
    decision = getattr(ctx, "decision_table", None)
    if decision is not None:
        for task, r in decision.iterrows():
            if task in rows:
                rows[task][f"DA {small}->{target}"] = _interval_text(r["median"], r["lo"], r["hi"], digits=2)
                rows[task][f"DA (paper)"] = r["point"]
    scaling_table = getattr(ctx, "scaling_table", None)
    if scaling_table is not None and len(scaling_table):
        for (task, tgt), r in scaling_table.iterrows():
            if task in rows:
                rows[task][f"{tgt} predicted"] = _interval_text(r["median"], r["lo90"], r["hi90"], digits=3)
                rows[task][f"{tgt} observed"] = r["observed"]
                if "point_pred" in r:
                    rows[task][f"{tgt} (paper)"] = r["point_pred"]
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("task")
    order = [fits[(small, t)].summary().loc["snr", "median"] if (small, t) in fits else np.nan for t in table.index]
    table = table.iloc[np.argsort(-np.nan_to_num(np.asarray(order, float), nan=-np.inf), kind="stable")]
    best, worst = table.index[0], table.index[-1]
    text = (
        f"One row per task, sorted by posterior SNR at {small}: median [90% interval] of the Bayesian fits with the "
        "paper's point estimate beside each (signal = relative spread of the model means, noise = relative "
        "checkpoint-to-checkpoint sd; Madaan et al. 2024; the hierarchical model of snrstat.variance). A task whose SNR interval sits high and whose "
        f"decision-accuracy interval stays near 1 is one where {small} decisions carry to {target}. "
        f"Highest SNR at {small}: **{best}**; lowest: **{worst}**."
    )
    return Section("Which benchmarks to trust", text=text, tables=[("", table)])


overview.lead = True  # placed first in the page, built last (it reads every other section's results)


def _interval_text(median: float, lo: float, hi: float, digits: int = 3) -> str:
    if not np.isfinite(median):
        return "–"
    return f"{median:.{digits}g} [{lo:.{digits}g}, {hi:.{digits}g}]"


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text.lower())


def scaling(ctx) -> Section | None:
    """Scaling-law predictions of the 7B and 13B runs"""
    from snrstat.reference import fit_scaling_reference, load_scaling_reference, scaling_tasks
    from snrstat.scaling import ladder_point_table

    if ctx.name != "olmo-ladder":
        return None
    tasks = scaling_tasks(ctx.frame)[: ctx.settings.max_tasks]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        point = ladder_point_table(ctx.frame, tasks)
    start = time.perf_counter()
    fits = load_scaling_reference(ctx.frame) if ctx.settings.fast else {}
    fits = {t: f for t, f in fits.items() if t in tasks}
    reused, sampled = len(fits), 0
    if len(fits) < len(tasks):
        s = ctx.settings
        # the scaling law's posterior is strongly correlated: it needs longer runs than the
        # variance fits to pass its diagnostics (benchmarks/scaling_validation.py)
        fits = fit_scaling_reference(ctx.frame, tasks=tasks, draws=2 * s.draws, tune=(3 * s.tune) // 2,
                                     chains=s.chains, random_seed=s.random_seed)
        reused, sampled = 0, len(fits)
    ctx.record_fits("scaling laws", sampled, reused, time.perf_counter() - start)
    rows = []
    for task, fit in fits.items():
        if not fit.diagnostics.ok:
            ctx.failures.append(f"scaling fit {task}: " + "; ".join(fit.diagnostics.messages))
        pred = fit.predictions()
        pred.insert(0, "task", task)
        rows.append(pred)
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    cols = ["task", "target", "observed", "point_pred", "point_rel_error", "median", "lo90", "hi90", "inside90"]
    table = table[[c for c in cols if c in table]].set_index(["task", "target"])
    covered = table["inside90"].dropna()
    text = (
        "Two-step ladder law (Bhagia et al. 2024): task loss (BPB) from N and D, then accuracy from task loss, "
        "fitted on the paper's 190M-3B ladder runs and chained to the OLMo 2 7B and 13B runs. 'point_pred' is the "
        "paper's scipy fit and its relative error; median and 90% interval are the Bayesian posterior predictive "
        f"of the observed score. The 90% interval covers {int(covered.sum())} of {len(covered)} observed targets."
    )
    figures = []
    for task in list(fits)[:4]:
        fig, _ = fits[task].plot_fan()
        figures.append(Figure(fig, f"Fan chart, {task}: ladder points, predictive band, 7B/13B targets",
                              f"fan_{_slug(task)}"))
    ctx.point_scaling = point
    ctx.scaling_table = table
    return Section("Scaling-law predictions", text=text, tables=[("", table)], figures=figures)


def subtasks(ctx) -> Section | None:
    """Subtask selection"""
    from snrstat.decision import select_subtasks
    from snrstat.plots import plot_selection
    from snrstat.point.small_scale import without_constant_subtasks

    frame = ctx.frame
    suites = frame.loc[frame["subtask"].notna(), "task"].unique()
    if not len(suites):
        return None
    ref = REFERENCE_SETS_MODELS.get(ctx.name)
    s = ctx.settings
    section = Section("Which subtasks to keep", text=(
        "Each subtask's SNR from the nested normal model (a 'model' is one recipe at one size; last "
        f"{s.last_n} checkpoints per run), ranked; the aggregate of the top k subtasks is refitted for every "
        "k. 'posterior' keeps the k with the highest posterior median SNR, 'point' is the paper's top-k by "
        "point SNR; p_above_full = P(subset's SNR > the full suite's)."))
    start = time.perf_counter()
    for task in sorted(suites):
        ctx.console.print(f"  subtask selection: {task}")
        rows = frame[(frame["task"] == task)]
        if ref is not None:
            rows = rows[rows["model"].isin(ref)]
        metric = "acc" if "acc" in set(rows["metric"]) else None
        rows, frozen = without_constant_subtasks(rows, task, s.last_n)
        if frozen:
            section.text += (f"\n\n{task}: left out {len(frozen)} subtask(s) with constant scores (SNR undefined): "
                             + ", ".join(frozen) + ".")
        res = select_subtasks(rows, task=task, metric=metric, last_n=s.last_n, draws=300 if s.fast else 1000,
                              search_draws=150 if s.fast else 300, seed=s.random_seed)
        agg = res.aggregates
        section.tables.append((f"{task}: aggregates", agg))
        top = res.subtasks.sort_values("rank_posterior").set_index("subtask")
        section.tables.append((f"{task}: subtasks by posterior SNR", top))
        section.figures.append(Figure(
            plot_selection(res.curve, n_full=int(agg.loc["full", "n_subtasks"]),
                           full_snr=float(agg.loc["full", "snr_median"]), title=f"{task}: SNR of the top-k aggregate"),
            f"{task}: SNR of the aggregate of the top k subtasks", f"selection_{_slug(task)}"))
        chosen = ", ".join(res.selected)
        section.text += (f"\n\n**{task}**: keep {len(res.selected)} of {int(agg.loc['full', 'n_subtasks'])} "
                         f"subjects ({chosen}); SNR {agg.loc['posterior', 'snr_median']:.1f} "
                         f"[{agg.loc['posterior', 'snr_lo']:.1f}, {agg.loc['posterior', 'snr_hi']:.1f}] against "
                         f"{agg.loc['full', 'snr_median']:.1f} [{agg.loc['full', 'snr_lo']:.1f}, "
                         f"{agg.loc['full', 'snr_hi']:.1f}] for the full suite, "
                         f"P(beats full) = {agg.loc['posterior', 'p_above_full']:.2f}.")
    ctx.record_fits("subtask selection (nested normal model)", len(suites), 0, time.perf_counter() - start)
    return section


#: Models whose spread is the signal in subtask selection (Pythia: the two data recipes, not the
#: numerics and batch-size variants).
REFERENCE_SETS_MODELS = {"pythia": ("pile", "pile-deduped")}
