"""Simulated judgments: known judges for calibration, and the two judging modes side by side.

:func:`simulate_judgments` draws a judgment table from the judge model itself
(:mod:`snrstat.judges.model`), with parameters from the priors or given, so a fit can be
checked against the truth (simulation-based calibration, Talts et al. 2018).

:func:`simulate_modes` asks the practitioner's question in a world we control: several
systems answer the same prompts; a judge either scores every answer alone (isolated) or sees
all systems' answers to a prompt at once and scores them relative to each other. Each call
to the judge carries its own offset (its calibration of the scale in that context): scored
alone, every answer gets its own offset; scored together, the answers share it and it cancels
in their comparison. Relative scoring may add a position effect in exchange. The function
returns how often each mode orders the systems as their true quality does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from snrstat.judges.spec import JudgePriors
from snrstat.schema import DataError


def draw_parameters(n_judges: int, cells: list[tuple[int, str]], n_subsets: int, n_categories: int,
                    rng: np.random.Generator, priors: JudgePriors | None = None) -> dict:
    """Parameters drawn from the priors of :class:`JudgePriors` (cells: (judge index, mode))."""
    p = priors or JudgePriors()
    raw = rng.normal(0.0, p.log_k_sd, len(cells))
    log_k = raw - raw.mean() if len(cells) > 1 else np.zeros(1)
    rating_judges = sorted({j for j, m in cells if m == "rating"})
    # a strategy's move of the mean gap: iid normal projected to sum to zero within each judge
    # (the model's basis @ z has exactly this distribution)
    shift = rng.normal(0.0, p.shift_sd, len(cells))
    judge_of = np.array([j for j, _ in cells])
    for j in np.unique(judge_of):
        shift[judge_of == j] -= shift[judge_of == j].mean()
    return {
        "shift": shift,
        "omega": np.abs(rng.normal(0.0, p.omega_sd, len(rating_judges))),
        "mu_subset": rng.normal(0.0, p.mu_sd, (n_judges, n_subsets)),
        "sigma_subset": np.abs(rng.normal(0.0, p.sigma_sd, n_subsets)),
        "k": np.exp(log_k),
        "beta": np.array([rng.normal(0.0, p.beta_sd) if m == "pairwise" else 0.0 for _, m in cells]),
        "tau": np.abs(rng.normal(0.0, p.tau_sd, n_judges)),
        "sigma_level": float(abs(rng.normal(0.0, p.level_sd))),
        # an ordered Normal(0, cut_sd) vector is a sorted sample of iid normals
        "cutpoints": np.sort(rng.normal(0.0, p.cut_sd, (len(rating_judges), n_categories - 1)), axis=1),
    }


def simulate_judgments(n_items: int = 60, *, judges=("J1", "J2", "J3"), pairwise=("Vanilla",),
                       rating=("Rating",), rating_judges=None, n_subsets: int = 2, n_categories: int = 6,
                       params: dict | None = None, priors: JudgePriors | None = None,
                       gap_df: float | None = None, subset_shares=None, keep: float = 1.0,
                       random_seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """A judgment table from the judge model, and the truth behind it.

    Every judge judges every item with every pairwise strategy in both orders, and (if it is
    among ``rating_judges``, default: the first judge) scores both answers alone with every
    rating strategy. Gold labels are drawn at random. ``params`` (as returned by
    :func:`draw_parameters`) fixes the parameters; by default they are drawn from ``priors``.
    Returns (frame in the shape of :func:`snrstat.io.judgments.read_judgments`, truth) where
    truth holds the parameters, the item gaps and the cell list.

    Three options break the model's assumptions the way real evaluations do, to check a fit
    where it is misspecified: ``gap_df`` draws the shared item gaps from a Student t with that
    many degrees of freedom (scaled to the same sd; the model pools them as normal);
    ``subset_shares`` gives the subsets unequal shares of the items (default equal);
    ``keep`` < 1 keeps each pairwise verdict with that probability, so cells judge different
    pairs and some pairs in one order only.
    """
    if n_items < 2:
        raise DataError(f"n_items must be at least 2, got {n_items}")
    if gap_df is not None and not gap_df > 2:
        raise DataError(f"gap_df must be above 2 (a finite sd), got {gap_df}")
    if not 0 < keep <= 1:
        raise DataError(f"keep must lie in (0, 1], got {keep}")
    rng = np.random.default_rng(random_seed)
    judges = list(judges)
    rating_judges = judges[:1] if rating_judges is None else list(rating_judges)
    cells = sorted([(j, s, "pairwise") for j in judges for s in pairwise]
                   + [(j, s, "rating") for j in rating_judges for s in rating])
    cell_idx = [(judges.index(j), m) for j, _, m in cells]
    p = params or draw_parameters(len(judges), cell_idx, n_subsets, n_categories, rng, priors)
    # the terms the model will have for this design (snrstat.judges.model.model_terms): a truth
    # outside the model would make calibration test something else
    from snrstat.judges.model import SHIFT_MIN_PAIRS, group_mean

    judge_cells = [j for j, _ in cell_idx]
    if n_items < SHIFT_MIN_PAIRS or max(judge_cells.count(j) for j in set(judge_cells)) < 2:
        p = dict(p, shift=np.zeros(len(cells)))
    if len(rating_judges) * len(rating) < 2:
        p = dict(p, omega=np.zeros_like(np.asarray(p["omega"], dtype=float)))
    if subset_shares is None:
        subset = np.arange(n_items) % n_subsets
    else:
        shares = np.asarray(subset_shares, dtype=float)
        if shares.shape != (n_subsets,) or (shares <= 0).any():
            raise DataError(f"subset_shares must be {n_subsets} positive numbers, got {subset_shares!r}")
        bounds = np.cumsum(shares / shares.sum())[:-1] * n_items
        subset = np.searchsorted(np.round(bounds), np.arange(n_items), side="right")
        if np.bincount(subset, minlength=n_subsets).min() < 2:
            raise DataError(f"subset_shares {subset_shares!r} leave a subset with fewer than 2 of {n_items} items")
    z = rng.normal(size=n_items) if gap_df is None else rng.standard_t(gap_df, n_items) / np.sqrt(gap_df / (gap_df - 2))
    gap = p["sigma_subset"][subset] * (z - group_mean(z, subset, n_subsets))  # shared by all judges
    label = rng.integers(1, 3, n_items)
    sign = np.where(label == 1, 1.0, -1.0)
    z_level = rng.normal(size=n_items)
    level = p["sigma_level"] * (z_level - z_level.mean())       # zero mean, as in the model
    # the gap each judge perceives: its subset mean, the shared part and its own error
    own = rng.normal(size=(len(judges), n_items))
    own = own - np.array([group_mean(row, subset, n_subsets) for row in own])    # zero mean per subset
    perceived = p["mu_subset"][:, subset] + gap[None, :] + p["tau"][:, None] * own
    rj = sorted({j for j, m in cell_idx if m == "rating"})
    items = [f"s{subset[i]}:{i}" for i in range(n_items)]
    rows = []
    for c, (jname, strategy, mode) in enumerate(cells):
        j = judges.index(jname)
        v = (perceived[j] + p["shift"][c]) * sign
        if mode == "pairwise":
            for swap in (False, True):
                o = -1.0 if swap else 1.0
                prefer1 = rng.random(n_items) < special.expit(p["k"][c] * v + p["beta"][c] * o)
                kept = np.ones(n_items, dtype=bool) if keep == 1 else rng.random(n_items) < keep
                rows += [{"subset": f"s{subset[i]}", "item": items[i], "judge": jname, "strategy": strategy,
                          "swap": swap, "label": int(label[i]), "winner": 1 if prefer1[i] else 2}
                         for i in np.flatnonzero(kept)]
        else:
            cut = p["cutpoints"][rj.index(j)]
            offset = p["omega"][rj.index(j)] * rng.normal(size=n_items)     # the call's, shared by both scores
            s1 = _ordinal(rng, p["k"][c] * (level + offset + v / 2), cut)
            s2 = _ordinal(rng, p["k"][c] * (level + offset - v / 2), cut)
            for swap in (False, True):
                rows += [{"subset": f"s{subset[i]}", "item": items[i], "judge": jname, "strategy": strategy,
                          "swap": swap, "label": int(label[i]), "score_1": float(s1[i]), "score_2": float(s2[i])}
                         for i in range(n_items)]
    from snrstat.io.judgments import read_judgments

    frame = read_judgments(pd.DataFrame(rows))
    truth = dict(p, gap=gap, level=level, cells=[(j, s) for j, s, _ in cells], items=items, sign=sign)
    return frame, truth


def _ordinal(rng, eta, cut):
    cdf = special.expit(cut[None, :] - eta[:, None])
    return (rng.random(eta.size)[:, None] > cdf).sum(axis=1)


def simulate_modes(*, n_systems: int = 4, n_items: int = 100, spread: float = 0.3, item_sd: float = 1.0,
                   k: float = 1.0, call_sd=(0.0, 0.5, 1.0, 2.0), beta: float = 0.0, n_categories: int = 10,
                   scale_center: float = 0.0, replications: int = 400, random_seed: int = 0) -> pd.DataFrame:
    """How often isolated and relative scoring order ``n_systems`` systems correctly.

    System m has true quality ~ N(0, ``spread``); its answer to prompt i has quality
    q_mi = system_m + a_mi, a_mi ~ N(0, ``item_sd``). The judge reads k * q plus logistic noise.

    - isolated: each answer scored in its own call, on an ordinal scale of ``n_categories``
      (cut points evenly spaced over +-2 latent sds around ``scale_center``; a positive
      centre bunches the scores at the top, as LLMBar's 8s and 9s), plus a call offset
      ~ N(0, ``call_sd``);
    - relative: all answers to a prompt in one call, sharing one offset (it cancels), scored
      by their rank among the prompt's answers, with a position effect ``beta`` per place in
      the list (random order per prompt).

    Systems are ranked by their mean score. Returns one row per ``call_sd`` with each mode's
    decision accuracy (fraction of system pairs ordered as their true quality), averaged over
    ``replications`` simulated evaluations, and its Monte Carlo standard error.
    """
    if n_systems < 2:
        raise DataError(f"n_systems must be at least 2, got {n_systems}")
    rng = np.random.default_rng(random_seed)
    scale = np.sqrt(k**2 * (spread**2 + item_sd**2) + np.pi**2 / 3)
    cut = (np.linspace(-2.0, 2.0, n_categories - 1) - scale_center) * scale
    pairs = np.triu_indices(n_systems, 1)
    sds = np.atleast_1d(np.asarray(call_sd, dtype=float))
    acc = np.empty((replications, len(sds), 2))
    # common random numbers: every call_sd and both modes see the same systems, answers and noise
    for r in range(replications):
        theta = rng.normal(0.0, spread, n_systems)
        q = theta[None, :] + rng.normal(0.0, item_sd, (n_items, n_systems))
        noise = rng.logistic(size=(2, n_items, n_systems))
        offset_alone = rng.normal(size=(n_items, n_systems))
        offset_shared = rng.normal(size=(n_items, 1))
        place = np.argsort(rng.random((n_items, n_systems)), axis=1)         # position in the list
        truth = np.sign(theta[pairs[0]] - theta[pairs[1]])
        for s_i, sd in enumerate(sds):
            iso = k * q + sd * offset_alone + noise[0]
            rel = k * q + sd * offset_shared - beta * (place - (n_systems - 1) / 2) + noise[1]
            scores = (np.searchsorted(cut, iso).mean(axis=0), np.argsort(np.argsort(rel, axis=1), axis=1).mean(axis=0))
            for m_i, score in enumerate(scores):
                diff = np.sign(score[pairs[0]] - score[pairs[1]])
                acc[r, s_i, m_i] = np.mean(np.where(diff == 0, 0.5, diff == truth))
    rows = []
    root = np.sqrt(replications)
    for s_i, sd in enumerate(sds):
        iso, rel = acc[:, s_i, 0], acc[:, s_i, 1]
        rows.append({"call_sd": float(sd), "isolated": iso.mean(), "isolated_se": iso.std(ddof=1) / root,
                     "relative": rel.mean(), "relative_se": rel.std(ddof=1) / root,
                     "gain": (rel - iso).mean(), "gain_se": (rel - iso).std(ddof=1) / root})
    return pd.DataFrame(rows).set_index("call_sd")
