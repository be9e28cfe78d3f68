import numpy as np
import pandas as pd
import pytest
from scipy.stats import multivariate_normal

from snrstat.decision import decision_accuracy_from_fits, fit_two_scales, two_scale_posterior
from snrstat.decision.calibration import simulate_records, true_decision_accuracy
from snrstat.decision.two_scales import _Model, _Scale
from snrstat.schema import DataError

MODELS = [f"m{i}" for i in range(4)]


def windows(seed=0):
    """Two scales of four models; two models have two runs at the small scale."""
    rng = np.random.default_rng(seed)

    def records(runs_of):
        rows = []
        for i, m in enumerate(MODELS):
            for r in range(runs_of[i]):
                for _ in range(3 + r):
                    rows.append({"unit": m, "run": f"{m}r{r}", "value": rng.normal(0.5 + 0.05 * i, 0.02)})
        return pd.DataFrame(rows)

    return records([2, 1, 1, 2]), records([1, 1, 1, 1])


def dense_log_marginal(ws, wt, model, x):
    """log p(y | hyperparameters), mu integrated under a flat prior, from the full covariance."""
    sigma, sc2, sr2 = (a[0] for a in model.unpack(x[None]))
    rows = [(0, r) for r in ws.itertuples()] + [(1, r) for r in wt.itertuples()]
    n = len(rows)
    cov = np.zeros((n, n))
    design = np.zeros((n, 2))
    y = np.array([r.value for _, r in rows])
    for a, (sa, ra) in enumerate(rows):
        design[a, sa] = 1
        for b, (sb, rb) in enumerate(rows):
            cov[a, b] += sigma[sa, sb] * (ra.unit == rb.unit)
            cov[a, b] += sr2[sa] * (sa == sb and ra.run == rb.run)
            cov[a, b] += sc2[sa] * (a == b)
    inv = np.linalg.inv(cov)
    info = design.T @ inv @ design
    mu = np.linalg.solve(info, design.T @ inv @ y)
    return multivariate_normal(design @ mu, cov).logpdf(y) + np.log(2 * np.pi) - 0.5 * np.linalg.slogdet(info)[1]


def test_collapsed_likelihood_matches_the_dense_normal():
    ws, wt = windows()
    model = _Model([_Scale.from_window(ws, MODELS, "small"), _Scale.from_window(wt, MODELS, "target")], 4)
    assert model.names == ["sigma_model_small", "sigma_model_target", "rho", "sigma_ckpt_small",
                           "sigma_run_small", "sigma_ckpt_target"]
    xs = np.array([[np.log(0.05), np.log(0.04), 0.5, np.log(0.02), np.log(0.01), np.log(0.02)],
                   [np.log(0.08), np.log(0.02), -0.3, np.log(0.03), np.log(0.005), np.log(0.025)],
                   [np.log(0.01), np.log(0.1), 1.5, np.log(0.015), np.log(0.03), np.log(0.01)]])
    mine = model.collapse(xs)[0]
    dense = [dense_log_marginal(ws, wt, model, x) for x in xs]
    np.testing.assert_allclose(np.diff(mine), np.diff(dense), rtol=1e-9)


def test_recovers_the_correlation_and_the_decision_accuracy():
    rng = np.random.default_rng(1)
    n = 20
    q, z = rng.standard_normal(n), rng.standard_normal(n)
    small, target = 0.5 + 0.03 * (0.9 * q + np.sqrt(1 - 0.81) * z), 0.6 + 0.05 * q
    rs = simulate_records(rng, small, runs=1, last_n=5, sigma_run=0.0, sigma_ckpt=0.01)
    rt = simulate_records(rng, target, runs=1, last_n=5, sigma_run=0.0, sigma_ckpt=0.01)
    fit = two_scale_posterior(rs, rt, warmup=400, steps=800, thin=8, random_seed=2)
    assert fit.warnings == []
    summ = fit.summary()
    realised = np.corrcoef(small, target)[0, 1]  # 0.58 for this draw of 20 models
    assert summ.loc["rho", "lo"] < realised < summ.loc["rho", "hi"] and summ.loc["rho", "lo"] > 0
    assert summ.loc["sigma_ckpt[small]", "lo"] < 0.01 < summ.loc["sigma_ckpt[small]", "hi"]
    res = decision_accuracy_from_fits(fit.small, fit.target)
    da = res.summary()
    truth = true_decision_accuracy(small, target)
    assert da.lo <= truth <= da.hi
    assert res.accuracy.sizes == {"chain": 4, "draw": 100 * 32}
    # views behave like single-scale fits
    assert fit.small.draws("sigma_ckpt").dims == ("chain", "draw")
    with pytest.raises(KeyError, match="not identified"):
        fit.small.draws("sigma_run")
    assert any("one run per model" in n for n in fit.notes)


def test_from_a_tidy_frame_with_model_checks():
    rng = np.random.default_rng(3)
    rows = []
    for size, shift in (("150M", 0.0), ("1B", 0.1)):
        for i, m in enumerate("abcd"):
            for seed in ("0", "1"):
                run_effect = rng.normal(0, 0.01)
                for step in range(1, 7):
                    rows.append({"task": "qa", "metric": "acc", "model": m, "size": size, "seed": seed, "step": step,
                                 "value": 0.4 + 0.05 * i + shift + run_effect + rng.normal(0, 0.005)})
    rows.append({"task": "qa", "metric": "acc", "model": "e", "size": "1B", "seed": "0", "step": 1, "value": 0.5})
    frame = pd.DataFrame(rows)
    fit = fit_two_scales(frame, task="qa", small="150M", target="1B", warmup=300, steps=600, thin=6, random_seed=1)
    assert fit.posterior["model_mean_small"]["model"].values.tolist() == list("abcd")  # e: only at 1B
    assert fit.has_run == {"small": True, "target": True}
    assert fit.small.draws("sigma_run").dims == ("chain", "draw")
    assert fit.small.point_scores.index.tolist() == list("abcd")
    with pytest.raises(DataError, match=r"model\(s\) \['e'\] have no records at size '150M'"):
        fit_two_scales(frame, task="qa", small="150M", target="1B", models=list("abcde"))
    with pytest.raises(DataError, match="walkers must be even"):
        fit_two_scales(frame, task="qa", small="150M", target="1B", walkers=7)


def test_saved_and_loaded(tmp_path):
    import snrstat

    rng = np.random.default_rng(4)
    rs = pd.DataFrame({"unit": np.repeat(list("abcd"), 6), "run": np.repeat(list("abcd"), 6),
                       "value": np.repeat([0.3, 0.35, 0.4, 0.45], 6) + rng.normal(0, 0.01, 24),
                       "step": np.tile(np.arange(6), 4)})
    rt = rs.assign(value=rs["value"] * 1.5 + rng.normal(0, 0.01, 24))
    fit = two_scale_posterior(rs, rt, warmup=200, steps=400, thin=8, random_seed=3)
    assert list(fit.summary().columns) == ["median", "lo", "hi", "point", "r_hat", "ess_bulk", "ess_tail"]
    back = snrstat.load_fit(fit.save(tmp_path / "joint"))
    pd.testing.assert_frame_equal(back.summary(), fit.summary())
    assert back.diagnostics.to_dict() == fit.diagnostics.to_dict()
    pd.testing.assert_series_equal(back.small.point_scores, fit.small.point_scores)
