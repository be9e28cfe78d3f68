"""The PyMC graph of the judge model.

For pairwise verdict n of judge j with strategy s on item i shown in order o (+1 original,
-1 swapped)::

    P(prefers answer 1) = logistic(k[j,s] * sign[i] * gap[j,s,i] + beta[j,s] * o)
    gap[j,s,i] = mu[j, subset] + shift[j,s] + sigma[subset] * z[i] + u[j,i]        (gold-oriented)
    z[i] ~ Normal(0, 1),  u[j,i] ~ Normal(0, tau[j]),  both projected to zero mean per subset

``sign`` is +1 when gold says answer 1 is better, -1 otherwise. The gap judge j perceives has a
mean per subset (``mu``: how far, on average, the judge sees the gold answer ahead; below 0 on
a subset built to fool judges), a part shared by all judges (``sigma * z``: pairs that are hard
for everyone) and the judge's own error (``u``, shared by its strategies and both orders).
``shift`` moves the mean per strategy (a reference answer or a rubric changes what the judge
sees; zero-sum over each judge's strategies, so ``mu`` stays the judge's mean).
For an isolated rating of answer a (+1 for answer 1, -1 for answer 2) in rating call r::

    score ~ OrderedLogistic(k[j,s] * (level[i] + e[r] + a * sign[i] * gap[j,s,i] / 2), cutpoints[j])
    e[r] ~ Normal(0, omega[j]),  level ~ Normal(0, sigma_level) projected to zero mean

so both modes read the same perceived gap; a rating adds the logistic noise of scoring each
answer alone, the coarseness of the score scale, and ``e``, the call's offset shared by the two
answers' scores (how generous the judge is that time: it moves both scores together, which
is what makes ties common on a 1-10 scale) (Zheng et al. 2023; Zeng et al. 2024; ordered logistic
as in McCullagh 1980). The mean of log k over cells is 0 (which fixes the scale), and the
shared item part ties the judges' scales together.

The perception errors u and the call offsets e are sampled, non-centred (u = tau * z_u, e =
omega * z_e), and the likelihood is exact. Integrating them out by Gauss-Hermite quadrature
was tried first and costs more than it saves: with many verdicts of one pair (26 on full
LLMBar) a cell's integrand is a narrow bump, so 12 fixed nodes leave a rough likelihood surface
in tau (full-LLMBar fit: R-hat 1.26 after 127 minutes), and nodes centred on each cell's mode
are accurate but 40 times dearer per gradient than sampling the latents (12 x 24 evaluations
per rated answer against one). With the latents sampled, the full LLMBar design (11,113
parameters) costs 5 ms per gradient and NUTS runs at tree depth about 5.
"""

from __future__ import annotations

import numpy as np

from snrstat.judges.spec import JudgeDesign, JudgePriors

# stands in for the infinite outer cut points: large enough that exp(-(_BIG - |eta|)) is nil for any
# plausible eta, small enough that exp(_BIG + eta) stays finite (JAX differentiates both branches of
# softplus, and an overflow there turns the whole gradient into NaN)
_BIG = 100.0


