"""The inference core: settings, sampling, diagnostics, intervals, the fit base and its file."""

from __future__ import annotations

import os

import numpy as np
import pytest
import xarray as xr

from snrstat.inference import (SUMMARY_COLUMNS, Fit, FitIntegrityError, SamplerSettings, SamplingInterrupted,
                               diagnose, fit_file, interval, load_fit_file, median_interval, register_fit, sample)
from snrstat.schema import DataError


@register_fit
class ToyFit(Fit):
    kind = "test-toy"
    summary_vars = ("mu", "sigma", "theta")


def _model(y):
    import pymc as pm

    with pm.Model(coords={"group": ["a", "b", "c"]}) as m:
        data = pm.Data("y", y)
        mu = pm.Normal("mu", 0, 5)
        sigma = pm.HalfNormal("sigma", 2)
        theta = pm.Normal("theta", mu, 1, dims="group")
        pm.Normal("obs", theta, sigma, observed=data, dims="group")
    return m


@pytest.fixture(scope="module")
def toy():
    settings = SamplerSettings(random_seed=3, draws=300, tune=300, chains=2)
    idata = sample(_model(np.array([0.1, 0.5, 0.9])), settings, key=("toy", 3))
    return ToyFit(idata, {"settings": settings.to_dict(), "note": "toy"}, diagnose(idata, ["mu", "sigma", "theta"]),
                  {"mu": 0.5})


def test_settings_validate():
    with pytest.raises(DataError, match="draws"):
        SamplerSettings(draws=0)
    with pytest.raises(DataError, match="target_accept"):
        SamplerSettings(target_accept=1.5)
    with pytest.raises(DataError, match="sampler"):
        SamplerSettings(sampler="gibbs")
    with pytest.raises(DataError, match="mass_matrix"):
        SamplerSettings(mass_matrix="dense")
    s = SamplerSettings.build({"draws": 10}, chains=2, tune=None)
    assert (s.draws, s.chains, s.tune) == (10, 2, 1000)
    assert SamplerSettings.from_dict(s.to_dict()) == s


def test_summary_columns_and_vector_rows(toy):
    s = toy.summary()
    assert tuple(s.columns) == SUMMARY_COLUMNS
    assert list(s.index) == ["mu", "sigma", "theta[a]", "theta[b]", "theta[c]"]
    assert s.loc["mu", "point"] == 0.5 and np.isnan(s.loc["sigma", "point"])
    assert (s["lo"] <= s["median"]).all() and (s["median"] <= s["hi"]).all()


def test_same_seed_same_numbers(toy):
    again = sample(_model(np.array([0.1, 0.5, 0.9])), SamplerSettings(random_seed=3, draws=300, tune=300, chains=2),
                   key=("toy", 3))
    np.testing.assert_array_equal(again.posterior["mu"].values, toy.idata.posterior["mu"].values)
    assert again.attrs["compile_s"] == 0.0  # from the cache


def test_low_rank_mass_matrix_samples_the_same_posterior(toy):
    settings = SamplerSettings(random_seed=3, draws=300, tune=300, chains=2, mass_matrix="low_rank")
    low = sample(_model(np.array([0.1, 0.5, 0.9])), settings, key=("toy", 3))
    assert not np.array_equal(low.posterior["mu"].values, toy.idata.posterior["mu"].values)  # another sampler
    for v in ("mu", "theta"):
        a, b = low.posterior[v], toy.idata.posterior[v]
        assert abs(float(a.mean() - b.mean())) < 4 * float(b.std()) / np.sqrt(100)


def test_cached_model_takes_new_data(toy):
    settings = SamplerSettings(random_seed=3, draws=300, tune=300, chains=2)
    other = sample(_model(np.array([5.1, 5.5, 5.9])), settings, key=("toy", 3), data={"y": np.array([5.1, 5.5, 5.9])})
    assert float(other.posterior["mu"].mean()) > 3


def test_interval_has_ci_bound(toy):
    ci = interval(toy.draws("theta"), 0.9)
    assert ci.dims == ("ci_bound", "group") and list(ci.ci_bound.values) == ["lower", "upper"]
    assert ci.attrs["prob"] == 0.9
    med, lo, hi = median_interval(toy.draws("mu").values, 0.9)
    assert float(ci.sel(group="a", ci_bound="lower")) < float(ci.sel(group="a", ci_bound="upper"))
    assert lo < med < hi
    with pytest.raises(DataError, match="level"):
        interval(toy.draws("mu"), 1.5)


def test_round_trip(toy, tmp_path):
    path = toy.save(tmp_path / "run.190M")
    assert path.name == "run.190M.nc" and fit_file("a/b.nc").name == "b.nc"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.190M.nc"]
    back = load_fit_file(path)
    assert isinstance(back, ToyFit)
    assert back.config == {"settings": toy.config["settings"], "note": "toy"}
    assert back.diagnostics.to_dict() == toy.diagnostics.to_dict()
    import pandas as pd

    pd.testing.assert_frame_equal(back.summary(), toy.summary())
    assert back.fit_id() == toy.fit_id()


