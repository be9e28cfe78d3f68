"""Simple counts on raw judgments: what a reader can check by hand.

Per judge and strategy, from the verdicts in the original numbering (``winner``):

- ``accuracy``: fraction of verdicts equal to the gold label (every verdict counts once;
  a pair judged in both orders counts twice).
- ``flip_rate``: among (item, repeat) cells judged in both orders, the fraction whose two
  verdicts differ (Zeng et al. 2024 call the complement "positional agreement"; Zheng et
  al. 2023, "Judging LLM-as-a-Judge with MT-Bench and Chatbot Arena", call it consistency).
- ``first_rate``: fraction of verdicts that pick the answer shown first; 0.5 = no position bias.
- ``no_verdict``: fraction of rows without a verdict (the judge's answer could not be parsed).

For rating strategies the verdict is derived from the two scores (ties go to the answer shown
second, as in LLMBar), so a tie is a flip: the counts of both modes are directly comparable.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from snrstat.schema import DataError


def judge_counts(judgments: pd.DataFrame, *, by=("judge", "strategy")) -> pd.DataFrame:
    """One row per group in ``by``: n_verdicts, n_items, accuracy, flip_rate, first_rate, no_verdict, mode."""
    by = list(by)
    missing = [c for c in by if c not in judgments.columns]
    if missing:
        raise DataError(f"judge_counts: column(s) {missing} not in the judgments; columns are {list(judgments.columns)}")
    j = judgments
    has = j["winner"].notna()
    correct = pd.Series((j["winner"] == j["label"]).fillna(False).to_numpy(dtype=float), index=j.index)
    correct = correct.where(has & j["label"].notna())
    winner = j["winner"].astype("float").to_numpy()
    first = np.where(j["swap"].to_numpy(), winner == 2, winner == 1).astype(float)
    frame = pd.DataFrame({
        **{c: j[c] for c in by}, "mode": j["mode"], "item": j["item"], "correct": correct,
        "first": np.where(has, first, np.nan), "none": (~has).astype(float),
    })
    grouped = frame.groupby(by, sort=True, observed=True)
    out = pd.DataFrame({
        "mode": grouped["mode"].first(),
        "n_verdicts": grouped["first"].count(),
        "n_items": grouped["item"].nunique(),
        "accuracy": grouped["correct"].mean(),
        "first_rate": grouped["first"].mean(),
        "no_verdict": grouped["none"].mean(),
    })
    out["flip_rate"] = _flip_rates(j, by)
    out["n_pairs_both_orders"] = _both_orders(j, by)
    return out[["mode", "n_verdicts", "n_items", "accuracy", "flip_rate", "first_rate", "no_verdict",
                "n_pairs_both_orders"]]


def _pivot_orders(j: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    keys = list(dict.fromkeys(by + ["judge", "strategy", "subset", "item", "repeat"]))
    wide = j.dropna(subset=["winner"]).pivot_table(index=keys, columns="swap", values="winner", aggfunc="first",
                                                   observed=True)
    if False not in wide.columns or True not in wide.columns:
        return wide.iloc[0:0].assign(flip=np.nan)
    both = wide.dropna(subset=[False, True])
    return both.assign(flip=(both[False] != both[True]).astype(float))


def _flip_rates(j, by):
    both = _pivot_orders(j, by)
    return both.groupby(level=by, observed=True)["flip"].mean() if len(both) else np.nan


def _both_orders(j, by):
    both = _pivot_orders(j, by)
    return both.groupby(level=by, observed=True)["flip"].size() if len(both) else 0


def mode_comparison_counts(judgments: pd.DataFrame, pairs: dict[str, str] | None = None) -> pd.DataFrame:
    """Isolated rating against pairwise comparison on the same pairs, from counts.

    For every judge with a rating strategy R and its pairwise counterpart P (``pairs`` maps
    R -> P; by default :func:`counterpart`), both restricted to the items judged in both:
    accuracy and flip rate of each, and the differences rating - pairwise.
    """
    rows = []
    for (judge, strategy), sub in judgments[judgments["mode"] == "rating"].groupby(["judge", "strategy"], observed=True):
        jud = judgments[judgments["judge"] == judge]
        partner = (pairs or {}).get(strategy) or counterpart(strategy, jud.loc[jud["mode"] == "pairwise", "strategy"].unique())
        if partner is None:
            continue
        other = jud[jud["strategy"] == partner]
        items = set(sub["item"]) & set(other["item"])
        if not items:
            continue
        both = pd.concat([sub[sub["item"].isin(items)], other[other["item"].isin(items)]])
        c = judge_counts(both)
        r, p = c.loc[(judge, strategy)], c.loc[(judge, partner)]
        rows.append({"judge": judge, "rating": strategy, "pairwise": partner, "n_items": len(items),
                     "accuracy_rating": r["accuracy"], "accuracy_pairwise": p["accuracy"],
                     "flip_rating": r["flip_rate"], "flip_pairwise": p["flip_rate"],
                     "accuracy_diff": r["accuracy"] - p["accuracy"],
                     "agreement_diff": p["flip_rate"] - r["flip_rate"]})
    return pd.DataFrame(rows)


def counterpart(strategy: str, pairwise_strategies) -> str | None:
    """The pairwise strategy that asks the same as rating strategy ``strategy`` (LLMBar names):
    ``Rating`` -> ``Vanilla``, ``Rating_NoRules`` -> ``Vanilla_NoRules``, ``Rating_X`` -> ``X``."""
    rest = strategy[len("Rating"):].lstrip("_") if strategy.startswith("Rating") else strategy
    for name in ([rest, f"Vanilla_{rest}"] if rest else ["Vanilla"]):
        if name in set(pairwise_strategies):
            return name
    return None