def hermite_nodes(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and log weights of an n-point rule for E[f(Z)], Z ~ N(0, 1)."""
    t, w = np.polynomial.hermite_e.hermegauss(n)
    return t, np.log(w / w.sum())


def shift_basis(design: JudgeDesign) -> np.ndarray:
    """(cells, free) orthonormal basis of the cell vectors that sum to zero within each judge:
    ``shift = basis @ z`` with iid normal z is a ZeroSumNormal per judge (no free direction)."""
    blocks = []
    for j in design.judges:
        cells = [c for c, (judge, _) in enumerate(design.cells) if judge == j]
        n = len(cells)
        if n < 2:
            continue
        # orthonormal complement of the constant vector (Helmert contrasts, normalised)
        h = np.zeros((len(design.cells), n - 1))
        for m in range(1, n):
            col = np.zeros(n)
            col[:m] = 1.0
            col[m] = -m
            h[cells, m - 1] = col / np.sqrt(m * (m + 1))
        blocks.append(h)
    return np.concatenate(blocks, axis=1) if blocks else np.zeros((len(design.cells), 0))


def group_mean(z, group: np.ndarray, n_groups: int):
    """Each element's group mean of ``z`` (numpy or PyTensor), aligned with ``z``."""
    counts = np.maximum(np.bincount(group, minlength=n_groups), 1).astype(float)
    if isinstance(z, np.ndarray):
        return (np.bincount(group, weights=z, minlength=n_groups) / counts)[group]
    import pytensor.tensor as pt

    return (pt.zeros(n_groups)[group].inc(z) / counts)[group]


#: Judged pairs per cell (on average) from which each strategy gets its own mean gap: with fewer,
#: a strategy's mean trades off with its discrimination k (30 simulated pairs: divergences).
SHIFT_MIN_PAIRS = 50


def model_terms(design: JudgeDesign, priors: JudgePriors | None = None) -> dict[str, bool]:
    """Which optional terms the data can carry:

    - ``shift``: a per-strategy mean gap (needs gold labels, a judge with 2+ strategies and
      :data:`SHIFT_MIN_PAIRS` pairs per cell; ``JudgePriors(shift_sd=0)`` turns it off);
    - ``call_offsets``: a rating call's offset shared by its two scores. When every rated pair
      is rated in one call only (one rating judge and strategy, no repeats) the offset and the
      pair's common level are the same number and only their sum is known, so the level alone
      carries it.
    """
    p = priors or JudgePriors()
    cells_per_judge = np.bincount([design.judges.index(j) for j, _ in design.cells], minlength=len(design.judges))
    judged = {(int(c), int(i)) for c, i in zip(design.pw_cell, design.pw_item)} | \
        {(int(c), int(i)) for c, i in zip(design.rt_cell, design.rt_item)}
    pairs_per_cell = len(judged) / max(1, len(design.cells))
    calls = np.bincount(design.rt_item[:rating_calls(design)]) if design.rt_y.size else np.zeros(0, int)
    rated = calls[calls > 0]
    return {"shift": bool(design.has_gold and p.shift_sd > 0 and (cells_per_judge >= 2).any()
                          and pairs_per_cell >= SHIFT_MIN_PAIRS),
            "call_offsets": bool(rated.size and np.mean(rated >= 2) >= 0.5)}


def rating_calls(design: JudgeDesign) -> int:
    """Number of rating calls: ``rt_*`` holds answer 1 of every call, then answer 2 in the same order."""
    return design.rt_y.size // 2


def cutpoint_init(n_categories: int) -> np.ndarray:
    return np.linspace(-2.0, 2.0, n_categories - 1)


def data_arrays(design: JudgeDesign) -> dict[str, np.ndarray]:
    """The observed arrays, held in ``pm.Data`` containers: a design of the same shape (another
    simulated data set) reuses the compiled model with these swapped in."""
    return {"item_sign": design.item_sign.astype(float), "pw_y": design.pw_y.astype(float),
            "pw_order": design.pw_order.astype(float), "rt_y": design.rt_y.astype("int64")}


def structure_key(design: JudgeDesign, priors: JudgePriors | None) -> tuple:
    """What the compiled graph depends on besides :func:`data_arrays` (the compile-cache key)."""
    import hashlib

    h = hashlib.sha256()
    for arr in (design.item_subset, design.pc_judge, design.pc_item, design.pw_cell, design.pw_item, design.pw_pc,
                design.rt_cell, design.rt_item, design.rt_pc, design.rt_answer):
        h.update(np.ascontiguousarray(arr).tobytes() + b"|")
    h.update(repr((design.judges, design.cells, design.cell_mode, design.subsets, len(design.items),
                   design.has_gold, len(design.categories), priors or JudgePriors())).encode())
    return ("judges", h.hexdigest())


def build_model(design: JudgeDesign, priors: JudgePriors | None = None):
    """The PyMC model of ``design`` (see the module docstring)."""
    import pymc as pm
    import pytensor.tensor as pt

    p = priors or JudgePriors()
    rjudges = design.rating_judges
    coords = {
        "judge": design.judges, "cell": design.cell_labels, "subset": design.subsets, "item": design.items,
        "pairwise_cell": [design.cell_labels[c] for c in design.pairwise_cells],
    }
    if design.rt_y.size:
        coords.update(rating_judge=rjudges, cutpoint=[f"{a:g}|{b:g}" for a, b in zip(design.categories[:-1],
                                                                                     design.categories[1:])],
                      rated_item=[design.items[i] for i in design.rated_items])
    n_pc = design.pc_item.size
    arrays = data_arrays(design)
    with pm.Model(coords=coords) as model:
        sign = pm.Data("item_sign", arrays["item_sign"], dims="item")
        sigma = pm.HalfNormal("sigma_subset", p.sigma_sd, dims="subset")
        z = pm.Normal("z_item", 0.0, 1.0, dims="item")
        if design.has_gold:
            # zero mean within each subset (the projection of iid normals: a zero-sum normal); the
            # subset's mean is mu's, else the two trade off along one weakly identified line per
            # subset (full LLMBar: bulk ESS 21 of 2,000 draws on those means). The free direction
            # left in z (its subset means) touches nothing and is sampled from its prior.
            z = z - group_mean(z, design.item_subset, len(design.subsets))
        shared = pm.Deterministic("gap", sigma[design.item_subset] * z, dims="item")
        if design.has_gold:
            mu = pm.Normal("mu_subset", 0.0, p.mu_sd, dims=("judge", "subset"))
        else:  # without gold there is no direction for a mean gap
            mu = pt.zeros((len(design.judges), len(design.subsets)))
        # the perceived gap's mean, per (judge, item) cell, oriented to answer 1
        pc_mean = (mu[design.pc_judge, design.item_subset[design.pc_item]] + shared[design.pc_item]) \
            * sign[design.pc_item]
        terms = model_terms(design, p)
        basis = shift_basis(design)
        if terms["shift"]:
            # a fixed prior scale: with a judge's few strategies a hierarchical sd would leave the
            # sampler a curved ridge between the sd and the well-informed shifts
            z_shift = pm.Normal("z_shift", 0.0, p.shift_sd, shape=basis.shape[1])
            shift = pm.Deterministic("shift", pt.dot(basis, z_shift), dims="cell")
        else:
            shift = pt.zeros(len(design.cells))
        if len(design.cells) > 1:
            log_k = pm.ZeroSumNormal("log_k", sigma=p.log_k_sd, dims="cell")
        else:
            log_k = pt.zeros(1)
        k = pm.Deterministic("k", pt.exp(log_k), dims="cell")
        tau = pm.HalfNormal("tau", p.tau_sd, dims="judge")
        # non-centred: most cells hold a few verdicts, or verdicts that all agree and so bound u
        # from one side only; either way the data pin u less than tau does
        z_u = pm.Normal("z_perception", 0.0, 1.0, shape=n_pc)
        if design.has_gold:  # zero mean per (judge, subset): mu is the judge's mean there, as above
            n_sub = len(design.subsets)
            z_u = z_u - group_mean(z_u, design.pc_judge * n_sub + design.item_subset[design.pc_item],
                                   len(design.judges) * n_sub)
        v = pc_mean + tau[design.pc_judge] * z_u                     # perceived gap per (judge, item) cell
        ll = pt.zeros(())
        if design.pw_y.size:
            beta = pm.Normal("beta", 0.0, p.beta_sd, dims="pairwise_cell")
            beta_of_cell = pt.zeros(len(design.cells))[design.pairwise_cells].set(beta)
            y = pm.Data("pw_y", arrays["pw_y"])
            order = pm.Data("pw_order", arrays["pw_order"])
            pw_shift = shift[design.pw_cell] * sign[design.pw_item]
            eta = k[design.pw_cell] * (v[design.pw_pc] + pw_shift) + beta_of_cell[design.pw_cell] * order
            ll = ll - pt.softplus(-(2.0 * y - 1.0) * eta).sum()
        if design.rt_y.size:
            rated = design.rated_items
            level_sd = pm.HalfNormal("sigma_level", p.level_sd)
            zl = pm.Normal("z_level", 0.0, 1.0, dims="rated_item")
            zl = zl - zl.mean()   # zero mean: the judges' thresholds carry the location (as mu does for gaps)
            level = pm.Deterministic("level", pt.zeros(len(design.items))[rated].set(level_sd * zl), dims="item")
            ry = pm.Data("rt_y", arrays["rt_y"])
            ncat = len(design.categories)
            cut = pm.Normal("cutpoints", 0.0, p.cut_sd, dims=("rating_judge", "cutpoint"),
                            transform=pm.distributions.transforms.ordered,
                            initval=np.tile(cutpoint_init(ncat), (len(rjudges), 1)))
            padded = pt.concatenate([pt.full((len(rjudges), 1), -_BIG), cut, pt.full((len(rjudges), 1), _BIG)], axis=1)
            rj = np.array([rjudges.index(design.cells[c][0]) for c in design.rt_cell], dtype=int)
            calls = rating_calls(design)
            if terms["call_offsets"]:
                omega = pm.HalfNormal("omega", p.omega_sd, dims="rating_judge")
                e = omega[rj[:calls]] * pm.Normal("z_call", 0.0, 1.0, shape=calls)
                e = pt.concatenate([e, e])                    # both answers of a call share its offset
            else:
                e = pt.zeros(2 * calls)
            rt_shift = shift[design.rt_cell] * sign[design.rt_item]
            eta = k[design.rt_cell] * (level[design.rt_item] + e
                                       + 0.5 * design.rt_answer * (v[design.rt_pc] + rt_shift))
            upper = -pt.softplus(eta - padded[rj, ry + 1])
            lower = -pt.softplus(eta - padded[rj, ry])
            ll = ll + (upper + pt.log1mexp(lower - upper)).sum()
        pm.Potential("loglik", ll)
    return model


#: Variables whose diagnostics count (the population parameters; item gaps are many and
#: reported as a group in the fit's diagnostics table through their worst value).
POPULATION_VARS = ("mu_subset", "sigma_subset", "k", "beta", "tau", "shift", "sigma_level", "omega",
                   "cutpoints")
