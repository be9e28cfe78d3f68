"""Anchor subsets on MMLU-Pro, checked on models held out of the selection (leave models out).

    nice -n 10 python validation/anchors_items.py [--items 2000] [--k 100] [--folds 5]

The benchmark here is a seeded random subset of ``--items`` MMLU-Pro questions (all 29 models);
each fold fits the item model to the other models only (mean-field ADVI, as for the full matrix),
selects ``--k`` anchor items from that fit (stratified by category and difficulty, most
informative item per stratum), and predicts every held-out model's accuracy on all the
benchmark's items from its answers to the anchors. The same for a random subset of k items,
by the item model and by the subset mean with a finite-population binomial interval.
Writes validation/results/items_anchors.md and .csv.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import snrstat
from snrstat.inference import SamplerSettings
from snrstat.items.anchors import anchor_summary, check_anchors


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--level", type=float, default=0.9)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    frame = snrstat.load_dataset("mmlu-pro")
    keys = frame["subtask"] + "/" + frame["item"]
    chosen = np.random.default_rng(0).choice(np.sort(keys.unique()), args.items, replace=False)
    bench = frame[keys.isin(chosen)]
    t0 = time.perf_counter()
    chk = check_anchors(bench, k=args.k, folds=args.folds, level=args.level,
                        fit_kwargs=dict(n_options=10, method="advi", settings=SamplerSettings(draws=250, chains=2)),
                        progress=lambda f, n: print(f"fold {f + 1}/{n} ({time.perf_counter() - t0:.0f} s)", flush=True))
    seconds = time.perf_counter() - t0
    summ = anchor_summary(chk, args.level)
    args.out.mkdir(parents=True, exist_ok=True)
    chk.to_csv(args.out / "items_anchors.csv", index=False)
    text = "\n".join([
        "# Anchor subsets on MMLU-Pro, leave models out", "",
        f"`python validation/anchors_items.py --items {args.items} --k {args.k} --folds {args.folds}`: "
        f"{bench['model'].nunique()} models, {args.items} items, {args.folds} folds of held-out models; {seconds:.0f} s.", "",
        f"Coverage of the {100 * args.level:.0f}% predictive intervals of each held-out model's accuracy on all "
        f"{args.items} items, with the 95% binomial range of the nominal rate for that many models:", "",
        summ.to_markdown(floatfmt=".3f"), "", chk.to_markdown(index=False, floatfmt=".3f"), ""])
    (args.out / "items_anchors.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
