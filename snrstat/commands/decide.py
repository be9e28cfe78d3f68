"""``snrstat decide``: decision accuracy between two scales, with a credible interval,
and what a new small-scale experiment with k seeds and n checkpoints would get right."""

from __future__ import annotations

import math

import numpy as np

from snrstat.select import refuse_constant
from snrstat.commands._common import (
    LAST_N,
    METRIC_PREFERENCE,
    DeprecatedAlias,
    Progress,
    add_data_argument,
    add_seed_argument,
    console,
    esc,
    load_frame,
    name_column,
    positive_int,
    print_json,
)
from snrstat.commands._common import pick_metric as _pick_metric
from snrstat.schema import DataError, size_order


def add_parser(sub) -> None:
    parser = sub.add_parser(
        "decide",
        help="decision accuracy between a small and a target scale, and the design of a new experiment",
        description=(
            "Posterior decision accuracy (Heineman et al. 2025): the fraction of model pairs ordered "
            "the same at a small and a target size, per draw of the joint posterior of the models' "
            "true mean scores at both sizes (a two-scale normal model of the last --last-n checkpoints "
            "of every run), next to the paper's point estimate from final checkpoints. Then the predicted "
            "decision accuracy of a new small-scale experiment with --plan-seeds runs per model scored "
            "by the mean of its --plan-last-n checkpoints. Sizes are ordered by params, else by the "
            "size label (70m < 160m < 1b < 1.4b). Note: --last-n is the fit window here as in every "
            "command; the planned experiment's checkpoints are --plan-last-n."
        ),
    )
    add_data_argument(parser)
    parser.add_argument("--task", required=True, help="task name, or 'all' for every task where two sizes share models")
    parser.add_argument("--metric", default=None, help=f"metric (default: first of {', '.join(METRIC_PREFERENCE)} present)")
    parser.add_argument("--small", default=None, metavar="SIZE", help="small size (default: the smallest sharing >= 2 models)")
    parser.add_argument("--target", default=None, metavar="SIZE", help="target size (default: the largest sharing >= 2 models with --small)")
    parser.add_argument("--last-n", type=positive_int, default=LAST_N, dest="last_n", metavar="N",
                        help=f"last checkpoints of every run used by the fit (default {LAST_N}, the paper's)")
    parser.add_argument("--window", type=positive_int, dest="last_n", action=DeprecatedAlias, new="--last-n")
    parser.add_argument("--plan-seeds", type=positive_int, default=1, dest="plan_seeds", metavar="K",
                        help="runs (seeds) per model in the planned experiment (default 1)")
    parser.add_argument("--seeds", type=positive_int, dest="plan_seeds", action=DeprecatedAlias, new="--plan-seeds")
    parser.add_argument("--plan-last-n", type=positive_int, default=1, dest="plan_last_n", metavar="N",
                        help="checkpoints averaged per run in the planned experiment (default 1: the final "
                             "one, as the paper)")
    parser.add_argument("--level", type=float, default=0.9, help="credible level (default 0.9)")
    parser.add_argument("--draws", type=int, default=16000,
                        help="posterior draws in all (default 16000: 4 ensembles x 32 walkers x 2000 steps thinned by 16)")
    parser.add_argument("--fast", action="store_true",
                        help="take the planned experiment's noise from the two-scale model too, not from the "
                             "hierarchical variance model (seconds instead of a PyMC fit)")
    add_seed_argument(parser)
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.set_defaults(func=run)


def pick_metric(rows, task: str, metric: str | None) -> str:
    """The task's metric (see :func:`snrstat.commands._common.pick_metric`)."""
    return _pick_metric(rows, task, metric)


def _models_by_size(rows) -> dict[str, set[str]]:
    whole = rows[rows["subtask"].isna()] if rows["subtask"].isna().any() else rows
    return {str(s): set(g["model"].unique()) for s, g in whole.groupby("size")}


def _size_order(rows) -> list[str]:
    """Sizes small to large: by params, else by the parsed label (:func:`snrstat.schema.size_order`)."""
    params = rows.groupby("size")["params"].median().to_dict()
    return [str(s) for s in size_order(rows["size"].dropna().unique(), params)]


def pick_sizes(rows, small: str | None, target: str | None) -> tuple[str, str, list[str]]:
    """Small and target sizes and their common models (by name)."""
    by_size = _models_by_size(rows)
    order = [s for s in _size_order(rows) if s in by_size]
    for name, s in (("--small", small), ("--target", target)):
        if s is not None and s not in by_size:
            raise DataError(f"{name} {s!r} not among the sizes {order}")
    smalls = [small] if small is not None else order
    for s in smalls:
        targets = [target] if target is not None else list(reversed(order))
        for t in targets:
            if t == s:
                continue
            common = sorted(by_size[s] & by_size[t])
            if len(common) >= 2:
                return s, t, common
    raise DataError(
        "no two sizes share at least two models"
        + (f" (small {small!r})" if small else "") + (f" (target {target!r})" if target else "")
        + f"; models per size: { {s: sorted(m) for s, m in by_size.items()} }"
    )


