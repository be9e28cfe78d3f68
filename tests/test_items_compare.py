import numpy as np
import pytest
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

from snrstat.items.compare import clustered_se, compare_all_frequentist, holm, mcnemar_exact


def test_mcnemar_matches_statsmodels():
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 2, 80), rng.integers(0, 2, 80)
    table = [[np.sum((a == 1) & (b == 1)), np.sum((a == 1) & (b == 0))],
             [np.sum((a == 0) & (b == 1)), np.sum((a == 0) & (b == 0))]]
    assert mcnemar_exact(a, b)["p_value"] == pytest.approx(mcnemar(table, exact=True).pvalue)


def test_holm_matches_statsmodels():
    p = np.random.default_rng(2).uniform(0, 0.2, 15)
    np.testing.assert_allclose(holm(p), multipletests(p, method="holm")[1])


def test_clustered_se_matches_ols_cluster_robust():
    import statsmodels.api as sm

    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(12), 25)
    shift = rng.normal(0, 0.3, 12)[g]
    a = (rng.random(300) < 0.5 + shift.clip(-0.4, 0.4)).astype(float)
    b = (rng.random(300) < 0.45 + shift.clip(-0.4, 0.4)).astype(float)
    out = clustered_se(a, b, g)
    ols = sm.OLS(a - b, np.ones(300)).fit(cov_type="cluster", cov_kwds={"groups": g, "use_correction": True})
    # CR1: G/(G-1) * (n-1)/(n-k) with k = 1 regressor is G/(G-1), as ours
    assert out["se_clustered"] == pytest.approx(float(ols.bse[0]), rel=1e-6)
    assert out["se"] == pytest.approx(np.std(a - b, ddof=1) / np.sqrt(300))
    assert out["n_clusters"] == 12


def test_all_pairs_with_holm():
    rng = np.random.default_rng(4)
    p = np.array([0.3, 0.32, 0.6])
    m = (rng.random((3, 400)) < p[:, None]).astype(float)
    m[0, :10] = np.nan
    out = compare_all_frequentist(m, ["a", "b", "c"], n_boot=500)
    assert len(out) == 3 and out.loc[0, "n_items"] == 390
    assert (out["mcnemar_p_holm"] >= out["mcnemar_p"]).all()
    assert out.set_index(["a", "b"]).loc[("a", "c"), "resolved"]
    assert not out.set_index(["a", "b"]).loc[("a", "b"), "resolved"]
