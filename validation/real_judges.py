"""The judge model on the bundled LLMBar judgments: sampler health and the model against raw counts.

    nice -n 10 python validation/real_judges.py                    # every subset and strategy
    python validation/real_judges.py --subsets LLMBar/ --strategies Vanilla Rating --draws 300 --md -

Fits :func:`snrstat.judges.fit_judges` to the selection (default: all 88,912 verdicts of the
13 subsets and 15 strategies), prints the diagnostics, the per-cell accuracy / flip rate /
first-answer rate with intervals next to the raw counts, and isolated rating against pairwise
comparison. Writes ``validation/results/judges_llmbar.md``; ``--save`` also keeps the fit.
"""

from __future__ import annotations

import argparse
import resource
import time
import warnings
from pathlib import Path

import snrstat
from snrstat.judges import fit_judges

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subsets", nargs="+", default=None, help="default: all")
    ap.add_argument("--strategies", nargs="+", default=None, help="default: all")
    ap.add_argument("--draws", type=int, default=500)
    ap.add_argument("--tune", type=int, default=500)
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--random-seed", type=int, default=0)
    ap.add_argument("--backend", default="auto", help="nutpie backend: auto (JAX), numba")
    ap.add_argument("--md", default=str(RESULTS / "judges_llmbar.md"), help="markdown output ('-' = stdout)")
    ap.add_argument("--save", type=Path, default=None, help="also save the fit (.nc)")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    frame = snrstat.load_dataset("llmbar")
    t0 = time.perf_counter()
    fit = fit_judges(frame, subsets=args.subsets, strategies=args.strategies, draws=args.draws, tune=args.tune,
                     chains=args.chains, random_seed=args.random_seed, backend=args.backend,
                     progress=True)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.save:
        fit.save(args.save)
    write_report(fit, args, seconds, peak)
    return 0


def write_report(fit, args, seconds: float, peak: float, how: str = "") -> str:
    """The markdown of a fit (to ``args.md``, and printed); ``how`` says how it was run when not by the command."""
    d = fit.diagnostics
    counts = fit.compare_counts()
    inside = counts.groupby("quantity")["inside"].mean()
    worst = counts.assign(a=counts["difference"].abs()).groupby("quantity")["a"].max()
    cells = fit.cell_table()
    cols = ["mode", "accuracy", "accuracy_lo", "accuracy_hi", "accuracy_count", "flip", "flip_lo", "flip_hi",
            "flip_count", "snr", "snr_lo", "snr_hi", "beta"]
    selection = " ".join(f"--{k} {' '.join(v)}" for k, v in (("subsets", args.subsets), ("strategies", args.strategies)) if v)
    lines = [
        "# The judge model on LLMBar (issue 15)", "",
        f"`python validation/real_judges.py {selection} --draws {args.draws} --tune {args.tune} --chains {args.chains} "
        f"--random-seed {args.random_seed}`: {fit.config['design']}; {seconds / 60:.1f} minutes on two cores, "
        f"peak memory {peak:.0f} MB.{how}", "",
        "## Sampler diagnostics", "", f"`{d!r}`", "",
        "Worst quantities:", "", d.table.sort_values("ess_bulk").head(8).to_markdown(floatfmt=".3f"), "",
        "## The model against raw counts", "",
        "Share of cells whose raw count lies inside the 90% interval, and the largest |median - count|:", "",
        "| quantity | inside | max abs difference |", "|---|---|---|",
        *[f"| {q} | {inside[q]:.2f} | {worst[q]:.3f} |" for q in inside.index], "",
        cells[[c for c in cols if c in cells.columns]].to_markdown(floatfmt=".3f"), "",
        "## Isolated rating against pairwise comparison (same judge, same pairs)", "",
        fit.mode_comparison().to_markdown(index=False, floatfmt=".3f"), ""]
    text = "\n".join(lines)
    if args.md != "-":
        Path(args.md).write_text(text)
    print(text)
    return text


if __name__ == "__main__":
    raise SystemExit(main())
