"""``snrstat fit``: the Bayesian variance decomposition of one task, as a table or JSON."""

from __future__ import annotations

import math
import sys
from pathlib import Path

from snrstat.select import refuse_constant
from snrstat.commands._common import (
    METRIC_PREFERENCE,
    add_data_argument,
    add_last_n_argument,
    add_likelihood_argument,
    add_seed_argument,
    check_output_path,
    console,
    esc,
    load_frame,
    name_column,
    pick_metric,
    pick_size,
    pick_task,
    positive_int,
    print_json,
)


def add_parser(sub) -> None:
    parser = sub.add_parser("fit", help="posterior signal, noise and SNR of one task (hierarchical Bayesian model)")
    add_data_argument(parser)
    parser.add_argument("--task", required=True, help="task to fit (e.g. arc_easy_test, mmlu)")
    parser.add_argument("--metric", default=None,
                        help=f"metric (default: the first of {', '.join(METRIC_PREFERENCE)} the task has, "
                             "else its only metric)")
    parser.add_argument("--size", default=None, help="model size (default: the only size, else an error listing them)")
    parser.add_argument("--models", default=None, help="comma-separated models to compare (default: all)")
    add_last_n_argument(parser, what="last checkpoints of every run fitted")
    add_likelihood_argument(parser)
    parser.add_argument("--draws", type=positive_int, default=1000)
    parser.add_argument("--tune", type=positive_int, default=1000)
    parser.add_argument("--chains", type=positive_int, default=4)
    parser.add_argument("--sampler", choices=("nutpie", "pymc"), default="nutpie")
    add_seed_argument(parser)
    parser.add_argument("--level", type=float, default=0.9, help="credible level of the intervals (default 0.9)")
    parser.add_argument("--save", type=Path, default=None,
                        help="write the fit (NetCDF + JSON card) to this .nc path (checked before sampling)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(func=run)


def run(args) -> int:
    from snrstat.schema import DataError
    from snrstat.variance import fit_variance

    if not 0 < args.level < 1:
        raise DataError(f"--level must lie strictly between 0 and 1, got {args.level}")
    check_output_path(args.save, what="--save")
    frame = load_frame(args.data)
    if args.models:
        wanted = [m.strip() for m in args.models.split(",") if m.strip()]
        unknown = sorted(set(wanted) - set(frame["model"].dropna()))
        if unknown:
            raise DataError(f"--models {unknown} not in the data; models: {sorted(frame['model'].dropna().unique())[:30]}")
        frame = frame[frame["model"].isin(wanted)]
    task = pick_task(frame, args.task)
    metric = pick_metric(frame, task, args.metric)
    size = pick_size(frame, task, metric, args.size)
    rows = frame[(frame["task"] == task) & (frame["metric"] == metric)]
    refuse_constant(rows if size is None else rows[rows["size"] == size],
                    f"task {task!r} / {metric}" + (f" at size {size}" if size else ""))
    if args.metric is None and not getattr(args, "quiet", False):
        print(f"snrstat fit: metric {metric} (choose another with --metric)", file=sys.stderr)
    fit = fit_variance(frame, task=task, metric=metric, size=size, last_n=args.last_n,
                       likelihood=args.likelihood, draws=args.draws, tune=args.tune, chains=args.chains,
                       sampler=args.sampler, random_seed=args.random_seed,
                       progress=not (args.json or getattr(args, "quiet", False)), level=args.level)
    if args.save:
        fit.save(args.save)
    summary = fit.summary(args.level)
    if args.json:
        print_json({
            "task": fit.task, "metric": fit.metric, "size": size, "level": args.level,
            "random_seed": args.random_seed,
            "summary": {q: dict(row.items()) for q, row in summary.iterrows()},
            "variance_shares": {q: dict(row.items()) for q, row in fit.variance_shares().iterrows()},
            "diagnostics": {k: v for k, v in fit.diagnostics.to_dict().items() if k != "table"},
        }, indent=1)
        return 0
    _render(fit, summary, args)
    return 0


def _render(fit, summary, args) -> None:
    from rich.table import Table

    level = args.level
    table = Table(title=f"{esc(fit.task)} / {esc(fit.metric)}: posterior medians and {100 * level:.0f}% intervals")
    name_column(table, "quantity")
    for col in ("median", "lo", "hi", "point", "r_hat", "ess_bulk"):
        table.add_column(col, justify="right")
    for q, row in summary.iterrows():
        cells = [f"{row[c]:.4g}" if math.isfinite(row[c]) else "–" for c in ("median", "lo", "hi", "point")]
        table.add_row(esc(q), *cells, f"{row['r_hat']:.3f}", f"{row['ess_bulk']:.0f}")
    out = console(args)
    out.print(table)
    d = fit.diagnostics
    out.print(("[green]diagnostics ok[/]: " if d.ok else "[bold red]diagnostics FAILED[/]: ") + esc(repr(d)))
