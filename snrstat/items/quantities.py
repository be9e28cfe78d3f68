"""What the item model says, per posterior draw: numpy kernels on arrays with a leading draw axis.

Every kernel takes a :class:`Params` (posterior draws flattened to ``S`` draws) and returns
arrays whose first axis is the draw, so intervals and probabilities come from the same draws.
The estimands (Madaan et al. 2024; Lord 1980 for item response theory; Madaan et al. 2024 for item sampling as a variance source):

- *score on this item set*: the expected accuracy of model m over the benchmark's items,
  ``mean_i P(m, i)`` (what a re-run with fresh answer noise would average to on these items);
- *score on the population of items*: the expected accuracy on a new item drawn from the
  benchmark's categories in their proportions, ``sum_c w_c E_{b ~ N(mu_c, sigma_c)} P(m, b)``
  (Gauss-Hermite quadrature), the quantity a benchmark of finitely many items estimates;
- *variance of a score over re-drawn benchmarks* of n items, split into item difficulty
  sampling ``sum_c w_c Var_c(P) / n``, answer noise (item x respondent) ``sum_c w_c E_c[P(1-P)] / n``,
  and training noise (run and checkpoint terms, when present) ``Var_u[S(theta + u)]``;
- the number of items that separates two models with given power (a paired design:
  ``Var(d_i) = E[P_A(1-P_A) + P_B(1-P_B)] + Var(P_A - P_B)`` per item);
- Fisher information of each item at the models' abilities (Birnbaum 1968, 3PL form).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special, stats

GH_NODES = 24


@dataclass
class Params:
    """Posterior draws as arrays with a leading draw axis S."""

    theta: np.ndarray             # (S, M)
    b: np.ndarray                 # (S, I)
    mu_c: np.ndarray              # (S, C)
    sigma_c: np.ndarray           # (S, C)
    item_category: np.ndarray     # (I,)
    guess: float = 0.0
    a: np.ndarray | None = None   # (S, I) discriminations (2PL)
    sigma_a: np.ndarray | None = None   # (S,)
    delta: np.ndarray | None = None     # (S, M, C) model-by-category abilities
    sigma_mc: np.ndarray | None = None  # (S,)
    sigma_run: np.ndarray | None = None
    sigma_ckpt: np.ndarray | None = None
    sigma_theta: np.ndarray | None = None

    @property
    def n_draws(self) -> int:
        return self.theta.shape[0]

    @property
    def n_categories(self) -> int:
        return self.mu_c.shape[1]

    def weights(self) -> np.ndarray:
        """Category shares of the benchmark's items."""
        counts = np.bincount(self.item_category, minlength=self.n_categories).astype(float)
        return counts / counts.sum()

    def ability(self) -> np.ndarray:
        """(S, M, C) ability of each model in each category."""
        base = self.theta[:, :, None]
        return base + self.delta if self.delta is not None else np.broadcast_to(
            base, base.shape[:2] + (self.n_categories,))

    def subset(self, idx) -> "Params":
        """The same parameters at a subset of draws."""
        def pick(x):
            return None if x is None else x[idx]
        return Params(self.theta[idx], self.b[idx], self.mu_c[idx], self.sigma_c[idx], self.item_category,
                      self.guess, pick(self.a), pick(self.sigma_a), pick(self.delta), pick(self.sigma_mc),
                      pick(self.sigma_run), pick(self.sigma_ckpt), pick(self.sigma_theta))


def response_prob(eta, guess: float = 0.0):
    """P(correct) = g + (1 - g) logistic(eta)."""
    return guess + (1.0 - guess) * special.expit(eta)


def _gh(n: int = GH_NODES):
    x, w = np.polynomial.hermite_e.hermegauss(n)
    return x, w / w.sum()


def _disc_nodes(p: Params):
    """Quadrature over the discrimination distribution: (S, K) values and (K,) weights."""
    if p.a is None:
        return np.ones((p.n_draws, 1)), np.ones(1)
    x, w = _gh(8)
    return np.exp(p.sigma_a[:, None] * x[None, :]), w


def score_on_items(p: Params, chunk: int = 64) -> np.ndarray:
    """(S, M) expected accuracy of each model over the benchmark's items."""
    out = np.empty(p.theta.shape)
    ab = p.ability()
    for s0 in range(0, p.n_draws, chunk):
        s = slice(s0, s0 + chunk)
        ab_i = ab[s][:, :, p.item_category]                      # (s, M, I)
        eta = ab_i - p.b[s][:, None, :]
        if p.a is not None:
            eta = eta * p.a[s][:, None, :]
        out[s] = response_prob(eta, p.guess).mean(axis=2)
    return out


