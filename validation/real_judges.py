"""The judge model on the bundled LLMBar judgments: sampler health and the model against raw counts.

    nice -n 10 python validation/real_judges.py                    # every subset and strategy
    python validation/real_judges.py --subsets LLMBar/ --strategies Vanilla Rating --draws 300 --md -

Fits :func:`snrstat.judges.fit_judges` to the selection (default: all 88,912 verdicts of the
13 subsets and 15 strategies), prints the diagnostics, the per-cell accuracy / flip rate /
first-answer rate with intervals next to the raw counts, and isolated rating against pairwise
comparison. Writes ``validation/results/judges_llmbar.md``; ``--save`` also keeps the fit.

A fit too long for one sitting is sampled in parts and finished once (the full-LLMBar fit):

    python validation/real_judges.py --draws 2500 --tune 1000 --chains 4 --random-seed 0 --posterior-out raw0.nc
    python validation/real_judges.py --draws 2500 --tune 1000 --chains 4 --random-seed 1 --posterior-out raw1.nc
    python validation/real_judges.py --posteriors raw0.nc raw1.nc --md validation/results/judges_llmbar_full.md

``--posterior-out`` saves the draws as sampled and stops; ``--posteriors`` joins the runs' chains
(:func:`snrstat.inference.merge_chains`, which refuses runs of other data or a repeated seed) and
computes the quantities, diagnostics and checks over every chain. The selection must be the same.
"""

from __future__ import annotations

import argparse
import resource
import time
import warnings
from pathlib import Path

import arviz as az

import snrstat
from snrstat.inference import SamplerSettings, merge_chains, write_idata
from snrstat.judges import fit_judges
from snrstat.judges.fit import finish_judge_fit, judge_selection, sample_judge_posterior
from snrstat.judges.spec import JudgePriors
from snrstat.schema import DataError

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
    parts = ap.add_mutually_exclusive_group()
    parts.add_argument("--posterior-out", type=Path, default=None,
                       help="only sample: save the posterior as sampled (.nc) and stop")
    parts.add_argument("--posteriors", type=Path, nargs="+", default=None,
                       help="finish the fit from these saved runs (their chains joined); no sampling")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    frame = snrstat.load_dataset("llmbar")
    t0 = time.perf_counter()
    how = ""
    if args.posterior_out or args.posteriors:
        rows, design = judge_selection(frame, subsets=args.subsets, strategies=args.strategies)
        if args.posterior_out:
            settings = SamplerSettings.build(None, draws=args.draws, tune=args.tune, chains=args.chains,
                                             random_seed=args.random_seed, backend=args.backend, progress=True)
            idata = sample_judge_posterior(design, JudgePriors(), settings)
            # chains and draws are the posterior's own sizes; the seed, warm-up and selection are not
            idata.attrs.update({"random_seed": args.random_seed, "tune": args.tune,
                                "selection": repr(design.selection)})
            write_idata(idata, args.posterior_out)
            print(f"sampled in {(time.perf_counter() - t0) / 60:.1f} min; posterior saved to {args.posterior_out}")
            return 0
        fit, how = _finish_runs(args, rows, design)
    else:
        fit = fit_judges(frame, subsets=args.subsets, strategies=args.strategies, draws=args.draws, tune=args.tune,
                         chains=args.chains, random_seed=args.random_seed, backend=args.backend,
                         progress=True)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.save:
        fit.save(args.save)
    write_report(fit, args, seconds, peak, how)
    return 0


def _finish_runs(args, rows, design):
    """Join the saved runs' chains and finish the fit; ``args`` then describes the joined fit."""
    runs = [az.from_netcdf(p) for p in args.posteriors]
    for path, run in zip(args.posteriors, runs):
        run.load()
        saved = run.attrs.get("selection")
        if saved is not None and saved != repr(design.selection):
            raise SystemExit(f"{path} was sampled for the selection {saved}, not {design.selection!r}")
    try:
        idata = merge_chains(*runs)
    except DataError as exc:
        raise SystemExit(f"cannot join {' '.join(map(str, args.posteriors))}: {exc}") from None
    seeds = [run.attrs.get("random_seed", "?") for run in runs]
    post = idata.posterior
    args.chains, args.draws = post.sizes["chain"], post.sizes["draw"]
    args.tune, args.random_seed = int(runs[0].attrs.get("tune", args.tune)), int(runs[0].attrs.get("random_seed", 0))
    settings = SamplerSettings.build(None, draws=args.draws, tune=args.tune, chains=args.chains,
                                     random_seed=args.random_seed, backend=args.backend, progress=True)
    t0 = time.perf_counter()
    fit = finish_judge_fit(idata, rows, design, priors=JudgePriors(), settings=settings)
    sampled = ", ".join(f"{run.posterior.sizes['chain']} chains with seed {seed} "
                        f"({float(run.attrs.get('sample_s', float('nan'))) / 60:.1f} min)" for run, seed in zip(runs, seeds))
    how = (f" Sampled in {len(runs)} runs ({sampled}; `--posterior-out`), chains joined and finished with "
           f"`--posteriors` in {(time.perf_counter() - t0) / 60:.1f} min; the time above is the finishing step's.")
    return fit, how


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
        f"`{_command(args, selection)}`: {fit.config['design']}; {args.chains} chains x {args.draws} draws after "
        f"{args.tune} tuning; {seconds / 60:.1f} minutes on two cores, peak memory {peak:.0f} MB.{how}", "",
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


def _command(args, selection: str) -> str:
    if getattr(args, "posteriors", None):
        return f"python validation/real_judges.py {selection} --posteriors {' '.join(p.name for p in args.posteriors)}"
    return (f"python validation/real_judges.py {selection} --draws {args.draws} --tune {args.tune} "
            f"--chains {args.chains} --random-seed {args.random_seed}")


if __name__ == "__main__":
    raise SystemExit(main())
