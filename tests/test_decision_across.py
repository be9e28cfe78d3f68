import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

from snrstat.decision import snr_vs_decision
from snrstat.decision.across_tasks import _measure
from snrstat.schema import DataError


def tasks(seed=3, n=20, slope=0.9):
    rng = np.random.default_rng(seed)
    x = rng.normal(1.5, 0.8, n)
    y = 0.2 + slope * x + rng.normal(0, 0.3, n)
    sdx, sdy = rng.uniform(0.1, 0.4, n), rng.uniform(0.2, 0.6, n)
    xo, yo = x + sdx * rng.standard_normal(n), y + sdy * rng.standard_normal(n)
    da = special.expit(yo)
    return pd.DataFrame({"task": [f"t{i}" for i in range(n)], "snr_median": np.exp(xo), "snr_sd": np.exp(xo) * sdx,
                         "da_median": da, "da_sd": sdy * da * (1 - da)})


def test_measurement_error_from_sd_or_interval():
    table = pd.DataFrame({"snr_median": [4.0], "snr_sd": [0.8]})
    obs, sd = _measure(table, "snr", np.log, lambda v: 1 / v, 0.9)
    assert obs[0] == pytest.approx(np.log(4)) and sd[0] == pytest.approx(0.2)
    z = stats.norm.ppf(0.95)
    table = pd.DataFrame({"snr_median": [4.0], "snr_lo": [4.0 * np.exp(-0.3 * z)], "snr_hi": [4.0 * np.exp(0.3 * z)]})
    assert _measure(table, "snr", np.log, lambda v: 1 / v, 0.9)[1][0] == pytest.approx(0.3)
    with pytest.raises(DataError, match="give da_lo and da_hi, or da_sd"):
        _measure(pd.DataFrame({"da_median": [0.8]}), "da", special.logit, lambda v: 1, 0.9)


def test_input_checks():
    with pytest.raises(DataError, match="at least three tasks"):
        snr_vs_decision(tasks().head(2))
    bad = tasks().assign(snr_median=lambda t: t["snr_median"].where(t.index > 0, -1.0))
    with pytest.raises(DataError, match="SNR must be > 0"):
        snr_vs_decision(bad)


def test_errors_in_variables_recovers_the_slope():
    table = tasks()
    res = snr_vs_decision(table, draws=400, tune=400, random_seed=2)
    summ = res.summary(level=0.9)
    assert list(summ.columns) == ["median", "lo", "hi", "point", "r_hat", "ess_bulk", "ess_tail"]
    assert summ.loc["slope", "lo"] < 0.9 < summ.loc["slope", "hi"]
    assert 0 < summ.loc["r2", "lo"] < summ.loc["r2", "hi"] < 1
    ols = stats.linregress(np.log(table["snr_median"]), special.logit(table["da_median"]))
    assert summ.loc["r2", "point"] == pytest.approx(ols.rvalue**2)
    # measurement error attenuates the naive R^2 relative to the latent one
    assert summ.loc["r2", "median"] > summ.loc["r2", "point"]


def test_saved_and_loaded(tmp_path):
    import snrstat
    from snrstat.inference import SnrstatDeprecationWarning

    with pytest.warns(SnrstatDeprecationWarning, match="seed= is deprecated"):
        res = snr_vs_decision(tasks(n=8), draws=200, tune=200, seed=1)
    back = snrstat.load_fit(res.save(tmp_path / "across"))
    pd.testing.assert_frame_equal(back.summary(), res.summary())
    pd.testing.assert_frame_equal(back.data, res.data)
