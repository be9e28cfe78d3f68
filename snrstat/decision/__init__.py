"""Decisions from evaluations: decision accuracy with credible intervals, experiment
design, choosing benchmarks and paired comparisons (Heineman et al. 2025, with posteriors).

- :mod:`~snrstat.decision.posterior`: decision accuracy between two scales, per posterior draw;
- :mod:`~snrstat.decision.joint`: the joint posterior of model means at two scales (Gibbs);
- :mod:`~snrstat.decision.design`: P(a new experiment with k seeds, n checkpoints ranks correctly);
- :mod:`~snrstat.decision.normal_model`: a fast exact posterior of model means (nested normal model);
- :mod:`~snrstat.decision.selection`: rank tasks, select a suite's subtasks by posterior SNR;
- :mod:`~snrstat.decision.paired`: two models on the same items (item model, McNemar, bootstrap);
- :mod:`~snrstat.decision.across`: SNR vs decision accuracy across tasks, errors in variables;
- :mod:`~snrstat.decision.calibration`: simulation checks of all of the above.

PyMC is imported only by the paired and across-task fits.
"""

from snrstat.decision._pairs import point_decision_accuracy
from snrstat.decision.across import AcrossResult, snr_decision_table, snr_vs_decision
from snrstat.decision.design import (
    design_curves,
    detectable_difference,
    estimate_variance,
    noise_draws,
    p_agree,
    p_correct,
    p_correct_population,
    predictive_decision_accuracy,
    simulate_comparisons,
)
from snrstat.decision.joint import TwoScaleFit, fit_two_scales, two_scale_posterior
from snrstat.decision.normal_model import NormalMeansFit, fit_normal_means, fit_window
from snrstat.decision.adapters import variance_noise_components
from snrstat.decision.paired import PairedResult, mcnemar_exact, paired_bootstrap, paired_comparison
from snrstat.decision.posterior import (
    DecisionResult,
    DecisionSummary,
    decision_accuracy_from_fits,
    posterior_decision_accuracy,
)
from snrstat.decision.selection import SelectionResult, point_snr, rank_tasks, select_subtasks

__all__ = [
    "AcrossResult", "DecisionResult", "DecisionSummary", "NormalMeansFit", "PairedResult", "SelectionResult",
    "TwoScaleFit", "fit_two_scales", "two_scale_posterior",
    "decision_accuracy_from_fits", "design_curves", "detectable_difference", "estimate_variance",
    "fit_normal_means", "fit_window", "mcnemar_exact", "noise_draws", "p_agree", "p_correct",
    "p_correct_population", "paired_bootstrap", "paired_comparison", "point_decision_accuracy", "point_snr",
    "posterior_decision_accuracy", "predictive_decision_accuracy", "rank_tasks", "select_subtasks",
    "variance_noise_components",
    "simulate_comparisons", "snr_decision_table", "snr_vs_decision",
]
