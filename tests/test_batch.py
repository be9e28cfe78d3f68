"""Batches of fits (snrstat.inference.batch): seeds by name, resume from a store, failures by
name, and the same numbers to the bit on a two-worker LocalCluster as serially, in any order."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from snrstat.inference import (BatchFailureWarning, Fit, FitSpec, SamplerSettings, derive_seed, diagnose, fit_many,
                               load_fit_file, register_fit, sample, using_client)
from snrstat.schema import DataError

SEED = 7
SMALL = {"draws": 200, "tune": 200, "chains": 2}


@register_fit
class MeanFit(Fit):
    kind = "test-batch-mean"
    summary_vars = ("mu", "sigma")


def _model(y):
    import pymc as pm

    with pm.Model() as m:
        data = pm.Data("y", y)
        mu = pm.Normal("mu", 0, 5)
        sigma = pm.HalfNormal("sigma", 2)
        pm.Normal("obs", mu, sigma, observed=data)
    return m


def fit_mean(frame, group, *, random_seed=0, draws=200, tune=200, chains=2, cores=None, progress=False):
    """A normal mean and sd of one group's values; one compilation per number of values."""
    y = frame.loc[frame["group"] == group, "value"].to_numpy(float)
    if y.size == 0:
        raise DataError(f"no rows for group {group!r}")
    settings = SamplerSettings(random_seed=random_seed, draws=draws, tune=tune, chains=chains, cores=cores,
                               progress=progress)
    idata = sample(_model(y), settings, key=("test-batch-mean", y.size), data={"y": y})
    return MeanFit(idata, {"group": group, "random_seed": random_seed}, diagnose(idata, ["mu", "sigma"]))


def fit_mean_dying(frame, group, *, marker, **options):
    """Kills its worker process the first time it runs (the marker file says it did)."""
    if not Path(marker).exists():
        Path(marker).write_text(str(os.getpid()))
        os._exit(1)
    return fit_mean(frame, group, **options)


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(0)
    sizes = {"a": 5, "b": 5, "c": 5, "d": 5, "e": 8, "f": 8}  # two model shapes
    rows = [(g, float(v)) for i, (g, n) in enumerate(sizes.items()) for v in rng.normal(i, 1.0, n)]
    return pd.DataFrame(rows, columns=["group", "value"])


def _specs(groups="abcdef", **options):
    return [FitSpec(f"mean/{g}", fit_mean, args=(g,), options={**SMALL, **options}) for g in groups]


def _same_numbers(a, b) -> None:
    for group in ("posterior", "sample_stats"):
        x, y = getattr(a.idata, group), getattr(b.idata, group)
        assert sorted(x.data_vars) == sorted(y.data_vars)
        for v in x.data_vars:
            np.testing.assert_array_equal(x[v].values, y[v].values, err_msg=f"{group}/{v}")


@pytest.fixture(scope="module")
def serial(frame):
    return fit_many(_specs(), frame, random_seed=SEED, progress=False)


# ---------------------------------------------------------------------------- serial
def test_seed_from_name_not_position():
    assert derive_seed(0, "a") == 813475369  # pinned: changing the derivation changes every batch's numbers
    seeds = {derive_seed(s, n) for s in (0, 1) for n in ("a", "b", "mean/a")}
    assert len(seeds) == 6 and all(0 <= s < 2**31 for s in seeds)
    with pytest.raises(DataError, match="random_seed"):
        derive_seed(-1, "a")


def test_serial_batch_is_the_plain_function_with_derived_seeds(serial, frame):
    assert list(serial) == [f"mean/{g}" for g in "abcdef"]
    assert not serial.failures and (serial.report["status"] == "fitted").all()
    for name, fit in serial.items():
        assert fit.config["batch"]["random_seed"] == derive_seed(SEED, name)
    direct = fit_mean(frame, "c", random_seed=derive_seed(SEED, "mean/c"), **SMALL)
    _same_numbers(serial["mean/c"], direct)
    s = serial.summary()
    assert s.index.names == ["fit", "quantity"] and len(s) == 12


