"""Simulation-based calibration of :func:`snrstat.variance.fit_variance` (Talts et al. 2018).

For each design, draw the parameters from the fit's own priors, simulate records with
:func:`snrstat.variance.simulate` (binomial item sampling, so the default ``logit_normal``
approximation is checked too), fit, and record whether the central 50% and 90% credible
intervals cover the truth, and the truth's rank among the posterior draws. Over many data
sets the coverage must match the nominal level within binomial error: a coverage far from
nominal is a bug (Talts et al. 2018, simulation-based calibration).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from snrstat.variance.simulate import simulate
from snrstat.variance.spec import Priors

#: Quantities whose coverage is checked (when the design has them).
QUANTITIES = ("sigma_model", "sigma_seed", "sigma_order", "sigma_ckpt", "signal", "noise", "snr", "snr_pop")
LEVELS = (0.5, 0.9)


@dataclass(frozen=True)
class SBCDesign:
    """A simulation design: sizes and which noise components exist."""

    name: str
    n_models: int
    n_seeds: int = 1
    n_orders: int = 1
    n_ckpt: int = 5
    n_items: int = 1000

    @property
    def components(self) -> tuple[str, ...]:
        comps = ["model"]
        if self.n_seeds > 1:
            comps.append("seed")
        if self.n_orders > 1:
            comps.append("data_order")
        if self.n_ckpt > 1:
            comps.append("ckpt")
        return tuple(comps)


#: The three designs of the calibration study (issue 4).
DESIGNS = (
    SBCDesign("25x3seeds x5ckpt", n_models=25, n_seeds=3, n_ckpt=5),
    SBCDesign("10x1seed x30ckpt", n_models=10, n_seeds=1, n_ckpt=30),
    SBCDesign("6x3seeds x2orders x5ckpt", n_models=6, n_seeds=3, n_orders=2, n_ckpt=5),
)


def draw_truth(design: SBCDesign, priors: Priors, rng: np.random.Generator) -> dict:
    """Link-scale parameters from the fit's priors (0 for components the design lacks)."""
    half = lambda s: float(abs(rng.normal(0.0, s)))
    comps = design.components
    return {
        "mu": float(rng.normal(0.0, priors.mu)),
        "sigma_model": half(priors.model),
        "sigma_seed": half(priors.noise) if "seed" in comps else 0.0,
        "sigma_order": half(priors.noise) if "data_order" in comps else 0.0,
        "sigma_ckpt": half(priors.noise) if "ckpt" in comps else 0.0,
    }


def run_sbc(designs=DESIGNS, n_per_design: int = 35, *, draws: int = 500, tune: int = 500, chains: int = 4,
            seed: int = 20250, likelihood: str = "logit_normal", progress: bool = True) -> pd.DataFrame:
    """One row per (data set, quantity): truth, posterior median, interval coverage, rank.

    Data sets of one design share a compiled graph (they differ only in data). Columns:
    ``design, dataset, quantity, truth, median, in50, in90, rank`` (the number of posterior
    draws below the truth, out of ``n_draws``), ``n_draws``, ``ok`` (sampler diagnostics)
    and ``seconds`` (fit wall time).
    """
    from snrstat.variance.api import fit_variance

    priors = Priors.default("logit")
    rows = []
    rng = np.random.default_rng(seed)
    done, total = 0, len(designs) * n_per_design
    for d in designs:
        for i in range(n_per_design):
            theta = draw_truth(d, priors, rng)
            frame, truth = simulate(n_models=d.n_models, n_seeds=d.n_seeds, n_orders=d.n_orders, n_ckpt=d.n_ckpt,
                                    n_items=d.n_items, crossed=True, likelihood="binomial",
                                    random_seed=int(rng.integers(2**31)), **theta)
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = fit_variance(frame, likelihood=likelihood, components=d.components, priors=priors,
                                   random_seed=int(rng.integers(2**31)), draws=draws, tune=tune, chains=chains,
                                   progress=False)
            secs = time.perf_counter() - t0
            post = fit.idata.posterior
            for q in QUANTITIES:
                if q not in post or (q.startswith("sigma_") and q[6:] not in _short(d.components)):
                    continue
                x = post[q].values.ravel()
                tv = truth[q]
                lo50, hi50, lo90, hi90 = np.quantile(x, [0.25, 0.75, 0.05, 0.95])
                rows.append({"design": d.name, "dataset": i, "quantity": q, "truth": tv, "median": np.median(x),
                             "in50": lo50 <= tv <= hi50, "in90": lo90 <= tv <= hi90,
                             "rank": int((x < tv).sum()), "n_draws": x.size, "ok": fit.diagnostics.ok,
                             "seconds": secs})
            done += 1
            if progress:
                print(f"  fit {done}/{total} ({d.name} #{i + 1}/{n_per_design}): {secs:.1f} s, target_accept "
                      f"{fit.settings['target_accept']}, diagnostics {'ok' if fit.diagnostics.ok else 'FAILED'}",
                      flush=True)
    return pd.DataFrame(rows)


