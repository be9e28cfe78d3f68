import numpy as np
import pytest
import xarray as xr
from scipy import stats

from snrstat.decision import (
    design_curves,
    detectable_difference,
    estimate_variance,
    fit_window,
    noise_draws,
    p_agree,
    p_correct,
    p_correct_population,
    predictive_decision_accuracy,
    simulate_comparisons,
)
from snrstat.decision.calibration import simulate_records
from snrstat.schema import DataError

NOISE = {"sigma_seed": 0.01, "sigma_order": 0.005, "sigma_ckpt": 0.02}


def test_variance_of_a_models_score():
    v = estimate_variance(NOISE, k=3, n=4)
    assert v[0] == pytest.approx((0.01**2 + 0.005**2) / 3 + 0.02**2 / 12)
    # AR(1) checkpoints: the variance of a mean of n correlated values
    rho = 0.6
    cov = rho ** np.abs(np.subtract.outer(np.arange(4), np.arange(4)))
    expected = 0.02**2 * cov.sum() / 16
    assert estimate_variance({"sigma_ckpt": 0.02, "ckpt_rho": rho}, 1, 4)[0] == pytest.approx(expected)


def test_p_correct_formula_and_monotonicity():
    p = p_correct(NOISE, 0.02, k=2, n=5)
    assert p == pytest.approx(stats.norm.cdf(0.02 / np.sqrt(2 * estimate_variance(NOISE, 2, 5)[0])))
    assert p_correct(NOISE, -0.02, 2, 5) == p
    assert p_correct(NOISE, 0.0, 2, 5) == 0.5
    grid = design_curves(NOISE, [1, 2, 4, 8], [1, 3, 10], delta=0.01)
    assert len(grid) == 12
    wide = grid.pivot(index="k", columns="n", values="p_correct")
    assert (np.diff(wide.to_numpy(), axis=0) > 0).all() and (np.diff(wide.to_numpy(), axis=1) > 0).all()


@pytest.mark.parametrize("k,n,alpha", [(1, 1, None), (2, 5, None), (4, 3, None), (2, 5, 0.05)])
def test_power_curve_matches_simulated_experiments(k, n, alpha):
    delta = 0.015
    predicted = p_correct(NOISE, delta, k, n, alpha=alpha)
    rate, se = simulate_comparisons(NOISE, delta, k, n, experiments=40_000, alpha=alpha, seed=k * 10 + n)
    assert abs(rate - predicted) < 4 * se


def test_power_curve_with_posterior_draws_and_autocorrelation():
    rng = np.random.default_rng(0)
    draws = {
        "sigma_run": xr.DataArray(np.abs(rng.normal(0.01, 0.004, (2, 200))), dims=("chain", "draw")),
        "sigma_ckpt": xr.DataArray(np.abs(rng.normal(0.02, 0.005, (2, 200))), dims=("chain", "draw")),
        "ckpt_rho": 0.5,
    }
    predicted = p_correct(draws, 0.02, 2, 5)
    rate, se = simulate_comparisons(draws, 0.02, 2, 5, experiments=60_000, seed=9)
    assert abs(rate - predicted) < 4 * se


def test_detectable_difference_definition():
    d = detectable_difference(NOISE, 2, 5, power=0.8)
    sd = np.sqrt(2 * estimate_variance(NOISE, 2, 5)[0])
    assert d == pytest.approx(sd * stats.norm.ppf(0.8))
    assert p_correct(NOISE, d, 2, 5) == pytest.approx(0.8)
    d_test = detectable_difference(NOISE, 2, 5, power=0.8, alpha=0.05)
    assert d_test == pytest.approx(sd * (stats.norm.ppf(0.8) + stats.norm.ppf(0.95)))
    rng = np.random.default_rng(1)
    draws = {"sigma_ckpt": np.abs(rng.normal(0.02, 0.006, 300))}
    d_draws = detectable_difference(draws, 1, 4, power=0.9)
    assert p_correct(draws, d_draws, 1, 4) == pytest.approx(0.9, abs=1e-9)
    assert detectable_difference(NOISE, 1, 1, power=0.5) == 0.0
    assert detectable_difference(NOISE, 8, 1) < detectable_difference(NOISE, 2, 1)


def test_population_probability_closed_form():
    rng = np.random.default_rng(2)
    v = estimate_variance(NOISE, 2, 3)[0]
    delta = rng.normal(0, np.sqrt(2) * 0.015, 400_000)
    mc = stats.norm.cdf(np.abs(delta) / np.sqrt(2 * v)).mean()
    assert p_correct_population(NOISE, 2, 3, sigma_model=0.015) == pytest.approx(mc, abs=2e-3)
    curve = design_curves({**NOISE, "sigma_model": 0.015}, [2], [3])
    assert curve["p_correct"].iloc[0] == pytest.approx(mc, abs=2e-3)


def test_agreement_with_the_target_order():
    p = p_correct(NOISE, 0.02, 2, 5)
    assert p_agree(NOISE, 0.02, 0.5, 2, 5) == pytest.approx(p)
    assert p_agree(NOISE, 0.02, -0.5, 2, 5) == pytest.approx(1 - p)
    assert p_agree(NOISE, np.array([0.02, 0.02]), np.array([1.0, -1.0]), 2, 5) == pytest.approx(0.5)


def test_predictive_decision_accuracy_averages_pairs():
    means = xr.DataArray(np.array([[[0.0, 0.01, 0.03]]]), dims=("chain", "draw", "model"),
                         coords={"model": ["a", "b", "c"]})
    v = estimate_variance(NOISE, 1, 1)[0]
    expected = np.mean(stats.norm.cdf(np.array([0.01, 0.03, 0.02]) / np.sqrt(2 * v)))
    got, per_draw = predictive_decision_accuracy(NOISE, means, k=1, n=1)
    assert got == pytest.approx(expected)
    flipped = means.copy(data=means.values[..., ::-1].copy())
    got_t, _ = predictive_decision_accuracy(NOISE, means, flipped, k=1, n=1)
    assert got_t == pytest.approx(1 - expected)


def test_noise_from_a_fit_and_input_checks():
    rng = np.random.default_rng(0)
    rec = simulate_records(rng, np.linspace(0.4, 0.6, 5), runs=2, last_n=4, sigma_run=0.01, sigma_ckpt=0.01)
    fit = fit_window(rec, draws=300)
    d = noise_draws(fit)
    assert set(d) == {"sigma_run", "sigma_ckpt", "sigma_model"} and len(d["sigma_run"]) == 300
    assert 0.5 < p_correct(fit, 0.01, 2, 3) < 1
    with pytest.raises(DataError, match="cannot be negative"):
        noise_draws({"sigma_ckpt": -0.1})
    with pytest.raises(DataError, match="unknown noise component"):
        noise_draws({"sigma_ckpt": 0.1, "sigma_sed": 0.1})
    with pytest.raises(DataError, match="different numbers of draws"):
        noise_draws({"sigma_ckpt": [0.1, 0.2], "sigma_run": [0.1, 0.2, 0.3]})
    with pytest.raises(DataError, match="positive integer"):
        p_correct(NOISE, 0.01, k=0)
    with pytest.raises(DataError, match="needs sigma_model"):
        design_curves(NOISE, [1], [1])
