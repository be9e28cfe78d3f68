"""Simulation-based calibration of the judge model (Talts et al. 2018, "Validating Bayesian
Inference Algorithms with Simulation-Based Calibration").

Each data set draws its judges (discrimination, position bias, perception noise, subset
gaps, rating thresholds) from the model's priors, simulates verdicts and scores with
:func:`snrstat.judges.simulate.simulate_judgments`, and fits them. Over many data sets the
central 50% and 90% intervals of every parameter and of every derived quantity (accuracy,
flip rate, share for the answer shown first, judge SNR, rating minus pairwise) should cover
the truth about 50% and 90% of the time, and the rank of the truth among the posterior draws
should be uniform. The truth of a derived quantity is computed by the same kernel at the true
parameters and the true item gaps of that data set.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from scipy import stats

from snrstat.judges import quantities as Q

#: One design: 3 judges judging pairwise in both orders, the first also rating in isolation.
DESIGN = {"n_items": 40, "judges": ("J1", "J2", "J3"), "pairwise": ("Vanilla",), "rating": ("Rating",),
          "n_subsets": 2, "n_categories": 5}
#: The designs of the calibration study by name. ``"terms"`` turns on the optional terms of
#: :func:`snrstat.judges.model.model_terms`: 60 pairs (at least SHIFT_MIN_PAIRS per cell) and
#: two strategies per judge bring in the strategy shift; two rating strategies rate every pair in
#: two calls, which brings in the rating-call offset.
#: ``"stress"`` is not drawn from the model: fixed LLMBar-like judges (see :func:`stress_parameters`),
#: heavy-tailed item gaps, subsets of 70% and 30% of the pairs, a quarter of the pairwise verdicts
#: missing at random, and isolated scores piled against the top of the scale.
DESIGNS = {"basic": DESIGN,
           "terms": {"n_items": 60, "judges": ("J1", "J2", "J3"), "pairwise": ("Vanilla", "CoT"),
                     "rating": ("Rating", "Rating_Reference"), "n_subsets": 2, "n_categories": 5},
           "stress": {"n_items": 60, "judges": ("J1", "J2", "J3"), "pairwise": ("Vanilla",), "rating": ("Rating",),
                      "n_subsets": 2, "n_categories": 5, "gap_df": 3.0, "subset_shares": (0.7, 0.3),
                      "keep": 0.75, "truths": "fixed"}}


def stress_parameters(rng: np.random.Generator) -> dict:
    """Hand-set judges in LLMBar's image, each value moved by up to 25% per data set: J1 sharp and
    fair (GPT-4-like, and the one that also rates, with thresholds low enough that most scores
    sit in the top two categories: a ceiling), J2 moderate with a strong pull to the answer shown
    first (Falcon-like), J3 noisy with a slight pull to the second. Cells in the order
    :func:`~snrstat.judges.simulate.simulate_judgments` sorts them: J1 Rating, J1 Vanilla, J2, J3.
    ``k`` is scaled to geometric mean 1, the model's anchor of the gap scale."""
    def jitter(x):
        x = np.asarray(x, dtype=float)
        return x * np.exp(rng.uniform(-0.25, 0.25, x.shape))

    k = jitter([1.5, 2.4, 1.0, 0.5])
    return {"k": k / np.exp(np.log(k).mean()), "beta": np.array([0.0, 0.1, 1.4, -0.3]) * jitter(np.ones(4)),
            "tau": jitter([0.5, 1.0, 1.6]), "mu_subset": jitter([[1.5, 0.6], [1.0, 0.3], [0.8, 0.2]]),
            "sigma_subset": jitter([1.0, 0.7]), "sigma_level": float(jitter(0.5)), "omega": np.zeros(1),
            "shift": np.zeros(4), "cutpoints": np.sort(jitter([-3.5, -2.6, -1.8, -0.8]))[None, :]}


def simulate_design(design: dict, seed: int):
    """One data set of a calibration design (a dict like :data:`DESIGN`): ``(frame, truth)``."""
    from snrstat.judges.simulate import simulate_judgments

    extra = {key: design[key] for key in ("gap_df", "subset_shares", "keep") if key in design}
    if design.get("truths") == "fixed":
        # its own stream, so the data draws below are not shifted by how many numbers it takes
        extra["params"] = stress_parameters(np.random.default_rng([seed, 1]))
    return simulate_judgments(design["n_items"], judges=design["judges"], pairwise=design["pairwise"],
                              rating=design["rating"], n_subsets=design["n_subsets"],
                              n_categories=design["n_categories"], random_seed=seed, **extra)


def _truth_draws(truth: dict, design) -> Q.Draws:
    order = [truth["items"].index(it) for it in design.items]
    cells = [truth["cells"].index(c) for c in design.cells]
    return Q.Draws(gap=np.asarray(truth["gap"])[order][None, :], k=np.asarray(truth["k"])[cells][None, :],
                   beta=np.asarray(truth["beta"])[cells][None, :], tau=np.asarray(truth["tau"])[None, :],
                   level=np.asarray(truth["level"])[order][None, :], cutpoints=np.asarray(truth["cutpoints"])[None],
                   sigma_subset=np.asarray(truth["sigma_subset"])[None, :],
                   mu_subset=np.asarray(truth["mu_subset"])[None], item_subset=np.asarray(design.item_subset),
                   shift=np.asarray(truth["shift"])[cells][None, :], omega=np.asarray(truth["omega"])[None, :])