def test_specs_checked_before_any_fit(frame):
    with pytest.raises(DataError, match="name"):
        FitSpec("../escape", fit_mean)
    with pytest.raises(DataError, match="name"):
        FitSpec("", fit_mean)
    with pytest.raises(DataError, match="top level"):
        FitSpec("x", lambda frame: None)
    with pytest.raises(DataError, match="unique"):
        fit_many(_specs("aa"), frame, progress=False)
    with pytest.raises(DataError, match="other"):
        fit_many([FitSpec("x", fit_mean, data="other", args=("a",))], frame, progress=False)
    with pytest.raises(DataError, match="cannot import"):
        fit_many([FitSpec("x", "snrstat.nothing:here")], frame, progress=False)
    with pytest.raises(DataError, match="workers must be a positive integer"):
        fit_many(_specs("a"), frame, workers=0, progress=False)  # a local cluster of 0 workers


def test_failed_fit_reported_by_name_batch_goes_on(frame):
    specs = [*_specs("a"), FitSpec("mean/missing", fit_mean, args=("zzz",), options=SMALL)]
    with pytest.warns(BatchFailureWarning, match="mean/missing: DataError: no rows for group 'zzz'"):
        out = fit_many(specs, frame, random_seed=SEED, progress=False)
    assert list(out) == ["mean/a"] and list(out.failures) == ["mean/missing"]
    assert out.report.loc["mean/missing", "status"] == "failed"


def test_store_resumes_where_it_stopped(frame, serial, tmp_path):
    first = fit_many(_specs("abc"), frame, random_seed=SEED, store=tmp_path, progress=False)
    assert sorted(p.name for p in (tmp_path / "mean").iterdir()) == ["a.nc", "b.nc", "c.nc"]
    # the batch "died" after three fits: the rerun fits only the rest
    again = fit_many(_specs("abcd"), frame, random_seed=SEED, store=tmp_path, progress=False)
    assert list(again.report["status"]) == ["resumed"] * 3 + ["fitted"]
    for name in ("mean/a", "mean/d"):
        _same_numbers(again[name], serial[name])
    assert load_fit_file(tmp_path / "mean" / "b.nc").config["batch"]["name"] == "mean/b"
    # a damaged file and a changed spec are refitted; a changed batch seed refits everything
    (tmp_path / "mean" / "a.nc").write_bytes(b"not a fit")
    changed = _specs("abc")
    changed[1] = FitSpec("mean/b", fit_mean, args=("b",), options={**SMALL, "draws": 250})
    third = fit_many(changed, frame, random_seed=SEED, store=tmp_path, progress=False)
    assert list(third.report["status"]) == ["fitted", "fitted", "resumed"]
    assert third["mean/b"].idata.posterior.sizes["draw"] == 250
    _same_numbers(third["mean/a"], first["mean/a"])
    other = fit_many(_specs("c"), frame, random_seed=SEED + 1, store=tmp_path, progress=False)
    assert list(other.report["status"]) == ["fitted"]


# ---------------------------------------------------------------------------- on a LocalCluster
@pytest.fixture(scope="module")
def client():
    pytest.importorskip("distributed")
    from distributed import Client

    from snrstat.inference import local_cluster

    with local_cluster(2) as cluster, Client(cluster) as c:
        yield c


@pytest.mark.slow  # starts two worker processes (PyMC and JAX imported, models compiled)
def test_cluster_same_numbers_any_order_one_compile_per_worker_and_shape(client, serial, frame):
    out = fit_many(list(reversed(_specs())), frame, client=client, random_seed=SEED, progress=False)
    assert list(out) == [f"mean/{g}" for g in "fedcba"] and not out.failures
    for name, fit in serial.items():
        _same_numbers(out[name], fit)
        assert out[name].config == fit.config
    assert out.report["worker"].str.startswith("tcp://").all()
    # 6 fits of 2 shapes on 2 worker processes: at most one compilation per worker and shape
    assert out.n_compilations <= 4
    per_worker = out.report.groupby("worker")["compiled"].sum()
    assert (per_worker <= 2).all()


