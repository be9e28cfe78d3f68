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


@pytest.mark.slow
def test_cluster_check_sees_clustered_models_and_not_normal_ones():
    """Three tight clusters of four models (issue 13) break the two-scale model's bivariate
    normal for the means: the posterior predictive clustering check must flag them, and must
    not flag models drawn from a normal."""
    import numpy as np

    from snrstat.decision.calibration import cluster_check, simulate_records
    from snrstat.decision.two_scales import two_scale_posterior

    rng = np.random.default_rng(4)
    centre = np.repeat([0.0, 0.03, 0.06], 4)
    theta_t = 0.6 + centre + 0.002 * rng.standard_normal(12)
    theta_s = 0.5 + 0.7 * centre + 0.002 * rng.standard_normal(12)
    rec_s = simulate_records(rng, theta_s, runs=1, last_n=5, sigma_run=0.0, sigma_ckpt=0.004)
    rec_t = simulate_records(rng, theta_t, runs=1, last_n=5, sigma_run=0.0, sigma_ckpt=0.004)
    clustered_fit = two_scale_posterior(rec_s, rec_t, warmup=400, steps=800, thin=8, random_seed=1)
    flagged = cluster_check(clustered_fit, seed=1)
    q = rng.standard_normal(12)
    rec_s = simulate_records(rng, 0.5 + 0.02 * q, runs=1, last_n=5, sigma_run=0.0, sigma_ckpt=0.004)
    rec_t = simulate_records(rng, 0.6 + 0.03 * q, runs=1, last_n=5, sigma_run=0.0, sigma_ckpt=0.004)
    normal_fit = two_scale_posterior(rec_s, rec_t, warmup=400, steps=800, thin=8, random_seed=2)
    normal = cluster_check(normal_fit, seed=2)
    assert flagged["p"] < 0.05 < normal["p"], (flagged, normal)
    assert flagged["k"] == 3 and flagged["r2"] > 0.95
    # the fit itself says so (and only there)
    assert any("tighter groups" in c for c in clustered_fit.diagnostics.checks)
    assert not any("tighter groups" in c for c in normal_fit.diagnostics.checks)
