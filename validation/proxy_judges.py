"""Coverage of the judge-score-against-proxy fit (snrstat.judge_vs_proxy) on simulated tables.

    nice -n 10 python validation/proxy_judges.py            # 100 tables, writes validation/results/judges_proxy.{md,csv}
    python validation/proxy_judges.py --n 10 --md -         # a quick look

Each table: 12 systems whose true losses are spread evenly over a range of random width, win
rates on the logit scale linear in the loss plus a residual, judged on 100-500 prompts
(binomial), losses measured with a known normal error (snrstat.judges.calibration
.simulate_proxy_table; not the model's own generator). The errors-in-variables intervals of the
slope, residual sd and latent correlation should cover the truth at their nominal rate; beside
them, how often the ordinary least-squares slope of the observed values is attenuated.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

from snrstat.judges.calibration import coverage_table, proxy_coverage

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100, help="simulated tables")
    ap.add_argument("--systems", type=int, default=12)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=1000)
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--random-seed", type=int, default=0)
    ap.add_argument("--backend", default="numba", help="nutpie backend (numba: slower to compile, faster per draw)")
    ap.add_argument("--md", default=str(RESULTS / "judges_proxy.md"), help="markdown output ('-' = stdout)")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    t0 = time.perf_counter()

    def progress(d, fit, seconds):
        print(f"table {d + 1}/{args.n}: {seconds:.1f} s, max R-hat {fit.diagnostics.max_r_hat:.3f}", file=sys.stderr)

    res = proxy_coverage(args.n, n_systems=args.systems, random_seed=args.random_seed, draws=args.draws,
                         tune=args.tune, chains=args.chains, backend=args.backend, progress=progress)
    minutes = (time.perf_counter() - t0) / 60
    cov = coverage_table(res)
    slope = res[res["quantity"] == "slope"]
    attenuated = (slope["point"].abs() < slope["truth"].abs()).mean()
    fits = res.groupby("dataset").first()
    lines = [
        "# Judge score against a proxy metric: coverage on simulated tables", "",
        f"`python validation/proxy_judges.py --n {args.n} --draws {args.draws} --tune {args.tune} "
        f"--chains {args.chains} --backend {args.backend} --random-seed {args.random_seed}`: {args.n} tables of {args.systems} systems, "
        f"{minutes:.1f} minutes. Truths from `simulate_proxy_table` (evenly spread losses, binomial win rates), "
        "not from the model's priors.", "",
        f"Sampler health: max R-hat median {fits['max_r_hat'].median():.3f} (worst {fits['max_r_hat'].max():.3f}); "
        f"fits with divergences: {(fits['divergences'] > 0).sum()}.", "",
        "| quantity | n | cover 50% | 99% range | cover 90% | 99% range |", "|---|---|---|---|---|---|",
        *[f"| {q} | {int(r['n'])} | {r['cover50']:.2f} | [{r['lo50']:.2f}, {r['hi50']:.2f}] | {r['cover90']:.2f} | "
          f"[{r['lo90']:.2f}, {r['hi90']:.2f}] |" for q, r in cov.iterrows()], "",
        f"The least-squares slope of the observed values is flatter than the true slope in {attenuated:.0%} of the "
        f"tables (regression dilution); median |OLS - truth| {(slope['point'] - slope['truth']).abs().median():.2f}, "
        f"median |posterior median - truth| {(slope['median'] - slope['truth']).abs().median():.2f}.", ""]
    text = "\n".join(lines)
    if args.md == "-":
        print(text)
    else:
        Path(args.md).write_text(text)
        res.to_csv(Path(args.md).with_suffix(".csv"), index=False)
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