@pytest.mark.slow  # starts two worker processes (PyMC and JAX imported, models compiled)
def test_ambient_client_reaches_nested_batches(client, serial, frame):
    with using_client(client) as c:
        assert c is client
        out = fit_many(_specs("ab"), frame, random_seed=SEED, progress=False)
    assert out.report["worker"].str.startswith("tcp://").all()
    _same_numbers(out["mean/b"], serial["mean/b"])
    with using_client(None) as none:
        assert none is None
        local = fit_many(_specs("a"), frame, random_seed=SEED, progress=False)
    assert list(local.report["worker"]) == ["local"]


@pytest.mark.slow  # starts two worker processes (PyMC and JAX imported, models compiled)
def test_killed_worker_fit_retried_failure_reported(client, frame, tmp_path):
    marker = tmp_path / "died"
    specs = [FitSpec("mean/killed", fit_mean_dying, args=("e",), options={**SMALL, "marker": str(marker)}),
             *_specs("b"), FitSpec("mean/missing", fit_mean, args=("zzz",), options=SMALL)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fit_many(specs, frame, client=client, random_seed=SEED, store=tmp_path / "store", progress=False)
    assert marker.exists()  # a worker process died running it ...
    assert marker.read_text() != str(os.getpid())
    assert list(out) == ["mean/killed", "mean/b"]  # ... and it was run again elsewhere
    assert list(out.failures) == ["mean/missing"] and "zzz" in out.failures["mean/missing"]
    assert any(issubclass(w.category, BatchFailureWarning) and "mean/missing" in str(w.message) for w in caught)
    direct = fit_mean(frame, "e", random_seed=derive_seed(SEED, "mean/killed"), **SMALL)
    _same_numbers(out["mean/killed"], direct)
    assert (tmp_path / "store" / "mean" / "killed.nc").exists()
    assert not (tmp_path / "store" / "mean" / "missing.nc").exists()


@pytest.mark.slow
def test_variance_batch_on_cluster_is_the_serial_batch_and_resumes(client, tmp_path):
    import snrstat
    from snrstat.variance import FitCollection, fit_variance_many

    data = snrstat.load_dataset("pythia")
    kw = dict(tasks=["arc_easy", "piqa"], metric="acc", size="160m", random_seed=SEED, progress=False, **SMALL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        local = fit_variance_many(data, **kw)
        remote = fit_variance_many(data, client=client, store=tmp_path, **kw)
        again = fit_variance_many(data, store=tmp_path, **kw)
    assert type(remote) is FitCollection and list(remote) == list(local) == ["arc_easy", "piqa"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["arc_easy--acc--160m.nc", "piqa--acc--160m.nc"]
    assert list(again.report["status"]) == ["resumed", "resumed"]
    for task, fit in local.items():
        assert remote[task].settings["random_seed"] == SEED  # fit_variance_many: one seed for every task
        _same_numbers(remote[task], fit)
        _same_numbers(again[task], fit)
    assert remote.summary().index.names == ["task", "quantity"]


def test_command_line_flags():
    from snrstat.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["models", "--rebuild", "--workers", "2"])
    assert (args.workers, args.scheduler) == (2, None)
    args = parser.parse_args(["report", "--scheduler", "tcp://10.0.0.5:8786"])
    assert (args.workers, args.scheduler) == (None, "tcp://10.0.0.5:8786")
    with pytest.raises(SystemExit):
        parser.parse_args(["report", "--workers", "0"])
    from snrstat.inference.batch import cluster_from_args

    with pytest.raises(DataError, match="one of them"):
        cluster_from_args(parser.parse_args(["report", "--workers", "2", "--scheduler", "tcp://x:1"]))
