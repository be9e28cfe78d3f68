"""The Bayesian scaling law (snrstat.scaling.fit and its stages), its validation helpers, plot and CLI.

One two-step fit of data simulated from the model's own generative process is shared by the
fast tests (nutpie compiles the model once, ~25-35 s on a small machine, and every later fit of
the same shape reuses it in about a second); heavier fits are slow.
"""

from __future__ import annotations

import argparse
import json
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats

import snrstat
from snrstat.scaling.fit import ScalingFit, ScalingFitWarning, fit_scaling_law
from snrstat.scaling.predictive import log_predictive_density, point_log_density
from snrstat.scaling.ladder import LADDER_SIZES, MULTIPLIERS, TARGET_TOKENS
from snrstat.scaling.point import acc_law, loss_law
from snrstat.scaling.validation import coverage_summary, leave_one_size_out
from snrstat.schema import validate

PARAMS = {"190M": 190354176, "370M": 371262464, "760M": 758220288, "1B": 1279395840, "3B": 3169537280}
TARGET_N = {"peteish7": 6887575552.0, "peteish13": 13202396160.0}
STEP1 = {"a": 5.2, "b": 6.3, "alpha": 0.32, "beta": 0.29, "E": 0.45}
STEP2 = {"a": -0.6, "k": 6.0, "L0": 0.9, "b": 0.95}
NOISE = {"tau_loss": 0.01, "sigma_loss": 0.004, "tau_acc": 0.006, "sigma_acc": 0.004}
SMALL = {"draws": 300, "tune": 300, "chains": 2, "progress": False}
HEALTHY = {"draws": 1500, "tune": 1000, "chains": 2, "progress": False}


def simulate_ladder(seed=0, n_ckpt=6):
    """Ladder runs and two targets drawn from the model: a run deviation on log loss and on
    accuracy, then checkpoint noise; checkpoints in the last 5% of training, no drift."""
    rng = np.random.default_rng(seed)
    runs = [(m, s, "0") for s in LADDER_SIZES for m in MULTIPLIERS] + [("1xC", s, "1") for s in LADDER_SIZES]
    sizes = {**{(m, s, sd): (PARAMS[s], float(m[:-2]) * 20 * PARAMS[s]) for m, s, sd in runs},
             **{(t, "7B" if t == "peteish7" else "13B", "0"): (TARGET_N[t], TARGET_TOKENS[t]) for t in TARGET_N}}
    rows, truth = [], {}
    for (model, size, seed_), (n, d) in sizes.items():
        law = loss_law(n, d, **STEP1)
        loss_run = law * np.exp(NOISE["tau_loss"] * rng.standard_normal())
        acc_run = acc_law(loss_run, **STEP2) + NOISE["tau_acc"] * rng.standard_normal()
        truth[model if model.startswith("peteish") else (model, size, seed_)] = {
            "acc_law": acc_law(law, **STEP2), "acc_run": acc_run, "loss_law": law}
        steps = np.arange(n_ckpt) + 95
        for st in steps:
            tokens = d * st / steps[-1]
            loss = loss_run * np.exp(NOISE["sigma_loss"] * rng.standard_normal())
            acc = acc_run + NOISE["sigma_acc"] * rng.standard_normal()
            rows.append(("sim", "bpb", model, size, n, seed_, int(st), tokens, loss))
            rows.append(("sim", "len_norm", model, size, n, seed_, int(st), tokens, acc))
    frame = validate(pd.DataFrame(rows, columns=["task", "metric", "model", "size", "params", "seed", "step", "tokens", "value"]))
    return frame, truth


@pytest.fixture(scope="module")
def simulated():
    return simulate_ladder(seed=11)


@pytest.fixture(scope="module")
def two_step_fit(simulated):
    frame, _ = simulated
    with warnings.catch_warnings():
        warnings.simplefilter("error", ScalingFitWarning)  # this fit must sample healthily
        return fit_scaling_law(frame, "sim", random_seed=1, **HEALTHY)


def test_sampler_is_healthy_on_a_simulated_ladder(two_step_fit):
    d = two_step_fit.diagnostics
    assert d.ok, d.messages
    assert d.divergences == 0 and d.max_r_hat <= 1.01 and d.min_ess_bulk >= 400


def _interval(da, lo=0.01, hi=0.99):
    return float(da.quantile(lo)), float(da.quantile(hi))


