"""Reduced calibration by simulation (benchmarks/calibrate_decision.py runs the full one)."""

import pytest

from snrstat.decision.calibration import decision_coverage, predictive_check


@pytest.mark.slow
@pytest.mark.parametrize("config", [
    dict(n_models=10, runs=1, sigma_run=0.0, sigma_ckpt=0.01, n_sims=45),
    dict(n_models=6, runs=2, sigma_run=0.01, sigma_ckpt=0.01, n_sims=25),
])
def test_decision_accuracy_interval_covers_the_truth(config):
    n_sims = config.pop("n_sims")
    cov = decision_coverage(n_sims, seed=11, **config).summary
    se = cov["mc_se"]
    # randomised PIT coverage is exact for a calibrated posterior; inclusive coverage may run high (lattice)
    assert abs(cov["pit_coverage"] - 0.9) < 3.5 * se, cov
    assert 0.9 - 3.5 * se < cov["coverage"] <= 1.0, cov
    assert abs(cov["model_mean_coverage"] - 0.9) < 0.05, cov


@pytest.mark.slow
def test_predicted_decision_accuracy_of_a_new_experiment_matches_simulation():
    s = predictive_check(250, runs=1, k=1, n=5, from_prior=True, draws=300, seed=3).summary
    assert abs(s["mean_difference"]) < 3.5 * s["se_difference"], s
