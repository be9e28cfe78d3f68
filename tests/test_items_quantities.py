"""The item model's numpy kernels against Monte Carlo and closed forms."""

import numpy as np
import pytest
from scipy import special

from snrstat.items import quantities as Q


def params(S=3, M=4, C=2, I=400, guess=0.1, twopl=False, delta=False, seed=0):
    rng = np.random.default_rng(seed)
    cat = np.arange(I) * C // I
    mu_c = rng.normal(0, 1, (S, C))
    sigma_c = rng.uniform(0.5, 1.5, (S, C))
    b = mu_c[:, cat] + sigma_c[:, cat] * rng.normal(0, 1, (S, I))
    sigma_a = rng.uniform(0.2, 0.5, S) if twopl else None
    a = np.exp(sigma_a[:, None] * rng.normal(0, 1, (S, I))) if twopl else None
    d = rng.normal(0, 0.3, (S, M, C)) if delta else None
    return Q.Params(theta=rng.normal(0, 1, (S, M)), b=b, mu_c=mu_c, sigma_c=sigma_c, item_category=cat, guess=guess,
                    a=a, sigma_a=sigma_a, delta=d, sigma_mc=np.full(S, 0.3) if delta else None)


def mc_population(p, s, m, n=400_000, seed=1):
    rng = np.random.default_rng(seed)
    w = p.weights()
    total = 0.0
    for c in range(p.n_categories):
        b = rng.normal(p.mu_c[s, c], p.sigma_c[s, c], n)
        a = np.exp(p.sigma_a[s] * rng.normal(0, 1, n)) if p.a is not None else 1.0
        ab = p.theta[s, m] + (p.delta[s, m, c] if p.delta is not None else 0.0)
        total += w[c] * np.mean(p.guess + (1 - p.guess) * special.expit(a * (ab - b)))
    return total


@pytest.mark.parametrize("twopl,delta", [(False, False), (True, True)])
def test_population_score_matches_monte_carlo(twopl, delta):
    p = params(twopl=twopl, delta=delta)
    pop = Q.score_population(p)
    assert pop.shape == (3, 4)
    for s, m in [(0, 0), (2, 3)]:
        assert pop[s, m] == pytest.approx(mc_population(p, s, m), abs=2e-3)


def test_score_on_items_is_the_item_average():
    p = params(guess=0.25)
    s = Q.score_on_items(p)
    direct = 0.25 + 0.75 * special.expit(p.theta[1, 2] - p.b[1]).mean()
    assert s[1, 2] == pytest.approx(direct)
    assert (s >= 0.25).all() and (s <= 1).all()


def test_variance_components_match_simulated_benchmarks():
    p = params(S=1, M=1, C=2, guess=0.0)
    n = 50
    v = Q.variance_components(p, n)
    rng = np.random.default_rng(5)
    # re-draw a stratified benchmark of n items and answer it, many times
    scores = []
    w = p.weights()
    for _ in range(20_000):
        right = 0
        for c in range(2):
            b = rng.normal(p.mu_c[0, c], p.sigma_c[0, c], int(n * w[c]))
            right += (rng.random(b.size) < special.expit(p.theta[0, 0] - b)).sum()
        scores.append(right / n)
    total = v["item"][0, 0] + v["answer"][0, 0]
    assert np.var(scores) == pytest.approx(total, rel=0.05)
    assert v["run"][0, 0] == 0 and v["ckpt"][0, 0] == 0


def test_training_variance_by_quadrature():
    p = params(S=1, M=1, C=1, guess=0.0)
    p.sigma_run = np.array([0.4])
    v = Q.variance_components(p, 100)
    rng = np.random.default_rng(6)
    u = rng.normal(0, 0.4, 4000)
    pops = [Q.score_population(Q.Params(p.theta + x, p.b, p.mu_c, p.sigma_c, p.item_category))[0, 0] for x in u[:400]]
    assert v["run"][0, 0] == pytest.approx(np.var(pops), rel=0.2)


def test_prob_superior_and_resolved_orderings():
    rng = np.random.default_rng(7)
    s = np.stack([rng.normal(0.5, 0.01, 4000), rng.normal(0.4, 0.01, 4000), rng.normal(0.401, 0.01, 4000),
                  rng.normal(0.6, 0.0001, 4000) * 0 + 0.6], axis=1)
    ps = Q.prob_superior(s)
    np.testing.assert_allclose(ps + ps.T, 1 - np.eye(4))
    assert ps[0, 1] > 0.99 and 0.3 < ps[1, 2] < 0.7
    rows, joint = Q.resolved_orderings(s, list("abcd"), level=0.95, tie=0.05)
    status = {(r["a"], r["b"]): r["status"] for r in rows}
    assert status[("a", "b")] == "resolved" and status[("d", "a")] == "resolved"
    pair = ("c", "b") if ("c", "b") in status else ("b", "c")
    assert status[pair] == "tie"
    assert joint >= 0.95


def test_items_for_power_closed_form():
    # var 0.5 per item, gap 0.05: (1.96 + 0.84)^2 * 0.5 / 0.0025 = 1570
    assert Q.items_for_power(0.05, 0.5)[()] == pytest.approx(1570, abs=2)
    assert np.isinf(Q.items_for_power(0.0, 0.5)[()])
    p = params(S=2, M=3)
    n = Q.items_for_gap(p, 0.02)
    n5 = Q.items_for_gap(p, 0.05)
    assert (n > n5).all() and (n5 > 100).all()


def test_item_information_peaks_at_the_ability():
    p = params(S=1, M=1, C=1, I=200, guess=0.0)
    info = Q.item_information(p)[0]
    best = np.argmax(info)
    assert abs(p.b[0, best] - p.theta[0, 0]) < 0.3
    assert info.max() == pytest.approx(0.25, abs=0.01)