def test_posterior_covers_the_noise_scales_of_the_simulation(two_step_fit):
    post = two_step_fit.idata.posterior
    for name, true in NOISE.items():
        lo, hi = _interval(post[name])
        assert lo < true < hi, (name, lo, true, hi)
    # the accuracy curve near the data is pinned down: true step-2 value at the centre's loss
    l_ref = np.exp(two_step_fit.anchors["log_loss_ref"])
    curve = post["floor"] + (post["top"] - post["floor"]) / (1 + np.exp(-post["k"] * (post["L0"] - l_ref)))
    lo, hi = _interval(curve)
    assert lo < acc_law(l_ref, **STEP2) < hi


def test_predictive_of_the_targets_covers_the_truth(two_step_fit, simulated):
    _, truth = simulated
    pred = two_step_fit.idata.predictions
    table = two_step_fit.predictions().set_index("target")
    for target in ("peteish7", "peteish13"):
        # one simulated data set: a 99.5% interval (the nominal rates are tested over many sets below)
        lo, hi = _interval(pred["acc_law"].sel(target=target), 0.0025, 0.9975)
        assert lo < truth[target]["acc_law"] < hi
        lo, hi = _interval(pred["acc"].sel(target=target), 0.0025, 0.9975)
        row = table.loc[target]
        assert lo < row["observed"] < hi
        assert bool(row["inside90"]) == (row["lo90"] <= row["observed"] <= row["hi90"])
        assert row["lo90"] < row["lo50"] < row["median"] < row["hi50"] < row["hi90"]
        assert np.isfinite(row["log_score"]) and np.isfinite(row["point_log_score"])
    assert list(table.reset_index().columns[:9]) == ["target", "observed", "point_pred", "median", "lo50", "hi50",
                                                      "lo90", "hi90", "inside50"]


def test_paper_notation_and_numpy_replica_agree_with_the_model_graph(two_step_fit):
    """The predictive (numpy) and the model's deterministics (PyTensor) are the same law."""
    post = two_step_fit.idata.posterior
    pred = two_step_fit.idata.predictions
    t = two_step_fit.targets.set_index("target")
    for target in ("peteish7", "peteish13"):
        n, d = t.loc[target, "params"], t.loc[target, "tokens"]
        law = np.exp(post["a"] - post["alpha"] * np.log(n)) + np.exp(post["b"] - post["beta"] * np.log(d)) + post["E"]
        acc = post["acc_a"] / (1 + np.exp(-post["k"] * (law - post["L0"]))) + post["acc_b"]
        np.testing.assert_allclose(pred["loss_law"].sel(target=target), law, rtol=1e-9)
        np.testing.assert_allclose(pred["acc_law"].sel(target=target), acc, rtol=1e-9)
    # the step-2 curve at each training run's loss (a model deterministic) in paper notation
    loss_run = np.exp(post["log_loss_run"])
    curve = post["acc_a"] / (1 + np.exp(-post["k"] * (loss_run - post["L0"]))) + post["acc_b"]
    np.testing.assert_allclose(post["acc_curve"], curve.transpose(*post["acc_curve"].dims), rtol=1e-9)


def test_idata_has_named_dims_and_summary_has_the_point_fit(two_step_fit):
    idata = two_step_fit.idata
    assert set(idata.groups()) >= {"posterior", "sample_stats", "predictions", "observed_data", "constant_data"}
    assert idata.posterior["log_loss_run"].dims == ("chain", "draw", "run")
    assert idata.predictions["acc"].dims == ("chain", "draw", "target")
    assert list(idata.predictions["target"].values) == ["peteish7", "peteish13"]
    assert "1B-1xC-rerun" in list(idata.posterior["run"].values)
    summary = two_step_fit.summary()
    assert {"a", "b", "alpha", "beta", "E", "acc_a", "acc_b", "k", "L0", "sigma_acc"} <= set(summary.index)
    assert summary.loc["alpha", "point"] == pytest.approx(two_step_fit.point_params["step1"]["alpha"])
    assert list(summary.columns) == ["median", "lo", "hi", "point", "r_hat", "ess_bulk", "ess_tail"]
    assert {"max_r_hat", "min_ess_bulk", "min_ess_tail", "divergences", "bfmi", "ok"} <= set(two_step_fit.diagnostics.to_dict())
    assert two_step_fit.timing["sample_s"] > 0


def test_diagnostics_are_flagged_loudly_on_a_bad_fit(simulated):
    frame, _ = simulated
    with pytest.warns(ScalingFitWarning, match="effective sample size.*run longer"):
        fit = fit_scaling_law(frame, "sim", draws=15, tune=10, chains=2, progress=False, random_seed=2)
    assert not fit.diagnostics.ok
    assert any("effective sample size" in p for p in fit.diagnostics.messages)
    assert "PROBLEMS" in repr(fit)


