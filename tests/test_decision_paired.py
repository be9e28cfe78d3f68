import numpy as np
import pandas as pd
import pytest
from scipy import special
from statsmodels.stats.contingency_tables import mcnemar

from snrstat.decision import mcnemar_exact, paired_bootstrap, paired_comparison
from snrstat.decision.item_comparison import paired_items, population_difference
from snrstat.schema import DataError


def items(n=60, mu=(1.0, -0.3), seed=0):
    rng = np.random.default_rng(seed)
    u = rng.normal(0, 1.5, n)
    passage = np.repeat(np.arange(n // 3), 3)
    rows = []
    for model, m in zip(("A", "B"), mu):
        y = rng.random(n) < special.expit(m + u)
        for i in range(n):
            rows.append({"task": "qa", "subtask": "s1" if i % 2 else "s2", "metric": "acc", "model": model,
                         "item": str(i // 2), "value": float(y[i]), "passage": f"p{passage[i]}"})
    return pd.DataFrame(rows)


def test_items_are_paired_by_subtask_and_id():
    pairs = paired_items(items(), "A", "B", cluster="passage")
    assert len(pairs) == 60 and pairs["item"].is_unique  # ids repeat across subtasks
    assert set(pairs.columns) == {"item", "a", "b", "cluster"}
    frame = items()
    with pytest.raises(DataError, match="have no item-level records"):
        paired_items(frame, "A", "C")
    with pytest.raises(DataError, match="0/1 per item"):
        paired_items(frame.assign(value=0.5), "A", "B")
    twice = pd.concat([frame, frame.assign(step=5)])
    with pytest.raises(DataError, match="several records for item"):
        paired_items(twice, "A", "B")
    assert len(paired_items(twice, "A", "B", step=5)) == 60
    with pytest.raises(DataError, match="no 'item' column"):
        paired_items(frame.drop(columns="item"), "A", "B")


def test_mcnemar_matches_statsmodels():
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 2, 80), rng.integers(0, 2, 80)
    table = [[np.sum((a == 1) & (b == 1)), np.sum((a == 1) & (b == 0))],
             [np.sum((a == 0) & (b == 1)), np.sum((a == 0) & (b == 0))]]
    ours = mcnemar_exact(a, b)
    assert ours["p_value"] == pytest.approx(mcnemar(table, exact=True).pvalue)
    assert ours["only_a"] == table[0][1] and ours["only_b"] == table[1][0]
    assert mcnemar_exact([1, 0], [1, 0])["p_value"] == 1.0


def test_paired_bootstrap_is_seeded_and_centred():
    rng = np.random.default_rng(2)
    a, b = rng.integers(0, 2, 200), rng.integers(0, 2, 200)
    boot = paired_bootstrap(a, b, n_boot=4000, seed=3)
    np.testing.assert_array_equal(boot, paired_bootstrap(a, b, n_boot=4000, seed=3))
    assert boot.mean() == pytest.approx(a.mean() - b.mean(), abs=0.005)
    sd = np.std(a - b) / np.sqrt(200)
    assert boot.std() == pytest.approx(sd, rel=0.1)
    clustered = paired_bootstrap(a, b, clusters=np.repeat(np.arange(20), 10), n_boot=4000, seed=3)
    assert clustered.mean() == pytest.approx(a.mean() - b.mean(), abs=0.01)


def test_population_difference_quadrature():
    assert population_difference(1.0, 0.0, 0.0) == pytest.approx(special.expit(1.0) - 0.5)
    rng = np.random.default_rng(4)
    v = rng.normal(0, 2.0, 1_000_000)
    mc = np.mean(special.expit(0.7 + v) - special.expit(-0.2 + v))
    assert population_difference(0.7, -0.2, 2.0) == pytest.approx(mc, abs=1e-3)


def test_paired_comparison_three_views_agree():
    res = paired_comparison(items(), "A", "B", cluster="passage", draws=300, tune=300, chains=2, seed=1, n_boot=2000)
    summ = res.summary()
    assert res.n_items == 60 and res.n_clusters == 20
    bayes = summ.loc["bayes (item model)"]
    assert bayes["lo"] < res.observed_diff < bayes["hi"]
    assert res.observed_diff > 0 and res.p_a_better > 0.9
    boot = summ.loc["paired bootstrap"]
    assert boot["lo"] < res.observed_diff < boot["hi"]
    assert 0 <= summ.loc["McNemar exact", "p_value"] <= 1
    assert res.diff.dims == ("chain", "draw")
