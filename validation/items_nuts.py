"""NUTS on all of MMLU-Pro (12,032 items x 29 models, 347,215 answers) on two cores.

    nice -n 10 python validation/items_nuts.py [--draws 1000 --tune 1000 --chains 2] [--save fit.nc]

With 29 answers per item the item difficulties are sampled centred (``ItemSpec.centred_items``),
which is what brings the whole matrix within reach of NUTS (nutpie, numba backend). Prints and
writes ``validation/results/items_nuts.md``: time, peak memory, the sampler diagnostics over all
12,000+ parameters, the model checks, scores, resolved orderings, variance shares and items
needed; and, where ``items_mmlu_pro.json`` (the ADVI fit of validation/items_advi.py) is there,
the ADVI medians against these.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd

import snrstat
from snrstat.inference import SamplerSettings
from snrstat.items import fit_items

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=1000)
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--backend", default="numba")
    ap.add_argument("--random-seed", type=int, default=0)
    ap.add_argument("--save", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    frame = snrstat.load_dataset("mmlu-pro")
    t = time.perf_counter()
    fit = fit_items(frame, n_options=10, method="nuts",
                    settings=SamplerSettings(draws=args.draws, tune=args.tune, chains=args.chains,
                                             backend=args.backend, random_seed=args.random_seed, progress=True))
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.save:
        fit.save(args.save)
    d = fit.diagnostics
    orderings, joint = fit.orderings()
    scores = fit.scores()
    shares = fit.variance_shares()
    need = {g: fit.items_needed(g) for g in (0.01, 0.02, 0.05)}
    table = d.table
    lines = [
        "# NUTS on all of MMLU-Pro", "",
        f"`python validation/items_nuts.py --draws {args.draws} --tune {args.tune} --chains {args.chains} "
        f"--backend {args.backend} --random-seed {args.random_seed}`: {fit.config['design']['answers']:,} answers, "
        f"{int(fit.config['design']['items']):,} items x {len(fit.models)} models; centred difficulties: "
        f"{fit.spec.centred_items}; {seconds / 60:.1f} minutes on two cores, peak memory {peak:.0f} MB.", "",
        "## Sampler diagnostics (every parameter, item difficulties included)", "", f"`{d!r}`", "",
        f"Share of quantities with R-hat <= 1.01: {(table['r_hat'] <= 1.01).mean():.3f}; with R-hat <= 1.05: "
        f"{(table['r_hat'] <= 1.05).mean():.4f}; with bulk ESS >= 400: {(table['ess_bulk'] >= 400).mean():.3f} "
        f"(of {len(table):,}).", "",
        "Worst quantities:", "", table.sort_values("ess_bulk").head(8).to_markdown(floatfmt=".3f"), "",
        f"Orderings resolved jointly at 0.95: {int((orderings['status'] == 'resolved').sum())} of {len(orderings)} "
        f"(joint probability {joint:.3f}); practical ties: {int((orderings['status'] == 'tie').sum())}.", "",
        scores.to_markdown(floatfmt=".4f"), "", shares.to_markdown(floatfmt=".4f"), "",
        "Items needed (power 0.8, alpha 0.05): " + "; ".join(
            f"gap {g}: {v['items_median']:.0f} [{v['items_lo']:.0f}, {v['items_hi']:.0f}]" for g, v in need.items()), ""]
    advi_path = args.out / "items_mmlu_pro.json"
    if advi_path.exists():
        advi = pd.DataFrame(json.loads(advi_path.read_text())["scores"]).set_index("model")
        both = scores.join(advi, rsuffix="_advi")
        cols = [c for c in scores.columns if c.startswith("population") and f"{c}_advi" in both.columns]
        diffs = {c: float((both[f"{c}_advi"] - both[c]).abs().max()) for c in cols}
        lines += ["## ADVI (validation/items_advi.py) against this fit", "",
                  "Largest |ADVI - NUTS| over the 29 models: " + "; ".join(f"{c} {v:.4f}" for c, v in diffs.items()), ""]
    text = "\n".join(lines)
    (args.out / "items_nuts.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
