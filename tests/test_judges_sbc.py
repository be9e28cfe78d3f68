"""A reduced simulation-based calibration of the judge model (the full run, 100 data sets, is
validation/sbc_judges.py with results in validation/results/judges_sbc.md)."""

import numpy as np
import pytest

from snrstat.judges.calibration import coverage_table, rank_uniformity, run_sbc


@pytest.mark.slow
def test_reduced_sbc_covers():
    res = run_sbc(10, draws=300, tune=300, chains=2, random_seed=7)
    assert res["dataset"].nunique() == 10
    cov = coverage_table(res)
    # pooled over all quantities: 10 data sets x ~30 quantities; a broken model misses badly
    assert 0.8 <= res["cover90"].mean() <= 0.97
    assert 0.38 <= res["cover50"].mean() <= 0.62
    assert (cov["cover90"] >= 0.5).all()
    assert np.isfinite(rank_uniformity(res)["chi2"]).all()
