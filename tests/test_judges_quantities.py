"""The per-draw kernels of snrstat.judges.quantities against direct simulation (numpy only)."""

import numpy as np
import pytest
from scipy import special

from snrstat.judges import quantities as Q
from snrstat.judges.model import hermite_nodes
from snrstat.judges.simulate import simulate_modes


def _draws(k=1.5, beta=0.8, tau=0.7, gaps=(1.0, -0.5, 2.0), mu=0.3):
    gaps = np.asarray(gaps, dtype=float)
    n = gaps.size
    return Q.Draws(gap=gaps[None, :], k=np.array([[k, 2.0]]), beta=np.array([[beta, 0.0]]), tau=np.array([[tau]]),
                   level=np.full((1, n), 0.4), cutpoints=np.array([[[-1.5, -0.2, 0.6, 1.8]]]),
                   sigma_subset=np.array([[1.0]]), mu_subset=np.array([[[mu]]]), item_subset=np.zeros(n, dtype=int))


def test_hermite_rule_integrates_normal_moments():
    t, logw = hermite_nodes(12)
    w = np.exp(logw)
    assert w.sum() == pytest.approx(1.0) and (w * t**2).sum() == pytest.approx(1.0) and (w * t**4).sum() == pytest.approx(3.0)


def test_pairwise_cell_matches_monte_carlo():
    d = _draws()
    sign = np.array([1.0, -1.0, 1.0])
    items = np.arange(3)
    got = Q.pairwise_cell(d, 0, 0, items, sign, nodes=24)
    rng = np.random.default_rng(0)
    n = 400_000
    x = (d.gap[0] + 0.3) * sign                                  # perceived mean, oriented to answer 1
    v = x[None, :] + 0.7 * rng.normal(size=(n, 3))
    p_plus, p_minus = special.expit(1.5 * v + 0.8), special.expit(1.5 * v - 0.8)
    y_plus, y_minus = rng.random((n, 3)) < p_plus, rng.random((n, 3)) < p_minus
    gold1 = sign > 0
    acc = ((y_plus == gold1).mean() + (y_minus == gold1).mean()) / 2
    flip = (y_plus != y_minus).mean()
    first = (y_plus.mean() + (~y_minus).mean()) / 2
    se = 0.5 / np.sqrt(3 * n)
    assert got["accuracy"][0] == pytest.approx(acc, abs=5 * se)
    assert got["flip"][0] == pytest.approx(flip, abs=5 * se)
    assert got["first"][0] == pytest.approx(first, abs=5 * se)
    assert first > 0.5  # beta > 0 favours the answer shown first


def test_snr_definition():
    # a judge whose expected verdict is +-m on every pair: SNR = m / sqrt(1 - m^2)
    m = np.array([[0.6, -0.6, 0.6]])
    assert Q._snr(m)[0] == pytest.approx(0.6 / np.sqrt(1 - 0.36))


def test_rating_cell_matches_monte_carlo():
    d = _draws()
    sign = np.array([1.0, -1.0, 1.0])
    got = Q.rating_cell(d, 1, 0, 0, np.arange(3), sign)
    rng = np.random.default_rng(1)
    n = 300_000
    v = ((d.gap[0] + 0.3) * sign)[None, :] + 0.7 * rng.normal(size=(n, 3))
    cut = d.cutpoints[0, 0]

    def score(eta):
        return (rng.random(eta.shape)[..., None] > special.expit(cut - eta[..., None])).sum(-1)

    s1, s2 = score(2.0 * (0.4 + v / 2)), score(2.0 * (0.4 - v / 2))
    tie = (s1 == s2).mean()
    gold_wins = np.where(sign > 0, s1 > s2, s2 > s1).mean()
    se = 0.5 / np.sqrt(3 * n)
    assert got["flip"][0] == pytest.approx(tie, abs=5 * se)
    assert got["accuracy"][0] == pytest.approx(gold_wins + tie / 2, abs=5 * se)
    assert got["first"][0] == pytest.approx((1 - tie) / 2, abs=5 * se)