def _short(components) -> set[str]:
    return {{"data_order": "order"}.get(c, c) for c in components}


def coverage_table(results: pd.DataFrame, by=("quantity",), alpha: float = 0.01) -> pd.DataFrame:
    """Coverage of the 50% and 90% intervals with two-sided binomial acceptance bounds.

    ``ok50``/``ok90`` say whether the count of covering intervals lies inside the central
    ``1 - alpha`` range of Binomial(n, level): a miss is evidence of miscalibration.
    """
    g = results.groupby(list(by))
    out = pd.DataFrame({"n": g.size(), "cover50": g["in50"].mean(), "cover90": g["in90"].mean()})
    for level in LEVELS:
        tag = f"{int(level * 100)}"
        n = out["n"].to_numpy()
        lo = stats.binom.ppf(alpha / 2, n, level) / n
        hi = stats.binom.isf(alpha / 2, n, level) / n
        out[f"lo{tag}"], out[f"hi{tag}"] = lo, hi
        cov = out[f"cover{tag}"].to_numpy()
        out[f"ok{tag}"] = (cov >= lo) & (cov <= hi)
    return out


def rank_uniformity(results: pd.DataFrame, bins: int = 10) -> pd.DataFrame:
    """Chi-square test that the normalised ranks of each quantity are uniform (SBC's check)."""
    rows = {}
    for q, sub in results.groupby("quantity"):
        u = sub["rank"].to_numpy() / sub["n_draws"].to_numpy()
        counts = np.histogram(u, bins=bins, range=(0, 1))[0]
        rows[q] = {"n": len(u), "chi2": float(stats.chisquare(counts).statistic),
                   "p": float(stats.chisquare(counts).pvalue)}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("quantity")


# ---------------------------------------------------------------------------- outside the textbook (issue 13)
#: Quantities whose 90% interval coverage the misfit study checks.
STUDY_QUANTITIES = ("sigma_model", "sigma_seed", "sigma_ckpt", "noise", "snr")


