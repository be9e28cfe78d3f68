"""Scaling-law predictions of the OLMo 2 7B and 13B runs from the model ladder, for every task:
the paper's two-step point fit next to the Bayesian two-step (and one-step) predictive, and
leave-one-size-out validation of the predictive intervals on the ladder itself.

Prints, per task and target: observed score, point prediction and its relative error, the
Bayesian median and 90% interval and whether the observed score is inside; then coverage of
the 50%/90% intervals (targets; held-out ladder sizes overall and per size), mean log scores
(Bayesian predictive vs the point prediction as a normal with its fit's residual sd), sampler
health and fit times. With ``--out DIR`` the tables are also written as CSV.

    python benchmarks/scaling_validation.py [--tasks hellaswag_val arc_easy_test] [--draws 1000]
        [--tune 1000] [--chains 4] [--no-loso] [--no-one-step] [--checkpoints N] [--out DIR]

All fits run on CPU; nutpie compiles each model shape once (about 20-35 s) and reuses it.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import pandas as pd

import snrstat
from snrstat.scaling.bayes import ScalingFitWarning, ScalingConfig, fit_table
from snrstat.scaling.ladder import DEFAULT_TARGETS, checkpoint_table, target_points
from snrstat.scaling.point import ladder_point_table
from snrstat.scaling.validation import coverage_summary, leave_one_size_out


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="olmo-ladder", help="bundled data set name or a ladder CSV directory")
    p.add_argument("--tasks", nargs="*", default=None, help="tasks (default: every task with BPB and accuracy)")
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--tune", type=int, default=1000)
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--checkpoints", default="final", help="'final' or n (mean of the last n checkpoints)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-loso", action="store_true", help="skip leave-one-size-out validation")
    p.add_argument("--no-one-step", action="store_true", help="skip the one-step variant")
    p.add_argument("--out", type=Path, default=None, help="write CSV tables to this folder")
    return p.parse_args(argv)


def load(data: str) -> pd.DataFrame:
    if Path(data).is_dir():
        return snrstat.read_olmo_ladder(data)
    return snrstat.load_dataset(data)


def main(argv=None) -> int:
    args = parse_args(argv)
    checkpoints = args.checkpoints if args.checkpoints == "final" else int(args.checkpoints)
    frame = load(args.data)
    start = time.perf_counter()
    point = ladder_point_table(frame, args.tasks, checkpoints=checkpoints)
    point_s = time.perf_counter() - start
    tasks = list(dict.fromkeys(point["task"]))
    table = checkpoint_table(frame, tasks)

    target_rows, loso_rows, fit_rows = [], [], []
    n_warn = 0
    for i, task in enumerate(tasks, 1):
        tt = table.loc[table["task"] == task]
        tgt = target_points(tt, DEFAULT_TARGETS, checkpoints=checkpoints)
        for one_step in (False,) if args.no_one_step else (False, True):
            config = ScalingConfig(task=task, checkpoints=checkpoints, one_step=one_step,
                                   random_seed=args.seed, draws=args.draws, tune=args.tune,
                                   chains=args.chains, noise_window=max(5, 1 if checkpoints == "final" else checkpoints))
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ScalingFitWarning)
                fit = fit_table(tt, tgt, config, progress=False)
            n_warn += sum(issubclass(w.category, ScalingFitWarning) for w in caught)
            pred = fit.predictions()
            pred.insert(0, "model", "one-step" if one_step else "two-step")
            pred.insert(0, "task", task)
            target_rows.append(pred)
            fit_rows.append({"task": task, "kind": "one-step" if one_step else "two-step", "case": "targets",
                             **fit.timing, **{k: v for k, v in fit.diagnostics.items() if k != "problems"}})
        if not args.no_loso:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ScalingFitWarning)
                loso = leave_one_size_out(frame, task, table=tt, checkpoints=checkpoints, random_seed=args.seed,
                                          draws=args.draws, tune=args.tune, chains=args.chains)
            n_warn += sum(issubclass(w.category, ScalingFitWarning) for w in caught)
            loso_rows.append(loso)
            for size, g in loso.groupby("held_out", sort=False):
                fit_rows.append({"task": task, "kind": "two-step", "case": f"loso-{size}",
                                 "total_s": g["fit_s"].iloc[0], "sample_s": g["sample_s"].iloc[0],
                                 "ok": bool(g["diagnostics_ok"].iloc[0]), "divergences": int(g["divergences"].iloc[0])})
        print(f"[{i}/{len(tasks)}] {task} done ({time.perf_counter() - start:.0f} s)", flush=True)

    targets = pd.concat(target_rows, ignore_index=True)
    fits = pd.DataFrame(fit_rows)
    pd.set_option("display.width", 250)
    pd.set_option("display.max_rows", 500)

    two = targets.loc[targets["model"] == "two-step"]
    show = two[["task", "target", "observed", "point_pred", "point_rel_error", "median", "lo90", "hi90", "inside90"]].copy()
    if not args.no_one_step:
        one = targets.loc[targets["model"] == "one-step", ["task", "target", "median", "inside90"]]
        show = show.merge(one.rename(columns={"median": "median_1step", "inside90": "inside90_1step"}), on=["task", "target"])
    print("\n== Predictions of the targets (accuracy; point = the paper's two-step fit) ==")
    print(show.to_string(index=False, float_format=lambda v: f"{v:.4f}"))

    print("\n== Point fit: mean relative error over tasks ==")
    print(point.groupby("target")["rel_error"].agg(["mean", "median", "max"]).to_string(float_format=lambda v: f"{v:.4f}"))

    print("\n== Coverage and log scores: targets (7B, 13B) ==")
    print(coverage_summary(targets, by="model").to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(coverage_summary(two, by="target").to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if loso_rows:
        loso = pd.concat(loso_rows, ignore_index=True)
        print("\n== Leave-one-size-out on the ladder (two-step): all tasks x held-out runs ==")
        print(coverage_summary(loso).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        print(coverage_summary(loso, by="held_out").to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        per_task = coverage_summary(loso, by="task")
        print(per_task[["task", "n", "coverage50", "coverage90", "log_score", "point_log_score"]]
              .to_string(index=False, float_format=lambda v: f"{v:.3f}"))

    print("\n== Sampler health and fit times ==")
    print(f"point fits: {point_s:.1f} s for {len(tasks)} tasks (both steps, all targets)")
    for (kind, is_target), g in fits.groupby(["kind", fits["case"] == "targets"]):
        label = f"{kind} {'targets' if is_target else 'leave-one-size-out'}"
        print(f"{label:35s} fits {len(g):4d}  diagnostics ok {int(g['ok'].sum()):4d}  "
              f"divergent fits {int((g['divergences'] > 0).sum()):3d}  "
              f"sample s: mean {g['sample_s'].mean():5.1f} max {g['sample_s'].max():5.1f}  total {g['total_s'].sum():7.1f}")
    print(f"ScalingFitWarnings raised: {n_warn}; wall time {time.perf_counter() - start:.0f} s")

    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        point.to_csv(args.out / "point.csv", index=False)
        targets.to_csv(args.out / "targets.csv", index=False)
        fits.to_csv(args.out / "fits.csv", index=False)
        if loso_rows:
            loso.to_csv(args.out / "loso.csv", index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
