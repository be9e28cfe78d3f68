"""``snrstat select``: which subtasks of a suite to keep, by posterior SNR, beside the paper's rule."""

from __future__ import annotations

import math

from snrstat.commands._common import (
    LAST_N,
    DeprecatedAlias,
    add_data_argument,
    add_seed_argument,
    console,
    esc,
    load_frame,
    name_column,
    pick_task,
    positive_int,
    print_json,
)


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
    parser.add_argument("--last-n", type=positive_int, default=LAST_N, dest="last_n", metavar="N",
                        help=f"last checkpoints of every run used (default {LAST_N}, the paper's)")
    parser.add_argument("--window", type=positive_int, dest="last_n", action=DeprecatedAlias, new="--last-n")
    parser.add_argument("--level", type=float, default=0.9, help="credible level (default 0.9)")
    add_seed_argument(parser)
    parser.add_argument("--fast", action="store_true", help="fewer posterior draws (500; 200 while searching)")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.set_defaults(func=run)


def run(args) -> int:
    import warnings

    from snrstat.decision.selection import select_subtasks
    from snrstat.point import UndefinedSNRWarning
    from snrstat.point.small_scale import without_constant_subtasks

    frame = load_frame(args.data)
    task = pick_task(frame, args.task)
    metric = args.metric
    if metric is None:
        metrics = sorted(frame.loc[frame["task"] == task, "metric"].unique())
        metric = "acc" if "acc" in metrics else (metrics[0] if len(metrics) == 1 else None)
    rows = frame[(frame["task"] == task) & ((frame["metric"] == metric) if metric else True)]
    if args.size:
        rows = rows[rows["size"].isin(args.size)]
    # a frozen subtask (constant scores) has no defined SNR: leave it out, rank the rest
    frame, frozen = without_constant_subtasks(frame[frame.index.isin(rows.index) | (frame["task"] != task)],
                                              task, args.last_n)
    if frozen:
        warnings.warn(f"subtask(s) {', '.join(frozen)} of {task!r} have constant scores in the last "
                      f"{args.last_n} checkpoints (SNR undefined) and are left out of the selection",
                      UndefinedSNRWarning, stacklevel=1)
    draws, search = (500, 200) if args.fast else (2000, 500)
    if not getattr(args, "quiet", False):
        import sys

        n_sub = frame.loc[frame["task"] == task, "subtask"].nunique()
        print(f"snrstat select: fitting the nested normal model to {n_sub} subtasks of {task} "
              f"({args.method}, {draws} draws; --fast for fewer)", file=sys.stderr)
    result = select_subtasks(
        frame, task, metric=metric, size=args.size, last_n=args.last_n, k=args.k, method=args.method,
        level=args.level, draws=draws, search_draws=search, random_seed=args.random_seed,
    )
    if args.json:
        print_json({"task": task, "metric": metric, "excluded_constant": frozen, **result.to_dict()})
        return 0
    _print(result, args, metric, frozen)
    return 0


def _fmt(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return "inf" if x == float("inf") else f"{x:.2f}"


def _print(result, args, metric, frozen=()) -> None:
    from rich.table import Table

    out = console(args)
    pct = f"{args.level:.0%}"
    agg = Table(title=f"{esc(args.task)} ({esc(metric)}): SNR of the aggregate score, posterior median and {pct} interval")
    name_column(agg, "subset")
    for col in ("subtasks", "posterior SNR", f"{pct} interval", "paper SNR", "P(SNR > full suite)"):
        agg.add_column(col, justify="right")
    labels = {"full": "all subtasks", "posterior": f"posterior {result.method}", "point": "paper: top k by point SNR"}
    for name, row in result.aggregates.iterrows():
        agg.add_row(esc(labels.get(name, name)), str(int(row["n_subtasks"])), _fmt(row["snr_median"]),
                    f"[{_fmt(row['snr_lo'])}, {_fmt(row['snr_hi'])}]", _fmt(row["snr_point"]), _fmt(row["p_above_full"]))
    out.print(agg)
    subs = Table(title="subtasks by posterior SNR")
    subs.add_column("rank", justify="right")
    name_column(subs, "subtask", result.subtasks["subtask"])
    for col in ("posterior SNR", f"{pct} interval", "paper SNR", "paper rank", "kept"):
        subs.add_column(col, justify="right")
    kept = set(result.selected)
    kept_point = set(result.selected_point)
    for _, row in result.subtasks.sort_values("rank_posterior").iterrows():
        mark = ("posterior " if row["subtask"] in kept else "") + ("paper" if row["subtask"] in kept_point else "")
        subs.add_row(str(row["rank_posterior"]), esc(row["subtask"]), _fmt(row["snr_median"]),
                     f"[{_fmt(row['snr_lo'])}, {_fmt(row['snr_hi'])}]", _fmt(row["snr_point"]),
                     str(row["rank_point"]), mark.strip())
    out.print(subs)
    if frozen:
        out.print(f"[yellow]left out, constant scores (SNR undefined): {esc(', '.join(frozen))}[/]")
    out.print(
        "[dim]P(SNR > full suite) pairs draws of two separate fits as independent; both use the same records, "
        "so it is conservative (closer to 1/2). Choosing and judging a subset on the same records favours it.[/]"
    )
    for note in result.notes:
        out.print(f"[dim]{esc(note)}[/]")
