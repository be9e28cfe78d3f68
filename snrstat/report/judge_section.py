"""The report's section on LLM-as-judge noise (Zheng et al. 2023; Zeng et al. 2024), for judgment data sets
(the bundled ``llmbar`` or any table read by :func:`snrstat.read_judgments`)."""

from __future__ import annotations

import time

import pandas as pd

from snrstat.report.document import Figure, Section


def judges(ctx) -> Section | None:
    """LLM-as-judge noise"""
    from snrstat.judges.counts import judge_counts
    from snrstat.judges.fit import fit_judges
    from snrstat.judges.plots import plot_cells, plot_modes
    from snrstat.judges.simulate import simulate_modes
    from snrstat.judges.spec import DEFAULT_STRATEGIES, LLMBAR_SUBSETS, select_judgments

    frame = ctx.frame
    if "judge" not in frame.columns or "winner" not in frame.columns:
        return None
    llmbar = ctx.name == "llmbar"
    sel = {"subsets": list(LLMBAR_SUBSETS) if llmbar else None,
           "strategies": list(DEFAULT_STRATEGIES) if llmbar else None}
    rows = select_judgments(frame, **sel)
    counts = judge_counts(rows)
    s = ctx.settings
    start = time.perf_counter()
    fit = fit_judges(frame, **sel, draws=s.draws, tune=s.tune, chains=s.chains, random_seed=s.random_seed)
    ctx.record_fits("LLM-as-judge noise", 1, 0, time.perf_counter() - start)
    if not fit.diagnostics.ok:
        ctx.failures.append("judge model: " + "; ".join(fit.diagnostics.messages))
    cells = fit.cell_table()
    shown = pd.DataFrame({
        q: [f"{r[q]:.2f} [{r[q + '_lo']:.2f}, {r[q + '_hi']:.2f}]" for _, r in cells.iterrows()]
        for q in ("accuracy", "flip", "first", "snr")}, index=cells.index)
    for q in ("accuracy", "flip", "first"):
        shown[f"{q} (count)"] = cells[f"{q}_count"].round(3)
    tables = [("Simple counts on the raw verdicts", counts.round(3)),
              ("Judge model: median [90% interval] per judge and strategy, next to the counts", shown)]
    comp = fit.mode_comparison()
    if len(comp):
        tables.append(("Isolated rating minus pairwise comparison (same judge, same pairs)",
                       comp.set_index(["judge", "rating", "pairwise"])[
                           ["accuracy_diff", "accuracy_diff_lo", "accuracy_diff_hi", "accuracy_diff_count",
                            "agreement_diff", "agreement_diff_lo", "agreement_diff_hi", "agreement_diff_count",
                            "snr_ratio", "snr_ratio_lo", "snr_ratio_hi"]].round(3)))
    pairwise = cells[cells["mode"] == "pairwise"]
    if len(pairwise):
        best = pairwise["snr"].idxmax()
        plan = fit.items_needed(f"{best[0]}|{best[1]}", gap=(0.25, 0.5, 1.0))
        tables.append((f"Pairs needed to order two systems with power 0.8 ({best[0]}, {best[1]}, both orders)",
                       plan.set_index("gap")[["items", "items_lo", "items_hi", "gain_verdicts"]].round(2)))
    figures = [Figure(plot_cells(cells, title="Judges: posterior (bars) and raw counts (crosses)"),
                      "Accuracy, order flips and position bias per judge and strategy (blue: pairwise, orange: "
                      "isolated rating)", "judges_cells"),
               Figure(plot_modes(simulate_modes(replications=200, random_seed=s.random_seed)),
                      "Simulation: relative scoring pays off once the judge's per-call offset is large",
                      "judges_modes")]
    text = ("A hierarchical model of the verdicts: P(judge prefers answer 1) = logistic(k * perceived gap + beta * "
            "order), with gaps oriented to the gold label and pooled within subsets, each judge's own perception "
            "error shared by its strategies and both orders, and isolated ratings as an ordered logistic with "
            "judge-specific thresholds (Zheng et al. 2023; Zeng et al. 2024). 'flip' is the probability that the verdict changes "
            "when the answers are shown in the other order; 'first' the share of verdicts for the answer shown "
            "first (0.5 = no position bias); the judge SNR is the spread of its expected verdict across pairs over "
            "the noise of a verdict on one pair. A rating verdict comes from two isolated scores, a tie going to "
            "the answer shown second (as in LLMBar), so a tie is a flip.")
    if fit.diagnostics.checks:  # misfit the sampler cannot see
        text += " Model checks: " + "; ".join(fit.diagnostics.checks) + "."
    if llmbar:
        text += " Data: LLMBar (Zeng et al. 2024), its Natural and Adversarial subsets, plain and rating prompts."
    return Section("LLM-as-judge noise", text=text, tables=tables, figures=figures)
