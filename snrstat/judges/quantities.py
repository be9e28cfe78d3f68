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

from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from snrstat.judges.model import CALL_NODES, hermite_nodes

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


def category_probs(eta: np.ndarray, cut: np.ndarray) -> np.ndarray:
    """P(score = category) of an ordered logistic, last axis = category; ``cut`` (..., K-1)
    broadcasts against eta[..., None]."""
    cdf = special.expit(cut - eta[..., None])
    ones = np.ones(cdf.shape[:-1] + (1,))
    cdf = np.concatenate([0 * ones, cdf, ones], axis=-1)
    return np.diff(cdf, axis=-1)


def rating_cell(draws: Draws, c: int, judge: int, rjudge: int, items: np.ndarray, sign: np.ndarray,
                nodes: int = QUAD_NODES, chunk: int = 16, call_nodes: int = CALL_NODES):
    """accuracy, flip, first, snr (each (S,)) of rating cell ``c`` (isolated scores) on ``items``."""
    t, logw = hermite_nodes(nodes)
    w = np.exp(logw)
    te, logwe = hermite_nodes(call_nodes if draws.omega is not None else 1)  # no offset: one node is exact
    we = np.exp(logwe)
    n = draws.gap.shape[0]
    out = {key: np.empty(n) for key in ("accuracy", "flip", "first", "snr")}
    for lo in range(0, n, chunk):
        s = slice(lo, lo + chunk)
        x = draws.rows(s).perceived(judge, items, sign, c)
        v = x[:, :, None] + draws.tau[s, judge, None, None] * t[None, None, :]
        k = draws.k[s, c, None, None, None]
        omega = 0.0 if draws.omega is None else draws.omega[s, rjudge][:, None, None, None]
        # the call's offset e is shared by both scores: integrate it with its own nodes (axis 3)
        lev = draws.level[s][:, items][:, :, None, None] + omega * te[None, None, None, :]
        cut = draws.cutpoints[s, rjudge][:, None, None, None, :]
        p1 = category_probs(k * (lev + v[..., None] / 2), cut)               # (S, I, H, E, K)
        p2 = category_probs(k * (lev - v[..., None] / 2), cut)
        below2 = np.cumsum(p2, axis=-1) - p2                                  # P(S2 < c)
        win1 = (p1 * below2).sum(-1) @ we
        tie = (p1 * p2).sum(-1) @ we
        win2 = 1 - win1 - tie
        gold1 = (sign[items] > 0)[None, :, None]
        correct = np.where(gold1, win1, win2) + tie / 2
        out["accuracy"][s] = (correct @ w).mean(axis=1)
        out["flip"][s] = (tie @ w).mean(axis=1)
        out["first"][s] = ((1 - tie) / 2 @ w).mean(axis=1)
        out["snr"][s] = _snr((win1 - win2) @ w)
    return out


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