def true_values(truth: dict, design) -> dict[str, float]:
    """Every summary quantity of a judge fit at the true parameters, keyed as ``summary()`` rows."""
    from snrstat.judges.fit import cell_items, comparisons

    out = {}
    labels = design.cell_labels
    cells = [truth["cells"].index(c) for c in design.cells]
    for c, lab in enumerate(labels):
        out[f"k[{lab}]"] = float(truth["k"][cells[c]])
        if design.cell_mode[c] == "pairwise":
            out[f"beta[{lab}]"] = float(truth["beta"][cells[c]])
    for j, name in enumerate(design.judges):
        out[f"tau[{name}]"] = float(truth["tau"][j])
        for g, sub in enumerate(design.subsets):
            out[f"mu_subset[{name},{sub}]"] = float(truth["mu_subset"][j, g])
    for g, sub in enumerate(design.subsets):
        out[f"sigma_subset[{sub}]"] = float(truth["sigma_subset"][g])
    if design.rt_y.size:
        out["sigma_level"] = float(truth["sigma_level"])
        for r, name in enumerate(design.rating_judges):
            out[f"omega[{name}]"] = float(truth["omega"][r])
    if any(sum(j == judge for j, _ in design.cells) > 1 for judge in design.judges):
        for c, lab in enumerate(labels):
            out[f"shift[{lab}]"] = float(truth["shift"][cells[c]])
    draws = _truth_draws(truth, design)
    mask = cell_items(design)
    rjudges = design.rating_judges
    per = {}
    for c, (judge, _) in enumerate(design.cells):
        items = np.flatnonzero(mask[c])
        j = design.judges.index(judge)
        if design.cell_mode[c] == "pairwise":
            per[c] = Q.pairwise_cell(draws, c, j, items, design.item_sign)
        else:
            per[c] = Q.rating_cell(draws, c, j, rjudges.index(judge), items, design.item_sign)
        for q in ("accuracy", "flip", "first", "snr"):
            out[f"{q}[{labels[c]}]"] = float(per[c][q][0])
    for r, p in comparisons(design):
        lab = f"{design.cells[r][0]}|{design.cells[r][1]} vs {design.cells[p][1]}"
        out[f"accuracy_diff[{lab}]"] = float(per[r]["accuracy"][0] - per[p]["accuracy"][0])
        out[f"agreement_diff[{lab}]"] = float(per[p]["flip"][0] - per[r]["flip"][0])
        out[f"snr_ratio[{lab}]"] = float(per[r]["snr"][0] / per[p]["snr"][0])
    return out


def _intervals(draws: np.ndarray, truth: float) -> dict:
    """Truth, median, central 50% and 90% intervals of ``draws`` and whether each covers the truth
    (the columns :func:`coverage_table` reads)."""
    q = np.quantile(draws, [0.05, 0.25, 0.75, 0.95])
    return {"truth": truth, "median": float(np.median(draws)), "lo90": q[0], "lo50": q[1], "hi50": q[2],
            "hi90": q[3], "cover50": bool(q[1] <= truth <= q[2]), "cover90": bool(q[0] <= truth <= q[3])}


def _family(key: str) -> str:
    return key.split("[", 1)[0]


def run_sbc(n_datasets: int = 100, *, draws: int = 500, tune: int = 500, chains: int = 2, random_seed: int = 0,
            design: dict | None = None, progress=None, skip=()) -> pd.DataFrame:
    """Fit ``n_datasets`` simulated data sets; one row per (data set, quantity) with the truth,
    the 50% and 90% intervals, whether each covers, the rank of the truth among the draws
    (thinned to 99 + 1 positions) and the fit's diagnostics. Data set ``d`` is simulated from seed
    ``random_seed * 100003 + d`` alone, so data sets in ``skip`` (done by an earlier, stopped run)
    can be left out and the rest are the same as in an uninterrupted run."""
    from snrstat.judges.fit import fit_judges
    from snrstat.judges.spec import judge_design

    design = dict(DESIGN, **(design or {}))
    rows = []
    for d in range(n_datasets):
        if d in skip:
            continue
        seed = random_seed * 100_003 + d
        frame, truth = simulate_design(design, seed)
        categories = range(design["n_categories"])
        t0 = time.perf_counter()
        fit = fit_judges(frame, draws=draws, tune=tune, chains=chains, random_seed=seed, categories=categories)
        seconds = time.perf_counter() - t0
        truths = true_values(truth, judge_design(frame, categories=categories))
        post = fit.idata.posterior
        for key, value in truths.items():
            name = _family(key)
            if name not in post:
                continue
            da = post[name]
            other = [dim for dim in da.dims if dim not in ("chain", "draw")]
            if other:
                label = key[len(name) + 1:-1].split(",")
                da = da.sel(dict(zip(other, label)))
            v = np.asarray(da.values, dtype=float).ravel()
            thin = v[np.linspace(0, v.size - 1, 99).astype(int)]
            rows.append({"dataset": d, "seed": seed, "quantity": key, "family": name, **_intervals(v, value),
                         "rank": int((thin < value).sum()), "max_r_hat": fit.diagnostics.max_r_hat,
                         "min_ess_bulk": fit.diagnostics.min_ess_bulk, "divergences": fit.diagnostics.divergences,
                         "seconds": seconds})
        if progress:
            progress(d, fit, seconds, pd.DataFrame([r for r in rows if r["dataset"] == d]))
    return pd.DataFrame(rows)