def _edit(path, fn):
    import arviz as az

    idata = az.from_netcdf(str(path))
    idata.load() if hasattr(idata, "load") else None
    for g in idata.groups():
        getattr(idata, g).load()
    fn(idata)
    os.unlink(path)
    idata.to_netcdf(str(path), engine="h5netcdf")


def test_edited_posterior_refused(toy, tmp_path):
    path = toy.save(tmp_path / "fit.nc")

    def bump(idata):
        idata.posterior["mu"] = idata.posterior["mu"] + 0.01
    _edit(path, bump)
    with pytest.raises(FitIntegrityError, match="edited or damaged"):
        load_fit_file(path)


def test_edited_card_refused(toy, tmp_path):
    path = toy.save(tmp_path / "fit.nc")

    def card(idata):
        idata.attrs["snrstat_config"] = idata.attrs["snrstat_config"].replace("toy", "yot")
    _edit(path, card)
    with pytest.raises(FitIntegrityError):
        load_fit_file(path)


def test_failed_save_keeps_old_file(toy, tmp_path, monkeypatch):
    path = toy.save(tmp_path / "fit.nc")
    before = path.read_bytes()
    import snrstat.inference.fit as fitmod

    def broken(idata, tmp):
        with open(tmp, "wb") as fh:
            fh.write(b"half a file")
        raise OSError("disk full")
    monkeypatch.setattr(fitmod, "_write_netcdf", broken)
    with pytest.raises(OSError, match="disk full"):
        toy.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit.nc"]  # no temp file left
    assert isinstance(load_fit_file(path), ToyFit)


def test_concurrent_saves_leave_one_complete_fit(toy, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "same.nc"
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: toy.save(path), range(8)))
    assert load_fit_file(path).fit_id() == toy.fit_id()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["same.nc"]


def test_not_a_fit_file(tmp_path):
    bad = tmp_path / "x.nc"
    bad.write_text("not netcdf")
    with pytest.raises(DataError, match="not a readable fit file"):
        load_fit_file(bad)
    xr.Dataset({"a": ("x", [1.0])}).to_netcdf(tmp_path / "plain.nc", engine="h5netcdf")
    with pytest.raises(DataError, match="not a snrstat fit file"):
        load_fit_file(tmp_path / "plain.nc")


def test_interrupt_is_not_a_result(monkeypatch):
    import nutpie

    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(nutpie, "sample", interrupted)
    with pytest.raises(SamplingInterrupted):
        sample(_model(np.array([0.1, 0.5, 0.9])), SamplerSettings(draws=50, tune=50, chains=2), key=("toy", 3))


def test_partial_trace_is_an_interruption(toy, monkeypatch):
    import nutpie

    monkeypatch.setattr(nutpie, "sample", lambda *a, **k: toy.idata.isel(draw=slice(0, 10)))
    with pytest.raises(SamplingInterrupted, match="stopped early"):
        sample(_model(np.array([0.1, 0.5, 0.9])), SamplerSettings(draws=300, tune=50, chains=2), key=("toy", 3))


def test_diagnostics_flag_problems(toy):
    bad = toy.idata.copy()
    bad.posterior["mu"] = bad.posterior["mu"] + xr.DataArray([0.0, 5.0], dims="chain")
    d = diagnose(bad, ["mu"])
    assert not d.ok and "R-hat" in d.messages[0]
    assert d.to_dict()["max_r_hat"] > 1.01


def test_merge_chains_joins_runs_of_other_seeds(toy):
    """A fit sampled in parts: the second run's chains follow the first's, renumbered, and the
    diagnostics compare all four."""
    import arviz as az

    from snrstat.inference import merge_chains

    other = sample(_model(np.array([0.1, 0.5, 0.9])), SamplerSettings(random_seed=4, draws=300, tune=300, chains=2),
                   key=("toy", 3))
    merged = merge_chains(toy.idata, other)
    assert list(merged.posterior["chain"].values) == [0, 1, 2, 3]
    np.testing.assert_array_equal(merged.posterior["theta"].isel(chain=[2, 3]).values, other.posterior["theta"].values)
    assert merged.attrs["runs"] == 2
    assert merged.attrs["sample_s"] == pytest.approx(toy.idata.attrs["sample_s"] + other.attrs["sample_s"])
    d = diagnose(merged, ["mu", "sigma", "theta"])
    assert d.table.loc["mu", "r_hat"] == pytest.approx(float(az.rhat(merged, var_names=["mu"])["mu"]), rel=1e-9)


def test_merge_chains_refuses_a_repeated_seed_other_data_or_other_draws(toy):
    from snrstat.inference import merge_chains

    def run(y, seed, draws=300):
        return sample(_model(np.asarray(y)), SamplerSettings(random_seed=seed, draws=draws, tune=300, chains=2),
                      key=("toy", 3), data={"y": np.asarray(y)})

    with pytest.raises(DataError, match="same seed twice"):
        merge_chains(toy.idata, run([0.1, 0.5, 0.9], 3))
    with pytest.raises(DataError, match="draws per chain"):
        merge_chains(toy.idata, run([0.1, 0.5, 0.9], 5, draws=200))
    with pytest.raises(DataError, match="not fits of the same data"):
        merge_chains(toy.idata, run([2.0, 2.5, 3.0], 5))
    with pytest.raises(DataError, match="at least two runs"):
        merge_chains(toy.idata)
