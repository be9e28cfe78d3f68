"""The judge model end to end on a small simulated table: fit, quantities, counts, planning, save/load.

One module-scoped fit (2 judges, 30 pairs, 2 x 300 draws) shared by every test; the fit
dominates the file's time, so the module is marked slow.
"""

import numpy as np
import pytest

import snrstat
from snrstat.judges import fit_judges
from snrstat.judges.calibration import true_values
from snrstat.judges.simulate import draw_parameters, simulate_judgments
from snrstat.judges.spec import judge_design

pytestmark = pytest.mark.slow

CATEGORIES = range(5)


@pytest.fixture(scope="module")
def sim():
    rng = np.random.default_rng(5)
    # cells sorted by (judge, strategy): J1|Rating, J1|Vanilla, J2|Vanilla
    params = draw_parameters(2, [(0, "rating"), (0, "pairwise"), (1, "pairwise")], 2, 5, rng)
    params.update(k=np.array([1.5, 2.0, 0.33]), beta=np.array([0.0, 0.1, 2.0]), tau=np.array([0.3, 0.5]),
                  mu_subset=np.array([[1.5, 1.0], [1.5, 1.0]]), sigma_subset=np.array([0.7, 0.7]))
    frame, truth = simulate_judgments(30, judges=("J1", "J2"), n_subsets=2, n_categories=5, params=params,
                                      random_seed=11)
    fit = fit_judges(frame, draws=300, tune=300, chains=2, random_seed=3, categories=CATEGORIES)
    return frame, truth, fit


def test_summary_rows_and_points(sim):
    frame, _, fit = sim
    s = fit.summary()
    assert list(s.columns) == ["median", "lo", "hi", "point", "r_hat", "ess_bulk", "ess_tail"]
    for q in ("accuracy", "flip", "first", "snr", "k"):
        for cell in ("J1|Vanilla", "J2|Vanilla", "J1|Rating"):
            assert f"{q}[{cell}]" in s.index
    assert "beta[J2|Vanilla]" in s.index and "beta[J1|Rating]" not in s.index
    assert "accuracy_diff[J1|Rating vs Vanilla]" in s.index
    counts = snrstat.judge_counts(frame)
    assert s.loc["flip[J2|Vanilla]", "point"] == pytest.approx(counts.loc[("J2", "Vanilla"), "flip_rate"])
    assert fit.diagnostics is not None and fit.diagnostics.divergences == 0


def test_recovers_a_sharp_and_a_biased_judge(sim):
    _, truth, fit = sim
    s = fit.summary()
    assert s.loc["accuracy[J1|Vanilla]", "median"] > s.loc["accuracy[J2|Vanilla]", "hi"]
    assert s.loc["flip[J2|Vanilla]", "lo"] > s.loc["flip[J1|Vanilla]", "hi"]
    assert s.loc["beta[J2|Vanilla]", "lo"] > 0.5 and s.loc["first[J2|Vanilla]", "lo"] > 0.55
    truths = true_values(truth, judge_design(sim[0], categories=CATEGORIES))
    inside = [s.loc[k, "lo"] <= v <= s.loc[k, "hi"] for k, v in truths.items() if k in s.index]
    assert np.mean(inside) >= 0.7


def test_counts_agree_with_the_model(sim):
    cmp = sim[2].compare_counts()
    assert set(cmp["quantity"]) == {"accuracy", "flip", "first"}
    assert (cmp["difference"].abs() < 0.15).all()


def test_count_check_is_quiet_on_its_own_data_and_names_a_cell_that_does_not_fit(sim):
    from snrstat.judges.fit import cell_items, count_checks

    fit = sim[2]
    assert not [c for c in fit.diagnostics.checks if "raw" in c]
    pairs = cell_items(judge_design(sim[0], categories=CATEGORIES)).sum(axis=1)
    fit.point["flip[J1|Vanilla]"], saved = 0.9, fit.point["flip[J1|Vanilla]"]
    try:
        found = count_checks(fit, pairs)
    finally:
        fit.point["flip[J1|Vanilla]"] = saved
    assert len(found) == 1 and "raw flip of 1 of 3" in found[0] and "J1|Vanilla (count 0.900" in found[0]


