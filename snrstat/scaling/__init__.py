"""Scaling laws: the paper's two-step point fit and its Bayesian version with predictive intervals.

* :mod:`~snrstat.scaling.ladder` — the OLMo ladder as fitting data (runs, checkpoints, targets);
* :mod:`~snrstat.scaling.point` — the paper's point fit (Heineman et al. 2025; Bhagia et al. 2024);
* :mod:`~snrstat.scaling.data`, :mod:`~snrstat.scaling.model`, :mod:`~snrstat.scaling.predictive`,
  :mod:`~snrstat.scaling.fit` — the joint Bayesian two-step (or one-step) law by stage: inputs,
  PyMC graph, posterior predictive, the fit (predictive intervals for the targets);
* :mod:`~snrstat.scaling.validation` — leave-one-size-out coverage and log scores;
* :mod:`~snrstat.scaling.plots` — fan chart.

PyMC, nutpie, ArviZ and matplotlib are imported only when a Bayesian fit or a plot is made.
"""

from snrstat.scaling.data import ScalingConfig
from snrstat.scaling.fit import ScalingFit, ScalingFitWarning, fit_scaling_law, fit_table
from snrstat.scaling.ladder import (
    DEFAULT_TARGETS,
    PAPER_TRAIN_RUNS,
    TARGET_PARAMS,
    TARGET_TOKENS,
    checkpoint_table,
    ladder_points,
    parse_run,
    target_points,
)
from snrstat.scaling.plots import plot_fan
from snrstat.scaling.point import (
    LadderPointFit,
    acc_law,
    chained_prediction,
    fit_acc_law,
    fit_ladder_point,
    fit_loss_law,
    ladder_point_table,
    loss_law,
)
from snrstat.scaling.validation import coverage_summary, leave_one_size_out

__all__ = [
    "DEFAULT_TARGETS", "PAPER_TRAIN_RUNS", "TARGET_PARAMS", "TARGET_TOKENS", "LadderPointFit",
    "ScalingConfig", "ScalingFit", "ScalingFitWarning", "acc_law", "chained_prediction",
    "checkpoint_table", "coverage_summary", "fit_acc_law", "fit_ladder_point", "fit_loss_law",
    "fit_scaling_law", "fit_table", "ladder_point_table", "ladder_points", "leave_one_size_out",
    "loss_law", "parse_run", "plot_fan", "target_points",
]
