"""The item model against the plain PyMC formulation on the same MMLU-Pro data.

    nice -n 10 python benchmarks/bench_items.py [--items 200] [--models 29]

``ours``: :func:`snrstat.fit_items` with NUTS (nutpie): one vectorised binomial term per
(model, item) cell, non-centred difficulties, zero-sum abilities, guessing floor in closed
form on the log scale. ``plain``: the textbook model (one Bernoulli node per answer, centred
difficulties, probabilities through ``invlogit``) with ``pm.sample`` defaults. Same priors, same
data (a seeded random subset of items, every model). Each runs in its own process; prints wall
time, peak memory (max RSS), the minimum bulk ESS over abilities and population-level
parameters, ESS per second, divergences and max R-hat, and writes benchmarks/results/items.md.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def subset(n_items: int, n_models: int):
    import snrstat

    frame = snrstat.load_dataset("mmlu-pro")
    keys = frame["subtask"] + "/" + frame["item"]
    rng = np.random.default_rng(0)
    chosen = rng.choice(np.sort(keys.unique()), n_items, replace=False)
    models = sorted(frame["model"].unique())[:n_models]
    return frame[keys.isin(chosen) & frame["model"].isin(models)]


def run_variant(variant: str, n_items: int, n_models: int, draws: int, chains: int) -> dict:
    import arviz as az

    from snrstat.inference import SamplerSettings
    from snrstat.items import fit_items, item_design, item_spec
    from snrstat.items.model import plain_item_model

    frame = subset(n_items, n_models)
    t0 = time.perf_counter()
    if variant == "ours":
        fit = fit_items(frame, n_options=10, method="nuts",
                        settings=SamplerSettings(draws=draws, tune=draws, chains=chains, random_seed=0))
        idata = fit.idata
    else:
        import pymc as pm

        design = item_design(frame)
        spec = item_spec(design, n_options=10)
        with plain_item_model(design, spec), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            idata = pm.sample(draws=draws, tune=draws, chains=chains, cores=min(chains, 2), random_seed=0,
                              progressbar=False, compute_convergence_checks=False)
    seconds = time.perf_counter() - t0
    names = [v for v in ("theta", "sigma_theta", "mu_b", "tau", "sigma_mc") if v in idata.posterior]
    ess = az.ess(idata.posterior[names])
    rhat = az.rhat(idata.posterior[names])
    min_ess = float(min(float(ess[v].min()) for v in names))
    return {"variant": variant, "items": n_items, "models": n_models, "answers": len(frame), "seconds": seconds,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "min_ess_bulk": min_ess,
            "ess_per_s": min_ess / seconds, "max_r_hat": float(max(float(rhat[v].max()) for v in names)),
            "divergences": int(idata.sample_stats["diverging"].sum())}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--models", type=int, default=29)
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--variant", choices=("ours", "plain"), default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.variant:
        print(json.dumps(run_variant(args.variant, args.items, args.models, args.draws, args.chains)))
        return
    results = []
    for variant in ("ours", "plain"):
        out = subprocess.run([sys.executable, __file__, "--variant", variant, "--items", str(args.items),
                              "--models", str(args.models), "--draws", str(args.draws), "--chains", str(args.chains)],
                             capture_output=True, text=True, check=True)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(results[-1], flush=True)
    ours, plain = results
    lines = ["# Item model: ours against the plain PyMC formulation", "",
             f"`python benchmarks/bench_items.py --items {args.items} --models {args.models}`: MMLU-Pro, "
             f"{ours['answers']:,} answers, {args.chains} chains x {args.draws} draws after {args.draws} tuning steps.", "",
             "| variant | wall s | peak MB | min bulk ESS | ESS/s | max R-hat | divergences |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        lines.append(f"| {r['variant']} | {r['seconds']:.1f} | {r['peak_mb']:.0f} | {r['min_ess_bulk']:.0f} | "
                     f"{r['ess_per_s']:.1f} | {r['max_r_hat']:.3f} | {r['divergences']} |")
    lines += ["", f"ESS per second: {ours['ess_per_s'] / max(plain['ess_per_s'], 1e-9):.1f}x the plain formulation.", ""]
    out_dir = ROOT / "benchmarks" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "items.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
