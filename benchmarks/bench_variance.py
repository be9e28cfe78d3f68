"""Speed and sampler health of the variance model (issue 4).

    python benchmarks/bench_variance.py            # full: defaults, 4 chains x 1000 draws; writes
                                                   # validation/results/variance_efficiency.md
    python benchmarks/bench_variance.py --quick    # fewer draws, for a smoke run (--md - : no file)

1. One fit of a 25 models x 3 seeds x 5 checkpoints design (n_items=1000) with the defaults:
   min bulk/tail ESS over the hyperparameters, max R-hat, divergences, wall time with and
   without compilation.
2. 24 tasks of that design in one ``fit_variance_many`` call: one compilation, total time.
3. ESS per second against the plain formulation: fully non-centred binomial model (every
   model, seed and checkpoint effect a parameter) sampled with ``pm.sample`` defaults, on
   the same data in the same process, same chains (4) and cores (2). Reported with and
   without compilation time.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

HYPER = ("mu_link", "sigma_model_link", "sigma_seed_link", "sigma_ckpt_link")
RESULTS = Path(__file__).resolve().parents[1] / "validation" / "results" / "variance_efficiency.md"


class _Tee(io.TextIOBase):
    """Print and keep a copy (the markdown report is the printed output)."""

    def __init__(self, out):
        self.out, self.buf = out, io.StringIO()

    def write(self, s):
        self.out.write(s)
        self.buf.write(s)
        return len(s)

    def flush(self):
        self.out.flush()


def plain_binomial_model(frame: pd.DataFrame):
    """The textbook formulation: non-centred effects, one per model, seed and record."""
    import pymc as pm

    model_idx, models = pd.factorize(frame["model"], sort=True)
    seed_idx, seeds = pd.factorize(frame["seed"], sort=True)
    n = frame["n_items"].to_numpy(dtype=int)
    y = np.rint(frame["value"].to_numpy() * n).astype(int)
    with pm.Model(coords={"model": models, "seed": seeds, "record": np.arange(len(frame))}) as m:
        mu = pm.Normal("mu_link", 0.0, 1.0)
        s_model = pm.HalfNormal("sigma_model_link", 0.5)
        s_seed = pm.HalfNormal("sigma_seed_link", 0.25)
        s_ckpt = pm.HalfNormal("sigma_ckpt_link", 0.25)
        a = s_model * pm.Normal("z_model", dims="model")
        b = s_seed * pm.Normal("z_seed", dims="seed")
        e = s_ckpt * pm.Normal("z_ckpt", dims="record")
        pm.Binomial("y", n=n, logit_p=mu + a[model_idx] + b[seed_idx] + e, observed=y, dims="record")
    return m


def _min_ess(idata, names=HYPER):
    import arviz as az

    post = idata.posterior[[v for v in names if v in idata.posterior]]
    bulk, tail = az.ess(post, method="bulk"), az.ess(post, method="tail")
    rhat = az.rhat(post)
    return (min(float(bulk[v]) for v in post.data_vars), min(float(tail[v]) for v in post.data_vars),
            max(float(rhat[v]) for v in post.data_vars))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="500 draws, 8 tasks: a smoke run")
    ap.add_argument("--tasks", type=int, default=24)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--md", default=str(RESULTS), help=f"markdown report ('-': none; default {RESULTS})")
    args = ap.parse_args(argv)
    tee = _Tee(sys.stdout)
    t_all = time.perf_counter()
    with contextlib.redirect_stdout(tee):
        _run(args)
    if args.md != "-":
        head = (f"# Efficiency of the variance model\n\n`python benchmarks/bench_variance.py"
                f"{' --quick' if args.quick else ''} --tasks {args.tasks} --seed {args.seed}` on 2 CPU cores "
                f"({time.perf_counter() - t_all:.0f} s in all), one process.\n\n```\n")
        Path(args.md).parent.mkdir(parents=True, exist_ok=True)
        Path(args.md).write_text(head + tee.buf.getvalue() + "```\n")
        print(f"wrote {args.md}")
    return 0


def _run(args) -> None:
    draws = tune = 500 if args.quick else 1000
    n_tasks = 8 if args.quick else args.tasks

    from snrstat.variance import fit_variance, fit_variance_many, simulate

    frame, truth = simulate(n_models=25, n_seeds=3, n_ckpt=5, n_items=1000, random_seed=args.seed)
    print("== 1. one fit, 25 models x 3 seeds x 5 checkpoints, n_items=1000 ==")
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_variance(frame, random_seed=args.seed, draws=draws, tune=tune, progress=False)
    wall_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit2 = fit_variance(frame, random_seed=args.seed + 1, draws=draws, tune=tune, progress=False)
    wall_cached = time.perf_counter() - t0
    bulk, tail, rhat = _min_ess(fit.idata)
    d = fit.diagnostics
    print(f"likelihood {fit.spec['likelihood']}, integrated out: {fit.spec['integrated_out']}, sampler "
          f"{fit.settings['sampler']}, {fit.settings['chains']} chains x {draws} draws")
    print(f"hyperparameters: min bulk ESS {bulk:.0f}, min tail ESS {tail:.0f}, max R-hat {rhat:.4f}; "
          f"divergences {d.divergences}; min BFMI {min(d.bfmi):.2f}; all diagnostics ok: {d.ok}")
    print(f"wall time: {wall_first:.1f} s with compilation ({fit.settings['compile_s']:.1f} s compiling, "
          f"{fit.settings['sample_s']:.1f} s sampling); {wall_cached:.1f} s for a refit (compiled graph reused)")
    s = fit.summary()
    print(s.loc[["sigma_model", "sigma_seed", "sigma_ckpt", "snr", "snr_pop"]].round(4).to_string())
    print("truth: " + ", ".join(f"{k} {truth[k]:.4g}" for k in ("sigma_model", "sigma_seed", "sigma_ckpt", "snr",
                                                                 "snr_pop")))

    print(f"\n== 2. {n_tasks} tasks of the same design, one call ==")
    frames = [simulate(n_models=25, n_seeds=3, n_ckpt=5, n_items=1000, random_seed=100 + i, task=f"task{i:02d}")[0]
              for i in range(n_tasks)]
    print(f"fitting {n_tasks} tasks ...", flush=True)
    many_frame = pd.concat(frames, ignore_index=True)
    from snrstat.variance import api

    api._COMPILED.clear()  # count the batch's own compilation
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        many = fit_variance_many(many_frame, random_seed=args.seed, draws=draws, tune=tune, progress=False)
    wall_many = time.perf_counter() - t0
    ok = sum(f.diagnostics.ok for f in many.values())
    comp = sum(f.settings["compile_s"] for f in many.values())
    print(f"{len(many)} fits, {many.n_compilations} compilation(s) ({comp:.1f} s), total {wall_many:.1f} s "
          f"({wall_many / len(many):.2f} s per fit); diagnostics ok in {ok}/{len(many)}")

    print("\n== 3. ESS per second against the plain non-centred binomial model (pm.sample defaults) ==")
    import pymc as pm

    plain = plain_binomial_model(frame)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with plain:
            idata_plain = pm.sample(draws=draws, tune=tune, chains=4, cores=2, random_seed=args.seed,
                                    progressbar=False, compute_convergence_checks=False)
    wall_plain = time.perf_counter() - t0
    p_bulk, p_tail, p_rhat = _min_ess(idata_plain)
    p_div = int(idata_plain.sample_stats["diverging"].sum())
    ours_sampling = fit2.settings["sample_s"]
    rows = pd.DataFrame({
        "min bulk ESS": [bulk, p_bulk], "max R-hat": [rhat, p_rhat],
        "divergences": [d.divergences, p_div],
        "wall s (incl. compile)": [wall_first, wall_plain], "wall s (refit, compiled)": [wall_cached, np.nan],
        "ESS/s (incl. compile)": [bulk / wall_first, p_bulk / wall_plain],
        "ESS/s (refit)": [_min_ess(fit2.idata)[0] / wall_cached, np.nan],
    }, index=["snrstat (collapsed, nutpie)", "plain binomial (pm.sample)"])
    print(rows.round(3).to_string())
    print(f"ratio of ESS/s, both including compilation: {rows.iloc[0, 5] / rows.iloc[1, 5]:.1f}x; "
          f"refit (compiled graph reused, as in a batch) vs plain: {rows.iloc[0, 6] / rows.iloc[1, 5]:.1f}x "
          f"(our sampling alone took {ours_sampling:.1f} s)")


if __name__ == "__main__":
    raise SystemExit(main())