def planned_noise(frame, task, metric, size, models, joint, args):
    """Noise sds of the small scale for the planned experiment: the variance model's
    seed/order/checkpoint components when available (not with --fast), else the joint fit's."""
    notes = []
    if not args.fast:
        try:
            from snrstat.decision.adapters import variance_noise
        except ImportError:
            notes.append("noise of the planned experiment from the two-scale model (the variance model is not available)")
        else:
            sub = frame[(frame["task"] == task) & (frame["metric"] == metric) & (frame["size"] == size)
                        & frame["model"].isin(models)]
            noise = variance_noise(sub, task=task, metric=metric, window=args.last_n, seed=args.random_seed)
            notes.append("noise of the planned experiment from the hierarchical variance model ("
                         + ", ".join(sorted(noise)) + ")")
            if "sigma_seed" not in noise and "sigma_order" not in noise:
                notes.append("the variance model could not identify seed noise (one seed per model): the planned "
                             "experiment's prediction counts checkpoint noise only and is optimistic")
            return noise, notes
    noise = {}
    if not joint.has_run["small"]:
        notes.append("seed noise is not identifiable at the small scale (one run per model): the planned "
                     "experiment's prediction counts checkpoint noise only and is optimistic")
    for name in ("sigma_run", "sigma_ckpt"):
        try:
            noise[name] = joint.small.draws(name)
        except KeyError:
            continue
    return noise, notes


