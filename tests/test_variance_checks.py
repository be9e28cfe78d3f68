"""Misfit checks and the likelihood / design rules of issue 13 (no sampling: a few seconds)."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats
from scipy.special import expit

from snrstat.schema import validate
from snrstat.variance import quantities as q
from snrstat.variance.calibration import simulate_outside
from snrstat.variance.checks import cluster_pvalue, cluster_stat
from snrstat.variance.model import NU_GRID, NU_MAX, NU_MIN, binomial_mixture_logp, elogit_t_logp, log_jeffreys_nu
from snrstat.variance.records import select_records
from snrstat.variance.spec import MIN_EXPECTED_COUNT, build_design, dispersion, expected_counts


def _records(frame):
    return select_records(validate(frame))


def test_dispersion_test_holds_its_level_on_binomial_data_near_a_ceiling():
    """Purely binomial counts at p about 0.97-0.99 with 100 items: the old empirical-logit test
    fired on 12-97% of such data sets; the bootstrap test must stay near its 1% level."""
    rng = np.random.default_rng(5)
    fired = []
    for i in range(40):
        p = rng.uniform(0.965, 0.99)
        rows = [{"model": f"m{m}", "seed": str(s), "step": 100 * c, "n_items": 100,
                 "value": rng.binomial(100, p) / 100} for m in range(8) for s in range(3) for c in range(5)]
        frame = pd.DataFrame(rows).assign(task="t", metric="acc", size="1B", data_order=pd.NA)
        fired.append(dispersion(_records(frame))[1] < 0.01)
    assert np.mean(fired) <= 0.1


def test_dispersion_test_detects_shared_items():
    """Checkpoints scored on one item set vary far less than binomial: p must be tiny."""
    rng = np.random.default_rng(6)
    base = rng.binomial(1000, 0.6, size=(6, 2))
    rows = [{"model": f"m{m}", "seed": str(s), "step": 100 * c, "n_items": 1000,
             "value": (base[m, s] + rng.integers(-2, 3)) / 1000} for m in range(6) for s in range(2) for c in range(6)]
    frame = pd.DataFrame(rows).assign(task="t", metric="acc", size="1B", data_order=pd.NA)
    ratio, p = dispersion(_records(frame))
    assert ratio < 0.1 and p < 0.01


def test_auto_likelihood_uses_the_exact_binomial_near_a_ceiling_and_says_why():
    frame, _, _ = simulate_outside("ceiling", np.random.default_rng(1))
    rec = _records(frame)
    assert expected_counts(rec).min() < MIN_EXPECTED_COUNT
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = build_design(rec)
    assert d.likelihood == "binomial" and "exact" in d.likelihood_reason
    assert d.designs["seed"] == "nested" and d.crossable == ("seed",)  # labels 0, 1, 2 in every model
    frame, _, _ = simulate_outside("unbalanced", np.random.default_rng(2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = build_design(_records(frame))
    assert d.likelihood == "logit_normal" and d.designs["seed"] == "nested" and d.crossable == ()


@pytest.mark.parametrize("robust", [False, True])
def test_binomial_mixture_logp_matches_numerical_integration(robust):
    y, n, eta, s = np.array([97.0, 91.0, 100.0]), np.array([100.0, 100.0, 100.0]), np.array([3.2, 3.0, 3.5]), 0.4
    got = binomial_mixture_logp(y, n, eta, s, robust, np, per_nu=True)
    for r in range(3):
        for j, nu in enumerate(NU_GRID if robust else [None]):
            dens = (lambda z: stats.t.pdf(z, nu)) if robust else stats.norm.pdf
            f = lambda z: stats.binom.pmf(y[r], n[r], expit(eta[r] + s * z)) * dens(z)
            want = np.log(integrate.quad(f, -60, 60, limit=400, points=[0.0])[0])
            value = got[r, j] if robust else got[r]
            assert value == pytest.approx(want, abs=5e-3 if robust else 5e-4), (r, nu)


@pytest.mark.parametrize("nu", [NU_MIN, 3.0, 30.0, NU_MAX])
def test_logit_t_scale_mixture_matches_numerical_convolution(nu):
    # thousands of items: the record's logit is pinned far more tightly (sd 0.03) than the
    # checkpoint effect's scale (0.1), the case fixed t nodes cannot resolve
    ell, known, eta, s = np.array([0.0, 0.35, -0.9, 0.05]), np.array([1e-3, 1e-3, 4e-3, 0.05]), \
        np.array([0.02, 0.0, -0.5, 0.0]), 0.1
    got = elogit_t_logp(ell, known, eta, s, nu, np)
    for r in range(len(ell)):
        sd = np.sqrt(known[r])
        f = lambda e: stats.norm.pdf(ell[r], eta[r] + e, sd) * stats.t.pdf(e / s, nu) / s
        lo, hi = ell[r] - eta[r] - 40 * sd, ell[r] - eta[r] + 40 * sd
        want = np.log(sum(integrate.quad(f, a, b, limit=400, epsrel=1e-12)[0]
                          for a, b in ((-np.inf, lo), (lo, hi), (hi, np.inf))))
        assert got[r] == pytest.approx(want, abs=1e-6), r


def test_jeffreys_prior_of_nu_matches_its_definition_and_favours_heavy_tails():
    from scipy.special import polygamma

    nu = np.array([1.5, 3.0, 10.0, 100.0])
    want = np.sqrt(nu / (nu + 3)) * np.sqrt(polygamma(1, nu / 2) - polygamma(1, (nu + 1) / 2)
                                            - 2 * (nu + 3) / (nu * (nu + 1) ** 2))
    assert np.allclose(np.exp(log_jeffreys_nu(nu)), want)
    # density decays like nu^-2: far more mass on heavy tails than Gamma(2, 0.1), whose mean is 20
    mass = lambda a, b: integrate.quad(lambda v: np.exp(log_jeffreys_nu(v)), a, b)[0]
    assert mass(NU_MIN, 4.0) / mass(NU_MIN, NU_MAX) > 0.5 > stats.gamma.cdf(4.0, 2.0, scale=10.0)


def test_robust_likelihood_keeps_the_data_scale():
    from types import SimpleNamespace

    from snrstat.variance.checks import robust_likelihood

    fit = lambda lik, link="logit": SimpleNamespace(spec={"likelihood": lik, "link": link})
    assert robust_likelihood(fit("logit_normal")) == "logit_t"
    assert robust_likelihood(fit("binomial")) == "binomial_t"
    assert robust_likelihood(fit("betabinomial")) == "binomial_t"
    assert robust_likelihood(fit("normal")) == "student_t"
    assert robust_likelihood(fit("normal", "identity")) == "student_t"


def test_noise_is_pooled_over_the_models_own_means():
    mu, a, s = 2.5, np.array([-1.0, 0.0, 1.5]), 0.2
    out = q.score_quantities(mu, a, {"model": 0.8, "ckpt": s}, n_bar=100)
    per_model = [q.noise_sd(mu + ai, s, 100) for ai in a]
    assert out["noise_sd"] == pytest.approx(np.sqrt(np.mean(np.square(per_model))))
    assert out["noise_sd"] != pytest.approx(q.noise_sd(mu, s, 100), rel=1e-3)  # not at the grand mean
    mm = expit(mu + a)
    assert out["snr"] == pytest.approx((mm.max() - mm.min()) / out["noise_sd"])


def test_student_t_checkpoint_sds():
    # large nu: the normal result; identity link: s sqrt(nu / (nu - 2)), infinite for nu <= 2
    assert q.score_sd(0.3, 0.2, nu=1e6) == pytest.approx(q.score_sd(0.3, 0.2), rel=2e-3)
    assert q.score_sd(0.3, 0.2, nu=3.0) > q.score_sd(0.3, 0.2)
    assert q.score_sd(0.0, 0.1, "identity", 2.0, nu=4.0) == pytest.approx(0.2 * np.sqrt(2.0))
    assert np.isinf(q.score_sd(0.0, 0.1, "identity", 1.0, nu=2.0))


def test_student_t_likelihood_is_parameterised_by_its_sd():
    # student_t samples the residual's sd (nu > 2): the scale it hands the t has that sd
    from scipy.stats import t as student_t

    from snrstat.variance.model import t_scale

    for nu in (2.05, 3.0, 10.0, 150.0):
        assert student_t.std(nu, scale=t_scale(0.7, nu)) == pytest.approx(0.7)


def test_cluster_statistic_separates_clusters_from_a_normal_sample():
    rng = np.random.default_rng(0)
    clustered = np.repeat([0.0, 1.0, 2.0], 4) + 0.01 * rng.standard_normal(12)
    stat = cluster_stat(clustered)
    assert stat[1] > 0.95 and stat[0] == pytest.approx(stat[1] / 2, abs=0.05)
    rep = rng.standard_normal((400, 12))
    assert cluster_pvalue(clustered, rep)["p"] < 0.01
    assert cluster_pvalue(rng.standard_normal(12), rep)["p"] > 0.05


def test_outside_simulators_truth_uses_the_posterior_definitions():
    rng = np.random.default_rng(3)
    for kind in ("unbalanced", "student_t", "ceiling", "continuous"):
        frame, truth, _ = simulate_outside(kind, rng)
        validate(frame)
        assert truth["snr"] == pytest.approx(truth["signal"] / truth["noise"])
        assert 0 < truth["sigma_ckpt"] < truth["noise_sd"] or kind == "continuous"
    frame, _, layout = simulate_outside("unbalanced", rng)
    runs = frame.groupby("model")["seed"].nunique()
    assert runs.between(2, 4).all() and frame.groupby(["model", "seed"]).size().between(2, 9).all()


def test_partition_r2_is_exact_one_dimensional_k_means():
    from itertools import combinations

    from snrstat.variance.checks import partition_r2

    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 9))

    def brute(v, k):
        v = np.sort(v)
        best = min(sum(((v[a:c] - v[a:c].mean()) ** 2).sum() for a, c in zip((0,) + cuts, cuts + (len(v),)))
                   for cuts in combinations(range(1, len(v)), k - 1))
        return 1 - best / ((v - v.mean()) ** 2).sum()

    np.testing.assert_allclose(partition_r2(x), [[brute(r, k) for k in (2, 3, 4)] for r in x])
    three = np.r_[np.zeros(4), np.ones(4), 2 * np.ones(4)] + 1e-3 * rng.normal(size=12)
    assert partition_r2(three, (3,))[0] > 0.999 > partition_r2(three, (2,))[0]


def test_min_p_is_calibrated_and_sees_extremes():
    from snrstat.variance.checks import min_p

    rng = np.random.default_rng(1)
    rep = rng.normal(size=(400, 3))
    assert min_p(np.array([5.0, 0.0, 0.0]), rep) < 0.01
    # a set drawn like the replicated ones: p roughly uniform (0.044 at 0.05 over 3,000 trials)
    ps = np.array([min_p(rng.normal(size=3), rng.normal(size=(200, 3))) for _ in range(600)])
    assert 0.02 < np.mean(ps < 0.05) < 0.08 and 0.15 < np.mean(ps < 0.2) < 0.25