def _log_uniform(rng, lo, hi):
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def simulate_outside(kind: str, rng: np.random.Generator, layout: dict | None = None):
    """One data set of a misfit-study design, drawn *without* :func:`simulate` and not from the
    fit's priors: ``(frame, truth, layout)``.

    Designs (truths log-uniform over realistic ranges, seed labels "0", "1", ... in every
    model but nested effects, as in most training experiments):

    - ``"unbalanced"``: 10 models with 2-4 seeds each and 2-9 checkpoints per run (the
      layout, drawn once and passed back in ``layout`` so data sets can share a compiled
      graph), binomial items (n 500-2000), normal checkpoint effects on the logit scale;
    - ``"student_t"``: 12 models x 3 seeds x 6 checkpoints, checkpoint effects Student-t
      with 3 degrees of freedom on the logit scale (spikes), n 1000-4000;
    - ``"ceiling"``: 10 models x 3 seeds x 5 checkpoints, mean accuracy about 0.97
      (logit 3.2-3.7), 100 items;
    - ``"continuous"``: 10 models x 3 seeds x 5 checkpoints of a bpb-like score around
      0.7-1.2 with normal noise on the natural scale.

    ``truth`` holds the true score-scale quantities computed by
    :func:`snrstat.variance.quantities.score_quantities` (the posterior's definitions: noise
    pooled over the models' own means, Student-t checkpoint effects where drawn so).
    """
    from scipy.special import expit

    from snrstat.variance.quantities import score_quantities

    if kind == "unbalanced":
        M = 10
        if layout is None:
            seeds = rng.integers(2, 5, size=M)
            layout = {"seeds": seeds, "ckpts": [rng.integers(2, 10, size=s) for s in seeds]}
        mu, n_items = rng.uniform(-0.5, 1.5), int(rng.integers(500, 2001))
        s_model, s_seed, s_ckpt = _log_uniform(rng, 0.1, 0.5), _log_uniform(rng, 0.02, 0.15), _log_uniform(rng, 0.02, 0.15)
        nu = None
    elif kind == "student_t":
        M, layout = 12, layout or {"seeds": np.full(12, 3), "ckpts": [np.full(3, 6)] * 12}
        mu, n_items = rng.uniform(-0.5, 1.5), int(rng.integers(1000, 4001))
        s_model, s_seed, s_ckpt = _log_uniform(rng, 0.1, 0.5), _log_uniform(rng, 0.02, 0.15), _log_uniform(rng, 0.05, 0.15)
        nu = 3.0
    elif kind == "ceiling":
        M, layout = 10, layout or {"seeds": np.full(10, 3), "ckpts": [np.full(3, 5)] * 10}
        mu, n_items = rng.uniform(3.2, 3.7), 100
        s_model, s_seed, s_ckpt = _log_uniform(rng, 0.1, 0.5), _log_uniform(rng, 0.05, 0.3), _log_uniform(rng, 0.05, 0.3)
        nu = None
    elif kind == "continuous":
        M, layout = 10, layout or {"seeds": np.full(10, 3), "ckpts": [np.full(3, 5)] * 10}
        mu, n_items = rng.uniform(0.7, 1.2), None
        s_model, s_seed, s_ckpt = _log_uniform(rng, 0.01, 0.05), _log_uniform(rng, 0.002, 0.015), _log_uniform(rng, 0.002, 0.015)
        nu = None
    else:
        raise ValueError(f"unknown design {kind!r}")
    models = [f"model-{i:02d}" for i in range(M)]
    a = rng.normal(0.0, s_model, M)
    rows = []
    for m in range(M):
        for j in range(int(layout["seeds"][m])):
            b = rng.normal(0.0, s_seed)
            c = int(layout["ckpts"][m][j])
            e = s_ckpt * (rng.standard_t(nu, c) if nu else rng.standard_normal(c))
            eta = mu + a[m] + b + e
            if n_items is None:
                value = eta
            else:
                value = rng.binomial(n_items, expit(eta)) / n_items
            steps = 10_000 - 500 * np.arange(c)[::-1]
            rows.append(pd.DataFrame({"model": models[m], "seed": str(j), "step": steps, "value": value}))
    frame = pd.concat(rows, ignore_index=True)
    frame = frame.assign(task=f"sim-{kind}", metric="acc" if n_items else "bpb", size="1B", data_order=pd.NA,
                         n_items=n_items if n_items else pd.NA)
    link = "logit" if n_items else "identity"
    q = score_quantities(mu, a, {"model": s_model, "seed": s_seed, "ckpt": s_ckpt}, n_bar=n_items or np.nan,
                         link=link, nu=nu, t_component="ckpt" if nu else None)
    truth = {k: float(v) for k, v in q.items() if np.ndim(v) == 0}
    truth.update(mu=mu, n_items=n_items, sigma_model_link=s_model, sigma_seed_link=s_seed, sigma_ckpt_link=s_ckpt)
    return frame, truth, layout


