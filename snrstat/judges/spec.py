"""From a judgment frame to the arrays of the judge model, with printed priors.

The model (Zheng et al. 2023; Zeng et al. 2024; Zeng et al. 2024 for the data, Zheng et al. 2023 for
position bias) gives each item (pair of answers) a latent quality gap, oriented to the gold
label and pooled within its subset: a mean per judge and subset, a part shared by all judges,
and each judge's own perception error ``u[judge, item] ~ N(0, tau[judge])`` shared by its
strategies and both orders. Per (judge, strategy) cell, a discrimination ``k`` and, for
pairwise strategies, a position bias ``beta``. See :mod:`snrstat.judges.model`.

:func:`judge_design` selects the records and builds index arrays; :class:`JudgePriors`
holds the prior scales and prints them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from snrstat.schema import DataError

#: LLMBar's own subsets (Natural and the four Adversarial ones): the default selection.
LLMBAR_SUBSETS = ("LLMBar/Natural", "LLMBar/Adversarial/GPTInst", "LLMBar/Adversarial/GPTOut",
                  "LLMBar/Adversarial/Manual", "LLMBar/Adversarial/Neighbor")
#: Default strategies: plain pairwise prompts and their isolated-rating twins.
DEFAULT_STRATEGIES = ("Vanilla", "Vanilla_NoRules", "Rating", "Rating_NoRules")


@dataclass(frozen=True)
class JudgePriors:
    """Prior scales of the judge model (all on the logit scale of the verdicts).

    mu_subset ~ Normal(0, mu_sd)           per (judge, subset): mean gold-oriented gap the judge perceives
    sigma_subset ~ HalfNormal(sigma_sd)    spread of the gaps within a subset, shared by all judges
    log_k ~ ZeroSumNormal(log_k_sd)        discrimination per (judge, strategy); mean log k = 0 fixes the scale
    beta ~ Normal(0, beta_sd)              position bias per pairwise (judge, strategy); > 0 favours the answer shown first
    tau ~ HalfNormal(tau_sd)               sd of a judge's own perception of a pair's gap
    shift ~ ZeroSumNormal(shift_sd)        per (judge, strategy), zero-sum within a judge: the strategy's move of the mean gap
    sigma_level ~ HalfNormal(level_sd)     rating: sd of the pair's common quality level
    omega ~ HalfNormal(omega_sd)           rating: sd of a call's offset shared by the two answers' scores, per judge
    cutpoints ~ ordered Normal(0, cut_sd)  rating: the judge's thresholds between scores
    """

    mu_sd: float = 1.5
    sigma_sd: float = 1.5
    log_k_sd: float = 1.0
    beta_sd: float = 1.5
    tau_sd: float = 1.0
    shift_sd: float = 1.0
    level_sd: float = 1.5
    omega_sd: float = 1.0
    cut_sd: float = 3.0

    def __str__(self) -> str:
        return "\n".join(line.strip() for line in (self.__doc__ or "").splitlines()[2:] if line.strip()) + "\n" + \
            ", ".join(f"{k}={v:g}" for k, v in asdict(self).items())


@dataclass
class JudgeDesign:
    """Index arrays of the judge model. Obs arrays are aligned: ``pw_*`` one per pairwise verdict,
    ``rt_*`` one per rated answer; ``*_pc`` indexes the (judge, item) perception cells."""

    judges: list[str]
    cells: list[tuple[str, str]]        # (judge, strategy), pairwise and rating
    cell_mode: list[str]
    subsets: list[str]
    items: list[str]
    item_subset: np.ndarray
    item_sign: np.ndarray               # +1: gold is answer 1; -1: answer 2; +1 without gold
    has_gold: bool
    pc_judge: np.ndarray                # judge of each perception cell
    pc_item: np.ndarray
    pw_cell: np.ndarray
    pw_item: np.ndarray
    pw_pc: np.ndarray
    pw_order: np.ndarray                # +1: answer 1 shown first; -1: swapped
    pw_y: np.ndarray                    # 1: prefers answer 1
    rt_cell: np.ndarray
    rt_item: np.ndarray
    rt_pc: np.ndarray
    rt_answer: np.ndarray               # +1: answer 1; -1: answer 2
    rt_y: np.ndarray                    # score category 0..K-1
    categories: list[float]
    selection: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def cell_labels(self) -> list[str]:
        return [f"{j}|{s}" for j, s in self.cells]

    @property
    def pairwise_cells(self) -> np.ndarray:
        return np.array([i for i, m in enumerate(self.cell_mode) if m == "pairwise"], dtype=int)

    @property
    def rating_cells(self) -> np.ndarray:
        return np.array([i for i, m in enumerate(self.cell_mode) if m == "rating"], dtype=int)

    @property
    def rating_judges(self) -> list[str]:
        return sorted({self.cells[c][0] for c in self.rating_cells}, key=self.judges.index)

    @property
    def rated_items(self) -> np.ndarray:
        return np.unique(self.rt_item)

    def counts(self) -> dict:
        return {"items": len(self.items), "judges": len(self.judges), "cells": len(self.cells),
                "pairwise verdicts": int(self.pw_y.size), "rated answers": int(self.rt_y.size),
                "perception cells": int(self.pc_item.size)}


def _match(values: pd.Series, wanted, column: str) -> pd.Series:
    """Rows whose value is in ``wanted``; an entry ending in '*' or '/' is a prefix."""
    if wanted is None:
        return pd.Series(True, index=values.index)
    wanted = [wanted] if isinstance(wanted, str) else list(wanted)
    available = sorted(values.dropna().unique())
    keep = pd.Series(False, index=values.index)
    for w in wanted:
        hit = values.str.startswith(w.rstrip("*")) if w.endswith(("*", "/")) else values == w
        if not hit.any():
            raise DataError(f"{column} {w!r} not in the judgments; available: {available}")
        keep |= hit.fillna(False)
    return keep


#: How repeated verdicts of one (judge, strategy, item, order) are read; see :func:`select_judgments`.
REPEATS = ("auto", "all", "first")
#: Suffix of the strategy name given to follow-up rounds (``repeats="auto"``).
FOLLOWUP = "+followup"
#: Agreement of two follow-up strategies' first rounds above which they are one first round.
SHARED_FIRST_ROUND = 0.9


def select_judgments(judgments: pd.DataFrame, *, subsets=None, strategies=None, judges=None,
                     repeats: str = "auto") -> pd.DataFrame:
    """Rows of the chosen subsets, strategies and judges (None = all; an entry ending in '/' or
    '*' is a prefix).

    ``repeats``: ``"all"`` reads every repeat as another independent verdict of the same
    strategy; ``"first"`` keeps repeat 0 only; ``"auto"`` (default) does as ``"all"`` except for
    follow-up rounds: later repeats asked only on pairs whose first-round verdicts disagreed
    between the two orders (LLMBar's Swap strategies re-ask those with a synthesising prompt,
    which picks the answer shown second 6-94% of the time). Such a round is another question on
    a selected set of pairs, not a repeat: its rows become the strategy ``<strategy>+followup``.
    Two such strategies of one judge whose first rounds agree on at least
    :data:`SHARED_FIRST_ROUND` of their verdicts (LLMBar's Swap and Swap_CoT: 95-100%, against
    82-88% between different prompts) asked one first round and differ only in the follow-up;
    the first round is kept once, under the first strategy's name (counting it twice would
    read one verdict as two independent ones).
    """
    if repeats not in REPEATS:
        raise DataError(f"repeats must be one of {REPEATS}, got {repeats!r}")
    keep = (_match(judgments["subset"], subsets, "subset") & _match(judgments["strategy"], strategies, "strategy")
            & _match(judgments["judge"], judges, "judge"))
    if repeats == "first":
        keep &= judgments["repeat"] == 0
    out = judgments[keep.to_numpy()]
    if len(out) == 0:
        raise DataError("no judgments left after the selection "
                        f"(subsets={subsets}, strategies={strategies}, judges={judges})")
    if repeats == "auto":
        out = _label_followups(out)
    return out


def followup_cells(judgments: pd.DataFrame) -> list[tuple[str, str]]:
    """(judge, strategy) pairwise cells whose later repeats exist only on pairs whose repeat-0
    verdicts differ between the orders (or are missing in one)."""
    from snrstat.judges.counts import _pivot_orders

    pw = judgments[(judgments["mode"] == "pairwise")]
    later = pw[pw["repeat"] > 0]
    if later.empty:
        return []
    orders = _pivot_orders(pw[pw["repeat"] == 0], ["judge", "strategy"]).droplevel("repeat")
    agreed_keys = set(orders.index[(orders["flip"] == 0).to_numpy()])
    judged_first = (pw.loc[pw["repeat"] == 0, ["judge", "strategy", "subset", "item"]].drop_duplicates()
                    .groupby(["judge", "strategy"], observed=True).size())
    out = []
    for (judge, strategy), rows in later.groupby(["judge", "strategy"], observed=True, sort=True):
        keys = set(zip(rows["judge"], rows["strategy"], rows["subset"], rows["item"]))
        if keys and not (keys & agreed_keys) and len(keys) < judged_first.get((judge, strategy), 0):
            out.append((judge, strategy))
    return out


def shared_first_rounds(judgments: pd.DataFrame, cells: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """(judge, kept strategy, duplicate strategy) among follow-up ``cells`` whose repeat-0
    verdicts agree on at least :data:`SHARED_FIRST_ROUND` of the (item, order) rows they share."""
    out = []
    first = judgments[(judgments["repeat"] == 0) & (judgments["mode"] == "pairwise")]
    for judge in sorted({j for j, _ in cells}):
        names = sorted(s for j, s in cells if j == judge)
        wide = first[(first["judge"] == judge) & first["strategy"].isin(names)].pivot_table(
            index=["subset", "item", "swap"], columns="strategy", values="winner", aggfunc="first", observed=True)
        duplicate_of = {}
        for i, a in enumerate(names):
            if a in duplicate_of:
                continue
            for b in names[i + 1:]:
                if b in duplicate_of or a not in wide or b not in wide:
                    continue
                both = wide[[a, b]].dropna()
                if len(both) and (both[a] == both[b]).mean() >= SHARED_FIRST_ROUND:
                    duplicate_of[b] = a
                    out.append((judge, a, b))
    return out


def _label_followups(frame: pd.DataFrame) -> pd.DataFrame:
    cells = followup_cells(frame)
    if not cells:
        return frame
    drop = pd.Series(False, index=frame.index)
    for judge, _, dup in shared_first_rounds(frame, cells):
        drop |= (frame["judge"] == judge) & (frame["strategy"] == dup) & (frame["repeat"] == 0)
    frame = frame[~drop.to_numpy()]
    is_follow = pd.Series(False, index=frame.index)
    for judge, strategy in cells:
        is_follow |= (frame["judge"] == judge) & (frame["strategy"] == strategy) & (frame["repeat"] > 0)
    out = frame.copy()
    strategy = out["strategy"].astype(str)
    out["strategy"] = strategy.where(~is_follow, strategy + FOLLOWUP)
    out.loc[is_follow, "repeat"] = out.loc[is_follow, "repeat"] - 1
    return out


def judge_design(judgments: pd.DataFrame, *, subsets=None, strategies=None, judges=None,
                 repeats: str = "auto", categories=None) -> JudgeDesign:
    """Arrays of the judge model for the selected judgments (see :func:`select_judgments`).

    Pairwise rows without a verdict are dropped (counted in ``notes``). Rated answers are taken
    once per (judge, strategy, item, repeat): an isolated score does not depend on the order
    the two answers were listed in, and LLMBar stores the same scores under both orders.
    ``categories`` fixes the score scale (default: the scores observed).
    """
    rows = select_judgments(judgments, subsets=subsets, strategies=strategies, judges=judges, repeats=repeats)
    notes = []
    pw = rows[rows["mode"] == "pairwise"]
    n_none = int(pw["winner"].isna().sum())
    if n_none:
        notes.append(f"{n_none} pairwise row(s) without a verdict dropped")
    pw = pw[pw["winner"].notna()]
    rt = rows[rows["mode"] == "rating"]
    rt_ok = rt.dropna(subset=["score_1", "score_2"])
    if len(rt_ok) < len(rt):
        notes.append(f"{len(rt) - len(rt_ok)} rating row(s) without both scores dropped")
    rt = rt_ok.sort_values("swap", kind="mergesort").drop_duplicates(
        ["judge", "strategy", "subset", "item", "repeat", "score_1", "score_2"])
    used = pd.concat([pw, rt])
    if len(used) == 0:
        raise DataError("no usable judgments: every pairwise row lacks a verdict and every rating row a score")
    labels = used.groupby("item", observed=True)["label"].first()
    gold = labels.notna()
    if gold.any() and not gold.all():
        raise DataError(f"column 'label' is known for {int(gold.sum())} of {len(gold)} items; select items that all "
                        f"have gold labels or none (e.g. items without: {list(labels.index[~gold][:3])})")
    judges_ = sorted(used["judge"].unique())
    cells_df = used[["judge", "strategy", "mode"]].drop_duplicates().sort_values(["judge", "strategy"])
    cells = list(zip(cells_df["judge"], cells_df["strategy"]))
    cell_index = {c: i for i, c in enumerate(cells)}
    items_df = used[["item", "subset"]].drop_duplicates("item").sort_values(["subset", "item"])
    items = list(items_df["item"])
    item_index = {it: i for i, it in enumerate(items)}
    subsets_ = sorted(items_df["subset"].unique())
    item_subset = items_df["subset"].map({s: i for i, s in enumerate(subsets_)}).to_numpy(int)
    sign = np.where(labels.reindex(items).to_numpy(dtype=float, na_value=1.0) == 2, -1.0, 1.0)
    pc = used[["judge", "item"]].drop_duplicates().reset_index(drop=True)
    pc_index = {(j, i): n for n, (j, i) in enumerate(zip(pc["judge"], pc["item"]))}

    def idx(frame):
        c = np.array([cell_index[(j, s)] for j, s in zip(frame["judge"], frame["strategy"])], dtype=int)
        i = frame["item"].map(item_index).to_numpy(int)
        p = np.array([pc_index[(j, it)] for j, it in zip(frame["judge"], frame["item"])], dtype=int)
        return c, i, p

    pw_cell, pw_item, pw_pc = idx(pw)
    rt_cell, rt_item, rt_pc = idx(rt)
    seen = sorted(set(rt["score_1"]) | set(rt["score_2"]))
    categories = seen if categories is None else sorted(float(c) for c in categories)
    outside = sorted(set(seen) - set(categories))
    if outside:
        raise DataError(f"columns score_1/score_2 hold scores {outside[:5]} outside the scale {categories}")
    cat_index = {v: n for n, v in enumerate(categories)}
    if len(rt) and len(categories) < 2:
        raise DataError(f"rating scores take a single value ({categories}); an ordinal model needs at least two")
    rt_y = np.concatenate([rt["score_1"].map(cat_index).to_numpy(int), rt["score_2"].map(cat_index).to_numpy(int)])
    selection = {"subsets": None if subsets is None else list(np.atleast_1d(subsets)),
                 "strategies": None if strategies is None else list(np.atleast_1d(strategies)),
                 "judges": None if judges is None else list(np.atleast_1d(judges)), "repeats": repeats}
    return JudgeDesign(
        judges=judges_, cells=cells, cell_mode=list(cells_df["mode"]), subsets=subsets_, items=items,
        item_subset=item_subset, item_sign=sign, has_gold=bool(gold.all()),
        pc_judge=pc["judge"].map({j: n for n, j in enumerate(judges_)}).to_numpy(int),
        pc_item=pc["item"].map(item_index).to_numpy(int),
        pw_cell=pw_cell, pw_item=pw_item, pw_pc=pw_pc,
        pw_order=np.where(pw["swap"].to_numpy(bool), -1.0, 1.0),
        pw_y=(pw["winner"].to_numpy(dtype=float) == 1).astype(float),
        rt_cell=np.concatenate([rt_cell, rt_cell]), rt_item=np.concatenate([rt_item, rt_item]),
        rt_pc=np.concatenate([rt_pc, rt_pc]), rt_answer=np.repeat([1.0, -1.0], len(rt)), rt_y=rt_y,
        categories=[float(c) for c in categories], selection=selection, notes=notes,
    )
