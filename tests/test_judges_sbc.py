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


def test_terms_design_turns_on_the_optional_terms():
    """The "terms" calibration design must exercise the strategy shift and the rating-call offset:
    the fit's design has both, and the truths the coverage is judged against include them."""
    from snrstat.judges.calibration import DESIGNS, simulate_design, true_values
    from snrstat.judges.model import model_terms
    from snrstat.judges.spec import judge_design

    frame, truth = simulate_design(DESIGNS["terms"], 3)
    design = judge_design(frame, categories=range(DESIGNS["terms"]["n_categories"]))
    assert model_terms(design) == {"shift": True, "call_offsets": True}
    truths = true_values(truth, design)
    assert sum(k.startswith("shift[") for k in truths) == len(design.cells)
    assert "omega[J1]" in truths and truths["omega[J1]"] > 0
    # the basic design has neither term, in the fit or in the truth
    frame, truth = simulate_design(DESIGNS["basic"], 3)
    design = judge_design(frame, categories=range(DESIGNS["basic"]["n_categories"]))
    assert model_terms(design) == {"shift": False, "call_offsets": False}
    assert np.all(truth["shift"] == 0) and np.all(truth["omega"] == 0)


def test_stress_design_breaks_the_assumptions_it_names():
    """The "stress" design is what its coverage claim says: heavy-tailed gaps, unequal subsets,
    missing pairwise verdicts, a rating ceiling, fixed truths with k anchored like the model's."""
    from scipy import stats

    from snrstat.judges.calibration import DESIGNS, simulate_design, stress_parameters
    from snrstat.judges.simulate import simulate_judgments
    from snrstat.schema import DataError

    spec = DESIGNS["stress"]
    frame, truth = simulate_design(spec, 11)
    assert truth["k"].prod() == pytest.approx(1.0)            # geometric mean 1
    per_subset = frame.drop_duplicates("item")["subset"].value_counts()
    assert per_subset.to_dict() == {"s0": 42, "s1": 18}
    pairwise = frame[frame["strategy"] == "Vanilla"]
    assert 0.65 < len(pairwise) / (2 * 60 * 3) < 0.85          # about a quarter missing
    assert (pairwise.groupby(["judge", "item"]).size() == 1).any()   # some pairs in one order only
    scores = frame.loc[frame["strategy"] == "Rating", ["score_1", "score_2"]].to_numpy().ravel()
    assert (scores >= 3).mean() > 0.6                          # piled against the top
    # heavy tails: over many draws the gaps' excess kurtosis is well above the normal's 0
    _, heavy = simulate_judgments(4000, judges=("J1",), rating=(), n_subsets=1, gap_df=3.0, random_seed=2)
    _, normal = simulate_judgments(4000, judges=("J1",), rating=(), n_subsets=1, random_seed=2)
    assert stats.kurtosis(heavy["gap"]) > 2 and abs(stats.kurtosis(normal["gap"])) < 0.5
    for bad, message in ((dict(gap_df=2.0), "gap_df"), (dict(keep=0.0), "keep"),
                         (dict(subset_shares=(0.99, 0.01)), "subset_shares")):
        with pytest.raises(DataError, match=message):
            simulate_judgments(40, **bad)
