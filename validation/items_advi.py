"""The item model on all of MMLU-Pro (ADVI) and ADVI checked against NUTS on a subset of items.

    nice -n 10 python validation/items_advi.py [--subset 500] [--out validation/results]

1. NUTS (nutpie, 2 chains x 500 draws after 500 tuning steps) and ADVI on the same random
   subset of ``--subset`` items x 29 models: posterior medians and sds of every model's
   population score, P(A > B) for every pair, the item difficulties and the hyperparameters.
2. ADVI on the whole matrix (12,032 items x 29 models, 347,215 answers): scores, resolved
   orderings, variance shares, items needed, time and peak memory.

Writes items_advi.md (and items_mmlu_pro.json with the full fit's numbers).
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

#: Stated tolerances of ADVI against NUTS (population scores, P(A > B), difficulties).
TOL = {"score_median_abs": 0.01, "score_sd_ratio": (0.5, 1.5), "p_superior_abs": 0.1,
       "difficulty_corr": 0.98}


def compare(nuts, advi) -> tuple[dict, pd.DataFrame]:
    def flat(fit, name):
        return fit.draws(name).stack(s=("chain", "draw")).transpose("s", ...).values

    sn, sa = flat(nuts, "score_population"), flat(advi, "score_population")
    table = pd.DataFrame({"model": nuts.models, "nuts_median": np.median(sn, 0), "advi_median": np.median(sa, 0),
                          "nuts_sd": sn.std(0), "advi_sd": sa.std(0)})
    pn, pa = nuts.prob_superior().to_numpy(), advi.prob_superior().to_numpy()
    bn, ba = flat(nuts, "b"), flat(advi, "b")
    out = {
        "score_median_abs_max": float(np.abs(table["nuts_median"] - table["advi_median"]).max()),
        "score_sd_ratio_range": [float((table["advi_sd"] / table["nuts_sd"]).min()),
                                 float((table["advi_sd"] / table["nuts_sd"]).max())],
        "p_superior_abs_max": float(np.abs(pn - pa).max()),
        "difficulty_corr": float(np.corrcoef(np.median(bn, 0), np.median(ba, 0))[0, 1]),
        "difficulty_sd_ratio_median": float(np.median(ba.std(0) / bn.std(0))),
    }
    for name in ("sigma_theta", "mu_b", "tau", "sigma_mc"):
        if name in nuts.idata.posterior:
            out[f"{name}_nuts"] = float(np.median(flat(nuts, name)))
            out[f"{name}_advi"] = float(np.median(flat(advi, name)))
    out["within_tolerance"] = bool(
        out["score_median_abs_max"] <= TOL["score_median_abs"]
        and TOL["score_sd_ratio"][0] <= out["score_sd_ratio_range"][0]
        and out["score_sd_ratio_range"][1] <= TOL["score_sd_ratio"][1]
        and out["p_superior_abs_max"] <= TOL["p_superior_abs"] and out["difficulty_corr"] >= TOL["difficulty_corr"])
    return out, table


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subset", type=int, default=500)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--skip-full", action="store_true")
    args = parser.parse_args(argv)
    frame = snrstat.load_dataset("mmlu-pro")
    keys = frame["subtask"] + "/" + frame["item"]
    rng = np.random.default_rng(0)
    chosen = rng.choice(np.sort(keys.unique()), args.subset, replace=False)
    sub = frame[keys.isin(chosen)]
    lines = ["# The item model on MMLU-Pro: ADVI against NUTS, and the full fit", ""]
    t = time.perf_counter()
    nuts = fit_items(sub, n_options=10, method="nuts", settings=SamplerSettings(draws=500, tune=500, chains=2))
    t_nuts = time.perf_counter() - t
    t = time.perf_counter()
    advi = fit_items(sub, n_options=10, method="advi", settings=SamplerSettings(draws=500, chains=2))
    t_advi = time.perf_counter() - t
    res, table = compare(nuts, advi)
    print(json.dumps(res, indent=1), flush=True)
    lines += [f"## ADVI against NUTS on {args.subset} random items x 29 models ({len(sub):,} answers)", "",
              f"NUTS: {t_nuts:.0f} s, {nuts.diagnostics!r}", "", f"ADVI: {t_advi:.0f} s ({advi.idata.attrs.get('iterations')} iterations).", "",
              f"Stated tolerances: {TOL}", "", "| check | value |", "| --- | --- |"]
    lines += [f"| {k} | {v} |" for k, v in res.items()]
    lines += ["", table.to_markdown(index=False, floatfmt=".4f"), ""]
    (args.out / "items_advi.md").write_text("\n".join(lines) + "\n")
    if not args.skip_full:
        t = time.perf_counter()
        full = fit_items(frame, n_options=10, method="advi", settings=SamplerSettings(draws=250, chains=4))
        t_full = time.perf_counter() - t
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        orderings, joint = full.orderings()
        scores = full.scores()
        shares = full.variance_shares()
        need = {g: full.items_needed(g) for g in (0.01, 0.02, 0.05)}
        info = full.item_table()
        summary = {"seconds": t_full, "peak_rss_mb": peak, "iterations": full.idata.attrs.get("iterations"),
                   "diagnostics": repr(full.diagnostics), "resolved": int((orderings["status"] == "resolved").sum()),
                   "ties": int((orderings["status"] == "tie").sum()), "pairs": len(orderings), "joint": joint,
                   "scores": scores.reset_index().to_dict(orient="records"),
                   "variance_shares": shares.reset_index().to_dict(orient="records"), "items_needed": need,
                   "unresolved": orderings[orderings["status"] != "resolved"].to_dict(orient="records"),
                   "information_by_category": info.groupby("category")["information"].mean().to_dict()}
        (args.out / "items_mmlu_pro.json").write_text(json.dumps(snrstat.inference.jsonable(summary), indent=1))
        lines += [f"## ADVI on all of MMLU-Pro ({full.config['design']['answers']:,} answers)", "",
                  f"{t_full:.0f} s, peak memory {peak:.0f} MB, {summary['iterations']} iterations; {full.diagnostics!r}", "",
                  f"Orderings resolved jointly at 0.95: {summary['resolved']} of {summary['pairs']} (joint probability "
                  f"{joint:.3f}); practical ties (|gap| < 0.005): {summary['ties']}.", "",
                  scores.to_markdown(floatfmt=".4f"), "", shares.to_markdown(floatfmt=".4f"), "",
                  "Items needed (power 0.8, alpha 0.05): " + "; ".join(
                      f"gap {g}: {v['items_median']:.0f} [{v['items_lo']:.0f}, {v['items_hi']:.0f}]" for g, v in need.items()), ""]
        (args.out / "items_advi.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