def test_verdict_moments_match_simulation_and_orders():
    k, beta, tau, gap, sg = np.array([1.2]), np.array([1.0]), np.array([0.8]), 0.5, np.array([1.0])
    rng = np.random.default_rng(2)
    n = 200_000
    g = gap + sg[0] * rng.normal(size=n)
    for orders, repeats, judges in (("both", 1, 1), ("one", 3, 1), ("both", 2, 2)):
        m, v = Q.verdict_moments(k, beta, tau, gap, sg, orders=orders, repeats=repeats, judges=judges, nodes=32)
        ys = []
        for _ in range(judges):
            u = tau[0] * rng.normal(size=n)
            if orders == "both":
                o = np.tile([1.0, -1.0], repeats)
            else:
                o = rng.choice([1.0, -1.0], size=(n, repeats))
            p = special.expit(k[0] * (g + u)[:, None] + beta[0] * o)
            ys.append(np.where(rng.random(p.shape) < p, 1.0, -1.0).mean(axis=1))
        y = np.mean(ys, axis=0)
        assert m[0] == pytest.approx(y.mean(), abs=4 * y.std() / np.sqrt(n))
        assert v[0] == pytest.approx(y.var(), rel=0.02)


def test_power_and_items_needed_are_consistent():
    mean, var = np.array([0.2]), np.array([0.8])
    n = Q.items_from_moments(mean, var, power=0.8, alpha=0.05)[0]
    assert Q.power_from_moments(mean, var, int(np.ceil(n)), alpha=0.05)[0] == pytest.approx(0.8, abs=0.01)
    assert Q.power_from_moments(mean, var, 10)[0] < Q.power_from_moments(mean, var, 100)[0]
    assert np.isinf(Q.items_from_moments(np.array([0.0]), var)[0])


def test_relative_scoring_gains_with_call_noise():
    res = simulate_modes(n_systems=4, n_items=40, call_sd=(0.0, 6.0), replications=300, random_seed=0)
    assert res.loc[0.0, "relative"] == res.loc[6.0, "relative"]  # a shared offset cancels in relative mode
    assert res.loc[6.0, "isolated"] < res.loc[0.0, "isolated"]
    assert res.loc[6.0, "gain"] > 3 * res.loc[6.0, "gain_se"]
    # without call noise, ranking answers side by side gains nothing (it may lose a little)
    assert res.loc[0.0, "gain"] < 3 * res.loc[0.0, "gain_se"]


def test_rating_cell_with_call_offset_and_shift_matches_monte_carlo():
    # a call offset e ~ N(0, omega) moves both scores of a call together (more ties); a strategy
    # shift moves the cell's mean gap; the kernel must integrate both as the simulator draws them
    base = _draws()
    d = Q.Draws(**{**base.__dict__, "omega": np.array([[1.2]]), "shift": np.array([[0.0, 0.5]])})
    sign = np.array([1.0, -1.0, 1.0])
    got = Q.rating_cell(d, 1, 0, 0, np.arange(3), sign)
    without = Q.rating_cell(base, 1, 0, 0, np.arange(3), sign)
    rng = np.random.default_rng(2)
    n = 300_000
    v = ((d.gap[0] + 0.3 + 0.5) * sign)[None, :] + 0.7 * rng.normal(size=(n, 3))
    e = 1.2 * rng.normal(size=(n, 3))
    cut = d.cutpoints[0, 0]

    def score(eta):
        return (rng.random(eta.shape)[..., None] > special.expit(cut - eta[..., None])).sum(-1)

    s1, s2 = score(2.0 * (0.4 + e + v / 2)), score(2.0 * (0.4 + e - v / 2))
    tie = (s1 == s2).mean()
    gold_wins = np.where(sign > 0, s1 > s2, s2 > s1).mean()
    se = 0.5 / np.sqrt(3 * n)
    assert got["flip"][0] == pytest.approx(tie, abs=5 * se)
    assert got["accuracy"][0] == pytest.approx(gold_wins + tie / 2, abs=5 * se)
    assert got["flip"][0] > without["flip"][0] + 0.02  # the offset pushes both scores into the outer categories


