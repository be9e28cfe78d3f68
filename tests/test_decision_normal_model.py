import numpy as np
import pandas as pd
import pytest
from scipy.stats import multivariate_normal

from snrstat.decision import fit_normal_means, fit_window
from snrstat.decision.calibration import decision_coverage, simulate_records
from snrstat.decision.single_scale import _collapse, _Stats
from snrstat.schema import DataError


def nested_records(seed=1):
    """Six models; three with two runs; 3-4 checkpoints per run."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(0.5, 0.05, 6)
    unit, run, val = [], [], []
    for m in range(6):
        for r in range(2 if m < 3 else 1):
            b = rng.normal(0, 0.01)
            for _ in range(4 if r == 0 else 3):
                unit.append(f"m{m}")
                run.append(f"m{m}r{r}")
                val.append(theta[m] + b + rng.normal(0, 0.02))
    return np.array(unit), np.array(run), np.array(val)


def dense_log_marginal(unit, run, val, sm, sr, sc):
    """log p(y | sigmas) with mu integrated under a flat prior, from the full covariance."""
    same_unit = unit[:, None] == unit[None, :]
    same_run = run[:, None] == run[None, :]
    cov = sm**2 * same_unit + sr**2 * same_run + sc**2 * np.eye(len(val))
    inv = np.linalg.inv(cov)
    one = np.ones(len(val))
    mu = one @ inv @ val / (one @ inv @ one)
    return multivariate_normal(mu * one, cov).logpdf(val) + 0.5 * np.log(2 * np.pi) - 0.5 * np.log(one @ inv @ one)


def test_collapsed_likelihood_matches_the_dense_normal():
    unit, run, val = nested_records()
    stats = _Stats.from_records(unit, run, val)
    points = [(0.05, 0.01, 0.02), (0.1, 0.03, 0.015), (0.02, 0.002, 0.03)]
    mine = [_collapse(stats, np.array([a**2]), np.array([b**2]), np.array([c**2]))[0][0] for a, b, c in points]
    dense = [dense_log_marginal(unit, run, val, *p) for p in points]
    # equal up to a constant (terms in n dropped): compare differences
    np.testing.assert_allclose(np.diff(mine), np.diff(dense), rtol=1e-9)


def test_components_without_replication_are_dropped_with_a_note():
    rng = np.random.default_rng(0)
    rec = simulate_records(rng, np.linspace(0.4, 0.6, 4), runs=1, last_n=5, sigma_run=0.0, sigma_ckpt=0.01)
    fit = fit_window(rec, draws=200)
    assert "sigma_run" not in fit.posterior and "sigma_ckpt" in fit.posterior
    assert any("one run per model" in n for n in fit.notes)
    single = rec.groupby("run").tail(1)
    with pytest.raises(DataError, match="no replication"):
        fit_window(single)
    flat = rec.assign(value=rec.groupby("run")["value"].transform("mean"))
    with pytest.raises(DataError, match="checkpoint noise is 0"):
        fit_window(flat)
    with pytest.raises(DataError, match="at least two models"):
        fit_window(rec[rec["unit"] == "m00"])


def test_posterior_concentrates_on_the_truth_with_plenty_of_data():
    rng = np.random.default_rng(5)
    theta = np.array([0.40, 0.45, 0.50, 0.55])
    rec = simulate_records(rng, theta, runs=3, last_n=40, sigma_run=0.004, sigma_ckpt=0.01)
    fit = fit_window(rec, draws=2000, random_seed=1)
    summ = fit.summary()
    assert summ.loc["sigma_ckpt", "median"] == pytest.approx(0.01, rel=0.08)
    means = fit.draws("model_mean").mean(("chain", "draw")).values
    np.testing.assert_allclose(means, theta, atol=0.006)
    snr = fit.draws("snr").values
    mm = fit.draws("model_mean").values
    np.testing.assert_allclose(snr, (mm.max(-1) - mm.min(-1)) / fit.draws("sigma_ckpt").values)


def test_seeded_and_reproducible():
    unit, run, val = nested_records()
    rec = pd.DataFrame({"unit": unit, "run": run, "value": val})
    a = fit_window(rec, draws=100, random_seed=3).draws("model_mean").values
    b = fit_window(rec, draws=100, random_seed=3).draws("model_mean").values
    np.testing.assert_array_equal(a, b)


def test_fit_from_a_tidy_frame_picks_the_last_checkpoints():
    rows = []
    for m, base in (("x", 0.3), ("y", 0.5), ("z", 0.7)):
        for step in range(10):
            rows.append({"task": "t", "metric": "acc", "model": m, "size": "1B", "step": step,
                         "value": base + 0.01 * (step % 3) + (0.2 if step < 5 else 0.0)})
    frame = pd.DataFrame(rows)
    fit = fit_normal_means(frame, task="t", last_n=5, draws=200)
    assert set(fit.window["step"]) == {5, 6, 7, 8, 9}
    assert fit.point_scores.to_dict() == pytest.approx({"x": 0.30, "y": 0.50, "z": 0.70})  # step 9: 9 % 3 = 0
    with pytest.raises(DataError, match="several sizes"):
        fit_normal_means(pd.concat([frame, frame.assign(size="7B")]), task="t")
    with pytest.raises(DataError, match="metric 'bpb' not in column 'metric'"):
        fit_normal_means(frame, task="t", metric="bpb")


def test_intervals_cover_the_truth_at_the_nominal_rate():
    """A reduced calibration of the single-scale fit: 90% intervals of sigma_ckpt, SNR and model means."""
    cov = decision_coverage(150, n_models=8, draws=400, seed=4, model="independent").summary
    se = cov["mc_se"]
    for key in ("snr_coverage", "sigma_ckpt_coverage"):
        assert abs(cov[key] - 0.9) < 3.5 * se, (key, cov)
    assert abs(cov["model_mean_coverage"] - 0.9) < 0.04


def test_saved_and_loaded(tmp_path):
    import snrstat

    unit, run, val = nested_records()
    rec = pd.DataFrame({"unit": unit, "run": run, "value": val, "step": np.arange(len(unit))})
    fit = fit_window(rec, draws=300, random_seed=2)
    assert list(fit.summary().columns) == ["median", "lo", "hi", "point", "r_hat", "ess_bulk", "ess_tail"]
    back = snrstat.load_fit(fit.save(tmp_path / "means"))
    pd.testing.assert_frame_equal(back.summary(), fit.summary())
    pd.testing.assert_series_equal(back.point_scores, fit.point_scores)
    assert back.notes == fit.notes and back.diagnostics is None