def analyse(frame, task: str, args) -> dict:
    from snrstat.decision._draws import interval
    from snrstat.decision.planning import detectable_difference, predictive_decision_accuracy
    from snrstat.decision.two_scales import fit_two_scales
    from snrstat.decision.accuracy import decision_accuracy_from_fits

    rows = frame[frame["task"] == task]
    metric = pick_metric(frame, task, args.metric)
    rows = rows[rows["metric"] == metric]
    small, target, models = pick_sizes(rows, args.small, args.target)
    for size in (small, target):
        refuse_constant(rows[(rows["size"] == size) & rows["model"].isin(models)],
                        f"task {task!r} / {metric} at size {size}")
    chains, walkers, thin = 4, 32, 16
    steps = max(thin, int(round(args.draws * thin / (chains * walkers))))
    joint = fit_two_scales(frame, task=task, metric=metric, small=small, target=target, models=models,
                           last_n=args.last_n, chains=chains, walkers=walkers, warmup=max(steps // 2, 200),
                           steps=steps, thin=thin, random_seed=args.random_seed)
    result = decision_accuracy_from_fits(joint.small, joint.target)
    summ = result.summary(args.level)
    rho = interval(joint.posterior["rho"].values, args.level)
    out = {
        "task": task, "metric": metric, "small": small, "target": target, "models": result.models,
        "decision_accuracy": summ.to_dict(),
        "rho": {"median": rho[0], "lo": rho[1], "hi": rho[2]},
        "notes": list(joint.notes), "warnings": list(joint.warnings),
    }
    noise, notes = planned_noise(frame, task, metric, small, models, joint, args)
    out["notes"] += notes
    if noise:
        n_draws = joint.posterior.sizes["chain"] * joint.posterior.sizes["draw"]
        aligned = all(getattr(v, "sizes", {}).get("draw") == joint.posterior.sizes["draw"]
                      and v.sizes.get("chain") == joint.posterior.sizes["chain"] for v in noise.values())
        if not aligned:
            # draws of a separate fit: any pairing of independent draws samples the product posterior
            rng = np.random.default_rng(args.random_seed)
            length = {np.asarray(v).size for v in noise.values()}.pop()
            pick = rng.integers(length, size=n_draws)
            noise = {k: np.asarray(v).ravel()[pick] for k, v in noise.items()}
        pred, per_draw = predictive_decision_accuracy(
            noise, joint.small.draws("model_mean"), joint.target.draws("model_mean"), k=args.plan_seeds,
            n=args.plan_last_n)
        med, lo, hi = interval(per_draw.values, args.level)
        out["planned"] = {
            "plan_seeds": args.plan_seeds, "plan_last_n": args.plan_last_n, "predicted_decision_accuracy": pred,
            "median": med, "lo": lo, "hi": hi,
            "detectable_difference_80": detectable_difference(noise, args.plan_seeds, args.plan_last_n, 0.8),
            "noise_components": {k: float(np.median(np.asarray(v))) for k, v in noise.items()},
        }
    return out


def candidate_tasks(frame) -> list[str]:
    tasks = []
    for task, rows in frame.groupby("task"):
        try:
            metric = pick_metric(frame, str(task), None)
            pick_sizes(rows[rows["metric"] == metric], None, None)
        except DataError:
            continue
        tasks.append(str(task))
    return sorted(tasks)


def run(args) -> int:
    frame = load_frame(args.data)
    tasks = candidate_tasks(frame) if args.task == "all" else [args.task]
    if not tasks:
        raise DataError("no task has two sizes sharing at least two models")
    results = []
    progress = Progress(args, len(tasks), "decide: task")
    for task in tasks:
        progress.step(task)
        try:
            results.append(analyse(frame, task, args))
        except DataError as exc:
            if args.task != "all":
                raise
            results.append({"task": task, "error": str(exc)})
    if args.json:
        print_json(results if args.task == "all" else results[0])
        return 0
    _print(results, args)
    return 0


def _fmt(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:.3f}"


def _print(results: list[dict], args) -> None:
    from rich.table import Table

    out = console(args)
    pct = f"{args.level:.0%}"
    table = Table(title=f"decision accuracy, posterior median and {pct} interval")
    name_column(table, "task", [r["task"] for r in results])
    name_column(table, "metric", [r.get("metric", "") for r in results])
    for col in ("small -> target", "models", "posterior median", f"{pct} interval", "mean",
                "paper (final ckpt)", f"planned k={args.plan_seeds}, n={args.plan_last_n}"):
        table.add_column(col, justify="right")
    for r in results:
        if "error" in r:
            table.add_row(esc(r["task"]), "", "", "", "error", esc(r["error"]), "", "", "")
            continue
        d = r["decision_accuracy"]
        planned = r.get("planned", {})
        table.add_row(
            esc(r["task"]), esc(r["metric"]), esc(f"{r['small']} -> {r['target']}"), str(d["n_models"]),
            _fmt(d["median"]), f"[{_fmt(d['lo'])}, {_fmt(d['hi'])}]", _fmt(d["mean"]), _fmt(d["point"]),
            _fmt(planned.get("predicted_decision_accuracy")),
        )
    out.print(table)
    out.print("[dim]mean = posterior expected decision accuracy (with two models: P(the pair agrees)).[/]")
    if len(results) == 1 and "error" not in results[0]:
        r = results[0]
        pairs = Table(title="pairs: P(ordered the same at both scales)")
        name_column(pairs, "model a")
        name_column(pairs, "model b")
        for col in ("P(agree)", "P(a > b) small", "P(a > b) target", "observed agree"):
            pairs.add_column(col, justify="right")
        for p in r["decision_accuracy"]["pairs"]:
            pairs.add_row(esc(p["model_a"]), esc(p["model_b"]), _fmt(p["p_agree"]), _fmt(p["p_a_above_small"]),
                          _fmt(p["p_a_above_target"]), esc(p.get("observed_agree", "-")))
        out.print(pairs)
        rho = r["rho"]
        out.print(f"Correlation of the models' true means between {esc(r['small'])} and {esc(r['target'])}: "
                  f"rho {_fmt(rho['median'])} ({pct}: {_fmt(rho['lo'])} to {_fmt(rho['hi'])}).")
        if "planned" in r:
            p = r["planned"]
            out.print(
                f"A new {esc(r['small'])} experiment with {p['plan_seeds']} run(s) per model, each scored by the mean "
                f"of its last {p['plan_last_n']} checkpoint(s), orders the pairs as {esc(r['target'])} does with "
                f"expected decision accuracy {_fmt(p['predicted_decision_accuracy'])} ({pct}: {_fmt(p['lo'])}-"
                f"{_fmt(p['hi'])}); it orders a pair correctly with probability 0.8 once the true difference is "
                f"{p['detectable_difference_80']:.4g} (noise sds "
                f"{', '.join(f'{k} {v:.3g}' for k, v in p['noise_components'].items())})."
            )
    for r in results:
        for warning in r.get("warnings", []):
            out.print(f"[yellow]{esc(r['task'])}: {esc(warning)}[/]")
    by_note: dict[str, list[str]] = {}
    for r in results:
        for note in r.get("notes", []):
            by_note.setdefault(note, []).append(r["task"])
    for note, tasks in by_note.items():
        where = tasks[0] if len(tasks) == 1 else f"{len(tasks)} tasks"
        out.print(f"[dim]{esc(where)}: {esc(note)}[/]")