def test_save_and_load_round_trip(two_step_fit, tmp_path):
    path = two_step_fit.save(tmp_path / "fit")
    assert path.name == "fit.nc" and sorted(p.name for p in tmp_path.iterdir()) == ["fit.nc"]
    loaded = snrstat.load_fit(path)
    assert isinstance(loaded, ScalingFit) and loaded.config == two_step_fit.config
    assert loaded.diagnostics.to_dict() == two_step_fit.diagnostics.to_dict()
    pd.testing.assert_frame_equal(loaded.predictions(), two_step_fit.predictions(), check_dtype=False)
    pd.testing.assert_frame_equal(loaded.summary(), two_step_fit.summary())


def test_log_scores_match_their_definitions():
    rng = np.random.default_rng(0)
    loc = rng.normal(0.6, 0.01, size=(2, 50, 3))
    scale = rng.uniform(0.005, 0.02, size=(2, 50, 3))
    pred = xr.Dataset({"acc_loc": (("chain", "draw", "target"), loc), "acc_scale": (("chain", "draw", "target"), scale)},
                      coords={"target": ["x", "y", "z"]})
    y = np.array([0.6, 0.62, 0.55])
    expected = np.log(stats.norm.pdf(y, loc, scale).reshape(-1, 3).mean(axis=0))
    np.testing.assert_allclose(log_predictive_density(pred, y), expected, rtol=1e-12)
    np.testing.assert_allclose(point_log_density(y, 0.6, 0.01), stats.norm.logpdf(y, 0.6, 0.01), rtol=1e-12)


def test_coverage_summary_counts_and_averages():
    rows = pd.DataFrame({
        "held_out": ["a", "a", "b", "b"], "observed": [0.5, 0.6, 0.7, np.nan],
        "inside50": [True, False, True, None], "inside90": [True, True, False, None],
        "log_score": [1.0, 2.0, 3.0, np.nan], "point_log_score": [0.0, 0.0, 6.0, np.nan],
        "point_rel_error": [0.1, 0.2, 0.3, np.nan], "bayes_rel_error": [0.1, 0.1, 0.1, np.nan],
    })
    all_ = coverage_summary(rows).iloc[0]
    assert all_["n"] == 3 and all_["coverage50"] == pytest.approx(2 / 3) and all_["coverage90"] == pytest.approx(2 / 3)
    assert all_["log_score"] == pytest.approx(2.0) and all_["log_score_gain"] == pytest.approx(0.0)
    by = coverage_summary(rows, by="held_out").set_index("held_out")
    assert by.loc["a", "coverage90"] == 1.0 and by.loc["b", "n"] == 1 and by.loc["b", "log_score_gain"] == -3.0


def test_fan_chart_returns_figure_and_axes(two_step_fit):
    import matplotlib

    matplotlib.use("Agg")
    from snrstat.scaling.plots import plot_fan

    fig, ax = plot_fan(two_step_fit, random_seed=0)
    assert ax.get_xscale() == "log" and ax.figure is fig
    assert len(ax.collections) >= 4  # two bands, the ladder points, the targets
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "90% predictive" in labels and "point fit (paper)" in labels
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_cli_prints_predictions_as_json(simulated, tmp_path, capsys):
    from snrstat.commands import scaling

    frame, _ = simulated
    path = tmp_path / "sim.parquet"
    frame.to_parquet(path)
    parser = argparse.ArgumentParser()
    scaling.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["scaling", "--data", str(path), "--task", "sim", "--fast", "--json"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScalingFitWarning)
        assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert [p["target"] for p in out["predictions"]] == ["peteish7", "peteish13"]
    assert {"median", "lo90", "hi90", "point_pred", "inside90"} <= set(out["predictions"][0])
    args = parser.parse_args(["scaling", "--data", str(path), "--task", "sim", "--fast"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScalingFitWarning)
        assert args.func(args) == 0
    text = capsys.readouterr().out
    assert "peteish13" in text and "sampler" in text and "interval" in text


@pytest.mark.slow
def test_one_step_fit_covers_the_targets(simulated):
    frame, truth = simulated
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScalingFitWarning)
        fit = fit_scaling_law(frame, "sim", one_step=True, random_seed=3, **SMALL)
    table = fit.predictions().set_index("target")
    # The one-step law is not the simulation's (no irreducible loss E), so nominal coverage is
    # not owed; it must still land near the observed scores with ordered intervals.
    assert ((table["median"] - table["observed"]).abs() < 0.05).all(), table
    assert (table["lo90"] < table["lo50"]).all() and (table["hi50"] < table["hi90"]).all()
    assert "loss" not in fit.idata.predictions and "share_n" in fit.summary().index


