"""Posterior SNR of the bundled data sets next to the paper's point estimate (issue 4).

    python validation/real_variance.py                 # both sets, writes validation/results/variance_real.md
    python validation/real_variance.py --sets pythia --md -

Fits every (size, task) of the reference selections in :data:`snrstat.reference.REFERENCE_SETS`
(olmo-ladder: 190M and 3B, models 0.5xC..10xC, the 1xC ``-rerun`` replicate as seed "1";
pythia: 160m and 12b, pile and pile-deduped, zero-shot tasks) with the defaults (4 chains x
1000 draws, last 5 checkpoints) and tabulates the posterior SNR with its 90% interval, the
paper's point estimate (per-run noise), and the sampler diagnostics of every fit.
"""

from __future__ import annotations

import argparse
import re
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results" / "variance_real.md"


def table(fits: dict, dataset: str) -> pd.DataFrame:
    rows = []
    for (size, task), fit in fits.items():
        s = fit.summary(0.9)
        d = fit.diagnostics
        t = d.table
        rows.append({
            "dataset": dataset, "size": size, "task": task, "metric": fit.metric,
            "likelihood": fit.spec["likelihood"], "components": "+".join(fit.spec["components"]),
            "models": fit.spec["n_models"], "runs": fit.spec["n_runs"],
            "snr": s.loc["snr", "median"], "snr_lo": s.loc["snr", "lo"], "snr_hi": s.loc["snr", "hi"],
            "snr_point": s.loc["snr", "point"],
            "max_rhat": float(t["r_hat"].max()), "min_ess_bulk": float(t["ess_bulk"].min()),
            "min_ess_tail": float(t["ess_tail"].min()), "divergences": d.divergences,
            "target_accept": fit.settings["target_accept"], "ok": d.ok,
            # what the misfit checks found (issue 13): the flag names, e.g. "tails", "sigma_seed"
            "checks": ", ".join(sorted({c.split(":", 1)[0] for c in (fit.spec.get("checks") or {}).get("flags", [])}))
                      or "-",
        })
    return pd.DataFrame(rows)


def markdown(tab: pd.DataFrame, notes: dict, seconds: dict) -> str:
    out = ["# Posterior SNR on the bundled data sets", "",
           "`python validation/real_variance.py` (defaults: 4 chains x 1000 draws after 1000 tuning steps, "
           "random_seed 0, last 5 checkpoints of every run; reference selections of "
           "`snrstat.reference.REFERENCE_SETS`). `snr` = posterior median and 90% interval of the "
           "finite-population SNR (range of the model means / sd of one checkpoint score around its run's "
           "mean); `point` = the paper's estimate on the same records (per-run noise, ddof=0). Diagnostics "
           "over every hyperparameter and derived quantity of the fit; ok = R-hat <= 1.01, bulk and tail "
           "ESS >= 400, no divergences, E-BFMI > 0.3. 'checks flag': what the misfit checks of "
           "`snrstat.variance.checks` found (`tails`: heavier-tailed checkpoint residuals than the likelihood "
           "predicts; `dispersion`: counts not binomial; `clusters`: clustered model means; a component name: "
           "its prior and posterior overlap, the data barely inform it), `-` when nothing.", ""]
    for ds, sub in tab.groupby("dataset", sort=False):
        out += [f"## {ds} ({len(sub)} fits, {seconds[ds]:.0f} s, diagnostics ok in {int(sub['ok'].sum())}/"
                f"{len(sub)}; max R-hat {sub['max_rhat'].max():.3f}, min bulk ESS {sub['min_ess_bulk'].min():.0f}, "
                f"min tail ESS {sub['min_ess_tail'].min():.0f}, {int(sub['divergences'].sum())} divergences)", "",
                f"The paper's point SNR lies inside the posterior 90% interval in "
                f"{int(((sub['snr_point'] >= sub['snr_lo']) & (sub['snr_point'] <= sub['snr_hi'])).sum())} of "
                f"{len(sub)} fits; the posterior median is below the point estimate in "
                f"{int((sub['snr'] < sub['snr_point']).sum())}.", ""]
        out += ["| size | task | metric | likelihood | components | snr [90%] | point | R-hat | ESS bulk | "
                "ESS tail | div | target_accept | ok | checks flag |", "|" + "---|" * 14]
        for _, r in sub.iterrows():
            out.append(f"| {r['size']} | {r['task']} | {r['metric']} | {r['likelihood']} | {r['components']} | "
                       f"{r['snr']:.2f} [{r['snr_lo']:.2f}, {r['snr_hi']:.2f}] | {r['snr_point']:.2f} | "
                       f"{r['max_rhat']:.3f} | {r['min_ess_bulk']:.0f} | {r['min_ess_tail']:.0f} | "
                       f"{int(r['divergences'])} | {r['target_accept']} | {'ok' if r['ok'] else 'FAIL'} | "
                       f"{r['checks']} |")
        out += ["", "What the fits report (warnings, with the number of fits):", ""]
        out += [f"- {n}" for n in notes[ds]] + [""]
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", nargs="+", default=["olmo-ladder", "pythia"])
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--md", default=str(RESULTS), help=f"markdown report ('-': none; default {RESULTS})")
    from snrstat.inference.batch import add_cluster_arguments, cluster_from_args

    add_cluster_arguments(ap)
    args = ap.parse_args(argv)
    with cluster_from_args(args) as client:
        return _main(args, client)


def _main(args, client) -> int:

    import snrstat
    from snrstat.reference import REFERENCE_SETS, fit_reference

    tabs, notes, seconds = [], {}, {}
    for ds in args.sets:
        frame = snrstat.load_dataset(ds)
        ref = REFERENCE_SETS[ds]
        n_fits = len(ref.sizes) * len(ref.metrics(frame))
        print(f"{ds}: {n_fits} fits ({len(ref.metrics(frame))} tasks x sizes {ref.sizes}) ...", flush=True)
        t0 = time.perf_counter()
        fits = {}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if client is not None:  # one batch for the cluster: its progress bar counts the fits
                fits.update(fit_reference(ds, frame, draws=args.draws, tune=args.tune, random_seed=args.seed,
                                          progress=True))
            for task in ([] if client is not None else ref.metrics(frame)):  # one task at a time, with progress
                fits.update(fit_reference(ds, frame, draws=args.draws, tune=args.tune, random_seed=args.seed,
                                          progress=False, tasks=[task]))
                print(f"  fits done {len(fits)}/{n_fits} ({task})", flush=True)
        fits = dict(sorted(fits.items(), key=lambda kv: (ref.sizes.index(kv[0][0]), kv[0][1])))
        seconds[ds] = time.perf_counter() - t0
        msgs = pd.Series([re.sub(r" \(\d+ of \d+ tasks\)$", "", str(w.message)) for w in caught
                          if "BLAS" not in str(w.message)])
        notes[ds] = [f"{m} ({c})" for m, c in msgs.value_counts().items()]
        tab = table(fits, ds)
        tabs.append(tab)
        with pd.option_context("display.width", 200, "display.max_columns", 30):
            print(tab.drop(columns=["dataset"]).round(3).to_string(index=False))
    tab = pd.concat(tabs, ignore_index=True)
    if args.md != "-":
        Path(args.md).parent.mkdir(parents=True, exist_ok=True)
        Path(args.md).write_text(markdown(tab, notes, seconds))
        print(f"wrote {args.md}")
    return 0 if bool(tab["ok"].all()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