def run_outside(kinds=("unbalanced", "student_t", "ceiling", "continuous"), n_per_design: int = 60, *,
                draws: int = 500, tune: int = 500, chains: int = 4, seed: int = 2613, layouts: int = 6,
                refine: bool = True, progress: bool = True, backend: str = "auto",
                partial=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The variance half of the misfit study: fit every data set with the defaults
    (``likelihood="auto"``, ``seed_design="auto"``, checks on) and record coverage and checks.

    Returns ``(coverage rows, check rows)``: one row per (design, data set, quantity) with
    truth, median, lo, hi, ``in90``; one row per (design, data set) with the likelihood chosen,
    the first fit's tail p-value and flags, diagnostics and seconds. Data sets of an
    unbalanced design share ``layouts`` layouts (so fits reuse compiled graphs). With
    ``refine=False`` the default likelihood is fitted and checked but never replaced (how
    often the checks flag it, and what its intervals would be). ``backend``: nutpie's
    (``"numba"`` suits long batches). ``partial``: a path prefix; the rows so far are written to
    ``<partial>_coverage.csv`` / ``<partial>_checks.csv`` after every fit, so a stopped run keeps
    what it measured.
    """
    from snrstat.variance.checks import check_fit
    from snrstat.schema import validate
    from snrstat.variance.api import fit_variance

    cov, chk = [], []
    for kind in kinds:
        rng = np.random.default_rng([seed, len(kind)])
        layout = None
        for i in range(n_per_design):
            if kind == "unbalanced" and i % max(1, n_per_design // layouts) == 0:
                layout = None
            frame, truth, layout = simulate_outside(kind, rng, layout)
            frame = validate(frame)
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = fit_variance(frame, draws=draws, tune=tune, chains=chains, random_seed=int(rng.integers(2**31)),
                                   progress=False, checks=refine, backend=backend)
                if not refine:
                    fit.spec["checks"] = check_fit(fit)
            secs = time.perf_counter() - t0
            checks = fit.spec.get("checks", {})
            first = checks.get("replaced", checks)
            post = fit.idata.posterior
            for q in STUDY_QUANTITIES:
                if q not in post or q not in truth:
                    continue
                x = post[q].values.ravel()
                lo, med, hi = np.quantile(x, [0.05, 0.5, 0.95])
                cov.append({"design": kind, "dataset": i, "quantity": q, "truth": truth[q], "median": med,
                            "lo": lo, "hi": hi, "in90": bool(lo <= truth[q] <= hi)})
            chk.append({"design": kind, "dataset": i, "likelihood": fit.spec["likelihood"],
                        "first_likelihood": "logit_normal" if "replaced" in checks else fit.spec["likelihood"],
                        "tail_p_first": first.get("tails", {}).get("p", np.nan),
                        "tail_flag_first": any(f.startswith("tails:") for f in first.get("flags", [])),
                        "tail_flag_final": any(f.startswith("tails:") for f in checks.get("flags", [])),
                        "dispersion_flag": any(f.startswith("dispersion:") for f in checks.get("flags", [])),
                        "overlap_flags": sum("overlap" in f for f in checks.get("flags", [])),
                        "ok": fit.diagnostics.ok, "seconds": secs})
            if partial is not None:
                pd.DataFrame(cov).to_csv(f"{partial}_coverage.csv", index=False)
                pd.DataFrame(chk).to_csv(f"{partial}_checks.csv", index=False)
            if progress:
                print(f"  {kind} #{i + 1}/{n_per_design}: {secs:.1f} s, {fit.spec['likelihood']}, "
                      f"diagnostics {'ok' if fit.diagnostics.ok else 'FAILED'}", flush=True)
    return pd.DataFrame(cov), pd.DataFrame(chk)


def point_vs_truth(kinds=("unbalanced", "student_t", "ceiling", "continuous"), n_per_design: int = 60, *,
                   seed: int = 2613, layouts: int = 6) -> pd.DataFrame:
    """The paper's point SNR (per-run noise, :func:`snrstat.variance.paper.point_estimates`) over
    the true SNR, on the same data sets as :func:`run_outside` (replayed without fitting)."""
    from snrstat.schema import validate
    from snrstat.variance.paper import point_estimates
    from snrstat.variance.records import select_records

    rows = []
    for kind in kinds:
        rng = np.random.default_rng([seed, len(kind)])
        layout = None
        for i in range(n_per_design):
            if kind == "unbalanced" and i % max(1, n_per_design // layouts) == 0:
                layout = None
            frame, truth, layout = simulate_outside(kind, rng, layout)
            rng.integers(2**31)  # the fit's random_seed in run_outside
            point = point_estimates(select_records(validate(frame)))
            rows.append({"design": kind, "dataset": i, "point_snr": point["snr"], "true_snr": truth["snr"],
                         "ratio": point["snr"] / truth["snr"]})
    return pd.DataFrame(rows)
