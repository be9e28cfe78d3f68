import numpy as np
import pandas as pd
import pytest
import xarray as xr

from snrstat.decision import (
    decision_accuracy_from_fits,
    fit_window,
    point_decision_accuracy,
    posterior_decision_accuracy,
)
from snrstat.decision.calibration import simulate_records
from snrstat.point import decision_accuracy
from snrstat.schema import DataError


def draws(values, models, chains=1):
    values = np.asarray(values, dtype=float)
    values = values.reshape(chains, -1, values.shape[-1])
    return xr.DataArray(values, dims=("chain", "draw", "model"),
                        coords={"chain": np.arange(chains), "draw": np.arange(values.shape[1]), "model": models})


MODELS = ["a", "b", "c"]
SMALL = [[1, 2, 3], [1, 2, 3], [1, 2, 3]]
TARGET = [[1, 2, 3], [3, 2, 1], [2, 1, 3]]  # agree on 3, 0 and 2 of 3 pairs


def test_fraction_of_agreeing_pairs_per_draw():
    res = posterior_decision_accuracy(draws(SMALL, MODELS), draws(TARGET, MODELS))
    np.testing.assert_allclose(res.accuracy.values.ravel(), [1, 0, 2 / 3])
    assert res.accuracy.dims == ("chain", "draw")
    pa = res.pair_agreement
    agree = dict(zip(zip(pa["model_a"].values, pa["model_b"].values), pa.values))
    assert agree[("a", "b")] == pytest.approx(1 / 3)  # agrees only in draw 0
    assert agree[("a", "c")] == pytest.approx(2 / 3)
    assert agree[("b", "c")] == pytest.approx(2 / 3)
    assert float(res.p_above_target.sel(model="c", model_other="a")) == pytest.approx(2 / 3)
    assert float(res.p_above_small.sel(model="a", model_other="b")) == 0.0


def test_models_are_matched_by_name_not_position():
    target = np.asarray(TARGET)[:, [2, 0, 1]]
    shuffled = draws(target, ["c", "a", "b"])
    res = posterior_decision_accuracy(draws(SMALL, MODELS), shuffled)
    np.testing.assert_allclose(res.accuracy.values.ravel(), [1, 0, 2 / 3])


def test_mismatched_models_are_listed():
    with pytest.raises(DataError, match=r"missing at the target scale: \['c'\]; missing at the small scale: \['d'\]"):
        posterior_decision_accuracy(draws(SMALL, MODELS), draws(TARGET, ["a", "b", "d"]))


def test_bad_dims_and_draw_counts_are_refused():
    bad = xr.DataArray(np.zeros((3, 3)), dims=("draw", "model"), coords={"model": MODELS})
    with pytest.raises(DataError, match="dims must be"):
        posterior_decision_accuracy(bad, draws(TARGET, MODELS))
    with pytest.raises(DataError, match="same numbers of chains and draws"):
        posterior_decision_accuracy(draws(SMALL, MODELS), draws(TARGET[:2], MODELS))
    with pytest.raises(DataError, match="at least two models"):
        posterior_decision_accuracy(draws([[1], [2]], ["a"]), draws([[1], [2]], ["a"]))


def test_random_draws_match_a_direct_loop():
    rng = np.random.default_rng(3)
    models = [f"m{i}" for i in range(6)]
    s, t = rng.normal(size=(2, 40, 6)), rng.normal(size=(2, 40, 6))
    res = posterior_decision_accuracy(draws(s, models, chains=2), draws(t, models, chains=2))
    flat_s, flat_t = s.reshape(-1, 6), t.reshape(-1, 6)
    direct = [decision_accuracy(a, b) for a, b in zip(flat_s, flat_t)]
    np.testing.assert_allclose(res.accuracy.values.ravel(), direct)


def test_summary_interval_point_and_pairs():
    rng = np.random.default_rng(0)
    models = [f"m{i}" for i in range(5)]
    s = rng.normal(size=(1, 500, 5)) + np.arange(5)
    t = rng.normal(size=(1, 500, 5)) + np.arange(5)
    obs_s = pd.Series([0.1, 0.3, 0.2, 0.4, 0.5], index=models)
    obs_t = {"m4": 5.0, "m3": 4.0, "m2": 3.0, "m1": 2.0, "m0": 1.0}
    res = posterior_decision_accuracy(draws(s, models), draws(t, models), observed_small=obs_s, observed_target=obs_t)
    summ = res.summary(level=0.8)
    acc = res.accuracy.values.ravel()
    assert summ.median == pytest.approx(np.quantile(acc, 0.5, method="inverted_cdf"))
    assert (summ.lo, summ.hi) == pytest.approx(tuple(np.quantile(acc, [0.1, 0.9], method="inverted_cdf")))
    assert {summ.lo, summ.hi, summ.median} <= set(acc)  # ends on the lattice of attainable values
    assert summ.point == pytest.approx(decision_accuracy(obs_s, pd.Series(obs_t)))
    assert summ.point == pytest.approx(0.9)  # m1/m2 swapped at the small scale: 1 of 10 pairs
    assert summ.n_pairs == 10 and len(summ.pairs) == 10
    assert summ.pairs["observed_agree"].sum() == 9
    assert set(summ.to_dict()) >= {"median", "lo", "hi", "point", "pairs"}


def test_interval_of_a_two_model_posterior_stays_on_zero_and_one():
    s = draws(np.tile([0.0, 1.0], (100, 1)), ["a", "b"])
    t = draws(np.where(np.arange(100)[:, None] < 5, [1.0, 0.0], [0.0, 1.0]), ["a", "b"])
    summ = posterior_decision_accuracy(s, t).summary(0.9)
    assert (summ.lo, summ.median, summ.hi, summ.mean) == (0.0, 1.0, 1.0, pytest.approx(0.95))


def test_point_estimate_refuses_mismatched_or_nan_scores():
    with pytest.raises(DataError, match="missing at the target scale"):
        point_decision_accuracy({"a": 1, "b": 2}, {"a": 1, "c": 2})
    with pytest.raises(DataError, match="finite"):
        point_decision_accuracy({"a": 1, "b": np.nan}, {"a": 1, "b": 2})


def _fit(theta, seed):
    rng = np.random.default_rng(seed)
    rec = simulate_records(rng, np.asarray(theta), runs=1, last_n=4, sigma_run=0.0, sigma_ckpt=0.01)
    return fit_window(rec, draws=300 + 50 * seed, random_seed=seed)


def test_adapter_from_two_fits_truncates_draws_and_uses_final_scores():
    theta = np.linspace(0.3, 0.6, 5)
    small, target = _fit(theta, 1), _fit(theta + 0.1, 2)
    res = decision_accuracy_from_fits(small, target)
    assert res.accuracy.sizes["draw"] == 350  # the shorter posterior
    # well separated models: every draw agrees on every pair
    assert res.summary().median == 1.0
    assert res.point == pytest.approx(point_decision_accuracy(small.point_scores, target.point_scores))
    with pytest.raises(DataError, match="no posterior draws named 'model_mean'"):
        decision_accuracy_from_fits(object(), target)
