"""Scaling-law predictions of the OLMo 2 7B and 13B runs from the model ladder, for every task:
the paper's two-step point fit next to the Bayesian two-step (and one-step) predictive, and
leave-one-size-out validation of the predictive intervals on the ladder itself.

Writes ``validation/results/scaling.md`` (per task and target: point prediction and its
relative error, Bayesian median and 50%/90% intervals, observed score, whether it is inside the
90% interval, sampler diagnostics; coverage of the intervals over all tasks x held-out ladder
runs; log scores of the Bayesian predictive vs the point prediction taken as a normal with its
fit's residual sd; fit times), CSV tables and one fan chart under ``validation/results/scaling/``.

    python benchmarks/scaling_validation.py [--tasks hellaswag_val arc_easy_test] [--draws 2000]
        [--tune 1500] [--chains 4] [--no-loso] [--no-one-step] [--checkpoints N] [--out DIR]

Seeded (``--seed``, default 0): the same command writes the same numbers. All fits run on CPU;
nutpie compiles each model shape once (about 20-35 s) and reuses it for every task.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import pandas as pd

import snrstat
from snrstat.scaling.data import ScalingConfig
from snrstat.scaling.fit import ScalingFitWarning, fit_table
from snrstat.scaling.ladder import DEFAULT_TARGETS, checkpoint_table, target_points
from snrstat.scaling.point import ladder_point_table
from snrstat.scaling.validation import coverage_summary, leave_one_size_out

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="olmo-ladder", help="bundled data set name or a ladder CSV directory")
    p.add_argument("--tasks", nargs="*", default=None, help="tasks (default: every task with BPB and accuracy)")
    p.add_argument("--draws", type=int, default=2000)
    p.add_argument("--tune", type=int, default=1500)
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--checkpoints", default="final", help="'final' or n (mean of the last n checkpoints)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-loso", action="store_true", help="skip leave-one-size-out validation")
    p.add_argument("--no-one-step", action="store_true", help="skip the one-step variant")
    p.add_argument("--out", type=Path, default=ROOT / "validation" / "results",
                   help="folder for scaling.md and scaling/*.csv")
    return p.parse_args(argv)


def load(data: str) -> pd.DataFrame:
    if Path(data).is_dir():
        from snrstat.io.olmo_ladder import read_olmo_ladder

        return read_olmo_ladder(data)
    return snrstat.load_dataset(data)


def _health(diag) -> str:
    return "ok" if diag.ok else "; ".join(diag.messages)


def _md(frame: pd.DataFrame, floatfmt: str = ".3f") -> str:
    """A DataFrame as a GitHub markdown table (no tabulate dependency)."""
    def cell(v):
        if isinstance(v, float):
            return "–" if v != v else format(v, floatfmt)
        return str(v)

    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def _interval(lo, hi) -> str:
    return f"[{lo:.3f}, {hi:.3f}]"


def main(argv=None) -> int:
    args = parse_args(argv)
    checkpoints = args.checkpoints if args.checkpoints == "final" else int(args.checkpoints)
    frame = load(args.data)
    start = time.perf_counter()
    point = ladder_point_table(frame, args.tasks, checkpoints=checkpoints)
    point_s = time.perf_counter() - start
    tasks = list(dict.fromkeys(point["task"]))
    table = checkpoint_table(frame, tasks)
    kinds = (False,) if args.no_one_step else (False, True)
    n_fits = len(tasks) * (len(kinds) + (0 if args.no_loso else 5))
    done = 0

    def tick(label: str):
        nonlocal done
        done += 1
        print(f"[{done}/{n_fits} fits] {label} ({time.perf_counter() - start:.0f} s)", flush=True)

    target_rows, loso_rows, fit_rows, fits_kept = [], [], [], {}
    for task in tasks:
        tt = table.loc[table["task"] == task]
        tgt = target_points(tt, DEFAULT_TARGETS, checkpoints=checkpoints)
        for one_step in kinds:
            kind = "one-step" if one_step else "two-step"
            config = ScalingConfig(task=task, checkpoints=checkpoints, one_step=one_step,
                                   random_seed=args.seed, draws=args.draws, tune=args.tune, chains=args.chains,
                                   noise_window=max(5, 1 if checkpoints == "final" else checkpoints))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ScalingFitWarning)  # reported in the tables instead
                fit = fit_table(tt, tgt, config, progress=False)
            pred = fit.predictions()
            pred.insert(0, "model", kind)
            pred.insert(0, "task", task)
            pred["diagnostics"] = _health(fit.diagnostics)
            pred["rhat_max"] = fit.diagnostics.max_r_hat
            pred["ess_bulk_min"] = fit.diagnostics.min_ess_bulk
            pred["divergences"] = fit.diagnostics.divergences
            target_rows.append(pred)
            fit_rows.append({"task": task, "kind": kind, "case": "targets", **fit.timing,
                             **{k: v for k, v in fit.diagnostics.to_dict().items() if k not in ("messages", "table", "checks")},
                             "problems": "; ".join(fit.diagnostics.messages)})
            if not one_step and task == "hellaswag_val":
                fits_kept[task] = fit
            tick(f"{task} {kind} targets: {_health(fit.diagnostics)}")
        if not args.no_loso:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ScalingFitWarning)
                loso = leave_one_size_out(
                    frame, task, table=tt, checkpoints=checkpoints, random_seed=args.seed, draws=args.draws,
                    tune=args.tune, chains=args.chains,
                    on_fit=lambda size, fit, task=task: tick(f"{task} without {size}: {_health(fit.diagnostics)}"))
            loso_rows.append(loso)
            for size, g in loso.groupby("held_out", sort=False):
                r = g.iloc[0]
                fit_rows.append({"task": task, "kind": "two-step", "case": f"loso-{size}",
                                 "compile_s": r["compile_s"], "sample_s": r["sample_s"],
                                 "total_s": r["compile_s"] + r["sample_s"], "ok": bool(r["diagnostics_ok"]),
                                 "divergences": int(r["divergences"]), "rhat_max": r["rhat_max"],
                                 "ess_bulk_min": r["ess_bulk_min"], "problems": r["problems"]})
    wall = time.perf_counter() - start

    targets = pd.concat(target_rows, ignore_index=True)
    fits = pd.DataFrame(fit_rows)
    loso = pd.concat(loso_rows, ignore_index=True) if loso_rows else None
    csv_dir = args.out / "scaling"
    csv_dir.mkdir(parents=True, exist_ok=True)
    point.to_csv(csv_dir / "point.csv", index=False)
    targets.to_csv(csv_dir / "targets.csv", index=False)
    fits.to_csv(csv_dir / "fits.csv", index=False)
    if loso is not None:
        loso.to_csv(csv_dir / "loso.csv", index=False)
    if fits_kept:
        import matplotlib

        matplotlib.use("Agg")
        for task, fit in fits_kept.items():
            fig, _ = fit.plot_fan(random_seed=args.seed)
            fig.savefig(csv_dir / f"fan_{task}.png", dpi=110, bbox_inches="tight")

    text = [report_header(args, checkpoints, tasks)]
    text.append(targets_section(targets, kinds))
    text.append(coverage_section(targets, loso))
    text.append(times_section(fits, point_s, len(tasks), wall))
    if fits_kept:
        text.append("## Fan chart\n\n" + "\n".join(
            f"![fan chart {t}](scaling/fan_{t}.png)" for t in fits_kept) + "\n")
    (args.out / "scaling.md").write_text("\n".join(text))
    print(f"wrote {args.out / 'scaling.md'} and {csv_dir}/*.csv ({wall:.0f} s)")
    return 0


def report_header(args, checkpoints, tasks) -> str:
    return (
        "# Scaling-law predictions of the OLMo 2 7B and 13B runs\n\n"
        f"Produced by `python benchmarks/scaling_validation.py` (seed {args.seed}; data `{args.data}`; "
        f"{len(tasks)} tasks with BPB and accuracy; checkpoints = {checkpoints}; "
        f"{args.chains} chains x {args.draws} draws after {args.tune} tuning steps, nutpie).\n\n"
        "*point*: the paper's two-step scipy fit (Bhagia et al. 2024 ladder law, science.md section 2) "
        "on the 26 ladder runs, chained to the target's N and D; *rel. error* = |point - observed| / observed. "
        "*median*, *50%*, *90%*: the Bayesian two-step model's posterior predictive of the observed score "
        "(new run deviation and checkpoint noise included). *diagnostics*: `ok` = no divergences, "
        "R-hat <= 1.01, bulk and tail ESS >= 400, BFMI > 0.3; otherwise the failing check.\n"
    )


def targets_section(targets: pd.DataFrame, kinds) -> str:
    two = targets.loc[targets["model"] == "two-step"]
    rows = pd.DataFrame({
        "task": two["task"], "target": two["target"], "point": two["point_pred"],
        "rel. error": (100 * two["point_rel_error"]).map(lambda v: f"{v:.1f}%"),
        "median": two["median"], "50%": [_interval(a, b) for a, b in zip(two["lo50"], two["hi50"])],
        "90%": [_interval(a, b) for a, b in zip(two["lo90"], two["hi90"])],
        "observed": two["observed"], "inside90": two["inside90"].map({True: "yes", False: "**no**"}),
        "diagnostics": two["diagnostics"],
    })
    out = ["## Targets: point prediction vs Bayesian predictive (two-step)\n", _md(rows), ""]
    inside = two["inside90"].dropna().astype(bool)
    out.append(f"Observed score inside the 90% interval: {int(inside.sum())} of {len(inside)}; "
               f"inside the 50% interval: {int(two['inside50'].dropna().astype(bool).sum())} of {len(inside)}. "
               f"Mean relative error of the point prediction: 7B {100 * two.loc[two.target == 'peteish7', 'point_rel_error'].mean():.1f}%, "
               f"13B {100 * two.loc[two.target == 'peteish13', 'point_rel_error'].mean():.1f}%; "
               f"of the Bayesian median: 7B {100 * two.loc[two.target == 'peteish7', 'bayes_rel_error'].mean():.1f}%, "
               f"13B {100 * two.loc[two.target == 'peteish13', 'bayes_rel_error'].mean():.1f}%.\n")
    if True in kinds:
        one = targets.loc[targets["model"] == "one-step"]
        rows = pd.DataFrame({
            "task": one["task"], "target": one["target"], "median": one["median"],
            "90%": [_interval(a, b) for a, b in zip(one["lo90"], one["hi90"])], "observed": one["observed"],
            "inside90": one["inside90"].map({True: "yes", False: "**no**"}), "diagnostics": one["diagnostics"],
        })
        inside = one["inside90"].dropna().astype(bool)
        out += ["### One-step variant (accuracy straight from N and D)\n", _md(rows), "",
                f"Inside the 90% interval: {int(inside.sum())} of {len(inside)}.\n"]
    return "\n".join(out)


def coverage_section(targets: pd.DataFrame, loso) -> str:
    cols = ["n", "coverage50", "coverage90", "log_score", "point_log_score", "log_score_gain",
            "point_rel_error", "bayes_rel_error"]
    out = ["## Coverage and log scores\n",
           "Log score = log predictive density of the observed score (higher is better), averaged over cases. "
           "Bayes: the posterior predictive (mixture over draws of a normal given each draw's curve and a new run's "
           "loss). Point: Normal(point prediction, residual sd of the point fit's chained predictions on its own "
           "training runs). *gain* = mean(Bayes - point).\n"]
    if loso is not None:
        out += ["### Leave-one-size-out on the ladder (two-step; all tasks x held-out runs)\n",
                "Each ladder size is held out in turn (all its runs), the law is fitted on the other sizes and the "
                "held-out runs are predicted: 3B from 190M-1B is an extrapolation, the middle sizes interpolations.\n",
                _md(coverage_summary(loso)[cols]), "", "By held-out size:\n",
                _md(coverage_summary(loso, by="held_out")[["held_out", *cols]]), "",
                "By task:\n", _md(coverage_summary(loso, by="task")[["task", *cols]]), ""]
    out += ["### Targets (7B, 13B)\n", _md(coverage_summary(targets, by="model")[["model", *cols]]), ""]
    return "\n".join(out)


def times_section(fits: pd.DataFrame, point_s: float, n_tasks: int, wall: float) -> str:
    compiled = fits["compile_s"] > 1.0
    rows = []
    for label, g in (("with compile", fits.loc[compiled]), ("reusing compiled model", fits.loc[~compiled])):
        if len(g):
            rows.append({"fit": label, "n": len(g), "compile s (mean)": g["compile_s"].mean(),
                         "sampling s (mean)": g["sample_s"].mean(), "sampling s (max)": g["sample_s"].max(),
                         "total s (mean)": g["total_s"].mean()})
    health = []
    for (kind, case), g in fits.groupby(["kind", fits["case"].where(fits["case"] == "targets", "leave-one-size-out")]):
        bad = g.loc[~g["ok"].astype(bool)]
        health.append({"fits": f"{kind} {case}", "n": len(g), "diagnostics ok": int(g["ok"].sum()),
                       "with divergences": int((g["divergences"] > 0).sum()), "max R-hat": g["rhat_max"].max(),
                       "min bulk ESS": g["ess_bulk_min"].min(),
                       "failing": "; ".join(f"{r.task} {r.case}: {r.problems}" for r in bad.itertuples()) or "none"})
    return "\n".join([
        "## Sampler health and fit times\n", _md(pd.DataFrame(health)), "",
        _md(pd.DataFrame(rows), ".1f"), "",
        f"Point fits (both steps, all targets): {point_s:.1f} s for {n_tasks} tasks. Wall time of this script: "
        f"{wall / 60:.1f} min on this machine (CPU, {len(fits)} Bayesian fits).\n",
    ])


if __name__ == "__main__":
    raise SystemExit(main())
