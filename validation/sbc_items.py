"""Simulation-based calibration of the item model (Talts et al. 2018; science.md section 5).

    nice -n 10 python validation/sbc_items.py [--n 50] [--out validation/results]

Two designs, ``--n`` simulated data sets each, every parameter drawn from the model's priors:

- ``models``: 8 released models x 150 items in 3 categories, 4 options (guessing floor 0.25):
  abilities, difficulties, population scores and P(model A better than B);
- ``training``: 3 models x 2 runs (seeds) x 2 checkpoints x 100 items in 2 categories: the run
  and checkpoint terms on top, so item sampling and training noise are separated.

For each quantity: the rank of the truth among 100 thinned posterior draws (uniform when
calibrated; chi-square test over 10 bins), and the coverage of the 50% and 90% equal-tailed
intervals with the 99% binomial range of the nominal rate. Paired-comparison probabilities:
P(A > B) against whether A's true population score is higher (mean probability vs frequency,
and the Brier score). Writes items_sbc.csv and items_sbc.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from snrstat.inference import SamplerSettings
from snrstat.items import item_design, item_spec
from snrstat.items import quantities as Q
from snrstat.items.fit import fit_design
from snrstat.items.simulate import simulate_items

DESIGNS = {
    "models": dict(n_models=8, n_items=150, n_categories=3, n_options=4),
    "training": dict(n_models=3, n_items=100, n_categories=2, runs_per_model=2, ckpts_per_run=2),
}
SETTINGS = SamplerSettings(draws=400, tune=400, chains=2, target_accept=0.95)


def true_scores(truth, opts) -> np.ndarray:
    m = len(truth["theta"])
    p = Q.Params(theta=truth["theta"][None, :], b=truth["b"][None, :], mu_c=np.atleast_1d(truth["mu_c"])[None, :],
                 sigma_c=np.atleast_1d(truth["sigma_c"])[None, :], item_category=truth["item_category"],
                 guess=truth["guess"])
    return Q.score_population(p)[0][:m]


def one(name: str, i: int) -> list[dict]:
    opts = DESIGNS[name]
    frame, truth = simulate_items(seed=10_000 * (name == "training") + i, **opts)
    design = item_design(frame)
    spec = item_spec(design, n_options=opts.get("n_options"), interaction=False)
    fit = fit_design(design, spec, method="nuts", settings=SAMPLER.replace(random_seed=i), compile_key=("sbc_items", name))
    post = fit.idata.posterior
    rows = []
    thin = lambda da: np.asarray(da.stack(s=("chain", "draw")).transpose("s", ...).values)[:: max(1, (post.sizes["chain"] * post.sizes["draw"]) // 100)]  # noqa: E731
    checks = {f"theta[{k}]": (thin(post["theta"])[:, k], truth["theta"][k]) for k in range(len(truth["theta"]))}
    for k in range(3):
        checks[f"b[{k}]"] = (thin(post["b"])[:, k], truth["b"][k])
    checks["sigma_theta"] = (thin(post["sigma_theta"]), truth["sigma_theta"])
    checks["sigma_c[0]"] = (thin(post["sigma_c"])[:, 0], truth["sigma_c"][0])
    for extra in ("sigma_run", "sigma_ckpt"):
        if extra in truth and extra in post:
            checks[extra] = (thin(post[extra]), truth[extra])
    pop_true = true_scores(truth, opts)
    pop = thin(post["score_population"])
    checks["score_population[0]"] = (pop[:, 0], pop_true[0])
    checks["score_diff[0-1]"] = (pop[:, 0] - pop[:, 1], pop_true[0] - pop_true[1])
    full = np.asarray(post["score_population"].stack(s=("chain", "draw")).transpose("s", ...).values)
    for q, (draws, t) in checks.items():
        draws = np.asarray(draws, dtype=float)
        rows.append({"design": name, "sim": i, "quantity": q, "kind": q.split("[")[0], "rank": int((draws < t).sum()),
                     "n_draws": len(draws), "in50": bool(np.quantile(draws, 0.25) <= t <= np.quantile(draws, 0.75)),
                     "in90": bool(np.quantile(draws, 0.05) <= t <= np.quantile(draws, 0.95))})
    m = full.shape[1]
    for a in range(m):
        for b in range(a + 1, m):
            rows.append({"design": name, "sim": i, "quantity": f"P({a}>{b})", "kind": "p_superior",
                         "prob": float((full[:, a] > full[:, b]).mean()), "outcome": float(pop_true[a] > pop_true[b])})
    rows.append({"design": name, "sim": i, "quantity": "_fit", "kind": "_fit", "ok": fit.diagnostics.ok,
                 "max_r_hat": fit.diagnostics.max_r_hat, "divergences": fit.diagnostics.divergences})
    return rows


SAMPLER = SETTINGS


def report(df: pd.DataFrame, seconds: float) -> str:
    lines = ["# Simulation-based calibration of the item model", "",
             f"`python validation/sbc_items.py --n {df['sim'].nunique()}`: {df.groupby('design')['sim'].nunique().to_dict()} "
             f"simulated data sets, NUTS {SETTINGS.chains} chains x {SETTINGS.draws} draws; {seconds:.0f} s.", "",
             "Designs: " + "; ".join(f"`{k}` {v}" for k, v in DESIGNS.items()), "",
             "| design | quantity | n | 50% coverage | 90% coverage | 90% range (99%) | rank chi2 p |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    ranked = df[df["rank"].notna()]
    for (design, kind), g in ranked.groupby(["design", "kind"]):
        n = len(g)
        lo, hi = stats.binom.ppf([0.005, 0.995], n, 0.9) / n
        bins = np.floor(g["rank"].to_numpy() / (g["n_draws"].to_numpy() + 1) * 10).astype(int)
        counts = np.bincount(bins, minlength=10)
        chi = stats.chisquare(counts).pvalue
        lines.append(f"| {design} | {kind} | {n} | {g['in50'].mean():.3f} | {g['in90'].mean():.3f} | [{lo:.3f}, {hi:.3f}] | {chi:.3f} |")
    lines += ["", "Paired-comparison probabilities P(A > B) (population scores) against the truth:", "",
              "| design | pairs | mean P | frequency A > B | Brier | calibration z |", "| --- | --- | --- | --- | --- | --- |"]
    for design, g in df[df["kind"] == "p_superior"].groupby("design"):
        p, o = g["prob"].to_numpy(), g["outcome"].to_numpy()
        z = (o - p).sum() / np.sqrt((p * (1 - p)).sum())
        lines.append(f"| {design} | {len(g)} | {p.mean():.3f} | {o.mean():.3f} | {np.mean((p - o) ** 2):.4f} | {z:.2f} |")
    for design, g in df[df["kind"] == "p_superior"].groupby("design"):
        g = g.assign(bin=pd.cut(g["prob"], [0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0], include_lowest=True))
        tab = g.groupby("bin", observed=True).agg(n=("prob", "size"), mean_p=("prob", "mean"), freq=("outcome", "mean"))
        lines += ["", f"Reliability ({design}):", "", "| P bin | n | mean P | frequency |", "| --- | --- | --- | --- |"]
        lines += [f"| {b} | {r.n} | {r.mean_p:.3f} | {r.freq:.3f} |" for b, r in tab.iterrows()]
    fits = df[df["kind"] == "_fit"]
    lines += ["", f"Sampler: {int(fits['ok'].sum())} of {len(fits)} fits passed every diagnostic; max R-hat "
              f"{fits['max_r_hat'].max():.3f}; {int(fits['divergences'].sum())} divergent transitions in all."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=50, help="simulated data sets per design")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--designs", nargs="*", default=list(DESIGNS))
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    rows = []
    for name in args.designs:
        for i in range(args.n):
            rows += one(name, i)
            if (i + 1) % 10 == 0:
                print(f"{name}: {i + 1}/{args.n} ({time.perf_counter() - t0:.0f} s)", flush=True)
    df = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out / "items_sbc.csv", index=False)
    text = report(df, time.perf_counter() - t0)
    (args.out / "items_sbc.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
