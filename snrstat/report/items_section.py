"""The report's item-level section (Madaan et al. 2024; Lord 1980 for item response theory): ``items(ctx)``.

Runs only for data with item-level records (an ``item`` column, e.g. the bundled ``mmlu-pro``).
A fast report fits NUTS on a seeded random subset of :data:`FAST_ITEMS` items; a full report
fits every item (ADVI above 60,000 answers, see :mod:`snrstat.items.fit`).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from snrstat.report.document import Figure, Section

FAST_ITEMS = 1000
#: Answer options of the bundled item-level sets (the guessing floor).
OPTIONS = {"mmlu-pro": 10}


def items(ctx) -> Section | None:
    """Item level: the benchmark as a sample of items"""
    from snrstat.items import compare_all_frequentist, fit_items, item_design
    from snrstat.items.plots import plot_items_needed, plot_scores

    frame = ctx.frame
    if "item" not in frame.columns or frame["item"].isna().all():
        return None
    rows = frame[frame["item"].notna()]
    task = rows["task"].value_counts().index[0]
    rows = rows[rows["task"] == task]
    rows = rows[rows["metric"] == rows["metric"].value_counts().index[0]]
    keys = rows["subtask"].astype("string").fillna("") + "/" + rows["item"].astype("string")
    uniq = np.sort(keys.unique())
    note = f"all {len(uniq):,} items"
    if ctx.settings.fast and len(uniq) > FAST_ITEMS:
        keep = np.random.default_rng(ctx.settings.random_seed).choice(uniq, FAST_ITEMS, replace=False)
        rows = rows[keys.isin(keep).to_numpy()]
        note = f"a random subset of {FAST_ITEMS:,} of the {len(uniq):,} items (--fast)"
    t0 = time.perf_counter()
    fit = fit_items(rows, n_options=OPTIONS.get(ctx.name), random_seed=ctx.settings.random_seed,
                    draws=ctx.settings.draws, tune=ctx.settings.tune, chains=ctx.settings.chains)
    ctx.record_fits("Item level", 1, 0, time.perf_counter() - t0)
    design = item_design(rows)
    freq = compare_all_frequentist(design.matrix(), design.models,
                                   clusters=np.asarray(design.categories)[design.item_category], n_boot=1000,
                                   seed=ctx.settings.random_seed)
    orderings, joint = fit.orderings()
    n_res = int((orderings["status"] == "resolved").sum())
    shares = fit.variance_shares()
    need = pd.DataFrame([fit.items_needed(g, max_draws=200) for g in (0.01, 0.02, 0.05)]).set_index("gap")
    scores = fit.scores()
    unresolved = orderings[orderings["status"] != "resolved"][["a", "b", "p_a_better", "p_tie", "status"]]
    text = (
        f"A hierarchical item-response model of task {task} on {note}: P(correct) = g + (1 - g) "
        "logistic(theta_m + delta_m,c - b_i), item difficulties pooled by category "
        f"(fitted by {fit.config['method']}). A model's score on *this item set* is its expected accuracy on "
        "these items; on the *population of items* it is the accuracy a new benchmark drawn the same way "
        "would show on average, so its interval also counts which items happened to be sampled "
        "(Madaan et al. 2024). "
        f"The posterior orders {n_res} of {len(orderings)} pairs jointly with probability {joint:.3f} "
        f"(>= 0.95); McNemar's test with Holm's correction resolves {int(freq['resolved'].sum())}. "
        f"Item sampling makes up a share {shares.loc['item', 'share']:.2f} of a score's variance over "
        "re-drawn benchmarks of this size (the rest is answer noise"
        + ("" if fit.spec.run or fit.spec.ckpt else "; training noise cannot be separated: one run and "
           "one checkpoint per model") + ").")
    section = Section("Item level: the benchmark as a sample of items", text=text, tables=[
        ("Scores: observed, on this item set and on the population of items", scores),
        ("Share of a score's variance by source", shares),
        ("Items a paired comparison needs (power 0.8, alpha 0.05)", need),
        ("Orderings the posterior does not resolve", unresolved.set_index(["a", "b"])),
        ("Most informative items", fit.item_table().head(10)),
    ], figures=[Figure(plot_scores(fit), "Population and item-set scores per model", "items_scores"),
                Figure(plot_items_needed(fit), "Items needed against the accuracy gap", "items_needed")])
    if not fit.diagnostics.ok:
        section.alert = "Item model diagnostics: " + "; ".join(fit.diagnostics.messages)
    return section
