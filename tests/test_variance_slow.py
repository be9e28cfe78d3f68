"""Heavier variance-model checks: reduced simulation-based calibration, other likelihoods,
the PyMC sampler. Run with ``pytest -m slow``; a few minutes on 2 cores."""

import warnings

import numpy as np
import pytest
from scipy import stats

from snrstat.variance import fit_variance, simulate
from snrstat.variance.calibration import DESIGNS, coverage_table, run_sbc

pytestmark = pytest.mark.slow


def test_reduced_sbc_coverage_is_nominal():
    """21 data sets (7 per design) drawn from the priors: the 50% and 90% intervals of every
    sigma and of signal, noise, snr must cover the truth at their nominal rate, within a
    binomial acceptance range that a wrong scale, prior or likelihood would leave (a
    systematic error drives coverage towards 0)."""
    res = run_sbc(DESIGNS, 7, draws=300, tune=300, chains=2, seed=4242, progress=False)
    table = coverage_table(res, alpha=0.002)
    assert set(table.index) >= {"sigma_model", "sigma_seed", "sigma_order", "sigma_ckpt", "snr", "snr_pop"}
    for q, row in table.iterrows():
        n = int(row["n"])
        lo90 = stats.binom.ppf(0.001, n, 0.9) / n
        lo50, hi50 = stats.binom.ppf(0.001, n, 0.5) / n, stats.binom.isf(0.001, n, 0.5) / n
        assert row["cover90"] >= lo90, (q, row["cover90"])
        assert lo50 <= row["cover50"] <= hi50, (q, row["cover50"])


@pytest.mark.parametrize("likelihood", ["binomial", "binomial_t", "logit_t", "betabinomial", "student_t"])
def test_other_likelihoods_recover_the_between_model_spread(likelihood):
    kind = "normal" if likelihood == "student_t" else "binomial"
    frame, truth = simulate(n_models=6, n_seeds=2, n_ckpt=4, n_items=500, mu=0.5 if kind == "normal" else 0.2,
                            sigma_model=0.4, sigma_seed=0.05, sigma_ckpt=0.03, crossed=False, likelihood=kind,
                            random_seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_variance(frame, likelihood=likelihood, draws=400, tune=500, chains=2, random_seed=2,
                           progress=False)
    s = fit.summary(level=0.99)
    assert fit.spec["likelihood"] == likelihood and not fit.spec["collapsed"]
    if likelihood == "binomial_t":  # nu summed out of the likelihood, drawn afterwards from its grid
        from snrstat.variance.model import NU_GRID

        assert np.isin(fit.draws("nu").values, NU_GRID).all()
    assert s.loc["sigma_model", "lo"] <= truth["sigma_model"] <= s.loc["sigma_model", "hi"]
    assert np.isfinite(s.loc["snr", "median"])


def test_pymc_sampler_gives_the_same_posterior_as_nutpie():
    frame, _ = simulate(n_models=5, n_seeds=2, n_ckpt=4, crossed=False, random_seed=8)
    kw = dict(draws=300, tune=400, chains=2, random_seed=1, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = fit_variance(frame, sampler="nutpie", **kw)
        b = fit_variance(frame, sampler="pymc", **kw)
    assert b.settings["sampler"] == "pymc"
    sa, sb = a.summary(), b.summary()
    for q in ("sigma_model", "sigma_ckpt", "snr"):
        width = sa.loc[q, "hi"] - sa.loc[q, "lo"]
        assert abs(sa.loc[q, "median"] - sb.loc[q, "median"]) < 0.25 * width, q


def test_reduced_misfit_study_covers_and_does_not_cry_wolf():
    """A reduced version of validation/misfit_study.py: unbalanced runs (2-4 nested seeds
    labelled 0, 1, ..., 2-9 checkpoints) and a continuous metric, truths not from the priors,
    default options. The 90% intervals of sigma_model, sigma_seed, sigma_ckpt, noise and snr
    must cover near their rate (a structural error such as crossed seeds drives the coverage
    of sigma_ckpt to 0), and the tail check must not switch to a robust likelihood."""
    from snrstat.variance.calibration import run_outside

    cov, chk = run_outside(("unbalanced", "continuous"), 3, draws=300, tune=300, chains=2, seed=77,
                           progress=False)
    assert set(cov["quantity"]) == {"sigma_model", "sigma_seed", "sigma_ckpt", "noise", "snr"}
    n = len(cov)
    assert cov["in90"].mean() >= stats.binom.ppf(0.001, n, 0.9) / n, cov.groupby("quantity")["in90"].mean()
    assert set(chk["likelihood"]) <= {"logit_normal", "normal"}


def test_tail_check_flags_student_t_checkpoint_noise():
    """Student-t(3) checkpoint spikes fitted with the default Gaussian likelihood: the posterior
    predictive tail check must flag it (the study measures the rate over 60 data sets)."""
    import pandas as pd
    from scipy.special import expit

    from snrstat.schema import validate
    from snrstat.variance.checks import check_fit

    rng = np.random.default_rng(12)
    rows = []
    for m in range(12):
        a = rng.normal(0.5, 0.3)
        for s in range(3):
            eta = a + rng.normal(0, 0.05) + 0.15 * rng.standard_t(3, size=6)
            rows.append(pd.DataFrame({"model": f"m{m}", "seed": str(s), "step": 1000 * np.arange(1, 7),
                                      "value": rng.binomial(4000, expit(eta)) / 4000}))
    frame = pd.concat(rows).assign(task="t", metric="acc", size="1B", data_order=pd.NA, n_items=4000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_variance(validate(frame), draws=300, tune=300, chains=2, random_seed=1, progress=False,
                           checks=False)
    checks = check_fit(fit)
    assert fit.spec["likelihood"] == "logit_normal"
    assert checks["tails"]["p"] < 0.01 and any(f.startswith("tails:") for f in checks["flags"])
