"""Item model: run and checkpoint terms, the command line, and the leave-models-out anchor check."""

import json

import numpy as np
import pytest

from snrstat.cli import main
from snrstat.inference import SamplerSettings
from snrstat.items import fit_items
from snrstat.items.anchors import anchor_summary, check_anchors
from snrstat.items.simulate import simulate_items

pytestmark = pytest.mark.slow
SETTINGS = SamplerSettings(draws=300, tune=300, chains=2, random_seed=2)


def test_training_terms_separate_item_sampling_from_training_noise():
    frame, truth = simulate_items(n_models=3, n_items=80, n_categories=2, runs_per_model=2, ckpts_per_run=2, seed=5)
    fit = fit_items(frame, method="nuts", interaction=False, settings=SETTINGS)
    assert fit.spec.run and fit.spec.ckpt and not fit.spec.dropped
    assert len(fit.config["respondents"]) == 12 and len(fit.config["runs"]) == 6
    shares = fit.variance_shares()
    assert np.isfinite(shares.loc[["run", "ckpt"], "share"]).all()
    assert ((shares["share"] > 0) & (shares["share"] < 1)).all()
    comps = fit.variance_components_draws()
    total = sum(comps.values())
    np.testing.assert_allclose(sum(v / total for v in comps.values()).values, 1.0)  # per draw and model
    s = fit.summary()
    assert {"sigma_run", "sigma_ckpt"} <= set(s.index)


def test_cli_items_json(tmp_path, capsys):
    frame, _ = simulate_items(n_models=4, n_items=100, n_categories=2, n_options=4, seed=8)
    path = tmp_path / "items.csv"
    frame.to_csv(path, index=False)
    rc = main(["items", "--data", str(path), "--json", "--options", "4", "--method", "nuts", "--draws", "200",
               "--tune", "200", "--chains", "2", "--anchors", "10", "--random-seed", "3"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["scores"]) == 4 and out["orderings"]["pairs"] == 6
    assert out["frequentist"]["pairs"] == 6 and len(out["anchors"]) == 10
    assert {r["source"] for r in out["variance_shares"]} == {"item", "answer", "run", "ckpt"}
    assert out["items_needed"]["items_median"] > 0
    assert main(["items", "--data", str(path), "--models", "nope"]) == 2


@pytest.mark.heavy
def test_anchor_check_leaves_models_out():
    frame, _ = simulate_items(n_models=6, n_items=150, n_categories=2, n_options=4, seed=9)
    chk = check_anchors(frame, k=30, folds=2, fit_kwargs=dict(n_options=4, interaction=False, method="nuts",
                                                             settings=SamplerSettings(draws=200, tune=300, chains=2)),
                        max_draws=100, n_importance=500)
    assert set(chk["method"]) == {"anchors (item model)", "random (item model)", "random (subset mean)"}
    assert len(chk) == 18 and (chk["k"] == 30).all()
    summ = anchor_summary(chk)
    assert (summ["coverage"] >= 0.5).all() and (summ["mae"] < 0.15).all()


def test_report_section_on_item_level_data():
    from types import SimpleNamespace

    from snrstat.report.build import Settings
    from snrstat.report.items_section import items

    frame, _ = simulate_items(n_models=4, n_items=120, n_categories=2, n_options=4, seed=12)
    fits = []
    ctx = SimpleNamespace(frame=frame, name="sim", settings=Settings(fast=True),
                          record_fits=lambda *a: fits.append(a))
    section = items(ctx)
    assert section.title.startswith("Item level")
    titles = [t for t, _ in section.tables]
    assert any("Scores" in t for t in titles) and any("Items a paired comparison needs" in t for t in titles)
    assert len(section.figures) == 2 and len(fits) == 1
    assert items(SimpleNamespace(frame=frame.drop(columns="item"), name="x", settings=Settings())) is None


def test_one_agent_with_repeated_trials():
    """tau-bench: one model, 4 trials per task. Repeats average the answer noise, not the items."""
    import snrstat

    fit = fit_items(snrstat.load_dataset("tau-bench"), method="nuts", settings=SETTINGS)
    assert fit.models == ["gpt-4o"] and fit.repeats == 4
    assert fit.config["n_items"]["gpt-4o"] == 50 and fit.config["n_answers"]["gpt-4o"] == 200
    assert fit.diagnostics.divergences == 0
    one, four = fit.variance_shares(repeats=1), fit.variance_shares()
    assert four.loc["answer", "share"] < one.loc["answer", "share"]
    np.testing.assert_allclose(four.loc["answer", "sd"], one.loc["answer", "sd"] / 2, rtol=0.05)
    assert fit.orderings()[0].empty
    s = fit.scores()
    assert s.loc["gpt-4o", "items_lo"] < 0.42 < s.loc["gpt-4o", "items_hi"]
