"""``snrstat items``: the item-level model of a benchmark (Madaan et al. 2024; Lord 1980 for item response theory)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

from snrstat.commands._common import (add_data_argument, add_seed_argument, check_output_path, console, esc,
                                      load_frame, positive_int, print_json)

#: Answer options of the bundled item-level data sets (sets the guessing floor 1/options).
KNOWN_OPTIONS = {"mmlu-pro": 10}


def add_parser(sub) -> None:
    parser = sub.add_parser(
        "items", help="item-level model: scores with intervals, resolved orderings, items needed, anchors",
        description=(
            "Fit a hierarchical item-response model (P(correct) = g + (1-g) logistic(theta_m - b_i), "
            "difficulties pooled by category) to item-level records and report each model's score on "
            "this item set and on the population of items, which pairwise orderings are resolved "
            "(jointly, and by McNemar with Holm's correction), the share of score variance from item "
            "sampling, the items needed to separate a gap, the most informative items and an anchor subset."),
    )
    add_data_argument(parser, default="mmlu-pro", help_extra=" with an 'item' column (default mmlu-pro)")
    parser.add_argument("--task", default=None, help="task (default: the only one with item-level records)")
    parser.add_argument("--metric", default=None, help="metric (default: the only one)")
    parser.add_argument("--models", default=None, help="comma-separated models (default: all)")
    parser.add_argument("--items", type=positive_int, default=None, metavar="N",
                        help="fit a random subset of N items (seeded by --seed; default: all)")
    parser.add_argument("--options", type=positive_int, default=None,
                        help="answer options per item: guessing floor 1/OPTIONS (default: 10 for mmlu-pro, else none)")
    parser.add_argument("--twopl", action="store_true", help="2PL: one discrimination per item")
    parser.add_argument("--method", choices=("auto", "nuts", "advi"), default="auto",
                        help="NUTS, or mean-field ADVI for large matrices (auto: ADVI above 60,000 answers)")
    parser.add_argument("--draws", type=positive_int, default=500)
    parser.add_argument("--tune", type=positive_int, default=500)
    parser.add_argument("--chains", type=positive_int, default=4)
    parser.add_argument("--gap", type=float, default=0.02, help="accuracy gap for the items-needed answer (default 0.02)")
    parser.add_argument("--power", type=float, default=0.8, help="power for the items-needed answer (default 0.8)")
    parser.add_argument("--anchors", type=positive_int, default=None, metavar="K", help="also pick K anchor items")
    add_seed_argument(parser)
    parser.add_argument("--level", type=float, default=0.9, help="credible level of the intervals (default 0.9)")
    parser.add_argument("--save", type=Path, default=None, help="write the fit to this .nc path")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.set_defaults(func=run)


def analyse(frame, args, options) -> dict:
    import numpy as np

    from snrstat.items import compare_all_frequentist, fit_items
    from snrstat.items.anchors import select_anchors
    from snrstat.schema import DataError

    if "item" not in frame.columns or frame["item"].isna().all():
        raise DataError("--data has no item-level records (an 'item' column); try --data mmlu-pro")
    if args.models:
        wanted = [m.strip() for m in args.models.split(",") if m.strip()]
        unknown = sorted(set(wanted) - set(frame["model"].dropna()))
        if unknown:
            raise DataError(f"--models {unknown} not in the data; models: {sorted(frame['model'].dropna().unique())}")
        frame = frame[frame["model"].isin(wanted)]
    if args.items:
        keys = frame["subtask"].astype("string").fillna("") + "/" + frame["item"].astype("string")
        uniq = np.sort(keys.dropna().unique())
        if args.items < len(uniq):
            keep = np.random.default_rng(args.random_seed).choice(uniq, args.items, replace=False)
            frame = frame[keys.isin(keep).to_numpy()]
    fit = fit_items(frame, task=args.task, metric=args.metric, n_options=options, twopl=args.twopl,
                    method=args.method, random_seed=args.random_seed, draws=args.draws, tune=args.tune,
                    chains=args.chains, level=args.level)
    if args.save:
        fit.save(args.save)
    from snrstat.items.design import item_design

    design = item_design(frame, task=args.task, metric=args.metric)
    freq = compare_all_frequentist(design.matrix(), design.models,
                                   clusters=np.asarray(design.categories)[design.item_category],
                                   n_boot=1000, seed=args.random_seed)
    orderings, joint = fit.orderings()
    out = {
        "task": fit.config["task"], "metric": fit.config["metric"], "method": fit.config["method"],
        "level": args.level, "random_seed": args.random_seed, "design": fit.config["design"],
        "model": fit.config["spec_text"],
        "scores": fit.scores(args.level).reset_index().to_dict(orient="records"),
        "orderings": {"joint_probability": joint, "level": 0.95,
                      "resolved": int((orderings["status"] == "resolved").sum()),
                      "ties": int((orderings["status"] == "tie").sum()), "pairs": len(orderings),
                      "table": orderings.to_dict(orient="records")},
        "frequentist": {"pairs": len(freq), "resolved_mcnemar_holm": int(freq["resolved"].sum()),
                        "table": freq.to_dict(orient="records")},
        "variance_shares": fit.variance_shares(level=args.level).reset_index().to_dict(orient="records"),
        "items_needed": fit.items_needed(args.gap, power=args.power, level=args.level),
        "informative_items": fit.item_table().head(10).reset_index().to_dict(orient="records"),
        "diagnostics": {k: v for k, v in fit.diagnostics.to_dict().items() if k != "table"},
    }
    if args.anchors:
        out["anchors"] = select_anchors(fit, args.anchors)
    return out


def run(args) -> int:
    from snrstat.schema import DataError

    if not 0 < args.level < 1:
        raise DataError(f"--level must lie strictly between 0 and 1, got {args.level}")
    if not 0 < args.gap < 1:
        raise DataError(f"--gap must lie strictly between 0 and 1, got {args.gap}")
    if not 0 < args.power < 1:
        raise DataError(f"--power must lie strictly between 0 and 1, got {args.power}")
    check_output_path(args.save, what="--save")
    frame = load_frame(args.data)
    options = args.options if args.options is not None else KNOWN_OPTIONS.get(args.data)
    if options is not None and options < 2:
        raise DataError(f"--options must be at least 2, got {options}")
    if not (args.json or args.quiet):
        print(f"snrstat items: fitting the item model ({'guessing floor 1/' + str(options) if options else 'no guessing floor'})",
              file=sys.stderr)
    out = analyse(frame, args, options)
    if args.json:
        print_json(out, indent=1)
        return 0
    _render(out, args)
    return 0


def _f(v, fmt=".3f") -> str:
    return "–" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, fmt)


def _render(out, args) -> None:
    from rich.table import Table

    con = console(args)
    pct = f"{100 * args.level:.0f}%"
    con.print(f"[bold]{esc(out['task'])} / {esc(out['metric'])}[/]: {out['design']['models']} models x "
              f"{out['design']['items']} items ({out['design']['answers']:,} answers), fitted by {out['method']}")
    t = Table(title=f"scores: observed, on this item set and on the population of items ({pct} intervals)")
    for col in ("model", "observed", "this item set", "population", "item-sampling sd"):
        t.add_column(col, justify="left" if col == "model" else "right")
    for r in out["scores"]:
        t.add_row(esc(r["model"]), _f(r["observed"]),
                  f"{_f(r['items_median'])} [{_f(r['items_lo'])}, {_f(r['items_hi'])}]",
                  f"{_f(r['population_median'])} [{_f(r['population_lo'])}, {_f(r['population_hi'])}]",
                  _f(r["item_sampling_sd"], ".4f"))
    con.print(t)
    o, fq = out["orderings"], out["frequentist"]
    con.print(f"orderings resolved jointly with probability >= 0.95: {o['resolved']} of {o['pairs']} pairs "
              f"(joint {o['joint_probability']:.3f}), practical ties {o['ties']}; McNemar with Holm's correction: "
              f"{fq['resolved_mcnemar_holm']} of {fq['pairs']}")
    unresolved = [r for r in o["table"] if r["status"] != "resolved"][:10]
    for r in unresolved:
        con.print(f"  not resolved: {esc(r['a'])} > {esc(r['b'])} with P = {r['p_a_better']:.3f} ({r['status']})")
    vs = {r["source"]: r for r in out["variance_shares"]}
    con.print("variance of a score over re-drawn benchmarks of this size: "
              + ", ".join(f"{k} {_f(v['share'], '.2f')} (sd {_f(v['sd'], '.4f')})" for k, v in vs.items()
                          if v["share"] is not None and math.isfinite(v["share"]))
              + ("" if all(vs[k]["share"] is not None and math.isfinite(vs[k]["share"]) for k in ("run", "ckpt"))
                 else "; training noise: not identifiable (one run and checkpoint per model)"))
    n = out["items_needed"]
    con.print(f"items needed to separate a gap of {n['gap']:.3f} with power {n['power']:.2f}: "
              f"{_f(n['items_median'], '.0f')} [{_f(n['items_lo'], '.0f')}, {_f(n['items_hi'], '.0f')}] "
              f"(this benchmark has {n['benchmark_items']})")
    con.print("most informative items: " + ", ".join(esc(r["item"]) for r in out["informative_items"][:5]))
    if "anchors" in out:
        con.print(f"anchor items ({len(out['anchors'])}): " + ", ".join(esc(a) for a in out["anchors"][:20])
                  + (" ..." if len(out["anchors"]) > 20 else ""))
    d = out["diagnostics"]
    con.print(("[green]diagnostics ok[/]" if d["ok"] else "[bold red]diagnostics: [/]" + esc("; ".join(d["messages"])))
              + ("" if not d["checks"] else " (" + esc("; ".join(d["checks"])) + ")"))
