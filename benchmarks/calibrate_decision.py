"""Calibration of snrstat.decision by simulation.

1. Decision accuracy: over many simulated pairs of scales with known true model means,
   how often does the 90% credible interval of the posterior decision accuracy cover the
   true decision accuracy? Reported as inclusive coverage and as randomised-PIT coverage
   (free of the lattice effect of a discrete quantity); the same runs check the model
   means, sigma_ckpt and the SNR of the nested normal model.
2. Power curve: the predicted P(correct ordering) of a planned experiment against the rate
   in experiments simulated from the generative model (fixed sigmas and posterior draws,
   with and without checkpoint autocorrelation and a one-sided test).
3. Predictive decision accuracy after fitting: truths drawn from the prior (exact in
   expectation) and fixed truths.

    python benchmarks/calibrate_decision.py            # ~8 minutes on one core
    python benchmarks/calibrate_decision.py --sims 400 --out calibration.json
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from snrstat.decision.calibration import decision_coverage, predictive_check
from snrstat.decision.planning import p_correct, simulate_comparisons

DA_CONFIGS = {
    # one run per model, checkpoint noise only (the Pythia / DataDecide situation)
    "10 models, 1 run, ckpt noise": dict(n_models=10, runs=1, sigma_run=0.0, sigma_ckpt=0.01),
    # seed-to-seed noise as well, identified by two runs per model
    "8 models, 2 runs, run + ckpt noise": dict(n_models=8, runs=2, sigma_run=0.01, sigma_ckpt=0.01),
    # 25 models as DataDecide, noisier small scale
    "25 models, 1 run, ckpt noise": dict(n_models=25, runs=1, sigma_run=0.0, sigma_ckpt=0.02, rho=0.8),
    # the same with two independent single-scale fits: biased down (why the joint fit is the default)
    "25 models, 1 run, ckpt noise, INDEPENDENT fits": dict(n_models=25, runs=1, sigma_run=0.0, sigma_ckpt=0.02,
                                                           rho=0.8, model="independent"),
}

POWER_CASES = [
    ("fixed sigmas", {"sigma_seed": 0.01, "sigma_order": 0.005, "sigma_ckpt": 0.02}, None),
    ("fixed sigmas, one-sided test alpha=0.05", {"sigma_seed": 0.01, "sigma_order": 0.005, "sigma_ckpt": 0.02}, 0.05),
    ("AR(1) checkpoints rho=0.6", {"sigma_run": 0.008, "sigma_ckpt": 0.02, "ckpt_rho": 0.6}, None),
]


def power_table(experiments: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    cases = list(POWER_CASES)
    cases.append(("posterior draws of the sigmas", {
        "sigma_run": np.abs(rng.normal(0.01, 0.004, 500)), "sigma_ckpt": np.abs(rng.normal(0.02, 0.006, 500)),
    }, None))
    rows = []
    for i, (name, noise, alpha) in enumerate(cases):
        for k, n in ((1, 1), (1, 5), (2, 3), (4, 10)):
            for delta in (0.005, 0.015, 0.03):
                pred = p_correct(noise, delta, k, n, alpha=alpha)
                rate, se = simulate_comparisons(noise, delta, k, n, experiments=experiments, alpha=alpha,
                                                seed=seed + 1000 * i + 10 * k + n)
                rows.append({"case": name, "k": k, "n": n, "delta": delta, "predicted": pred, "simulated": rate,
                             "z": (rate - pred) / se if se > 0 else 0.0})
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sims", type=int, default=200, help="simulated pairs of scales per configuration")
    parser.add_argument("--draws", type=int, default=1000, help="posterior draws per fit")
    parser.add_argument("--experiments", type=int, default=50_000, help="simulated experiments per power point")
    parser.add_argument("--seed", type=int, default=20250901)
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    results = {"decision_accuracy": {}, "power": None, "predictive": {}}

    print(f"1. decision accuracy: 90% intervals over {args.sims} simulated pairs of scales")
    for i, (name, cfg) in enumerate(DA_CONFIGS.items()):
        t0 = time.time()
        result = decision_coverage(args.sims, draws=args.draws, seed=args.seed + i, **cfg)
        cov = {**result.summary, "_rows": result.rows}
        cov["seconds"] = round(time.time() - t0, 1)
        results["decision_accuracy"][name] = cov
        extra = "".join(f", {k} {cov[k]:.3f}" for k in ("snr_coverage", "sigma_ckpt_coverage") if k in cov)
        bias = float((cov_rows := cov.pop("_rows"))["median"].sub(cov_rows["true_da"]).mean())
        cov["median_minus_truth"] = bias
        print(f"   {name}: coverage {cov['coverage']:.3f}, PIT coverage {cov['pit_coverage']:.3f} "
              f"(MC se {cov['mc_se']:.3f}); model means {cov['model_mean_coverage']:.3f}{extra}; "
              f"mean true DA {cov['mean_true_da']:.3f}, median - truth {bias:+.3f}, mean width {cov['mean_width']:.3f} "
              f"[{cov['seconds']} s]")

    print(f"2. power curve vs {args.experiments} simulated experiments per point")
    rows = power_table(args.experiments, args.seed)
    results["power"] = rows
    z = np.array([r["z"] for r in rows])
    worst = rows[int(np.argmax(np.abs(z)))]
    print(f"   {len(rows)} points: max |z| = {np.abs(z).max():.2f}, share |z| > 2 = {np.mean(np.abs(z) > 2):.3f} "
          f"(expect ~0.05); worst: {worst['case']} k={worst['k']} n={worst['n']} delta={worst['delta']}: "
          f"predicted {worst['predicted']:.4f}, simulated {worst['simulated']:.4f}")

    print(f"3. predictive decision accuracy of a new experiment after fitting ({args.sims} simulations)")
    for name, kw in (("truths from the prior, 1 run, k=1 n=5", dict(runs=1, k=1, n=5, from_prior=True)),
                     ("truths from the prior, 2 runs, k=2 n=3", dict(runs=2, k=2, n=3, from_prior=True)),
                     ("fixed truths, 1 run, k=1 n=5", dict(runs=1, k=1, n=5, sigma_run=0.0)),
                     ("fixed truths, 2 runs, k=2 n=3", dict(runs=2, k=2, n=3))):
        s = predictive_check(args.sims, draws=min(args.draws, 500), seed=args.seed + 7, **kw).summary
        results["predictive"][name] = s
        print(f"   {name}: predicted {s['mean_predicted']:.3f}, observed {s['mean_observed']:.3f}, "
              f"difference {s['mean_difference']:+.3f} +/- {s['se_difference']:.3f}")

    if args.out:
        with open(args.out, "w") as fh:
            json.dump(results, fh, indent=2, default=float)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
