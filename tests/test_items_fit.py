"""The item model fitted with NUTS on a small simulated benchmark (one shared fit)."""

import warnings

import numpy as np
import pandas as pd
import pytest

import snrstat
from snrstat.inference import SUMMARY_COLUMNS, SamplerSettings, load_fit_file
from snrstat.items import TermDroppedWarning, fit_items, item_design, item_spec, paired_comparison
from snrstat.items.anchors import predict_full_score, select_anchors, subset_mean_interval
from snrstat.items.simulate import simulate_items
from snrstat.schema import DataError

SETTINGS = SamplerSettings(draws=300, tune=300, chains=2, random_seed=1)


@pytest.fixture(scope="module")
def sim():
    frame, truth = simulate_items(n_models=5, n_items=160, n_categories=2, n_options=4, seed=11)
    return frame, truth


@pytest.fixture(scope="module")
def fit(sim):
    frame, _ = sim
    return fit_items(frame, n_options=4, interaction=False, method="nuts", settings=SETTINGS)


def test_design_and_spec(sim):
    frame, _ = sim
    d = item_design(frame)
    assert d.fingerprint()["cells"] == 5 * 160 and len(d.categories) == 2
    np.testing.assert_allclose(d.observed_scores().to_numpy(), frame.groupby("model")["value"].mean().to_numpy())
    with pytest.warns(TermDroppedWarning, match="cannot be told apart"):
        spec = item_spec(d, training=True)
    assert not spec.run and not spec.ckpt and spec.interaction
    assert not spec.centred_interaction  # 80 answers per (model, category): non-centred
    assert type(spec).from_dict(spec.to_dict()) == spec
    assert "0.25 + 0.75" in str(item_spec(d, n_options=4))
    with pytest.raises(DataError, match="n_options"):
        item_spec(d, n_options=1)
    with pytest.raises(DataError, match="0/1 per item"):
        item_design(frame.assign(value=0.5))
    with pytest.raises(DataError, match="no 'item' column"):
        item_design(frame.drop(columns="item"))
    assert item_design(frame[frame["model"] == "m00"]).fingerprint()["models"] == 1  # one agent is allowed
    with pytest.raises(DataError, match="no records"):
        item_design(frame[frame["model"] == "nobody"])


def test_summary_and_truth(fit, sim):
    _, truth = sim
    s = fit.summary()
    assert list(s.columns) == list(SUMMARY_COLUMNS)
    obs = fit.config["observed"]
    for m in fit.models:
        assert s.loc[f"score_items[{m}]", "point"] == pytest.approx(obs[m])
    theta = fit.interval("theta", 0.99)
    inside = ((theta.sel(ci_bound="lower") <= truth["theta"]) & (truth["theta"] <= theta.sel(ci_bound="upper"))).values
    assert inside.sum() >= 4
    assert fit.diagnostics.divergences == 0 and fit.diagnostics.max_r_hat < 1.05


def test_scores_orderings_and_design_answers(fit):
    sc = fit.scores()
    assert (sc["population_lo"] <= sc["population_median"]).all()
    assert (sc["items_hi"] - sc["items_lo"] < sc["population_hi"] - sc["population_lo"] + 0.02).all()
    ps = fit.prob_superior()
    np.testing.assert_allclose((ps + ps.T).to_numpy(), 1 - np.eye(5), atol=1e-12)
    table, joint = fit.orderings()
    assert len(table) == 10 and set(table["status"]) <= {"resolved", "tie", "unresolved"}
    assert joint >= 0.95 or (table["status"] != "resolved").all()
    shares = fit.variance_shares()
    assert shares.loc["item", "share"] + shares.loc["answer", "share"] == pytest.approx(1.0, abs=0.02)
    assert np.isnan(shares.loc["run", "share"])
    need = fit.items_needed(0.05)
    assert need["items_lo"] <= need["items_median"] <= need["items_hi"]
    assert fit.items_needed(0.02)["items_median"] > need["items_median"]
    items = fit.item_table()
    assert len(items) == 160 and items["information"].is_monotonic_decreasing


def test_save_and_load(fit, tmp_path):
    path = fit.save(tmp_path / "items")
    back = load_fit_file(path)
    assert type(back).__name__ == "ItemFit" and back.models == fit.models
    pd.testing.assert_frame_equal(back.scores(), fit.scores())


def test_anchor_subset_prediction(fit, sim):
    anchors = select_anchors(fit, 20)
    assert len(anchors) == 20 and len(set(anchors)) == 20
    cats = pd.Series([a.split("/")[0] for a in anchors]).value_counts()
    assert cats.min() >= 9  # spread over both categories
    assert select_anchors(fit, 20, method="random", seed=3) == select_anchors(fit, 20, method="random", seed=3)
    frame, _ = sim
    one = frame[frame["model"] == "m02"].assign(key=lambda f: f["subtask"] + "/" + f["item"]).set_index("key")["value"]
    pred = predict_full_score(fit, one.loc[anchors], max_draws=100, n_importance=500)
    assert pred["lo"] <= one.mean() <= pred["hi"]
    m, lo, hi = subset_mean_interval(one.loc[anchors].to_numpy(), len(one), 0.9)
    assert lo <= m <= hi


def test_paired_comparison_views_agree():
    rng = np.random.default_rng(0)
    n = 60
    u = rng.normal(0, 1.5, n)
    rows = []
    for model, mu in (("A", 1.0), ("B", -0.3)):
        y = rng.random(n) < 1 / (1 + np.exp(-(mu + u)))
        rows += [{"task": "qa", "metric": "acc", "model": model, "item": str(i), "value": float(y[i]),
                  "passage": f"p{i // 3}"} for i in range(n)]
    res = snrstat.paired_comparison(pd.DataFrame(rows), "A", "B", cluster="passage", draws=300, tune=300,
                                    chains=2, seed=1, n_boot=2000)
    summ = res.summary()
    assert res.n_items == 60 and res.n_clusters == 20
    assert summ.loc["bayes (item model)", "lo"] < res.observed_diff < summ.loc["bayes (item model)", "hi"]
    assert res.p_a_better > 0.9
    assert {"McNemar exact", "paired bootstrap", "normal, clustered SE"} <= set(summ.index)
    assert res.diff.dims == ("chain", "draw")
    assert res.fit.kind == "items"


def test_score_check_flags_a_misfitted_model():
    import xarray as xr

    from snrstat.items.design import ItemSpec
    from snrstat.items.fit import _score_check

    rng = np.random.default_rng(0)
    s = xr.DataArray(rng.normal([0.3, 0.5], 0.004, (2, 500, 2)), dims=("chain", "draw", "model"),
                     coords={"model": ["a", "b"]})
    n = np.array([12000, 12000])
    assert _score_check(s, pd.Series([0.301, 0.5], index=["a", "b"]), n, ItemSpec(guess=0.1)) == []
    msg = _score_check(s, pd.Series([0.28, 0.5], index=["a", "b"]), n, ItemSpec(guess=0.1))
    assert len(msg) == 1 and "1 of 2 models" in msg[0] and "guessing floor" in msg[0]
