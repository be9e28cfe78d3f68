"""``snrstat scaling``: predict a large run's score from the model ladder, point and Bayesian."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

from snrstat.commands._common import add_data_argument, load_frame

FAST = {"draws": 400, "tune": 400, "chains": 4}


def add_parser(sub) -> None:
    parser = sub.add_parser(
        "scaling",
        help="scaling-law prediction of the 7B/13B targets from the ladder, with predictive intervals",
        description=(
            "Fit the two-step scaling law (task loss from N and D, accuracy from loss) on the "
            "OLMo ladder and predict the targets: the paper's point prediction next to the "
            "Bayesian predictive median and 50%/90% intervals of the observed score."
        ),
    )
    add_data_argument(parser, help_extra=", or a folder of OLMo ladder CSVs")
    parser.add_argument("--task", required=True, help="task, e.g. hellaswag_val or arc_easy_test")
    parser.add_argument("--checkpoints", type=int, default=None, metavar="N",
                        help="average the last N checkpoints of every run (default: final checkpoint)")
    parser.add_argument("--one-step", action="store_true", help="accuracy straight from N and D (no loss)")
    parser.add_argument("--fast", action="store_true",
                        help=f"fewer draws ({FAST['draws']} + {FAST['tune']} tuning per chain); diagnostics may flag low ESS")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the sampler (default 0)")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.set_defaults(func=run)


def _load(data: str):
    path = Path(data)
    if path.is_dir():
        from snrstat.io.olmo_ladder import read_olmo_ladder

        return read_olmo_ladder(path)
    return load_frame(data)


def run(args) -> int:
    from snrstat.scaling.bayes import ScalingFitWarning, _advice, fit_scaling_law

    frame = _load(args.data)
    settings = dict(FAST) if args.fast else {}
    checkpoints = "final" if args.checkpoints is None else args.checkpoints
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ScalingFitWarning)
        fit = fit_scaling_law(frame, args.task, checkpoints=checkpoints, one_step=args.one_step,
                              random_seed=args.seed, progress=False, **settings)
    pred = fit.predictions()
    if args.json:
        print(json.dumps({
            "task": args.task, "kind": "one-step" if args.one_step else "two-step",
            "checkpoints": checkpoints,
            "predictions": json.loads(pred.to_json(orient="records")),
            "point_fit": fit.point_params, "diagnostics": fit.diagnostics, "timing": fit.timing,
        }, indent=2))
        return 0

    from rich.console import Console
    from rich.table import Table

    console = Console()
    kind = "one-step" if args.one_step else "two-step"
    table = Table(title=f"{args.task} ({fit.points['acc_metric'].iloc[0]}): {kind} scaling law",
                  caption=f"checkpoints={checkpoints}; point = the paper's fit; 50%/90% = Bayesian "
                          "predictive intervals of the observed score", box=None, pad_edge=False, header_style="bold underline")
    for col in ("target", "observed", "point", "err", "median", "50%", "90%", "in 90%"):
        table.add_column(col, justify="left" if col == "target" else "right", no_wrap=True)
    for r in pred.itertuples():
        observed = "—" if r.observed != r.observed else f"{r.observed:.3f}"
        err = "—" if r.point_rel_error != r.point_rel_error else f"{100 * r.point_rel_error:.1f}%"
        inside = "—" if r.inside90 != r.inside90 or r.inside90 is None else ("yes" if r.inside90 else "[red]no[/]")
        table.add_row(str(r.target), observed, f"{r.point_pred:.3f}", err, f"{r.median:.3f}",
                      f"{r.lo50:.3f}–{r.hi50:.3f}", f"{r.lo90:.3f}–{r.hi90:.3f}", inside)
    console.print(table)
    d = fit.diagnostics
    health = "[green]ok[/]" if d["ok"] else "[bold red]FAILED[/]: " + "; ".join(d["problems"])
    console.print(f"sampler: {health} (max R-hat {d['rhat_max']:.3f}, min ESS {d['ess_bulk_min']:.0f}/"
                  f"{d['ess_tail_min']:.0f}, {d['divergences']} divergences); "
                  f"{fit.timing['compile_s']:.0f} s compile + {fit.timing['sample_s']:.0f} s sampling")
    if any(issubclass(w.category, ScalingFitWarning) for w in caught):
        console.print(f"[yellow]advice:[/] {_advice(d, fit.config)}")
    return 0
