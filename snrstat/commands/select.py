"""``snrstat select``: which subtasks of a suite to keep, by posterior SNR, beside the paper's rule."""

from __future__ import annotations

import json
import math

from snrstat.commands._common import add_data_argument, load_frame


def add_parser(sub) -> None:
    parser = sub.add_parser(
        "select",
        help="choose the subtasks of a suite (e.g. MMLU) whose aggregate has the highest SNR",
        description=(
            "Posterior SNR of every subtask and of aggregates of subtasks (the mean of the kept "
            "subtasks per record), from the nested normal model fitted to the last --window "
            "checkpoints of every run; the subset with the highest posterior median SNR is compared "
            "with the paper's rule (top k subtasks by point SNR) and with the full suite."
        ),
    )
    add_data_argument(parser, default="pythia")
    parser.add_argument("--task", default="mmlu", help="the suite (default mmlu)")
    parser.add_argument("--metric", default=None, help="metric (default: acc when present)")
    parser.add_argument("--size", default=None, action="append",
                        help="restrict to this size (repeatable); default: every size, each recipe at each size a model")
    parser.add_argument("--k", type=int, default=None, help="keep exactly k subtasks (default: the best k)")
    parser.add_argument("--method", choices=("topk", "greedy"), default="topk",
                        help="topk: rank by posterior SNR; greedy: forward selection on the aggregate (slower)")
    parser.add_argument("--window", type=int, default=5, metavar="W", help="last checkpoints per run (default 5)")
    parser.add_argument("--level", type=float, default=0.9, help="credible level (default 0.9)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--fast", action="store_true", help="fewer posterior draws (500; 200 while searching)")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.set_defaults(func=run)


def run(args) -> int:
    from snrstat.decision.selection import select_subtasks

    frame = load_frame(args.data)
    metric = args.metric
    if metric is None:
        metrics = sorted(frame.loc[frame["task"] == args.task, "metric"].unique())
        metric = "acc" if "acc" in metrics else (metrics[0] if len(metrics) == 1 else None)
    draws, search = (500, 200) if args.fast else (2000, 500)
    result = select_subtasks(
        frame, args.task, metric=metric, size=args.size, last_n=args.window, k=args.k, method=args.method,
        level=args.level, draws=draws, search_draws=search, seed=args.seed,
    )
    if args.json:
        out = {"task": args.task, "metric": metric, **result.to_dict()}
        print(json.dumps(out, indent=2, default=float))
        return 0
    _print(result, args, metric)
    return 0


def _fmt(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return "inf" if x == float("inf") else f"{x:.2f}"


def _print(result, args, metric) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    pct = f"{args.level:.0%}"
    agg = Table(title=f"{args.task} ({metric}): SNR of the aggregate score, posterior median and {pct} interval")
    for col in ("subset", "subtasks", "posterior SNR", f"{pct} interval", "paper SNR", "P(SNR > full suite)"):
        agg.add_column(col, justify="left" if col == "subset" else "right")
    labels = {"full": "all subtasks", "posterior": f"posterior {result.method}", "point": "paper: top k by point SNR"}
    for name, row in result.aggregates.iterrows():
        agg.add_row(labels[name], str(int(row["n_subtasks"])), _fmt(row["snr_median"]),
                    f"[{_fmt(row['snr_lo'])}, {_fmt(row['snr_hi'])}]", _fmt(row["snr_point"]), _fmt(row["p_above_full"]))
    console.print(agg)
    subs = Table(title="subtasks by posterior SNR")
    for col in ("rank", "subtask", "posterior SNR", f"{pct} interval", "paper SNR", "paper rank", "kept"):
        subs.add_column(col, justify="left" if col == "subtask" else "right")
    kept = set(result.selected)
    kept_point = set(result.selected_point)
    for _, row in result.subtasks.sort_values("rank_posterior").iterrows():
        mark = ("posterior " if row["subtask"] in kept else "") + ("paper" if row["subtask"] in kept_point else "")
        subs.add_row(str(row["rank_posterior"]), row["subtask"], _fmt(row["snr_median"]),
                     f"[{_fmt(row['snr_lo'])}, {_fmt(row['snr_hi'])}]", _fmt(row["snr_point"]),
                     str(row["rank_point"]), mark.strip())
    console.print(subs)
    console.print(
        "[dim]P(SNR > full suite) pairs draws of two separate fits as independent; both use the same records, "
        "so it is conservative (closer to 1/2). Choosing and judging a subset on the same records favours it.[/]"
    )
    for note in result.notes:
        console.print(f"[dim]{note}[/]")
