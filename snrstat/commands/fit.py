"""``snrstat fit``: the Bayesian variance decomposition of one task, as a table or JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path

from snrstat.commands._common import add_data_argument, load_frame


def add_parser(sub) -> None:
    parser = sub.add_parser("fit", help="posterior signal, noise and SNR of one task (hierarchical Bayesian model)")
    add_data_argument(parser)
    parser.add_argument("--task", required=True, help="task to fit (e.g. arc_easy_test, mmlu)")
    parser.add_argument("--metric", default=None, help="metric (default: the task's only metric, else an error)")
    parser.add_argument("--size", default=None, help="model size (default: the only size, else an error)")
    parser.add_argument("--models", default=None, help="comma-separated models to compare (default: all)")
    parser.add_argument("--last-n", type=int, default=5, help="checkpoints per run (default 5)")
    parser.add_argument("--likelihood", default="auto", help="auto, binomial, beta_binomial, logit_normal, normal, student_t")
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--sampler", choices=("nutpie", "pymc"), default="nutpie")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--level", type=float, default=0.9, help="credible level of the intervals (default 0.9)")
    parser.add_argument("--save", type=Path, default=None, help="write the fit (NetCDF + JSON card) to this .nc path")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(func=run)


def run(args) -> int:
    from snrstat.variance import fit_variance

    frame = load_frame(args.data)
    if args.models:
        wanted = [m.strip() for m in args.models.split(",") if m.strip()]
        frame = frame[frame["model"].isin(wanted)]
    fit = fit_variance(frame, task=args.task, metric=args.metric, size=args.size, last_n=args.last_n,
                       likelihood=args.likelihood, draws=args.draws, tune=args.tune, chains=args.chains,
                       sampler=args.sampler, random_seed=args.seed, progress=not args.json, level=args.level)
    if args.save:
        fit.save(args.save)
    summary = fit.summary(args.level)
    if args.json:
        out = {
            "task": fit.task, "metric": fit.metric, "level": args.level, "seed": args.seed,
            "summary": {q: {k: _num(v) for k, v in row.items()} for q, row in summary.iterrows()},
            "variance_shares": {q: {k: _num(v) for k, v in row.items()} for q, row in fit.variance_shares().iterrows()},
            "diagnostics": {k: v for k, v in fit.diagnostics.to_dict().items() if k != "table"},
        }
        print(json.dumps(out, indent=1))
        return 0
    _render(fit, summary, args.level)
    return 0


def _num(v):
    v = float(v)
    return v if math.isfinite(v) else None


def _render(fit, summary, level: float) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{fit.task} / {fit.metric}: posterior medians and {100 * level:.0f}% intervals")
    for col in ("quantity", "median", "lo", "hi", "point", "r_hat", "ess_bulk"):
        table.add_column(col, justify="left" if col == "quantity" else "right")
    for q, row in summary.iterrows():
        cells = [f"{row[c]:.4g}" if math.isfinite(row[c]) else "–" for c in ("median", "lo", "hi", "point")]
        table.add_row(q, *cells, f"{row['r_hat']:.3f}", f"{row['ess_bulk']:.0f}")
    console = Console()
    console.print(table)
    d = fit.diagnostics
    console.print(("[green]diagnostics ok[/]: " if d.ok else "[bold red]diagnostics FAILED[/]: ") + repr(d))