def _category_moments(p: Params, shift=None):
    """E_c[P], E_c[P^2], E_c[P(1-P)] over items of each category, for every model:
    arrays (S, M, C). ``shift`` (S, M) is added to the abilities (training noise)."""
    x, w = _gh()
    av, aw = _disc_nodes(p)
    ab = p.ability()
    if shift is not None:
        ab = ab + shift[:, :, None]
    b = p.mu_c[:, None, :, None] + p.sigma_c[:, None, :, None] * x          # (S, 1, C, X)
    diff = ab[..., None] - b                                                  # (S, M, C, X)
    m1 = np.zeros(ab.shape)
    m2 = np.zeros(ab.shape)
    for k in range(av.shape[1]):
        prob = response_prob(av[:, k, None, None, None] * diff, p.guess)
        m1 += aw[k] * (prob * w).sum(-1)
        m2 += aw[k] * (prob**2 * w).sum(-1)
    return m1, m2


def score_population(p: Params) -> np.ndarray:
    """(S, M) expected accuracy on the population of items the benchmark samples."""
    m1, _ = _category_moments(p)
    return (m1 * p.weights()).sum(-1)


def prob_superior(score: np.ndarray) -> np.ndarray:
    """(M, M) P(score_i > score_j) over the draws (ties count half)."""
    s = np.asarray(score)
    gt = (s[:, :, None] > s[:, None, :]).mean(0)
    eq = (s[:, :, None] == s[:, None, :]).mean(0)
    return gt + 0.5 * eq - 0.5 * np.eye(s.shape[1])


def resolved_orderings(score: np.ndarray, names, *, level: float = 0.95, tie: float = 0.005):
    """Which pairwise orderings the posterior resolves, with multiplicity handled jointly.

    Pairs are sorted by P(A > B) (the larger direction); they are added to the resolved set as
    long as the posterior probability that *all* resolved orderings hold at once stays at or
    above ``level`` (a joint statement, so no further correction for the number of pairs).
    A pair is a *practical tie* when P(|score_A - score_B| < tie) >= level. Returns a list of
    dicts (a, b, p_a_better, p_tie, status) for every pair, best-resolved first, and the joint
    probability of the resolved set.
    """
    s = np.asarray(score)
    m = s.shape[1]
    rows = []
    for i in range(m):
        for j in range(i + 1, m):
            d = s[:, i] - s[:, j]
            p = float((d > 0).mean())
            a, b_, pab = (i, j, p) if p >= 0.5 else (j, i, 1 - p)
            rows.append({"a": names[a], "b": names[b_], "ia": a, "ib": b_, "p_a_better": pab,
                         "p_tie": float((np.abs(d) < tie).mean()), "diff_median": float(np.median(np.abs(d)))})
    rows.sort(key=lambda r: -r["p_a_better"])
    holds = np.ones(s.shape[0], dtype=bool)
    joint = 1.0
    for r in rows:
        trial = holds & (s[:, r["ia"]] > s[:, r["ib"]])
        if trial.mean() >= level:
            holds, joint, r["status"] = trial, float(trial.mean()), "resolved"
        elif r["p_tie"] >= level:
            r["status"] = "tie"
        else:
            r["status"] = "unresolved"
    for r in rows:
        r.pop("ia"), r.pop("ib")
    return rows, joint


def variance_components(p: Params, n_items: int) -> dict[str, np.ndarray]:
    """(S, M) variances of a model's score over re-drawn benchmarks of ``n_items`` items in the
    benchmark's category proportions (stratified), and of its training noise.

    Keys: ``item`` (difficulty sampling), ``answer`` (item x respondent answer noise, which
    a second checkpoint on the same items does not share), ``run``, ``ckpt`` (zeros when the term
    is absent).
    """
    w = p.weights()
    m1, m2 = _category_moments(p)
    out = {"item": ((m2 - m1**2) * w).sum(-1) / n_items, "answer": ((m1 - m2) * w).sum(-1) / n_items}
    x, gw = _gh(12)
    for name, sd in (("run", p.sigma_run), ("ckpt", p.sigma_ckpt)):
        if sd is None:
            out[name] = np.zeros(p.theta.shape)
            continue
        vals = np.stack([(_category_moments(p, shift=np.broadcast_to((sd * xk)[:, None], p.theta.shape))[0] * w).sum(-1)
                         for xk in x], axis=-1)                           # (S, M, X)
        mean = (vals * gw).sum(-1)
        out[name] = ((vals - mean[..., None]) ** 2 * gw).sum(-1)
    return out