def test_mode_comparison_and_cell_table(sim):
    fit = sim[2]
    mc = fit.mode_comparison()
    assert mc[["judge", "rating", "pairwise"]].values.tolist() == [["J1", "Rating", "Vanilla"]]
    assert 0 <= mc.loc[0, "p_rating_better_accuracy"] <= 1
    cells = fit.cell_table()
    assert cells.loc[("J1", "Rating"), "mode"] == "rating" and np.isnan(cells.loc[("J1", "Rating"), "beta"])


def test_planning(sim):
    fit = sim[2]
    plan = fit.items_needed("J1|Vanilla", gap=(0.25, 1.0))
    assert plan.loc[0, "items"] > plan.loc[1, "items"] > 0
    biased = fit.items_needed("J2|Vanilla", gap=(0.5,))
    # averaging both orders cancels a strong position bias: fewer verdicts than one random order
    assert biased.loc[0, "gain_verdicts"] > 1.0
    two = fit.items_needed("J2|Vanilla", gap=(0.5,), judges=2)
    assert two.loc[0, "items"] < biased.loc[0, "items"]
    pw = fit.power("J1|Vanilla", [10, 100], gap=0.5)
    assert pw.loc[0, "power"] < pw.loc[1, "power"]
    with pytest.raises(snrstat.DataError, match="rating strategy"):
        fit.items_needed("J1|Rating")


def test_save_and_load(sim, tmp_path):
    fit = sim[2]
    path = fit.save(tmp_path / "judges")
    back = snrstat.load_fit(path)
    assert type(back).__name__ == "JudgeFit" and back.config == fit.config
    assert back.summary().equals(fit.summary())
    assert back.items_needed("J1|Vanilla", gap=(0.5,)).equals(fit.items_needed("J1|Vanilla", gap=(0.5,)))


def test_strategy_shift_basis_and_terms():
    from snrstat.judges.model import SHIFT_MIN_PAIRS, model_terms, shift_basis

    small, _ = simulate_judgments(30, judges=("J1", "J2"), pairwise=("Vanilla", "CoT"), rating=("Rating",), random_seed=1)
    design = judge_design(small)
    b = shift_basis(design)
    judge_of = np.array([j for j, _ in design.cells])
    assert b.shape == (len(design.cells), len(design.cells) - len(design.judges))
    assert np.allclose(b.T @ b, np.eye(b.shape[1]))                       # orthonormal
    for j in design.judges:
        assert np.allclose(b[judge_of == j].sum(axis=0), 0.0)              # zero-sum within each judge
    # 30 pairs per cell: no per-strategy mean; one rating call per pair: no call offset
    assert model_terms(design) == {"shift": False, "call_offsets": False}
    big, _ = simulate_judgments(SHIFT_MIN_PAIRS, judges=("J1", "J2"), rating=("Rating", "Rating_NoRules"),
                                rating_judges=("J1", "J2"), random_seed=1)
    assert model_terms(judge_design(big)) == {"shift": True, "call_offsets": True}
    assert model_terms(judge_design(big), snrstat.judges.spec.JudgePriors(shift_sd=0))["shift"] is False


def test_agreement_check_is_quiet_on_its_own_data_and_flags_pairs_in_two_clumps(sim, monkeypatch):
    """The check of the normal population of pairs: the model's own verdicts pass; verdicts where
    half the pairs are unanimous for gold and half are coin flips (two clumps no normal makes)
    are flagged, naming the subset."""
    import snrstat.judges.fit as F

    frame, _, fit = sim
    monkeypatch.setattr(F, "AGREEMENT_MIN_PAIRS", 10)    # 15 pairs per subset here
    design = judge_design(frame, categories=CATEGORIES)
    assert F.agreement_checks(fit, design, random_seed=0) == []
    rng = np.random.default_rng(0)
    gold_first = design.item_sign[design.pw_item] > 0
    easy = np.isin(design.pw_item, np.flatnonzero(np.arange(len(design.items)) % 2 == 0))
    right = np.where(easy, True, rng.random(design.pw_y.size) < 0.5)
    design.pw_y = np.where(right == gold_first, 1, 0)
    found = F.agreement_checks(fit, design, random_seed=0)
    assert len(found) == 1 and "s0 (p 0.0" in found[0] and "all for gold" in found[0]


