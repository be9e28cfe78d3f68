"""The judge model's likelihood against brute-force integration of the perception errors."""

import numpy as np
from scipy.special import log_expit, logsumexp

from snrstat.judges.model import build_model, data_arrays
from snrstat.judges.simulate import draw_parameters, simulate_judgments
from snrstat.judges.spec import judge_design


def _brute_force_loglik(design, point, n_grid=20001):
    """Sum over (judge, item) cells of log int prod_n sigmoid(...) N(u; 0, tau) du, on a fine grid."""
    k = np.exp(point["log_k"])
    arr = data_arrays(design)
    sign = arr["item_sign"]
    gap = point["sigma_subset"][design.item_subset] * point["z_item"]
    pc_mean = (point["mu_subset"][design.pc_judge, design.item_subset[design.pc_item]] + gap[design.pc_item]) \
        * sign[design.pc_item]
    beta = np.zeros(len(design.cells))
    beta[design.pairwise_cells] = point["beta"]
    y, order = arr["pw_y"], arr["pw_order"]
    total = 0.0
    for c in range(design.pc_item.size):
        tau = point["tau"][design.pc_judge[c]]
        u = np.linspace(-12 * tau, 12 * tau, n_grid)
        rows = np.flatnonzero(design.pw_pc == c)
        eta = k[design.pw_cell[rows]][:, None] * (pc_mean[c] + u[None, :]) \
            + (beta[design.pw_cell[rows]] * order[rows])[:, None]
        ll = log_expit((2.0 * y[rows] - 1.0)[:, None] * eta).sum(0)
        total += logsumexp(ll - u**2 / (2 * tau**2)) + np.log((u[1] - u[0]) / np.sqrt(2 * np.pi * tau**2))
    return total


def test_quadrature_matches_brute_force_within_its_known_error():
    # a sharp judge with a large perception error, many verdicts per pair: the hard case for 12
    # fixed Gauss-Hermite nodes (about 0.1 per cell at worst); a wrong graph errs by far more
    rng = np.random.default_rng(4)
    strategies = ("Vanilla", "CoT", "Rules", "Swap", "Metrics", "Reference")
    cells = [(0, "pairwise")] * len(strategies) + [(1, "pairwise")] * len(strategies)
    params = draw_parameters(2, cells, 2, 5, rng)
    frame, _ = simulate_judgments(25, judges=("J1", "J2"), pairwise=strategies, rating=(), n_subsets=2,
                                  params=params, random_seed=2)
    design = judge_design(frame)
    model = build_model(design)
    point = model.initial_point()
    point.update({"tau_log__": np.log([2.0, 0.7]), "log_k_zerosum__": rng.normal(0, 0.4, len(design.cells) - 1),
                  "sigma_subset_log__": np.log([1.2, 0.8]), "z_item": rng.normal(0, 1, len(design.items)),
                  "mu_subset": np.array([[1.5, 0.5], [1.0, -0.3]]), "beta": rng.normal(0, 0.4, len(design.cells))})
    values = dict(zip([v.name for v in model.unobserved_value_vars], model.compile_fn(
        model.replace_rvs_by_values(model.unobserved_value_vars), inputs=model.value_vars,
        on_unused_input="ignore")(point)))
    loglik = model.compile_fn(model.replace_rvs_by_values(model.potentials)[0], inputs=model.value_vars,
                              on_unused_input="ignore")(point)
    exact = _brute_force_loglik(design, values)
    # 50 cells: the fixed rule errs by 0.48 in total here (about 0.01 per cell; adaptive nodes
    # centred on each cell's mode: 1e-4, but they slow the sampler to a crawl on sharp judges,
    # see the README); a wrong likelihood graph errs by tens
    assert abs(float(loglik) - exact) < 1.0