def paired_item_variance(p: Params, ia: int, ib: int) -> tuple[np.ndarray, np.ndarray]:
    """(S,) population score difference A - B and the variance of one item's paired difference
    d_i = y_A,i - y_B,i, over items drawn from the benchmark's categories."""
    x, w = _gh()
    av, aw = _disc_nodes(p)
    ab = p.ability()
    b = p.mu_c[:, :, None] + p.sigma_c[:, :, None] * x               # (S, C, X)
    wc = p.weights()
    mean_d = np.zeros(p.n_draws)
    second = np.zeros(p.n_draws)
    answer = np.zeros(p.n_draws)
    for k in range(av.shape[1]):
        pa = response_prob(av[:, k, None, None] * (ab[:, ia, :, None] - b), p.guess)
        pb = response_prob(av[:, k, None, None] * (ab[:, ib, :, None] - b), p.guess)
        d = pa - pb
        mean_d += aw[k] * ((d * w).sum(-1) * wc).sum(-1)
        second += aw[k] * ((d**2 * w).sum(-1) * wc).sum(-1)
        answer += aw[k] * (((pa * (1 - pa) + pb * (1 - pb)) * w).sum(-1) * wc).sum(-1)
    return mean_d, answer + second - mean_d**2


def items_for_power(gap, var_d, *, power: float = 0.8, alpha: float = 0.05):
    """Items a paired two-sided z-test at ``alpha`` needs to detect ``gap`` with ``power``."""
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    gap = np.abs(np.asarray(gap, dtype=float))
    with np.errstate(divide="ignore"):
        return np.where(gap > 0, np.ceil(z**2 * np.asarray(var_d) / gap**2), np.inf)


def items_for_gap(p: Params, gap: float, *, power: float = 0.8, alpha: float = 0.05, model: int | None = None):
    """(S,) items needed to separate a model from one ``gap`` better in population accuracy.

    The weaker model is ``model`` (index), by default a typical one (median ability in each
    draw); the stronger one is found by raising its ability until the population scores
    differ by ``gap`` (bisection, per draw).
    """
    S = p.n_draws
    med = np.median(p.theta, axis=1) if model is None else p.theta[:, model]
    base_delta = None if p.delta is None else (np.zeros((S, p.n_categories)) if model is None else p.delta[:, model])

    def pop_score(theta_vec):
        q = Params(theta_vec[:, None], p.b, p.mu_c, p.sigma_c, p.item_category, p.guess, p.a, p.sigma_a,
                   None if base_delta is None else base_delta[:, None, :], p.sigma_mc)
        return score_population(q)[:, 0]

    s0 = pop_score(med)
    lo, hi = np.zeros(S), np.full(S, 10.0)
    for _ in range(40):
        mid = (lo + hi) / 2
        too_small = pop_score(med + mid) - s0 < gap
        lo, hi = np.where(too_small, mid, lo), np.where(too_small, hi, mid)
    up = med + (lo + hi) / 2
    theta2 = np.stack([med, up], axis=1)
    delta2 = None if base_delta is None else np.stack([base_delta, base_delta], axis=1)
    q = Params(theta2, p.b, p.mu_c, p.sigma_c, p.item_category, p.guess, p.a, p.sigma_a, delta2, p.sigma_mc)
    d, var_d = paired_item_variance(q, 1, 0)
    return items_for_power(d, var_d, power=power, alpha=alpha)


def item_information(p: Params, chunk: int = 64) -> np.ndarray:
    """(S, I) Fisher information of each item, averaged over the models' abilities:
    ``a^2 (P - g)^2 (1 - P) / ((1 - g)^2 P)`` (3PL with fixed g; Birnbaum 1968)."""
    out = np.empty(p.b.shape)
    ab = p.ability()
    g = p.guess
    for s0 in range(0, p.n_draws, chunk):
        s = slice(s0, s0 + chunk)
        a = np.ones_like(p.b[s]) if p.a is None else p.a[s]
        eta = a[:, None, :] * (ab[s][:, :, p.item_category] - p.b[s][:, None, :])
        prob = response_prob(eta, g)
        info = a[:, None, :] ** 2 * (prob - g) ** 2 * (1 - prob) / ((1 - g) ** 2 * prob)
        out[s] = info.mean(axis=1)
    return out