def test_kernels_give_the_same_draws_in_blocks(monkeypatch):
    """Blocks of draws (which keep a long fit's temporaries small) change nothing: every draw's
    quantities are the same as from one pass, in the same order."""
    rng = np.random.default_rng(3)
    s, n = 37, 5
    d = Q.Draws(gap=rng.normal(size=(s, n)), k=np.exp(rng.normal(size=(s, 2))), beta=rng.normal(size=(s, 2)),
                tau=np.abs(rng.normal(size=(s, 1))), level=rng.normal(size=(s, n)),
                cutpoints=np.sort(rng.normal(size=(s, 1, 4)), axis=-1), sigma_subset=np.ones((s, 1)),
                mu_subset=rng.normal(size=(s, 1, 1)), item_subset=np.zeros(n, dtype=int),
                shift=rng.normal(size=(s, 2)), omega=np.abs(rng.normal(size=(s, 1))))
    sign, items = np.where(rng.random(n) < 0.5, 1.0, -1.0), np.arange(n)
    whole_pw = Q.pairwise_cell(d, 0, 0, items, sign)
    whole_rt = Q.rating_cell(d, 1, 0, 0, items, sign, 8, 6)
    monkeypatch.setattr(Q, "DRAW_BLOCK", 10)
    monkeypatch.setattr(Q, "RATING_BLOCK", 4 * n * 8 * 6)
    blocks_pw = Q.pairwise_cell(d, 0, 0, items, sign)
    blocks_rt = Q.rating_cell(d, 1, 0, 0, items, sign, 8, 6)
    for whole, blocks in ((whole_pw, blocks_pw), (whole_rt, blocks_rt)):
        for key in ("accuracy", "flip", "first", "snr"):
            assert blocks[key].shape == (s,)
            np.testing.assert_allclose(blocks[key], whole[key], rtol=1e-12)


def test_rating_nodes_are_few_for_narrow_errors_more_for_wide_and_stay_within_tolerance():
    """The node choice adapts to how wide the perception and call errors are in logit units, and
    the chosen rule agrees with a dense one to the stated tolerance (Monte Carlo tests above check
    the dense rule itself)."""
    rng = np.random.default_rng(4)
    s, n = 30, 40

    def draws(spread):
        return Q.Draws(gap=rng.normal(size=(s, n)), k=np.full((s, 2), 1.5), beta=np.zeros((s, 2)),
                       tau=np.full((s, 1), 0.3 * spread), level=0.5 * rng.normal(size=(s, n)),
                       cutpoints=np.tile(np.linspace(-3, 3, 9), (s, 1, 1)), sigma_subset=np.ones((s, 1)),
                       mu_subset=np.zeros((s, 1, 1)), item_subset=np.zeros(n, dtype=int),
                       omega=np.full((s, 1), 0.3 * spread))
    sign, items = np.where(rng.random(n) < 0.5, 1.0, -1.0), np.arange(n)
    narrow, wide = draws(1.0), draws(6.0)
    few, many = Q.rating_nodes(narrow, 1, 0, 0, items, sign), Q.rating_nodes(wide, 1, 0, 0, items, sign)
    assert few[0] < many[0] and few[1] < many[1]
    for d in (narrow, wide):
        chosen, dense = Q.rating_cell(d, 1, 0, 0, items, sign), Q.rating_cell(d, 1, 0, 0, items, sign, 48, 64)
        for key in ("accuracy", "flip", "first", "snr"):
            np.testing.assert_allclose(chosen[key], dense[key], atol=Q.RATING_TOL, rtol=Q.RATING_TOL)
