"""Score-scale transforms and the collapsed Gaussian algebra, against brute force."""

import numpy as np
import pytest
from scipy.special import expit
from scipy.stats import multivariate_normal

from snrstat.variance import quantities as q
from snrstat.variance import simulate
from snrstat.variance.collapsed import collapsed_logp, draw_effects, low_rank_columns, run_marginal, z_matrix
from snrstat.variance.records import select_records
from snrstat.variance.spec import build_design

RNG = np.random.default_rng(7)


def test_score_sd_matches_delta_method_for_small_sigma_and_monte_carlo_for_large():
    mu = 0.7
    p = expit(mu)
    assert q.score_sd(mu, 1e-4) == pytest.approx(p * (1 - p) * 1e-4, rel=1e-4)
    assert q.score_sd(mu, 0.0) == 0.0
    z = RNG.standard_normal(400_000)
    x = expit(mu + 1.5 * z)
    # Monte Carlo sd has relative error ~ 1/sqrt(2n); 5 sigma of it
    assert q.score_sd(mu, 1.5) == pytest.approx(x.std(), rel=5 / np.sqrt(2 * len(z)) * 3)
    assert q.score_sd(mu, 0.3, link="identity", scale=2.0) == pytest.approx(0.6)


def test_binomial_and_noise_sd():
    mu, n = -0.4, 500
    p = expit(mu)
    assert q.binomial_sd(mu, 0.0, n) == pytest.approx(np.sqrt(p * (1 - p) / n))
    z = RNG.standard_normal(400_000)
    pz = expit(mu + 0.4 * z)
    # law of total variance: one observed score = binomial(n, p_z) / n with p_z varying
    total = np.sqrt(np.mean(pz * (1 - pz)) / n + pz.var())
    assert q.noise_sd(mu, 0.4, n) == pytest.approx(total, rel=3e-3)
    assert q.noise_sd(mu, 0.4, n, link="identity", scale=3.0) == pytest.approx(1.2)


def test_expected_range_of_normals_matches_known_constants():
    # E[range] of k standard normals: 2/sqrt(pi) for k=2; d2(25) = 3.931 (control-chart tables)
    assert q.expected_range(0.0, 1.0, 2, link="identity") == pytest.approx(2 / np.sqrt(np.pi), rel=1e-6)
    assert q.expected_range(0.0, 1.0, 25, link="identity") == pytest.approx(3.931, abs=1e-3)
    # logit link against Monte Carlo of the range of expit(mu + s z)
    draws = expit(0.5 + 0.8 * RNG.standard_normal((100_000, 6)))
    mc = np.ptp(draws, axis=1)
    assert q.expected_range(0.5, 0.8, 6) == pytest.approx(mc.mean(), abs=4 * mc.std() / np.sqrt(len(mc)))
    with pytest.raises(ValueError):
        q.expected_range(0.0, 1.0, 1)


def test_finite_snr_follows_the_paper_formulas():
    m = np.array([0.50, 0.55, 0.62])
    signal, noise, snr = q.finite_snr(m, 0.01)
    assert signal == pytest.approx((0.62 - 0.50) / m.mean())
    assert noise == pytest.approx(0.01 / m.mean())
    assert snr == pytest.approx(signal / noise)
    assert q.finite_snr(m, 0.0)[2] == np.inf


def _design(**kw):
    frame, _ = simulate(random_seed=3, **kw)
    how = "crossed" if kw.get("crossed", True) else "nested"
    return build_design(select_records(frame), likelihood="logit_normal", seed_design=how, order_design=how,
                        warn=False)


def _dense_cov(design, var, s_run, s_model, g):
    """Covariance of the records, built element by element."""
    n = len(design.rec_run)
    cov = np.diag(var)
    run = design.rec_run
    model = design.run_model[run]
    cov += s_model**2 * (model[:, None] == model[None, :])
    if s_run is not None:
        cov += s_run**2 * (run[:, None] == run[None, :])
    Z = z_matrix(design)
    cov += Z @ np.diag(g**2) @ Z.T
    assert cov.shape == (n, n)
    return cov


