"""Fitting: summary, derived quantities, reproducibility, batches, save/load (tiny, seeded)."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

import snrstat
from snrstat.variance import fit_variance, fit_variance_many, load_fit, simulate

FAST = dict(draws=250, tune=300, chains=2, progress=False)


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


@pytest.fixture(scope="module")
def sim():
    # nested seeds, two per model: the collapsed Gaussian path with a per-run offset
    return simulate(n_models=5, n_seeds=2, n_ckpt=4, n_items=800, mu=0.3, sigma_model=0.4, sigma_seed=0.08,
                    sigma_ckpt=0.06, crossed=False, random_seed=5)


@pytest.fixture(scope="module")
def fit(sim):
    return _quiet(fit_variance, sim[0], random_seed=11, **FAST)


def test_summary_rows_columns_and_truth(fit, sim):
    _, truth = sim
    s = fit.summary()
    assert list(s.columns) == ["median", "lo", "hi", "point", "r_hat", "ess_bulk", "ess_tail"]
    for row in ("sigma_model", "sigma_seed", "sigma_ckpt", "signal", "noise", "snr", "snr_pop"):
        assert row in s.index
    assert "sigma_order" not in s.index  # one data order: absent, not fitted from its prior
    assert (s["lo"] <= s["median"]).all() and (s["median"] <= s["hi"]).all()
    wide = fit.summary(level=0.99)
    for q in ("sigma_model", "sigma_ckpt", "snr"):
        assert wide.loc[q, "lo"] <= truth[q] <= wide.loc[q, "hi"], q
    assert np.isfinite(s.loc["snr", "point"]) and np.isnan(s.loc["sigma_model", "point"])
    assert fit.spec["likelihood"] == "logit_normal" and fit.spec["collapsed"]
    assert "sigma_model ~ HalfNormal(0.5)" in fit.spec["priors_text"]


def test_derived_quantities_follow_their_definitions(fit):
    post = fit.idata.posterior
    mm = post["model_mean"].values
    assert np.allclose(mm, expit(post["mu_link"].values[..., None] + post["effect_model"].values))
    rng = mm.max(-1) - mm.min(-1)
    assert np.allclose(post["snr"].values, rng / post["noise_sd"].values)
    assert np.allclose(post["signal"].values / post["noise"].values, post["snr"].values)
    assert np.allclose(post["noise_sd"].values ** 2,
                       post["sigma_ckpt"].values ** 2 + post["sigma_binom"].values ** 2)
    assert fit.draws("model_mean").dims == ("chain", "draw", "model")
    assert fit.draws("sigma_data_order_link" if "sigma_order_link" in post else "sigma_seed").ndim == 2
    with pytest.raises(snrstat.DataError, match="available"):
        fit.draws("nope")


def test_shares_superiority_and_ranking(fit):
    shares = fit.variance_shares()
    assert set(shares.index) == {"model", "seed", "ckpt", "items"}
    assert shares["median"].sum() == pytest.approx(1.0, abs=0.15)
    p = fit.prob_superior()
    off = ~np.eye(len(p), dtype=bool)
    assert np.allclose((p.to_numpy() + p.to_numpy().T)[off], 1.0)
    assert np.isnan(np.diag(p.to_numpy())).all()
    assert 0.0 <= fit.prob_ranking() <= 1.0


def test_diagnostics_and_reml(fit, sim):
    d = fit.diagnostics
    assert d.divergences == 0 and d.table["r_hat"].max() < 1.05
    assert {"ok", "max_r_hat", "min_ess_bulk", "bfmi"} <= set(d.to_dict())
    # five models, two seeds each: every sd has several contrasts, so the fast default step
    assert fit.settings["target_accept"] == 0.9 and fit.settings["auto_target"] and not fit.settings["retried"]
    with pytest.raises(snrstat.DataError, match="target_accept"):
        _quiet(fit_variance, sim[0], target_accept=1.5, **FAST)
    cmp = fit.compare_reml()
    assert {"reml", "median", "lo", "hi", "inside"} <= set(cmp.columns)
    assert cmp.loc["sigma_model", "inside"]


def test_prior_predictive_check_covers_the_data(fit):
    table = fit.prior_predictive_check(draws=300)
    assert {"prior_median", "prior_lo", "prior_hi", "observed", "inside"} <= set(table.columns)
    for q in ("score_mean", "score_sd", "sigma_model"):
        assert bool(table.loc[q, "inside"]), q  # weakly informative: the data sit inside the prior
    wide = fit.prior_predictive_check(draws=300, level=0.99)
    assert bool(wide.loc["snr", "inside"]) and wide.loc["snr", "prior_hi"] > table.loc["snr", "prior_hi"]


def test_same_seed_same_numbers_other_seed_other_numbers(fit, sim):
    again = _quiet(fit_variance, sim[0], random_seed=11, **FAST)
    assert again.settings["compile_s"] == 0.0  # the compiled graph was reused
    assert np.array_equal(again.draws("snr").values, fit.draws("snr").values)
    other = _quiet(fit_variance, sim[0], random_seed=12, **FAST)
    assert not np.array_equal(other.draws("snr").values, fit.draws("snr").values)


def test_batch_swaps_data_into_one_compiled_graph(fit, sim):
    frames = [sim[0].assign(task="a")]
    other, _ = simulate(n_models=5, n_seeds=2, n_ckpt=4, n_items=800, sigma_model=0.2, crossed=False, random_seed=9)
    frames.append(other.assign(task="b"))
    batch = _quiet(fit_variance_many, pd.concat(frames, ignore_index=True), random_seed=11, **FAST)
    assert list(batch) == ["a", "b"] and batch.n_compilations == 0  # same structure as the fixture
    assert np.array_equal(batch["a"].draws("snr").values, fit.draws("snr").values)
    assert batch["b"].summary().loc["sigma_model", "median"] != fit.summary().loc["sigma_model", "median"]
    table = batch.table("snr")
    assert list(table.index) == ["a", "b"] and "ok" in table.columns
    assert batch.summary().index.names == ["task", "quantity"]


def test_save_and_load_round_trip(fit, tmp_path):
    nc = fit.save(tmp_path / "fit")
    assert nc.name == "fit.nc" and sorted(p.name for p in tmp_path.iterdir()) == ["fit.nc"]
    import arviz as az

    attrs = az.from_netcdf(str(nc)).attrs
    config, card = json.loads(attrs["snrstat_config"]), json.loads(attrs["snrstat_card"])
    assert config["data_hash"] == fit.records.data_hash() and config["spec"]["priors"]["model"] == 0.5
    assert {"pymc", "nutpie", "arviz", "snrstat"} <= set(card["versions"])
    loaded = load_fit(nc)
    pd.testing.assert_frame_equal(loaded.summary(), fit.summary())
    assert loaded.diagnostics.to_dict() == fit.diagnostics.to_dict()
    assert loaded.records.data_hash() == fit.records.data_hash()
    assert snrstat.load_fit(nc).fit_id() == fit.fit_id()


def test_continuous_metric_uses_a_normal_likelihood():
    frame, truth = simulate(n_models=4, n_seeds=1, n_ckpt=6, likelihood="normal", mu=1.0, sigma_model=0.1,
                            sigma_ckpt=0.01, random_seed=2)
    f = _quiet(fit_variance, frame, random_seed=1, **FAST)
    s = f.summary(level=0.99)
    assert f.spec["likelihood"] == "normal" and "sigma_binom" not in s.index
    assert s.loc["sigma_ckpt", "lo"] <= 0.01 <= s.loc["sigma_ckpt", "hi"]
    assert s.loc["grand_mean", "median"] == pytest.approx(frame["value"].mean(), abs=0.05)


@pytest.mark.parametrize("value", [0.0, 1.0])
def test_all_zero_or_all_one_scores_are_refused_before_sampling(sim, value):
    frame = sim[0].assign(value=value)
    with pytest.raises(snrstat.DataError, match="every score is .* SNR is undefined"):
        fit_variance(frame, **FAST)


def test_default_window_is_the_papers_last_five(sim):
    frame, _ = simulate(n_models=3, n_seeds=1, n_ckpt=8, n_items=500, random_seed=3)
    from snrstat.variance.records import select_records

    assert select_records(frame).table.groupby("run")["step"].size().eq(8).all()
    import inspect

    assert inspect.signature(fit_variance).parameters["last_n"].default == 5
    assert inspect.signature(fit_variance_many).parameters["last_n"].default == 5


def test_automatic_centring_falls_back_when_a_centred_component_diverges(sim, monkeypatch):
    """The sampling itself is replaced here (the decision is under test, not NUTS): a fit with
    model effects centred diverges, one without does not; the kept fit is the second and says
    why. A user's explicit centring is never second-guessed."""
    from types import SimpleNamespace

    import snrstat.variance.api as api

    calls = []

    def fake_fit(compiled, design, priors, settings, cores, progress, level):
        calls.append(tuple(settings["centered"]))
        if "model" in settings["centered"]:
            warnings.warn("diverged")
        return SimpleNamespace(diagnostics=SimpleNamespace(divergences=9 if "model" in settings["centered"] else 0),
                               settings=dict(settings), idata=None)

    monkeypatch.setattr(api, "_fit_compiled", fake_fit)
    monkeypatch.setattr(api, "funnel_component", lambda idata, centred: "model")
    monkeypatch.setattr(api, "_compiled_for", lambda *a, **k: (None, 0.0))
    monkeypatch.setattr(api, "choose_centering", lambda design: ("model", "seed"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = fit_variance(sim[0], checks=False, marginalize=False, **FAST)
    assert calls == [("model", "seed"), ("seed",)]
    assert fit.settings["centered"] == ["seed"] and "refitted with model non-centred: 0" in \
        fit.settings["centering_fallback"]
    assert not [w for w in caught if "diverged" in str(w.message)]  # the discarded fit's warning is not shown
    calls.clear()
    fit = fit_variance(sim[0], checks=False, marginalize=False, centered=("model", "seed"), **FAST)
    assert calls == [("model", "seed")] and "centering_fallback" not in fit.settings


def test_funnel_component_is_where_the_divergences_sit():
    import arviz as az

    from snrstat.variance.api import funnel_component

    rng = np.random.default_rng(0)
    sd_model, sd_seed = rng.lognormal(0, 0.5, (2, 500)), rng.lognormal(0, 0.5, (2, 500))
    div = np.zeros((2, 500), dtype=bool)
    div[0, np.argsort(sd_model[0])[:5]] = True  # divergences at the smallest sigma_model
    idata = az.from_dict(posterior={"sigma_model_link": sd_model, "sigma_seed_link": sd_seed},
                         sample_stats={"diverging": div})
    assert funnel_component(idata, ("seed", "model")) == "model"
    div[:] = False
    div[1, np.argsort(sd_seed[1])[:5]] = True
    idata = az.from_dict(posterior={"sigma_model_link": sd_model, "sigma_seed_link": sd_seed},
                         sample_stats={"diverging": div})
    assert funnel_component(idata, ("model", "seed")) == "seed"
