"""What a user waits for: the variance model against the plain PyMC model the data came from.

    python benchmarks/bench_variance.py            # 4 chains x 1000 draws; writes
                                                   # validation/results/variance_efficiency.md
    python benchmarks/bench_variance.py --quick    # fewer draws (a smoke run; --md - : no file)

Data: 25 models x 3 seeds x 5 checkpoints, n_items = 1000, simulated with seeds NESTED in
models (``simulate(crossed=False)``), which is also how the baseline is written:

* baseline: the generative model written plainly, non-centred, every model, run (seed within
  model) and checkpoint effect a parameter, binomial likelihood, ``pm.sample`` defaults
  (PyMC's C backend, 4 chains on 2 cores);
* snrstat: ``fit_variance`` with its defaults (collapsed Gaussian likelihood, nutpie, the
  compilation backend chosen by the inference core).

1. A first fit in a FRESH process (``python -c``), each side timed from the start of the
   process to the posterior in hand: imports, model building, compilation, sampling. Every
   first fit pays this, so it is the number a user feels. Min bulk ESS over the four
   hyperparameters (mu, sigma_model, sigma_seed, sigma_ckpt on the logit scale) per second.
2. Refits in one process (a compiled model reused with new data): snrstat with the JAX
   backend (the default) and with numba (``backend="numba"``, slower to compile, faster to
   sample: the choice for long batches of one model shape).
Ratios are printed; the targets of issue 11 are >= 5x the baseline's min-ESS/s for a first
fit and >= 1,000 min-ESS/s for refits.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "validation" / "results" / "variance_efficiency.md"
HYPER = ("mu_link", "sigma_model_link", "sigma_seed_link", "sigma_ckpt_link")

# one first fit in a fresh process; prints a JSON line with what it measured
_CHILD = r'''
import json, sys, time, warnings
t0 = time.perf_counter()
warnings.simplefilter("ignore")
kind, draws, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
import arviz as az
import numpy as np
from snrstat.variance import simulate
frame, truth = simulate(n_models=25, n_seeds=3, n_ckpt=5, n_items=1000, crossed=False, random_seed=seed)
if kind == "snrstat":
    from snrstat import fit_variance
    fit = fit_variance(frame, random_seed=seed, draws=draws, tune=draws, progress=False, checks=False)
    idata, extra = fit.idata, {"compile_s": fit.settings["compile_s"], "backend": fit.settings.get("backend")}
else:
    sys.path.insert(0, sys.argv[4])
    from bench_variance import plain_nested_model
    import pymc as pm
    with plain_nested_model(frame):
        idata = pm.sample(draws=draws, tune=draws, chains=4, cores=2, random_seed=seed, progressbar=False,
                          compute_convergence_checks=False)
    extra = {}
wall = time.perf_counter() - t0
names = [v for v in ("mu_link", "sigma_model_link", "sigma_seed_link", "sigma_ckpt_link") if v in idata.posterior]
post = idata.posterior[names]
ess = az.ess(post, method="bulk")
print(json.dumps({"wall_s": wall, "min_ess": min(float(ess[v]) for v in names),
                  "max_rhat": max(float(az.rhat(post)[v]) for v in names),
                  "divergences": int(idata.sample_stats["diverging"].sum()), **extra}))
'''


def plain_nested_model(frame):
    """The generative model of the data, written plainly: non-centred effects for every model,
    every run (seed nested in model) and every checkpoint record, binomial likelihood."""
    import numpy as np
    import pandas as pd
    import pymc as pm

    model_idx, models = pd.factorize(frame["model"], sort=True)
    run_idx, runs = pd.factorize(frame["model"].astype(str) + "|" + frame["seed"].astype(str), sort=True)
    n = frame["n_items"].to_numpy(dtype=int)
    y = np.rint(frame["value"].to_numpy() * n).astype(int)
    with pm.Model(coords={"model": models, "run": runs, "record": np.arange(len(frame))}) as m:
        mu = pm.Normal("mu_link", 0.0, 1.5)
        s_model = pm.HalfNormal("sigma_model_link", 0.5)
        s_seed = pm.HalfNormal("sigma_seed_link", 0.25)
        s_ckpt = pm.HalfNormal("sigma_ckpt_link", 0.25)
        a = s_model * pm.Normal("z_model", dims="model")
        b = s_seed * pm.Normal("z_run", dims="run")
        e = s_ckpt * pm.Normal("z_ckpt", dims="record")
        pm.Binomial("y", n=n, logit_p=mu + a[model_idx] + b[run_idx] + e, observed=y, dims="record")
    return m


def _fresh(kind: str, draws: int, seed: int) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, kind, str(draws), str(seed), str(Path(__file__).parent)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _refits(draws: int, seed: int, backend: str, n: int = 3) -> list[dict]:
    """n refits of one compiled shape in this process, each on new simulated data."""
    import warnings

    import arviz as az

    from snrstat import fit_variance
    from snrstat.variance import simulate

    out = []
    for i in range(n + 1):
        frame, _ = simulate(n_models=25, n_seeds=3, n_ckpt=5, n_items=1000, crossed=False, random_seed=seed + 10 + i)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = fit_variance(frame, random_seed=seed, draws=draws, tune=draws, progress=False, checks=False,
                               backend=backend)
        wall = time.perf_counter() - t0
        names = [v for v in HYPER if v in fit.idata.posterior]
        ess = az.ess(fit.idata.posterior[names], method="bulk")
        if i:  # the first call compiles
            out.append({"wall_s": wall, "min_ess": min(float(ess[v]) for v in names)})
    return out


def _run(args) -> None:
    draws = 500 if args.quick else 1000
    print(f"== 1. a first fit in a fresh process (25 models x 3 seeds x 5 checkpoints, n_items 1000, "
          f"4 chains x {draws} draws) ==")
    rows = {}
    for kind in ("plain", "snrstat"):
        r = _fresh(kind, draws, args.seed)
        rows[kind] = r
        label = "plain nested binomial, pm.sample defaults" if kind == "plain" else (
            f"snrstat fit_variance (backend {r.get('backend')}, compile {r['compile_s']:.1f} s)")
        print(f"{label:<58} wall {r['wall_s']:6.1f} s  min bulk ESS {r['min_ess']:6.0f}  max R-hat "
              f"{r['max_rhat']:.3f}  divergences {r['divergences']:4d}  -> {r['min_ess'] / r['wall_s']:7.1f} ESS/s")
    ratio = (rows["snrstat"]["min_ess"] / rows["snrstat"]["wall_s"]) / (rows["plain"]["min_ess"] / rows["plain"]["wall_s"])
    print(f"first fit, min-ESS per second of wall time: snrstat / plain = {ratio:.1f}x (target >= 5x)")
    print(f"\n== 2. refits of a compiled model in one process (new data each time, {draws} draws) ==")
    for backend in ("jax", "numba"):
        fits = _refits(draws, args.seed, backend)
        rate = [f["min_ess"] / f["wall_s"] for f in fits]
        walls = ", ".join(f"{f['wall_s']:.1f}" for f in fits)
        rates = ", ".join(f"{x:.0f}" for x in rate)
        print(f"backend {backend:<6} refits: wall {walls} s; min-ESS/s {rates} "
              f"(median {sorted(rate)[len(rate) // 2]:.0f}; target >= 1000)")


class _Tee(io.TextIOBase):
    def __init__(self, out):
        self.out, self.buf = out, io.StringIO()

    def write(self, s):
        self.out.write(s)
        self.buf.write(s)
        return len(s)

    def flush(self):
        self.out.flush()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="500 draws: a smoke run")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--md", default=str(RESULTS), help=f"markdown report ('-': none; default {RESULTS})")
    args = ap.parse_args(argv)
    tee = _Tee(sys.stdout)
    t_all = time.perf_counter()
    with contextlib.redirect_stdout(tee):
        _run(args)
    if args.md != "-":
        head = (f"# Efficiency of the variance model\n\n`python benchmarks/bench_variance.py"
                f"{' --quick' if args.quick else ''} --seed {args.seed}` on 2 CPU cores "
                f"({time.perf_counter() - t_all:.0f} s in all).\n\n```\n")
        Path(args.md).write_text(head + tee.buf.getvalue() + "```\n")
        print(f"wrote {args.md}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
