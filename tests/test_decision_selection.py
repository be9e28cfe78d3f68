import numpy as np
import pandas as pd
import pytest

from snrstat.decision import fit_window, point_snr, rank_tasks, select_subtasks
from snrstat.decision._window import last_checkpoints, pick_records
from snrstat.decision.calibration import simulate_records
from snrstat.point import small_scale_snr, subtask_selection
from snrstat.schema import DataError


def suite(seed=0, n_sub=8, n_good=2, n_models=8):
    """A suite whose first n_good subtasks share a strong model effect; the rest are noise."""
    rng = np.random.default_rng(seed)
    quality = rng.normal(0, 1, n_models)
    rows = []
    for s in range(n_sub):
        effect = 0.03 * quality if s < n_good else 0.002 * rng.normal(0, 1, n_models)
        for m in range(n_models):
            for seed_ in range(1):
                for step in range(1, 8):
                    rows.append({"task": "suite", "subtask": f"s{s}", "metric": "acc", "model": f"m{m}",
                                 "seed": str(seed_), "size": "1B", "step": 100 * step,
                                 "value": 0.5 + effect[m] + rng.normal(0, 0.01)})
    return pd.DataFrame(rows)


def test_point_snr_is_the_papers_per_run_estimator():
    frame = suite()
    rerun = frame[frame["model"] == "m0"].assign(seed="1", value=lambda f: f["value"] + 0.01 * np.sin(f["step"]))
    frame = pd.concat([frame, rerun], ignore_index=True)  # two runs of m0: noise pooled over runs
    for s in ("s0", "s5"):
        sub = frame[frame["subtask"] == s]
        window = last_checkpoints(pick_records(sub, subtask=None), 5)
        assert point_snr(window) == pytest.approx(small_scale_snr(sub, 5).snr, rel=1e-12)


def test_selection_keeps_the_informative_subtasks_and_beats_the_full_suite():
    frame = suite()
    res = select_subtasks(frame, "suite", last_n=5, draws=400, search_draws=200)
    assert set(res.selected) == {"s0", "s1"}
    assert res.aggregates.loc["posterior", "p_above_full"] > 0.95
    full = res.aggregates.loc["full"]
    assert full["n_subtasks"] == 8 and np.isnan(full["p_above_full"])
    # the paper's rule, as snrstat.point implements it, on the same records
    paper = subtask_selection(frame, "suite", 5)
    k_best = int(paper["snr"].idxmax())
    assert res.selected_point == list(paper.loc[k_best, "subtasks"])
    assert res.aggregates.loc["point", "snr_point"] == pytest.approx(paper.loc[k_best, "snr"])
    np.testing.assert_allclose(res.curve["point_snr_point_order"], paper["snr"].to_numpy())
    ranks = res.subtasks.set_index("subtask")
    assert ranks.loc[["s0", "s1"], "rank_posterior"].max() == 2


def test_greedy_and_fixed_k():
    frame = suite(seed=1)
    res = select_subtasks(frame, "suite", k=2, method="greedy", draws=300, search_draws=150)
    assert set(res.selected) == {"s0", "s1"}
    assert len(res.selected_point) == 2
    with pytest.raises(DataError, match="k must be between 1 and 8"):
        select_subtasks(frame, "suite", k=9)
    with pytest.raises(DataError, match="no subtask rows"):
        select_subtasks(frame[frame["subtask"] == "s0"].assign(subtask=pd.NA), "suite")
    with pytest.raises(DataError, match="method must be"):
        select_subtasks(frame, "suite", method="best")


def test_rank_tasks_orders_by_posterior_snr():
    rng = np.random.default_rng(0)
    fits = {}
    for name, spread in (("flat", 0.005), ("steep", 0.08), ("mid", 0.03)):
        rec = simulate_records(rng, 0.5 + spread * np.arange(5), runs=1, last_n=5, sigma_run=0.0, sigma_ckpt=0.01)
        fits[name] = fit_window(rec, draws=300, seed=1)
    table = rank_tasks(fits)
    assert table["task"].tolist() == ["steep", "mid", "flat"]
    assert table["p_best"].sum() == pytest.approx(1.0)
    assert table.loc[0, "p_best"] > 0.9
    assert (table["snr_lo"] <= table["snr_median"]).all() and (table["snr_median"] <= table["snr_hi"]).all()
    with pytest.raises(DataError, match="at least one fit"):
        rank_tasks({})


def test_a_constant_subtask_is_left_out_by_name_and_the_rest_ranked():
    import snrstat

    frame = snrstat.load_dataset("pythia")
    rows = frame[(frame["task"] == "mmlu") & (frame["metric"] == "acc") & (frame["size"] == "160m")
                 & frame["model"].isin(["pile", "pile-deduped"])].copy()
    subjects = sorted(rows["subtask"].unique())[:4]
    rows = rows[rows["subtask"].isin(subjects)]
    frozen = rows["subtask"] == subjects[0]
    rows.loc[frozen, "value"] = 0.25
    with pytest.warns(UserWarning, match=subjects[0]):
        result = select_subtasks(rows, task="mmlu", metric="acc", draws=200, search_draws=100, random_seed=1)
    assert subjects[0] not in set(result.subtasks["subtask"]) and len(result.subtasks) == 3