def coverage_table(res: pd.DataFrame, by=("family",)) -> pd.DataFrame:
    """Coverage of the 50% and 90% intervals per group, with the 99% binomial acceptance range."""
    g = res.groupby(list(by))
    out = pd.DataFrame({"n": g.size(), "cover50": g["cover50"].mean(), "cover90": g["cover90"].mean()})
    for level in (50, 90):
        p = level / 100
        out[f"lo{level}"] = stats.binom.ppf(0.005, out["n"], p) / out["n"]
        out[f"hi{level}"] = stats.binom.ppf(0.995, out["n"], p) / out["n"]
        out[f"ok{level}"] = (out[f"cover{level}"] >= out[f"lo{level}"]) & (out[f"cover{level}"] <= out[f"hi{level}"])
    return out


def rank_uniformity(res: pd.DataFrame, bins: int = 10) -> pd.DataFrame:
    """Chi-square test that the ranks of the truth (0..99) are uniform, per family."""
    rows = {}
    for fam, sub in res.groupby("family"):
        counts = np.histogram(sub["rank"], bins=bins, range=(0, 100))[0]
        chi2, p = stats.chisquare(counts)
        rows[fam] = {"n": len(sub), "chi2": float(chi2), "p": float(p)}
    return pd.DataFrame.from_dict(rows, orient="index")


def simulate_proxy_table(rng: np.random.Generator, n_systems: int = 12) -> tuple[pd.DataFrame, dict]:
    """One table for :func:`snrstat.judges.judge_vs_proxy` from a simulator that is not the
    model's own: true losses spread evenly (not normal) over a range of random width, win rates
    ``expit(a + slope * (loss - centre) + residual)`` judged on a random number of prompts
    (binomial, the sd read from the observed rate as a user would), and losses measured with a
    known normal error. Truths: ``slope``, ``sigma`` (residual sd) and the correlation of the
    true loss and true logit win rate over these systems."""
    from scipy.special import expit

    centre, width = rng.uniform(2.0, 3.5), rng.uniform(0.3, 1.0)
    loss = centre + width * (np.linspace(-0.5, 0.5, n_systems) + rng.uniform(-0.2, 0.2, n_systems) / n_systems)
    slope = -rng.uniform(0.5, 3.0) / width  # logit spread of 0.5-3 over the range of losses
    sigma = rng.uniform(0.05, 0.4)
    logit = rng.uniform(-0.5, 0.5) + slope * (loss - centre) + rng.normal(0.0, sigma, n_systems)
    prompts = int(rng.integers(100, 500))
    wins = rng.binomial(prompts, expit(logit)) / prompts
    x_sd = width * rng.uniform(0.02, 0.15)
    table = pd.DataFrame({"system": [f"s{i}" for i in range(n_systems)], "proxy_median": loss + rng.normal(0, x_sd, n_systems),
                          "proxy_sd": x_sd, "judge_median": wins,
                          "judge_sd": np.sqrt(np.clip(wins * (1 - wins), 1e-4, None) / prompts)})
    truth = {"slope": float(slope), "sigma": float(sigma), "correlation": float(np.corrcoef(loss, logit)[0, 1])}
    return table, truth


def proxy_coverage(n_sets: int = 40, *, n_systems: int = 12, random_seed: int = 0, progress=None,
                   **sampler) -> pd.DataFrame:
    """Coverage of :func:`snrstat.judges.judge_vs_proxy`'s intervals on tables from
    :func:`simulate_proxy_table`: one row per (table, quantity) with the truth, the 50% and 90%
    intervals and whether each covers (the columns :func:`coverage_table` reads)."""
    from snrstat.judges.proxy import judge_vs_proxy

    rows = []
    for d in range(n_sets):
        seed = random_seed * 100_003 + d
        table, truth = simulate_proxy_table(np.random.default_rng(seed), n_systems)
        t0 = time.perf_counter()
        fit = judge_vs_proxy(table, random_seed=seed, **sampler)
        seconds = time.perf_counter() - t0
        post = fit.idata.posterior
        for name, value in truth.items():
            v = np.asarray(post[name].values, dtype=float).ravel()
            rows.append({"dataset": d, "seed": seed, "quantity": name, "family": name, **_intervals(v, value),
                         "point": fit.point.get(name, np.nan), "max_r_hat": fit.diagnostics.max_r_hat, "divergences": fit.diagnostics.divergences,
                         "seconds": seconds})
        if progress:
            progress(d, fit, seconds)
    return pd.DataFrame(rows)
