"""Simple counts on raw verdicts: hand-checked frames and the LLMBar figures of the issue."""

import numpy as np
import pandas as pd
import pytest

import snrstat
from snrstat.io.judgments import read_judgments
from snrstat.judges.counts import counterpart, judge_counts, mode_comparison_counts
from snrstat.judges.spec import LLMBAR_SUBSETS, judge_design, select_judgments
from snrstat.schema import DataError


@pytest.fixture(scope="module")
def tiny():
    # item a: both orders say 1 (gold 1): right twice, no flip; item b: 1 then 2 (gold 2): a flip
    # that picks the answer shown first both times; item c: no verdict in the swapped order
    return read_judgments(pd.DataFrame({
        "item": ["a", "a", "b", "b", "c", "c"], "judge": "J", "swap": [False, True] * 3,
        "winner": [1, 1, 1, 2, 2, None], "label": [1, 1, 2, 2, 2, 2]}))


def test_tiny_counts(tiny):
    c = judge_counts(tiny).loc[("J", "default")]
    assert c["n_verdicts"] == 5 and c["n_items"] == 3
    assert c["accuracy"] == pytest.approx(4 / 5)
    assert c["flip_rate"] == pytest.approx(1 / 2) and c["n_pairs_both_orders"] == 2
    # shown first: a/orig (1 yes), a/swap (winner 1 shown second: no), b/orig yes, b/swap (2 shown first) yes, c/orig no
    assert c["first_rate"] == pytest.approx(3 / 5)
    assert c["no_verdict"] == pytest.approx(1 / 6)


def test_llmbar_figures_of_the_issue():
    f = snrstat.load_dataset("llmbar")
    c = judge_counts(select_judgments(f, subsets=LLMBAR_SUBSETS, strategies=["Vanilla"]))
    flips = c["flip_rate"].droplevel("strategy")
    assert flips["GPT-4"] == pytest.approx(0.072, abs=0.001)
    assert flips["Falcon"] == pytest.approx(0.585, abs=0.001)
    acc = c["accuracy"].droplevel("strategy")
    assert acc["GPT-4"] == pytest.approx(0.845, abs=0.001) and acc["ChatGPT"] == pytest.approx(0.400, abs=0.001)


def test_mode_comparison_counts_on_llmbar():
    f = snrstat.load_dataset("llmbar")
    mc = mode_comparison_counts(select_judgments(f, subsets=LLMBAR_SUBSETS)).set_index(["judge", "rating"])
    row = mc.loc[("GPT-4", "Rating")]
    assert row["pairwise"] == "Vanilla" and row["n_items"] == 419
    # isolated scores agree with themselves less often than side-by-side verdicts (ties flip)
    assert row["flip_rating"] == pytest.approx(0.165, abs=0.001) and row["agreement_diff"] < 0
    assert mc.loc[("GPT-4", "Rating_Metrics"), "pairwise"] == "Metrics"


def test_counterpart_names():
    pw = ["Vanilla", "Vanilla_NoRules", "Metrics", "Reference"]
    assert counterpart("Rating", pw) == "Vanilla"
    assert counterpart("Rating_NoRules", pw) == "Vanilla_NoRules"
    assert counterpart("Rating_Reference", pw) == "Reference"
    assert counterpart("Rating_Other", pw) is None


def test_design_arrays_and_selection_errors(tiny):
    d = judge_design(tiny)
    assert d.counts()["pairwise verdicts"] == 5 and d.notes == ["1 pairwise row(s) without a verdict dropped"]
    assert d.item_sign.tolist() == [1.0, -1.0, -1.0] and d.has_gold
    assert d.pw_order.tolist() == [1.0, -1.0, 1.0, -1.0, 1.0] and d.pw_y.tolist() == [1, 1, 1, 0, 0]
    with pytest.raises(DataError, match=r"strategy 'CoT' not in the judgments; available: \['default'\]"):
        select_judgments(tiny, strategies=["CoT"])
    half = tiny.copy()
    half.loc[half["item"] == "c", "label"] = pd.NA
    with pytest.raises(DataError, match="known for 2 of 3 items"):
        judge_design(half)


def test_rating_design_takes_each_score_once():
    f = snrstat.load_dataset("llmbar")
    d = judge_design(f, subsets=["LLMBar/Natural"], strategies=["Rating"], judges=["GPT-4"])
    assert d.rt_y.size == 2 * 100 and d.pw_y.size == 0
    assert d.categories == [float(c) for c in range(11)] or set(d.categories) <= set(map(float, range(11)))
    assert np.all((d.rt_answer == 1)[:100]) and np.all((d.rt_answer == -1)[100:])


def _followup_frame():
    # judge J, 6 items, first round in both orders under two strategies (A and A_CoT, the same
    # verdicts), a follow-up round only where the first round's orders disagreed (items 1, 3, 5);
    # strategy R has genuine repeats on every item
    rows = []
    first = {i: (1, 2) if i % 2 else (1, 1) for i in range(6)}
    for strategy in ("A", "A_CoT"):
        for i, (w0, w1) in first.items():
            rows += [{"item": f"q{i}", "judge": "J", "strategy": strategy, "repeat": 0, "swap": s, "winner": w,
                      "label": 1} for s, w in ((False, w0), (True, w1))]
            if i % 2:
                # the follow-up picks the answer shown second (winner in the original numbering)
                rows += [{"item": f"q{i}", "judge": "J", "strategy": strategy, "repeat": 1, "swap": s,
                          "winner": 1 if s else 2, "label": 1} for s in (False, True)]
    for i in range(6):
        for r in (0, 1):
            rows += [{"item": f"q{i}", "judge": "J", "strategy": "R", "repeat": r, "swap": s, "winner": 1, "label": 1}
                     for s in (False, True)]
    return read_judgments(pd.DataFrame(rows))


def test_followup_rounds_become_their_own_strategy():
    frame = _followup_frame()
    auto = select_judgments(frame)
    n = auto.groupby("strategy").size().to_dict()
    # A's first round once (A_CoT's copy dropped), both follow-ups as strategies, R's repeats kept
    assert n == {"A": 12, "A+followup": 6, "A_CoT+followup": 6, "R": 24}
    assert (auto.loc[auto["strategy"].str.endswith("+followup"), "repeat"] == 0).all()
    counts = judge_counts(auto)
    assert counts.loc[("J", "A"), "flip_rate"] == pytest.approx(0.5)
    assert counts.loc[("J", "A+followup"), "flip_rate"] == pytest.approx(1.0)  # always the answer shown second
    assert len(select_judgments(frame, repeats="all")) == len(frame)
    assert set(select_judgments(frame, repeats="first")["repeat"]) == {0}
    with pytest.raises(DataError, match="repeats"):
        select_judgments(frame, repeats="some")


def test_llmbar_swap_followups_split():
    rows = select_judgments(snrstat.load_dataset("llmbar"), subsets=list(LLMBAR_SUBSETS), strategies=["Swap*"],
                            judges=["LLaMA2"])
    c = judge_counts(rows).loc["LLaMA2"]
    assert list(c.index) == ["Swap", "Swap+followup", "Swap_CoT+followup"]
    assert c.loc["Swap", "flip_rate"] == pytest.approx(0.41, abs=0.01)       # was 0.60 with the follow-ups mixed in
    assert c.loc["Swap+followup", "first_rate"] < 0.1
