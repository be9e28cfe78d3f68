"""The judge model's log-likelihood against the same likelihood written out verdict by verdict."""

import numpy as np
from scipy.special import expit, log_expit

from snrstat.judges.calibration import DESIGNS, simulate_design
from snrstat.judges.model import build_model, model_terms
from snrstat.judges.spec import judge_design


def _loglik_by_hand(design, values, z_perception, z_call):
    """One term per pairwise verdict and per rated answer, from the module docstring's formulas."""
    sign = design.item_sign
    gap = values["gap"]
    mu, tau, k, shift = values["mu_subset"], values["tau"], values["k"], values["shift"]
    # the judge's own errors have zero mean per (judge, subset)
    group = [(j, design.item_subset[i]) for j, i in zip(design.pc_judge, design.pc_item)]
    means = {g: np.mean([z for z, h in zip(z_perception, group) if h == g]) for g in set(group)}
    perceived = {}
    for c, (j, i) in enumerate(zip(design.pc_judge, design.pc_item)):
        own = tau[j] * (z_perception[c] - means[group[c]])
        perceived[c] = (mu[j, design.item_subset[i]] + gap[i]) * sign[i] + own
    beta = dict(zip(design.pairwise_cells, values["beta"]))
    total = 0.0
    for n in range(design.pw_y.size):
        c, i = design.pw_cell[n], design.pw_item[n]
        eta = k[c] * (perceived[design.pw_pc[n]] + shift[c] * sign[i]) + beta[c] * design.pw_order[n]
        total += log_expit(eta if design.pw_y[n] == 1 else -eta)
    rjudges = design.rating_judges
    calls = design.rt_y.size // 2
    for n in range(design.rt_y.size):
        c, i = design.rt_cell[n], design.rt_item[n]
        r = rjudges.index(design.cells[c][0])
        offset = values["omega"][r] * z_call[n % calls]   # answer 2 of call m sits at m + calls
        eta = k[c] * (values["level"][i] + offset
                      + 0.5 * design.rt_answer[n] * (perceived[design.rt_pc[n]] + shift[c] * sign[i]))
        cuts = np.concatenate([[-np.inf], values["cutpoints"][r], [np.inf]])
        y = design.rt_y[n]
        total += np.log(expit(eta - cuts[y]) - expit(eta - cuts[y + 1]))
    return total


def test_loglik_matches_the_verdicts_written_out():
    frame, _ = simulate_design(DESIGNS["terms"], 5)
    design = judge_design(frame, categories=range(DESIGNS["terms"]["n_categories"]))
    assert model_terms(design) == {"shift": True, "call_offsets": True}
    model = build_model(design)
    rng = np.random.default_rng(3)
    point = {name: value + rng.normal(0, 0.5, np.shape(value)) for name, value in model.initial_point().items()}
    names = ["gap", "mu_subset", "tau", "k", "shift", "beta", "omega", "level", "cutpoints"]
    values = dict(zip(names, model.compile_fn(model.replace_rvs_by_values([model[v] for v in names]), inputs=model.value_vars,
                                              on_unused_input="ignore")(point)))
    loglik = model.compile_fn(model.replace_rvs_by_values(model.potentials)[0], inputs=model.value_vars,
                              on_unused_input="ignore")(point)
    # the shared gaps have zero mean within each subset (the subset's mean is mu's)
    np.testing.assert_allclose(np.bincount(design.item_subset, weights=values["gap"]), 0.0, atol=1e-9)
    expected = _loglik_by_hand(design, values, point["z_perception"], point["z_call"])
    assert np.isfinite(expected)
    np.testing.assert_allclose(float(loglik), expected, rtol=1e-9)
