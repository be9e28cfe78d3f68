"""Simulation-based calibration of the variance model: coverage of 50% and 90% intervals.

    python validation/sbc_variance.py                 # 3 designs x 35 data sets (105 fits)
    python validation/sbc_variance.py --n 10 --draws 300 --out sbc.csv

Prints the coverage of every sigma and of signal, noise, snr and snr_pop, per quantity
(pooled over designs) and per design, with the 99% binomial acceptance range, and a rank
uniformity test. Truths are drawn from the fit's own priors (what SBC needs); data are
simulated with binomial item sampling and fitted with the default logit_normal likelihood.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from snrstat.variance.calibration import DESIGNS, coverage_table, rank_uniformity, run_sbc


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=35, help="data sets per design (default 35)")
    ap.add_argument("--draws", type=int, default=500)
    ap.add_argument("--tune", type=int, default=500)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--seed", type=int, default=20250)
    ap.add_argument("--likelihood", default="logit_normal")
    ap.add_argument("--out", help="write the per-data-set results to this CSV")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    res = run_sbc(DESIGNS, args.n, draws=args.draws, tune=args.tune, chains=args.chains, seed=args.seed,
                  likelihood=args.likelihood)
    if args.out:
        res.to_csv(args.out, index=False)
    pd.set_option("display.width", 160)
    n_sets = res.groupby(["design", "dataset"]).ngroups
    print(f"\n{n_sets} simulated data sets, {time.perf_counter() - t0:.0f} s; sampler diagnostics ok in "
          f"{res.groupby(['design', 'dataset'])['ok'].first().mean():.0%}; median fit time "
          f"{res.groupby(['design', 'dataset'])['seconds'].first().median():.1f} s\n")
    print("Coverage by quantity (pooled over designs), 99% binomial acceptance range:")
    print(coverage_table(res).round(3).to_string())
    print("\nCoverage by design and quantity:")
    print(coverage_table(res, by=("design", "quantity")).round(3).to_string())
    print("\nRank uniformity (chi-square, 10 bins):")
    print(rank_uniformity(res).round(3).to_string())
    table = coverage_table(res)
    return 0 if bool(table["ok50"].all() and table["ok90"].all()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
