"""Simulation-based calibration of the judge model (snrstat.judges): coverage and ranks.

    nice -n 10 python validation/sbc_judges.py                # 100 data sets, writes
                                                              # validation/results/judges_sbc.{md,csv}
    python validation/sbc_judges.py --n 10 --draws 300 --md - # a quick look
    python validation/sbc_judges.py --resume                  # go on from a stopped run's .partial.csv
    nice -n 10 python validation/sbc_judges.py --design terms # the optional terms on: judges_sbc_terms.*
    nice -n 10 python validation/sbc_judges.py --design stress # not from the model: judges_sbc_stress.*

Each data set ("basic"): 3 judges with known discrimination, position bias and perception noise
drawn from the model's priors, 40 pairs in 2 subsets, every judge judging pairwise in both orders
and the first also rating each answer alone on a 5-point scale (see snrstat.judges.calibration).
"terms": 60 pairs, two pairwise strategies per judge and two rating strategies for the first, so
the fit has the per-strategy shift and the rating-call offset (and the truth has them too).
"stress": the model's assumptions broken as real data break them (see snrstat.judges.calibration.DESIGNS).
Same ``--seed``, same data sets and same fits.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import pandas as pd

from snrstat.judges.calibration import DESIGNS, coverage_table, rank_uniformity, run_sbc

RESULTS = Path(__file__).resolve().parent / "results"
#: where each design's truths and data come from (the coverage claim differs)
ORIGIN = {"basic": "Truths drawn from the model's priors.",
          "stress": "Truths NOT drawn from the model: fixed LLMBar-like judges moved by up to 25% per data set "
                    "(snrstat.judges.calibration.stress_parameters), item gaps Student t with 3 df, subsets of "
                    "70%/30% of the pairs, a quarter of the pairwise verdicts missing, isolated scores against "
                    "the top of the scale. Coverage should still be nominal; rank uniformity is not expected "
                    "(that needs truths from the prior)."}


def markdown(res: pd.DataFrame, args, seconds: float) -> str:
    fits = res.groupby("dataset").first()
    # a quantity fixed by construction (the shift of a judge's only strategy: 0 in the fit and the
    # truth) covers trivially; counting it would flatter the coverage
    point = res["hi90"] - res["lo90"] <= 0
    res = res[~point]
    cov = coverage_table(res)
    ranks = rank_uniformity(res)
    lines = [
        "# Simulation-based calibration of the judge model",
        "",
        f"{res['dataset'].nunique()} simulated data sets (design {args.design!r}: {DESIGNS[args.design]}), each fitted with "
        f"{args.chains} chains x {args.draws} draws ({args.tune} tuning), seed {args.seed}; "
        f"{fits['seconds'].sum() / 60:.0f} minutes of fitting. " + ORIGIN.get(args.design, ORIGIN["basic"]),
        "",
        f"Sampler health over the fits: max R-hat median {fits['max_r_hat'].median():.3f} "
        f"(worst {fits['max_r_hat'].max():.3f}); fits with divergences: {(fits['divergences'] > 0).sum()}; "
        f"min bulk ESS median {fits['min_ess_bulk'].median():.0f}.",
        "",
        "## Coverage of central intervals (pooled over the elements of each quantity)",
        "",
        f"{int(point.sum())} rows whose posterior is a single value (fixed by construction) are left out.",
        "",
        "| quantity | n | cover 50% | 99% range | | cover 90% | 99% range | |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for fam, r in cov.iterrows():
        lines.append(f"| {fam} | {int(r['n'])} | {r['cover50']:.2f} | [{r['lo50']:.2f}, {r['hi50']:.2f}] | "
                     f"{'ok' if r['ok50'] else 'MISS'} | {r['cover90']:.2f} | [{r['lo90']:.2f}, {r['hi90']:.2f}] | "
                     f"{'ok' if r['ok90'] else 'MISS'} |")
    lines += ["", "## Rank uniformity (truth among 99 thinned draws, 10 bins)", "",
              "| quantity | n | chi2 (9 df) | p |", "|---|---|---|---|"]
    lines += [f"| {q} | {int(r['n'])} | {r['chi2']:.1f} | {r['p']:.3f} |" for q, r in ranks.iterrows()]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100, help="simulated data sets (default 100)")
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--tune", type=int, default=500)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--design", choices=sorted(DESIGNS), default="basic",
                        help="basic: 40 pairs, one strategy per judge; terms: 60 pairs, two pairwise and two "
                             "rating strategies (the strategy shift and rating-call offsets on); stress: "
                             "fixed judges, heavy-tailed gaps, unequal subsets, missing verdicts, a ceiling")
    parser.add_argument("--out", type=Path, default=None,
                        help="per-quantity results (CSV; default validation/results/judges_sbc[_DESIGN].csv)")
    parser.add_argument("--md", default=None, help="markdown summary ('-' = stdout; default next to --out)")
    parser.add_argument("--resume", action="store_true",
                        help="keep the data sets already in the .partial.csv of a stopped run and fit the rest")
    parser.add_argument("--summarise", action="store_true",
                        help="only summarise the results already in --out (e.g. a .partial.csv of a stopped run)")
    args = parser.parse_args(argv)
    stem = "judges_sbc" + ("" if args.design == "basic" else f"_{args.design}")
    args.out = args.out or RESULTS / f"{stem}.csv"
    args.md = args.md or str(RESULTS / f"{stem}.md")
    warnings.filterwarnings("ignore")
    t0 = time.perf_counter()

    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.summarise:
        res = pd.read_csv(args.out)
    else:
        partial = args.out.with_suffix(".partial.csv")
        done = pd.read_csv(partial) if args.resume and partial.exists() else None
        if done is None:
            partial.unlink(missing_ok=True)
        skip = set() if done is None else set(done["dataset"])

        def progress(d, fit, seconds, rows):
            # appended as each data set finishes, so an interrupted run keeps what it has done
            rows.to_csv(partial, mode="a", header=not partial.exists(), index=False)
            print(f"[{d + 1}/{args.n}] {seconds:.0f}s max R-hat {fit.diagnostics.max_r_hat:.3f} "
                  f"divergences {fit.diagnostics.divergences} model checks flagged {len(fit.diagnostics.checks)}",
                  file=sys.stderr, flush=True)

        res = run_sbc(args.n, draws=args.draws, tune=args.tune, chains=args.chains, random_seed=args.seed,
                      design=DESIGNS[args.design], progress=progress, skip=skip)
        if done is not None:
            res = pd.concat([done, res], ignore_index=True).sort_values(["dataset", "quantity"], kind="stable")
        res.to_csv(args.out, index=False)
        partial.unlink(missing_ok=True)
    text = markdown(res, args, time.perf_counter() - t0)
    if args.md == "-":
        print(text)
    else:
        Path(args.md).write_text(text)
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