def test_a_saved_posterior_is_finished_again_to_the_same_fit(sim, tmp_path):
    """finish_judge_fit (the steps after sampling) turns the posterior as sampled into the same
    fit, so a long fit whose post-processing failed need not be sampled again."""
    import arviz as az

    from snrstat.inference import SamplerSettings
    from snrstat.judges.fit import CELL_QUANTITIES, COMPARISONS, finish_judge_fit
    from snrstat.judges.spec import JudgePriors, select_judgments

    frame, _, fit = sim
    raw = fit.idata.copy()
    raw.posterior = raw.posterior.drop_vars([v for v in CELL_QUANTITIES + COMPARISONS if v in raw.posterior])
    raw.to_netcdf(tmp_path / "raw.nc")
    rows = select_judgments(frame, repeats="auto")
    design = judge_design(rows, repeats="all", categories=CATEGORIES)
    again = finish_judge_fit(az.from_netcdf(tmp_path / "raw.nc"), rows, design, priors=JudgePriors(),
                             settings=SamplerSettings.build(None, draws=300, tune=300, chains=2, random_seed=3))
    a, b = fit.summary(), again.summary()
    assert list(a.index) == list(b.index)
    np.testing.assert_allclose(b[["median", "lo", "hi"]].to_numpy(), a[["median", "lo", "hi"]].to_numpy(), rtol=1e-12)
    assert again.diagnostics.checks == fit.diagnostics.checks


def test_a_fit_sampled_in_parts_is_joined_and_finished_over_every_chain(sim, tmp_path):
    """The full-LLMBar route: runs with other seeds saved as sampled, their chains joined
    (merge_chains) and finished once; a run of another selection is refused."""
    import arviz as az

    from snrstat.inference import SamplerSettings, merge_chains, write_idata
    from snrstat.judges.fit import finish_judge_fit, judge_selection, sample_judge_posterior
    from snrstat.judges.spec import JudgePriors
    from snrstat.schema import DataError

    frame, _, fit = sim
    rows, design = judge_selection(frame, categories=CATEGORIES)
    parts = []
    for seed in (4, 5):
        settings = SamplerSettings.build(None, draws=300, tune=300, chains=2, random_seed=seed)
        path = write_idata(sample_judge_posterior(design, JudgePriors(), settings), tmp_path / f"raw{seed}.nc")
        parts.append(az.from_netcdf(path))
    joined = finish_judge_fit(merge_chains(*parts), rows, design, priors=JudgePriors(),
                              settings=SamplerSettings.build(None, draws=300, tune=300, chains=4, random_seed=4))
    assert joined.idata.posterior.sizes["chain"] == 4
    r_hat = float(az.rhat(joined.idata, var_names=["accuracy"])["accuracy"].sel(cell="J2|Vanilla"))
    assert joined.summary().loc["accuracy[J2|Vanilla]", "r_hat"] == pytest.approx(r_hat, rel=1e-9)
    a, b = fit.summary()["median"], joined.summary()["median"]
    cells = [r for r in a.index if r.startswith(("accuracy[", "flip["))]
    np.testing.assert_allclose(b[cells], a[cells], atol=0.05)  # the same posterior, other draws
    # a run of another selection carries other data
    rows2, design2 = judge_selection(frame, judges=["J2"], categories=CATEGORIES)
    other = sample_judge_posterior(design2, JudgePriors(), SamplerSettings.build(None, draws=300, tune=300, chains=2,
                                                                                  random_seed=6))
    with pytest.raises(DataError):
        merge_chains(parts[0], other)
