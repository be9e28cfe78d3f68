"""``snrstat judge``: how noisy an LLM judge is, per judge and prompting strategy, and whether
scoring answers in isolation or side by side separates systems better."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from snrstat.commands._common import add_seed_argument, check_output_path, console, esc, positive_int, print_json
from snrstat.schema import DataError


def add_parser(sub) -> None:
    from snrstat.judges.spec import REPEATS

    parser = sub.add_parser(
        "judge",
        help="LLM-as-judge noise: accuracy, order flips, position bias, judge SNR, rating vs pairwise",
        description=(
            "Simple counts on the raw verdicts, then a hierarchical model of the verdicts (Zheng et al. 2023; Zeng et al. 2024): "
            "P(prefers answer 1) = logistic(k[judge,strategy] * gap + beta[judge,strategy] * order), gaps pooled "
            "within subsets, isolated ratings as an ordered logistic with judge-specific thresholds. Per judge and "
            "strategy: accuracy against gold, the probability that the verdict flips when the order is swapped, the "
            "share of verdicts for the answer shown first, and the judge's SNR, each with a credible interval; "
            "isolated rating against pairwise comparison on the same pairs; the pairs needed to order two systems."),
    )
    parser.add_argument("--data", default="llmbar", metavar="{llmbar,PATH}",
                        help="the bundled LLMBar judgments (default) or a judgment table (CSV/TSV/Parquet, "
                             "columns as snrstat.read_judgments)")
    parser.add_argument("--subsets", nargs="+", default=None, metavar="SUBSET",
                        help="subsets to use (a name ending in '/' or '*' is a prefix); default for llmbar: "
                             "LLMBar's Natural and Adversarial sets, else all")
    parser.add_argument("--strategies", nargs="+", default=None, metavar="STRATEGY",
                        help="strategies to use; default for llmbar: Vanilla, Vanilla_NoRules, Rating, "
                             "Rating_NoRules, else all")
    parser.add_argument("--judges", nargs="+", default=None, metavar="JUDGE", help="judges to use (default all)")
    parser.add_argument("--all", action="store_true", help="every subset and strategy (slow: minutes to an hour)")
    parser.add_argument("--repeats", choices=REPEATS, default="auto",
                        help="repeated verdicts: auto (default: independent, except follow-up rounds asked only "
                             "where the two orders disagreed, which become '<strategy>+followup'), all "
                             "(every repeat independent) or first (repeat 0 only)")
    parser.add_argument("--first-repeat", action="store_const", const="first", dest="repeats",
                        help=argparse.SUPPRESS)
    parser.add_argument("--counts-only", action="store_true", help="print the simple counts only (no model fit)")
    parser.add_argument("--plan", default=None, metavar="JUDGE|STRATEGY",
                        help="cell for the planning table (default: the pairwise cell with the highest SNR)")
    parser.add_argument("--gap", type=float, nargs="+", default=[0.25, 0.5, 1.0],
                        help="system quality gaps (latent units) for the planning table (default 0.25 0.5 1)")
    parser.add_argument("--power", type=float, default=0.8, help="power for the planning table (default 0.8)")
    parser.add_argument("--level", type=float, default=0.9, help="credible level (default 0.9)")
    parser.add_argument("--draws", type=positive_int, default=1000, help="draws per chain (default 1000)")
    parser.add_argument("--tune", type=positive_int, default=1000, help="tuning steps per chain (default 1000)")
    parser.add_argument("--chains", type=positive_int, default=4, help="chains (default 4)")
    add_seed_argument(parser)
    parser.add_argument("--save", type=Path, default=None, metavar="PATH", help="save the fit (one .nc file)")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.set_defaults(func=run)


def load_judgments(data: str):
    from snrstat.datasets import DATASETS, load_dataset
    from snrstat.io.judgments import read_judgments

    if data in DATASETS:
        if DATASETS[data].reader != "snrstat.io.judgments:read_judgments":
            raise DataError(f"--data {data!r} holds evaluation records, not judgments; judgment sets: "
                            f"{sorted(n for n, i in DATASETS.items() if 'judgments' in i.reader)}")
        return load_dataset(data)
    if not Path(data).exists():
        raise DataError(f"--data {data!r} is neither a bundled judgment set nor an existing file")
    return read_judgments(data)


def selection(args) -> dict:
    from snrstat.judges.spec import DEFAULT_STRATEGIES, LLMBAR_SUBSETS

    llmbar = args.data == "llmbar" and not args.all
    return {"subsets": args.subsets or (list(LLMBAR_SUBSETS) if llmbar else None),
            "strategies": args.strategies or (list(DEFAULT_STRATEGIES) if llmbar else None),
            "judges": args.judges, "repeats": args.repeats}


def run(args) -> int:
    from snrstat.judges.counts import judge_counts, mode_comparison_counts
    from snrstat.judges.spec import select_judgments

    check_output_path(args.save)
    judgments = load_judgments(args.data)
    sel = selection(args)
    rows = select_judgments(judgments, **sel)
    counts = judge_counts(rows)
    mc = mode_comparison_counts(rows)
    out = {"data": args.data, "selection": sel, "counts": counts.reset_index().to_dict(orient="records"),
           "mode_comparison_counts": mc.to_dict(orient="records")}
    con = console(args)
    if not args.json:
        _table(con, "Simple counts on the raw verdicts", counts.reset_index(),
               ["judge", "strategy", "mode", "n_items", "accuracy", "flip_rate", "first_rate", "no_verdict"])
    if args.counts_only:
        if args.json:
            print_json(out)
        return 0
    from snrstat.judges.fit import fit_judges

    if not args.json:
        print(f"fitting the judge model ({args.chains} chains x {args.draws} draws) ...", file=sys.stderr)
    fit = fit_judges(judgments, **sel, random_seed=args.random_seed, draws=args.draws, tune=args.tune,
                     chains=args.chains, level=args.level)
    cells = fit.cell_table().reset_index()
    comp = fit.mode_comparison()
    pairwise = cells[cells["mode"] == "pairwise"]
    plan_cell = args.plan or (f"{pairwise.loc[pairwise['snr'].idxmax(), 'judge']}|"
                              f"{pairwise.loc[pairwise['snr'].idxmax(), 'strategy']}" if len(pairwise) else None)
    plan = fit.items_needed(plan_cell, args.gap, power=args.power) if plan_cell else None
    if args.save:
        fit.save(args.save)
    out.update(fit.to_dict())
    out["planning"] = None if plan is None else plan.to_dict(orient="records")
    if args.json:
        print_json(out)
        return 0
    _table(con, f"Judge model: medians with {args.level:.0%} intervals (counts in brackets)", _cells_text(cells),
           ["judge", "strategy", "mode", "accuracy", "flip", "first", "snr", "k", "beta"])
    if len(comp):
        _table(con, "Isolated rating minus pairwise comparison, same judge and pairs", _comp_text(comp),
               ["judge", "rating", "pairwise", "accuracy", "agreement", "snr ratio", "P(rating better)"])
    if plan is not None:
        _table(con, f"Pairs needed to order two systems with power {args.power:g} (judge {plan_cell}, both orders)",
               plan.assign(items=plan.apply(lambda r: f"{r['items']:.0f} [{r['items_lo']:.0f}, {r['items_hi']:.0f}]",
                                            axis=1),
                           per_verdict_gain=plan["gain_verdicts"].map("{:.2f}".format)),
               ["gap", "items", "per_verdict_gain"])
    d = fit.diagnostics
    con.print(("[green]sampler diagnostics ok[/]" if d.ok else "[red]sampler diagnostics FAILED[/]: " + esc("; ".join(d.messages)))
              + f" (max R-hat {d.max_r_hat:.3f}, min bulk ESS {d.min_ess_bulk:.0f}, {d.divergences} divergences)")
    for check in d.checks:  # misfit the sampler cannot see: read the named cells by their counts
        con.print("[yellow]model check[/]: " + esc(check))
    if args.save:
        con.print(f"fit saved to {esc(args.save)}")
    return 0


def _fmt(r, q, digits=2):
    return f"{r[q]:.{digits}f} [{r[q + '_lo']:.{digits}f}, {r[q + '_hi']:.{digits}f}]"


def _cells_text(cells):
    import numpy as np
    import pandas as pd

    rows = []
    for _, r in cells.iterrows():
        row = {"judge": r["judge"], "strategy": r["strategy"], "mode": r["mode"]}
        for q in ("accuracy", "flip", "first"):
            count = r.get(f"{q}_count", np.nan)
            row[q] = _fmt(r, q) + ("" if pd.isna(count) else f" ({count:.2f})")
        row["snr"] = _fmt(r, "snr")
        row["k"] = _fmt(r, "k")
        row["beta"] = "" if pd.isna(r["beta"]) else _fmt(r, "beta")
        rows.append(row)
    return pd.DataFrame(rows)


def _comp_text(comp):
    import pandas as pd

    rows = []
    for _, r in comp.iterrows():
        rows.append({"judge": r["judge"], "rating": r["rating"], "pairwise": r["pairwise"],
                     "accuracy": _fmt(r, "accuracy_diff", 3) + f" ({r['accuracy_diff_count']:+.3f})",
                     "agreement": _fmt(r, "agreement_diff", 3) + f" ({r['agreement_diff_count']:+.3f})",
                     "snr ratio": _fmt(r, "snr_ratio"),
                     "P(rating better)": f"acc {r['p_rating_better_accuracy']:.2f}, agr {r['p_rating_better_agreement']:.2f}"})
    return pd.DataFrame(rows)


def _table(con, title, frame, columns):
    from rich.table import Table

    table = Table(title=title)
    for c in columns:
        table.add_column(c, justify="left" if c in ("judge", "strategy", "mode", "rating", "pairwise") else "right")
    for _, r in frame.iterrows():
        table.add_row(*[esc(f"{r[c]:.3f}" if isinstance(r[c], float) else r[c]) for c in columns])
    con.print(table)