@pytest.mark.heavy
def test_pymc_sampler_fallback_agrees_with_nutpie(simulated, two_step_fit):
    frame, _ = simulated
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_scaling_law(frame, "sim", sampler="pymc", random_seed=4, **SMALL)
    a = fit.predictions().set_index("target")
    b = two_step_fit.predictions().set_index("target")
    width = (b["hi90"] - b["lo90"]).to_numpy()
    assert np.all(np.abs(a["median"] - b["median"]).to_numpy() < 0.25 * width)


@pytest.mark.slow
def test_leave_one_size_out_on_simulated_ladder(simulated):
    frame, _ = simulated
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScalingFitWarning)
        res = leave_one_size_out(frame, "sim", sizes=["370M", "3B"], random_seed=5, draws=300, tune=300, chains=2)
    assert set(res["held_out"]) == {"370M", "3B"} and len(res) == 10
    assert set(res["target"]) >= {"3B-10xC", "370M-1xC-rerun"}
    summary = coverage_summary(res).iloc[0]
    assert summary["coverage90"] >= 0.7  # 10 cases from the model itself: nominal 0.9


def test_predictive_intervals_cover_simulated_truths_at_their_nominal_rate(two_step_fit):
    """Over fresh ladders simulated from the model (compiled model reused: ~1 s a fit), the 90% and
    50% predictive intervals of the targets' observed scores cover about 90% and 50% of them.
    Bounds: for 24 cases a calibrated 90% interval covers >= 17 with probability > 0.99, a 50%
    interval lands in [5, 19] with probability > 0.99."""
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScalingFitWarning)
        for seed in range(12):
            frame, _ = simulate_ladder(seed=100 + seed)
            rows.append(fit_scaling_law(frame, "sim", random_seed=seed, draws=400, tune=400, chains=2,
                                        progress=False).predictions())
    res = pd.concat(rows, ignore_index=True)
    summary = coverage_summary(res).iloc[0]
    assert summary["n"] == 24
    assert summary["coverage90"] >= 17 / 24, summary
    assert 5 / 24 <= summary["coverage50"] <= 19 / 24, summary
    # the predictive knows the run-to-run spread: better log score than the point fit's normal
    assert summary["log_score"] > summary["point_log_score"] - 1.0


def test_checkpoint_averaging_option_reaches_point_fit_and_targets(simulated):
    from snrstat.scaling.point import fit_ladder_point

    frame, _ = simulated
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScalingFitWarning)
        fit = fit_scaling_law(frame, "sim", checkpoints=3, random_seed=6, **SMALL)
    assert fit.config.checkpoints == 3 and fit.config.noise_window == 5
    assert (fit.targets["n_checkpoints"] == 3).all() and (fit.points["n_checkpoints"] == 3).all()
    point = fit_ladder_point(frame, "sim", checkpoints=3).predictions.set_index("target")
    table = fit.predictions().set_index("target")
    np.testing.assert_allclose(table["point_pred"], point.loc[table.index, "predicted"], rtol=1e-12)
    np.testing.assert_allclose(table["observed"], point.loc[table.index, "actual"], rtol=1e-12)
    # the targets' predictive averages 3 checkpoints: its noise term is sigma / sqrt(3)
    pred, post = fit.idata.predictions, fit.idata.posterior
    expected = np.sqrt(post["tau_acc"] ** 2 + post["sigma_acc"] ** 2 / 3)
    np.testing.assert_allclose(pred["acc_scale"].sel(target="peteish7"), expected, rtol=1e-12)


def test_bad_input_is_refused_before_sampling(simulated):
    from snrstat.schema import DataError

    frame, _ = simulated
    with pytest.raises(DataError, match="nope"):
        fit_scaling_law(frame, "nope", **SMALL)
    no_bpb = frame.loc[frame["metric"] != "bpb"]
    with pytest.raises(DataError, match="bpb"):
        fit_scaling_law(no_bpb, "sim", **SMALL)
    one_size = [(m, "1B", "0") for m in MULTIPLIERS]
    with pytest.raises(DataError, match="1 size"):
        fit_scaling_law(frame, "sim", train_runs=one_size, **SMALL)
    with pytest.raises(DataError, match="9B-1xC"):
        fit_scaling_law(frame, "sim", train_runs=["9B-1xC"], **SMALL)
    with pytest.raises(DataError, match="checkpoints"):
        fit_scaling_law(frame, "sim", checkpoints=0, **SMALL)
    with pytest.raises(ValueError, match="sampler"):
        fit_scaling_law(frame, "sim", sampler="hmc", **SMALL)
    with pytest.raises(DataError, match="at least 3 sizes"):
        leave_one_size_out(frame, "sim", train_runs=[(m, s, "0") for s in ("1B", "3B") for m in MULTIPLIERS])
