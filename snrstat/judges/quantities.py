"""What the judge model says, per posterior draw: numpy kernels, no xarray.

Every quantity integrates the judge's own perception error u ~ N(0, tau) with Gauss-Hermite
quadrature and averages over the items the cell judged, at each draw of the item gaps. They
are the expected values of the simple counts of :mod:`snrstat.judges.counts` (accuracy, flip
rate, share of verdicts for the answer shown first), so the two can be read side by side.

Definitions (per judge and strategy; a verdict d = +1 when answer 1 wins, -1 otherwise):

- accuracy: P(verdict = gold), averaged over both orders;
- flip: P(the verdicts in the two orders differ);
- first: P(the verdict picks the answer shown first); 0.5 = no position bias;
- judge SNR for ranking systems: signal = root mean square over pairs of the judge's expected
  verdict E[d | pair] (how far its mean verdict moves with the pairs' true quality), noise =
  root mean of Var(d | pair) (order, perception and sampling noise on the same pair); the
  paper's signal-over-noise of Heineman et al. 2025 with pairs in place of models.

A rating verdict comes from two isolated scores, a tie going to the answer shown second (as
in LLMBar): a tie is a flip, and accuracy counts it half right.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from snrstat.judges.model import hermite_nodes

QUAD_NODES = 16


@dataclass
class Draws:
    """Flat posterior draws (sample first) of the judge model's parameters."""

    gap: np.ndarray                 # (S, items): the part of the gold-oriented gap shared by all judges
    k: np.ndarray                   # (S, cells)
    beta: np.ndarray                # (S, cells), 0 for rating cells
    tau: np.ndarray                 # (S, judges)
    level: np.ndarray | None        # (S, items), 0 where not rated
    cutpoints: np.ndarray | None    # (S, rating judges, K-1)
    sigma_subset: np.ndarray        # (S, subsets)
    mu_subset: np.ndarray | None    # (S, judges, subsets), None without gold
    item_subset: np.ndarray         # (items,)
    shift: np.ndarray | None = None     # (S, cells): the strategy's move of the mean gap
    omega: np.ndarray | None = None     # (S, rating judges): sd of a rating call's shared offset

    def rows(self, s: slice) -> "Draws":
        """The draws in ``s`` (a block of the sample axis)."""
        def cut(a):
            return None if a is None else a[s]

        return Draws(gap=self.gap[s], k=self.k[s], beta=self.beta[s], tau=self.tau[s], level=cut(self.level),
                     cutpoints=cut(self.cutpoints), sigma_subset=self.sigma_subset[s], mu_subset=cut(self.mu_subset),
                     item_subset=self.item_subset, shift=cut(self.shift), omega=cut(self.omega))

    def perceived(self, judge: int, items: np.ndarray, sign: np.ndarray, cell: int | None = None) -> np.ndarray:
        """Mean gap judge ``judge`` perceives on ``items`` with the strategy of ``cell``, oriented to answer 1: (S, I)."""
        g = self.gap[:, items]
        if self.mu_subset is not None:
            g = g + self.mu_subset[:, judge, self.item_subset[items]]
        if self.shift is not None and cell is not None:
            g = g + self.shift[:, cell, None]
        return g * sign[items]


#: Draws per block in the cell kernels: their temporaries are (block x items x nodes), so a long
#: fit of a large table (10,000 draws x 1,200 pairs) stays in tens of MB instead of GBs.
DRAW_BLOCK = 256


def pairwise_cell(draws: Draws, c: int, judge: int, items: np.ndarray, sign: np.ndarray, nodes: int = QUAD_NODES):
    """accuracy, flip, first, snr (each shape (S,)) of pairwise cell ``c`` on ``items``."""
    n = draws.k.shape[0]
    if n > DRAW_BLOCK:
        blocks = [_pairwise_block(draws.rows(slice(lo, lo + DRAW_BLOCK)), c, judge, items, sign, nodes)
                  for lo in range(0, n, DRAW_BLOCK)]
        return {key: np.concatenate([b[key] for b in blocks]) for key in blocks[0]}
    return _pairwise_block(draws, c, judge, items, sign, nodes)


def _pairwise_block(draws: Draws, c: int, judge: int, items: np.ndarray, sign: np.ndarray, nodes: int):
    t, logw = hermite_nodes(nodes)
    w = np.exp(logw)
    x = draws.perceived(judge, items, sign, c)                                # (S, I)
    v = x[:, :, None] + draws.tau[:, judge, None, None] * t[None, None, :]   # (S, I, H)
    k = draws.k[:, c, None, None]
    b = draws.beta[:, c, None, None]
    p_plus, p_minus = special.expit(k * v + b), special.expit(k * v - b)      # P(answer 1) in each order
    gold1 = (sign[items] > 0)[None, :, None]
    c_plus = np.where(gold1, p_plus, 1 - p_plus)
    c_minus = np.where(gold1, p_minus, 1 - p_minus)
    acc = ((c_plus + c_minus) / 2 @ w).mean(axis=1)
    flip = ((p_plus * (1 - p_minus) + p_minus * (1 - p_plus)) @ w).mean(axis=1)
    first = ((p_plus + 1 - p_minus) / 2 @ w).mean(axis=1)
    m = (p_plus + p_minus - 1) @ w                                            # E[d | pair], random order
    return {"accuracy": acc, "flip": flip, "first": first, "snr": _snr(m)}


