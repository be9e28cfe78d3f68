"""``snrstat scaling``: predict a large run's score from the model ladder, point and Bayesian."""

from __future__ import annotations

import warnings

from snrstat.commands._common import (
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
    parser.add_argument("--last-n", type=positive_int, default=None, dest="last_n", metavar="N",
                        help="score every run by the mean of its last N checkpoints (default: the final "
                             "checkpoint, as the paper's scaling-law fits and the saved reference fits)")
    parser.add_argument("--checkpoints", type=positive_int, dest="last_n", action=DeprecatedAlias, new="--last-n")
    parser.add_argument("--runs", default="auto", metavar="{auto,paper,all,LABELS}",
                        help="training runs the law is fitted on: 'paper' (the paper's 190M-3B runs, 1xC "
                             "replicates included), 'all' (every run in the data with known params and tokens that is not a target or a "
                             "variant of one, such as peteish7-anneal), or "
                             "comma-separated labels such as 190M-1xC,1B-2xC,1B-1xC-rerun; 'auto' (default) is "
                             "'paper' when the data hold all of its runs, else 'all' (a ladder without "
                             "replicate runs fits)")
    parser.add_argument("--targets", default=None, metavar="MODELS",
                        help="comma-separated target models to predict (default: peteish7,peteish13)")
    parser.add_argument("--one-step", action="store_true", help="accuracy straight from N and D (no loss)")
    parser.add_argument("--fast", action="store_true",
                        help=f"fewer draws ({FAST['draws']} + {FAST['tune']} tuning per chain); diagnostics may flag low ESS")
    add_seed_argument(parser, what="random seed of the sampler")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.set_defaults(func=run)


def choose_runs(frame, spec: str, targets) -> list | None:
    """The training runs of ``--runs`` as (model, size, seed) tuples; None = the paper's."""
    from snrstat.scaling.ladder import PAPER_TRAIN_RUNS, parse_run
    from snrstat.schema import DataError

    keys = frame[["model", "size", "seed"]].astype(object).where(frame[["model", "size", "seed"]].notna(), "0")
    keys = keys.astype(str)
    present = set(map(tuple, keys.drop_duplicates().to_numpy().tolist()))
    # runs with both N and D known, that are neither a target nor a variant of one (<target>-...)
    known = frame["params"].notna() & frame["tokens"].notna()
    usable = set(map(tuple, keys[known].drop_duplicates().to_numpy().tolist()))
    everything = sorted(r for r in usable
                        if r[0] not in set(targets) and not any(r[0].startswith(f"{t}-") for t in targets))
    if spec == "paper":
        return None
    if spec == "auto":
        return None if set(PAPER_TRAIN_RUNS) <= present else everything
    if spec == "all":
        if not everything:
            raise DataError("--runs all: the data hold no run besides the targets")
        return everything
    runs = [parse_run(label.strip()) for label in spec.split(",") if label.strip()]
    missing = [r for r in runs if r not in present]
    if missing:
        raise DataError(f"--runs {missing} not in the data; runs (model, size, seed): {everything[:30]}")
    return runs


def run(args) -> int:
    from snrstat.scaling import fit_scaling_law
    from snrstat.scaling.ladder import DEFAULT_TARGETS

    frame = load_frame(args.data)
    task = pick_task(frame, args.task)
    settings = dict(FAST) if args.fast else {}
    checkpoints = "final" if args.last_n is None else args.last_n
    targets = tuple(t.strip() for t in args.targets.split(",")) if args.targets else DEFAULT_TARGETS
    runs = choose_runs(frame, args.runs, targets)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the health line below says it, with advice
        fit = fit_scaling_law(frame, task, checkpoints=checkpoints, one_step=args.one_step, targets=targets,
                              train_runs=runs, random_seed=args.random_seed,
                              progress=not (getattr(args, "quiet", False) or args.json), **settings)
    pred = fit.predictions()
    if args.json:
        print_json({
            "task": task, "kind": "one-step" if args.one_step else "two-step",
            "last_n": checkpoints, "train_runs": "paper" if runs is None else [list(r) for r in runs],
            "predictions": pred.to_dict(orient="records"),
            "point_fit": fit.point_params, "diagnostics": fit.diagnostics.to_dict(), "timing": fit.timing,
        })
        return 0

    from rich.table import Table

    out = console(args)
    kind = "one-step" if args.one_step else "two-step"
    table = Table(title=f"{esc(task)} ({esc(fit.points['acc_metric'].iloc[0])}): {kind} scaling law",
                  caption=f"last_n={checkpoints}; point = the paper's fit; 50%/90% = Bayesian "
                          "predictive intervals of the observed score", box=None, pad_edge=False, header_style="bold underline")
    name_column(table, "target")
    for col in ("observed", "point", "err", "median", "50%", "90%", "in 90%"):
        table.add_column(col, justify="right", no_wrap=True)
    for r in pred.itertuples():
        observed = "—" if r.observed != r.observed else f"{r.observed:.3f}"
        err = "—" if r.point_rel_error != r.point_rel_error else f"{100 * r.point_rel_error:.1f}%"
        inside = "—" if r.inside90 != r.inside90 or r.inside90 is None else ("yes" if r.inside90 else "[red]no[/]")
        table.add_row(esc(r.target), observed, f"{r.point_pred:.3f}", err, f"{r.median:.3f}",
                      f"{r.lo50:.3f}–{r.hi50:.3f}", f"{r.lo90:.3f}–{r.hi90:.3f}", inside)
    out.print(table)
    d = fit.diagnostics
    health = "[green]ok[/]" if d.ok else "[bold red]FAILED[/]: " + esc("; ".join(d.messages))
    out.print(f"sampler: {health} (max R-hat {d.max_r_hat:.3f}, min ESS {d.min_ess_bulk:.0f}/"
              f"{d.min_ess_tail:.0f}, {d.divergences} divergences); "
              f"{fit.timing['compile_s']:.0f} s compile + {fit.timing['sample_s']:.0f} s sampling")
    return 0
