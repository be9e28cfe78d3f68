"""judge_vs_proxy: errors in variables on both axes (input checks fast, one small fit slow)."""

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

import snrstat
from snrstat.judges import judge_vs_proxy
from snrstat.schema import DataError


def _table(n=10, seed=1, x_sd=0.08):
    rng = np.random.default_rng(seed)
    loss = np.linspace(2.2, 2.8, n)
    true = expit(1.0 - 3.0 * (loss - 2.5))
    wins = rng.binomial(200, true) / 200
    return pd.DataFrame({"system": [f"c{i}" for i in range(n)], "proxy_median": loss + rng.normal(0, x_sd, n),
                         "proxy_sd": x_sd, "judge_median": wins, "judge_sd": np.sqrt(wins * (1 - wins) / 200)})


@pytest.mark.parametrize("mutate, match", [
    (lambda t: t.head(2), "at least three rows"),
    (lambda t: t.drop(columns=["judge_sd"]), "give judge_lo and judge_hi, or judge_sd"),
    (lambda t: t.drop(columns=["proxy_median"]), "column 'proxy_median' is required"),
    (lambda t: t.assign(proxy_sd=-1.0), "measurement sd of proxy is missing or negative"),
])
def test_input_errors(mutate, match):
    with pytest.raises(DataError, match=match):
        judge_vs_proxy(mutate(_table()))


def test_bad_scale():
    with pytest.raises(DataError, match="x_scale must be one of"):
        judge_vs_proxy(_table(), x_scale="sqrt")


@pytest.mark.slow
def test_recovers_slope_and_saves(tmp_path):
    fit = judge_vs_proxy(_table(n=12), draws=500, tune=500, chains=2, random_seed=0)
    s = fit.summary()
    # noise on the proxy attenuates the least-squares slope towards 0; the latent slope is steeper
    assert abs(s.loc["slope", "point"]) < abs(s.loc["slope", "median"])
    assert s.loc["correlation", "median"] < s.loc["correlation", "point"] < 0
    assert s.loc["slope", "lo"] < s.loc["slope", "median"] < s.loc["slope", "hi"] < 0
    back = snrstat.load_fit(fit.save(tmp_path / "proxy"))
    assert back.summary().equals(s) and back.data["system"].tolist() == [f"c{i}" for i in range(12)]


@pytest.mark.slow
def test_intervals_cover_on_simulated_tables():
    """A reduced validation/proxy_judges.py: 90% intervals of slope, residual sd and correlation
    over 16 tables from a simulator that is not the model's own, pooled (48 intervals) and per
    quantity, inside the 99% binomial range of 0.90."""
    from snrstat.judges.calibration import coverage_table, proxy_coverage

    res = proxy_coverage(16, draws=300, tune=300, chains=2, random_seed=3, backend="numba")
    pooled = res["cover90"].mean()
    assert 0.77 <= pooled <= 0.99, pooled
    cov = coverage_table(res)
    assert cov["ok90"].all(), cov