def _snr(m: np.ndarray) -> np.ndarray:
    ms = (m**2).mean(axis=1)
    return np.sqrt(ms / np.maximum(1 - ms, 1e-12))


#: Elements (draws x items x perception nodes x call nodes) per block of the rating kernel; each
#: running array of its category loop is this size (16 MB of float64).
RATING_BLOCK = 2**21
#: Largest change of a cell's accuracy, flip or first-answer rate (and relative change of its SNR)
#: that the node choice of :func:`rating_nodes` allows: a hundredth of a typical posterior sd.
RATING_TOL = 1e-4
_NODE_STEPS = (2, 3, 4, 6, 8, 12, 16, 24, 32)
_DENSE = (48, 64)


def rating_cell(draws: Draws, c: int, judge: int, rjudge: int, items: np.ndarray, sign: np.ndarray,
                nodes: int | None = None, call_nodes: int | None = None):
    """accuracy, flip, first, snr (each (S,)) of rating cell ``c`` (isolated scores) on ``items``.

    The perception error and the call's offset are integrated with ``nodes`` x ``call_nodes``
    Gauss-Hermite points; None picks them with :func:`rating_nodes`.
    """
    if nodes is None or call_nodes is None:
        chosen = rating_nodes(draws, c, judge, rjudge, items, sign)
        nodes, call_nodes = nodes or chosen[0], call_nodes or chosen[1]
    per_item = _rating_items(draws, c, judge, rjudge, items, sign, nodes, call_nodes)
    return {"accuracy": per_item["correct"].mean(axis=1), "flip": per_item["tie"].mean(axis=1),
            "first": ((1 - per_item["tie"]) / 2).mean(axis=1), "snr": _snr(per_item["margin"])}


def rating_nodes(draws: Draws, c: int, judge: int, rjudge: int, items: np.ndarray, sign: np.ndarray,
                 tol: float = RATING_TOL, check_draws: int = 16) -> tuple[int, int]:
    """The fewest perception and call-offset nodes whose cell quantities stay within ``tol`` of a
    dense rule (48 x 64 points) on ``check_draws`` draws spread over the sample (the draws that
    make up the posterior's quantiles). A rule needs a handful of nodes when k * tau and k * omega
    are small and dozens when an error spans several score categories."""
    n = draws.k.shape[0]
    sub = draws.rows(np.unique(np.linspace(0, n - 1, min(n, check_draws)).astype(int)))
    dense_call = _DENSE[1] if draws.omega is not None else 1    # no offset: one node is exact

    def values(h, e):
        out = rating_cell(sub, c, judge, rjudge, items, sign, h, e)
        return np.stack([out[q] for q in ("accuracy", "flip", "first", "snr")])

    ref = values(_DENSE[0], dense_call)
    scale = np.maximum(np.abs(ref), 1.0)               # SNR may exceed 1: compare it relatively

    def fewest(vary_call: bool) -> int:
        for m in _NODE_STEPS:
            got = values(_DENSE[0], m) if vary_call else values(m, dense_call)
            if np.max(np.abs(got - ref) / scale) < tol / 2:
                return m
        # not settled at the largest step: use the dense rule, and say so where even its last
        # step moved the quantities by more than ten times the tolerance
        moved = np.max(np.abs(got - ref) / scale)
        if moved > 10 * tol:
            warnings.warn(f"rating quantities of cell {c}: the {'call-offset' if vary_call else 'perception'} "
                          f"integral moves by {moved:.1e} between {m} and {_DENSE[int(vary_call)]} nodes (errors "
                          "very wide in logit units); the quantities may be off by about that", UserWarning,
                          stacklevel=3)
        return _DENSE[int(vary_call)]

    return fewest(False), (fewest(True) if dense_call > 1 else 1)