@pytest.mark.parametrize("kw", [
    dict(n_models=4, n_seeds=2, n_ckpt=3, crossed=False),                # nested seed, one per run
    dict(n_models=3, n_seeds=2, n_orders=2, n_ckpt=2, crossed=True),     # crossed seeds and orders
    dict(n_models=3, n_seeds=2, n_orders=2, n_ckpt=2, crossed=False),    # nested, several runs per seed
])
def test_collapsed_logp_equals_dense_multivariate_normal(kw):
    import pytensor
    import pytensor.tensor as pt

    d = _design(**kw)
    marginal = run_marginal(d)
    zcols = low_rank_columns(d)
    ell, kv = d.data["ell"], d.data["known_var"]
    var = kv + 0.05**2
    eta = 0.2 + 0.01 * np.arange(len(ell))  # e.g. a trend
    s_run, s_model = (0.07 if marginal else None), 0.3
    # first column of Z: the intercept, prior sd 1; then the seed / order levels
    g = np.concatenate([[1.0]] + [np.full(len(d.levels[c]), 0.04 + 0.03 * i) for i, c in enumerate(zcols)])
    Z = z_matrix(d)
    assert np.all(Z[:, 0] == 1) and Z.shape[1] == 1 + sum(len(d.levels[c]) for c in zcols)
    expr = collapsed_logp(pt.as_tensor(ell), pt.as_tensor(var), pt.as_tensor(eta), pt.as_tensor(d.rec_run),
                          pt.as_tensor(d.run_model), len(d.runs), len(d.models),
                          None if s_run is None else pt.as_tensor(s_run), pt.as_tensor(s_model),
                          pt.as_tensor(Z), pt.as_tensor(g), pt)
    got = pytensor.function([], expr, mode="FAST_COMPILE")()
    want = multivariate_normal(eta, _dense_cov(d, var, s_run, s_model, g)).logpdf(ell)
    assert got == pytest.approx(want, rel=1e-10)


def test_conditional_effect_draws_match_dense_gaussian_conditioning():
    import xarray as xr

    d = _design(n_models=3, n_seeds=2, n_ckpt=3, crossed=True)  # crossed seeds: Z path, then a | u
    n = 40_000
    params = {"sigma_model_link": 0.3, "sigma_seed_link": 0.05, "sigma_ckpt_link": 0.04}
    post = xr.Dataset({k: (("chain", "draw"), np.full((1, n), v)) for k, v in params.items()},
                      coords={"chain": [0], "draw": np.arange(n)})
    eff = draw_effects(post, d, seed=1, mu_sd=1.0)
    a = eff["effect_model"].values.reshape(n, -1)
    u = eff["effect_seed"].values.reshape(n, -1)
    mu = eff["mu_link"].values.reshape(n, 1)
    # dense joint Gaussian of (a, mu, u, obs) and the exact conditional of (a, mu, u) given obs
    run = d.rec_run
    A = np.zeros((len(run), len(d.models)))
    A[np.arange(len(run)), d.run_model[run]] = 1
    Z = z_matrix(d)
    X = np.hstack([A, Z])
    prior = np.diag(np.r_[np.full(A.shape[1], 0.3**2), 1.0, np.full(Z.shape[1] - 1, 0.05**2)])
    noise = np.diag(d.data["known_var"] + 0.04**2)
    S = X @ prior @ X.T + noise
    gain = prior @ X.T @ np.linalg.inv(S)
    mean = gain @ d.data["ell"]
    cov = prior - gain @ X @ prior
    draws = np.hstack([a, mu, u])
    se = np.sqrt(np.diag(cov) / n)
    assert np.all(np.abs(draws.mean(0) - mean) < 5 * se)
    assert np.allclose(np.cov(draws.T), cov, atol=6 * np.sqrt(2 / n) * np.diag(cov).max())
