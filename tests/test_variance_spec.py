"""Record selection, identifiability, likelihood choice, simulation and REML (no sampling)."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

import snrstat
from snrstat.schema import DataError
from snrstat.variance import ComponentDroppedWarning, reml_components, simulate
from snrstat.variance.paper import per_run_snr, point_estimates
from snrstat.variance.records import select_records
from snrstat.variance.spec import build_design, dispersion


def design_of(frame, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        d = build_design(select_records(frame, last_n=kw.pop("last_n", None)), **kw)
    return d, [str(w.message) for w in caught if issubclass(w.category, ComponentDroppedWarning)]


def test_simulate_frame_and_truth():
    frame, truth = simulate(n_models=4, n_seeds=3, n_orders=2, n_ckpt=5, n_items=200, mu=0.4, sigma_model=0.5,
                            random_seed=1)
    assert len(frame) == 4 * 3 * 2 * 5
    assert frame.equals(snrstat.validate(frame))
    assert set(frame["seed"]) == {"0", "1", "2"} and set(frame["data_order"]) == {"0", "1"}
    assert np.allclose(frame["value"] * 200, np.round(frame["value"] * 200))  # counts / n_items
    a = truth["effects"]["model"]
    assert np.allclose(truth["model_means"].to_numpy(), expit(0.4 + a))
    m = truth["model_means"].to_numpy()
    assert truth["snr"] == pytest.approx((m.max() - m.min()) / truth["noise_sd"])
    assert truth["signal"] / truth["noise"] == pytest.approx(truth["snr"])
    again, _ = simulate(n_models=4, n_seeds=3, n_orders=2, n_ckpt=5, n_items=200, mu=0.4, sigma_model=0.5,
                        random_seed=1)
    assert frame.equals(again)
    nested, t2 = simulate(n_models=3, n_seeds=2, n_orders=1, crossed=False, random_seed=2)
    assert nested["seed"].nunique() == 6 and nested["data_order"].isna().all()
    assert t2["sigma_order"] == 0.0
    cont, t3 = simulate(n_models=3, likelihood="normal", mu=1.2, sigma_ckpt=0.02, random_seed=3)
    assert cont["metric"].iloc[0] == "bpb" and cont["n_items"].isna().all()
    assert t3["noise_sd"] == pytest.approx(0.02)


def test_single_seed_per_model_is_dropped_with_reason():
    frame, _ = simulate(n_models=5, n_seeds=1, n_ckpt=4, random_seed=0)
    d, msgs = design_of(frame)
    assert d.components == ("model", "ckpt")
    assert any("seed: each model has a single seed" in m for m in msgs)
    assert "seed" in d.dropped and "data_order" in d.dropped


def test_missing_seed_labels_and_tied_data_order():
    frame, _ = simulate(n_models=4, n_seeds=3, n_ckpt=3, random_seed=0)
    tied = frame.assign(data_order=frame["seed"])
    d, msgs = design_of(tied)
    assert "data_order" not in d.components and "seed" in d.components
    assert any("data_order: tied to seed" in m for m in msgs)
    single, _ = simulate(n_models=4, n_seeds=1, n_ckpt=3, random_seed=0)
    d2, msgs2 = design_of(single.assign(seed=pd.NA))
    assert "seed" not in d2.components
    assert any("no seed labels" in m for m in msgs2)


def test_one_checkpoint_per_run_drops_ckpt_and_one_model_is_an_error():
    frame, _ = simulate(n_models=4, n_seeds=3, n_ckpt=6, random_seed=0)
    d, msgs = design_of(frame, last_n=1)
    assert "ckpt" not in d.components and "ckpt: each run has a single checkpoint" in " ".join(msgs)
    assert len(d.rec_run) == 12
    with pytest.raises(DataError, match="one model"):
        build_design(select_records(frame[frame["model"] == "m00"]))


def test_crossed_and_nested_designs_are_detected():
    crossed, _ = simulate(n_models=3, n_seeds=3, crossed=True, random_seed=0)
    nested, _ = simulate(n_models=3, n_seeds=3, crossed=False, random_seed=0)
    dc, _ = design_of(crossed, seed_design="crossed")
    dn, _ = design_of(nested)
    assert dc.designs["seed"] == "crossed" and len(dc.levels["seed"]) == 3
    assert dn.designs["seed"] == "nested" and len(dn.levels["seed"]) == 9 and dn.crossable == ()
    # shared label names are no evidence of shared effects: nested by default, crossed a candidate
    da, _ = design_of(crossed)
    assert da.designs["seed"] == "nested" and len(da.levels["seed"]) == 9 and da.crossable == ("seed",)
    forced, _ = design_of(crossed, seed_design="nested")
    assert len(forced.levels["seed"]) == 9
    # olmo-ladder style: only one model has a second seed -> nested, others unreplicated
    uneven = pd.concat([nested[nested["seed"].str.endswith("s0")], nested[nested["seed"] == "m01-s1"]])
    du, _ = design_of(uneven)
    assert du.designs["seed"] == "nested"
    assert du.replicated("seed").sum() == 2


def test_selection_errors_name_the_choices_and_last_n_keeps_the_latest():
    a, _ = simulate(n_models=3, n_ckpt=6, task="arc", random_seed=0)
    b, _ = simulate(n_models=3, n_ckpt=6, task="piqa", random_seed=1)
    both = pd.concat([a, b], ignore_index=True)
    with pytest.raises(DataError, match=r"'arc', 'piqa'"):
        select_records(both)
    with pytest.raises(DataError, match="available"):
        select_records(both, task="boolq")
    rec = select_records(both, task="piqa", last_n=2)
    assert rec.table.groupby("run")["step"].min().eq(5000).all()
    two_sizes = pd.concat([a, a.assign(size="7B")], ignore_index=True)
    with pytest.raises(DataError, match="several sizes"):
        select_records(two_sizes)
    assert select_records(two_sizes, size="all").table["unit"].str.contains("@").all()


def test_subtasks_are_macro_averaged_with_an_effective_item_count():
    rows = []
    for model, base in (("a", 0.5), ("b", 0.6)):
        for step in (1, 2):
            for sub, n, shift in (("x", 100, 0.0), ("y", 300, 0.1)):
                rows.append(dict(task="mmlu", subtask=sub, metric="acc", model=model, step=step,
                                 value=base + shift + 0.01 * step, n_items=n))
    rec = select_records(pd.DataFrame(rows))
    assert rec.n_subtasks == 2
    first = rec.table.iloc[0]
    assert first["value"] == pytest.approx(0.5 + 0.05 + 0.01)
    assert first["n_items"] == pytest.approx(4 / (1 / 100 + 1 / 300))


def test_likelihood_choice():
    frame, _ = simulate(n_models=6, n_seeds=2, n_ckpt=8, random_seed=4)
    assert design_of(frame)[0].likelihood == "logit_normal"
    ratio, p = dispersion(select_records(frame))
    assert 0.6 < ratio < 1.6 and p > 0.01
    no_items = frame.assign(n_items=pd.NA)
    assert design_of(no_items)[0].likelihood == "normal"
    with pytest.raises(DataError, match="n_items"):
        build_design(select_records(no_items), likelihood="binomial")
    # scores that barely move between checkpoints on a fixed item set: binomial would overstate noise
    smooth = frame.copy()
    run_mean = smooth.groupby(["model", "seed"])["value"].transform("mean")
    smooth["value"] = (run_mean + 0.1 * (smooth["value"] - run_mean)).round(3)
    d, msgs = design_of(smooth)
    assert d.likelihood == "normal" and any(m.startswith("items:") for m in msgs)
    bpb, _ = simulate(n_models=4, likelihood="normal", mu=1.0, random_seed=0)
    d2, _ = design_of(bpb)
    assert d2.likelihood == "normal" and d2.scale > 0


def test_point_estimates_match_the_point_module():
    frame, _ = simulate(n_models=5, n_seeds=2, n_ckpt=5, random_seed=6)
    rec = select_records(frame)
    pe = point_estimates(rec)
    ref = snrstat.point.small_scale_snr(frame, last_n=5)
    assert pe["snr"] == pytest.approx(ref.snr) and pe["noise"] == pytest.approx(ref.noise)
    fallback = per_run_snr(rec.table)
    assert fallback["snr"] == pytest.approx(ref.snr) and fallback["signal"] == pytest.approx(ref.signal)


def test_reml_recovers_components_of_a_large_simulation():
    frame, truth = simulate(n_models=30, n_seeds=3, n_ckpt=6, n_items=2000, mu=0.2, sigma_model=0.4,
                            sigma_seed=0.15, sigma_ckpt=0.1, crossed=False, random_seed=11)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = reml_components(frame, likelihood="logit_normal")
    assert r.loc["sigma_model", "reml_link"] == pytest.approx(0.4, rel=0.25)
    assert r.loc["sigma_seed", "reml_link"] == pytest.approx(0.15, rel=0.2)
    assert r.loc["sigma_ckpt", "reml_link"] == pytest.approx(0.1, rel=0.15)
    assert r.loc["sigma_model", "reml"] == pytest.approx(truth["sigma_model"], rel=0.25)


def test_weak_components_are_named_and_get_a_careful_sampler():
    """Two models, or a second seed in one model only: the sd rests on one contrast, the fit says
    so and samples with smaller steps; well replicated designs keep the fast default."""
    from snrstat.variance.api import auto_target_accept
    from snrstat.variance.model import use_shares

    def notes_of(frame):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return build_design(select_records(frame))

    two, _ = simulate(n_models=2, n_seeds=1, n_ckpt=5, random_seed=1)
    d = notes_of(two)
    assert d.df("model") == 1 and any("two models" in n and "snr_pop" in n for n in d.notes)
    assert auto_target_accept(d) == 0.99 and not use_shares(d)

    big, _ = simulate(n_models=25, n_seeds=3, n_ckpt=5, random_seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = build_design(select_records(big), seed_design="crossed")
    assert d.df("model") == 24 and d.df("seed") == 2 and not d.notes
    assert auto_target_accept(d) == 0.9 and not use_shares(d)  # crossed seeds: plain HalfNormal sigmas

    # the OLMo ladder's shape: one model with a second seed (nested, partly replicated)
    frame, _ = simulate(n_models=4, n_seeds=2, n_ckpt=5, crossed=False, random_seed=2)
    keep = ~frame["model"].isin(["m01", "m02", "m03"]) | frame["seed"].str.endswith("s0")
    d = notes_of(frame[keep.to_numpy()])
    assert d.designs["seed"] == "nested" and d.df("seed") == 1
    assert any(n.startswith("seed: a single replicated contrast") for n in d.notes)
    assert use_shares(d) and auto_target_accept(d) == 0.99