def _rating_items(draws: Draws, c: int, judge: int, rjudge: int, items: np.ndarray, sign: np.ndarray,
                  nodes: int, call_nodes: int) -> dict:
    """Per draw and pair (S, I): P(verdict = gold) ('correct'), P(tie) and E[verdict] ('margin')."""
    n, size = draws.k.shape[0], len(items) * nodes * call_nodes
    block = max(1, RATING_BLOCK // max(size, 1))
    parts = [_rating_block(draws.rows(slice(lo, lo + block)), c, judge, rjudge, items, sign, nodes, call_nodes)
             for lo in range(0, n, block)]
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def _rating_block(d: Draws, c: int, judge: int, rjudge: int, items: np.ndarray, sign: np.ndarray,
                  nodes: int, call_nodes: int) -> dict:
    t, logw = hermite_nodes(nodes)
    te, logwe = hermite_nodes(call_nodes)
    w, we = np.exp(logw), np.exp(logwe)
    k = d.k[:, c, None, None, None]
    omega = np.zeros(d.k.shape[0]) if d.omega is None else d.omega[:, rjudge]
    half = (d.perceived(judge, items, sign, c)[:, :, None] + d.tau[:, judge, None, None] * t) / 2   # (S, I, H)
    centre = d.level[:, items][:, :, None, None] + (omega[:, None] * te)[:, None, None, :]        # (S, I, 1, E)
    # P(score <= j | eta) = expit(cut_j - eta) = 1 / (1 + exp(eta) exp(-cut_j)): one exp per node
    # and score instead of one per cut point; the two scores share the call's offset (axis 3)
    with np.errstate(over="ignore"):
        grow1 = np.exp(k * (centre + half[..., None]))                                   # (S, I, H, E)
        grow2 = np.exp(k * (centre - half[..., None]))
        shrink = np.exp(-d.cutpoints[:, rjudge])                                          # (S, K-1)
    below1 = np.zeros_like(grow1)        # P(S1 <= j - 1) and P(S2 <= j - 1) as j runs up the scale
    below2 = np.zeros_like(grow2)
    win1 = np.zeros_like(grow1)          # P(S1 > S2)
    tie = np.zeros_like(grow1)
    for j in range(shrink.shape[1] + 1):
        if j < shrink.shape[1]:
            q = shrink[:, j, None, None, None]
            at1, at2 = 1 / (1 + grow1 * q), 1 / (1 + grow2 * q)
        else:
            at1, at2 = np.ones_like(grow1), np.ones_like(grow2)
        p1, p2 = at1 - below1, at2 - below2
        win1 += p1 * below2
        tie += p1 * p2
        below1, below2 = at1, at2
    win1, tie = (win1 @ we) @ w, (tie @ we) @ w                                           # (S, I)
    win2 = 1 - win1 - tie
    gold1 = (sign[items] > 0)[None, :]
    return {"correct": np.where(gold1, win1, win2) + tie / 2, "tie": tie, "margin": win1 - win2}


# ---------------------------------------------------------------------------- planning
def verdict_moments(k, beta, tau, gap, sigma_gap, *, orders: str = "both", repeats: int = 1, judges: int = 1,
                    nodes: int = 24):
    """Mean and variance, over pairs, of one pair's averaged verdict (+1 for system A, -1 for B).

    System A's answers beat B's by a quality gap ~ N(``gap``, ``sigma_gap``) per pair (latent
    units of the model). Each pair is judged by ``judges`` judges with the parameters (k, beta,
    tau) of one cell and independent perceptions, each ``repeats`` times, in ``orders`` 'both'
    (every repeat in both orders, 2 verdicts) or 'one' (one order drawn at random). Repeats
    share the judge's perception of the pair, so they do not average it away; judges do.
    Arguments are arrays over draws (S,); returns (mean, var), each (S,).
    """
    if orders not in ("both", "one"):
        raise ValueError(f"orders must be 'both' or 'one', got {orders!r}")
    t, logw = hermite_nodes(nodes)
    w = np.exp(logw)
    k, beta, tau = (np.asarray(a, dtype=float)[:, None, None] for a in (k, beta, tau))
    g = (np.asarray(gap, dtype=float) + np.asarray(sigma_gap, dtype=float)[:, None] * t[None, :])[:, :, None]  # (S,G,1)
    v = g + tau * t[None, None, :]                                           # (S, G, U)
    pp, pm_ = special.expit(k * v + beta), special.expit(k * v - beta)
    if orders == "both":
        e = pp + pm_ - 1
        within = (pp * (1 - pp) + pm_ * (1 - pm_)) / repeats
    else:
        pbar = (pp + pm_) / 2
        e = 2 * pbar - 1
        within = 4 * pbar * (1 - pbar) / repeats
    e_g = e @ w                                                              # (S, G)
    var_g = (within @ w + (e**2) @ w - e_g**2) / judges
    mean = e_g @ w
    var = var_g @ w + (e_g**2) @ w - mean**2
    return mean, var


def power_from_moments(mean, var, n_items, alpha: float = 0.05):
    """Power of a two-sided z test on the mean of ``n_items`` pairs' verdicts (normal approximation)."""
    z = stats.norm.ppf(1 - alpha / 2)
    se = np.sqrt(np.maximum(var, 1e-300) / n_items)
    shift = np.abs(mean) / se
    return stats.norm.cdf(shift - z) + stats.norm.cdf(-shift - z)


def items_from_moments(mean, var, power: float = 0.8, alpha: float = 0.05):
    """Pairs needed for ``power`` (normal approximation, ignoring the far tail)."""
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    with np.errstate(divide="ignore"):
        return np.where(np.abs(mean) > 0, z**2 * var / np.maximum(mean**2, 1e-300), np.inf)
