"""Decisions from evaluations: decision accuracy with credible intervals, experiment
design, choosing benchmarks and paired comparisons (Heineman et al. 2025, with posteriors).

Grouped by purpose:

- one scale: :mod:`~snrstat.decision.single_scale` (a fast exact posterior of model means, the
  nested normal model);
- two scales: :mod:`~snrstat.decision.two_scales` (the joint posterior of model means at two
  scales) and :mod:`~snrstat.decision.accuracy` (decision accuracy per posterior draw);
- item comparison: :mod:`~snrstat.decision.item_comparison` (two models on the same items; the
  item model lives in :mod:`snrstat.items`);
- planning: :mod:`~snrstat.decision.planning` (P(a new experiment with k seeds, n checkpoints
  ranks correctly), detectable differences) and :mod:`~snrstat.decision.selection` (rank tasks,
  select a suite's subtasks by posterior SNR);
- across tasks: :mod:`~snrstat.decision.across_tasks` (SNR vs decision accuracy, errors in
  variables);
- :mod:`~snrstat.decision.calibration`: simulation checks of all of the above.

PyMC is imported only by the paired and across-task fits.
"""

from snrstat.decision._pairs import point_decision_accuracy
from snrstat.decision.across_tasks import AcrossResult, snr_decision_table, snr_vs_decision
from snrstat.decision.planning import (
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
from snrstat.decision.two_scales import TwoScaleFit, fit_two_scales, two_scale_posterior
from snrstat.decision.single_scale import NormalMeansFit, fit_normal_means, fit_window
from snrstat.decision.adapters import variance_noise_components
from snrstat.decision.item_comparison import PairedResult, mcnemar_exact, paired_bootstrap, paired_comparison
from snrstat.decision.accuracy import (
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
