"""snrstat: how far to trust a benchmark score.

Public names are loaded lazily so that ``import snrstat`` (and the CLI) stays fast
and PyMC is imported only when a Bayesian model is used.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "validate": "snrstat.schema",
    "DataError": "snrstat.schema",
    "run_ids": "snrstat.schema",
    "read_olmo_ladder": "snrstat.io.olmo_ladder",
    "read_wandb_csv": "snrstat.io.olmo_ladder",
    "read_lm_eval": "snrstat.io.lm_eval",
    "read_olmes": "snrstat.io.olmes",
    "read_signal_and_noise": "snrstat.io.signal_and_noise",
    "read_table": "snrstat.io.generic",
    "read_inspect": "snrstat.io.inspect",
    "read_any": "snrstat.io.detect",
    "size_order": "snrstat.schema",
    "read_item_matrix": "snrstat.io.items",
    "load_dataset": "snrstat.datasets",
    "signal": "snrstat.point",
    "noise": "snrstat.point",
    "signal_to_noise_ratio": "snrstat.point",
    "decision_accuracy": "snrstat.point",
    "small_scale_snr": "snrstat.point",
    "subtask_selection": "snrstat.point",
    "InfiniteSNRWarning": "snrstat.point",
    "snr_table": "snrstat.point.table",
    "decision_table": "snrstat.point.table",
    "list_datasets": "snrstat.datasets",
    # Bayesian variance decomposition (the hierarchical model of snrstat.variance.spec)
    "fit_variance": "snrstat.variance",
    "fit_variance_many": "snrstat.variance",
    "simulate": "snrstat.variance",
    "reml_components": "snrstat.variance",
    "Priors": "snrstat.variance",
    "VarianceFit": "snrstat.variance",
    "load_fit": "snrstat.reference",
    # the inference core
    "SamplerSettings": "snrstat.inference",
    "fit_many": "snrstat.inference.batch",
    # decisions
    "fit_two_scales": "snrstat.decision",
    "posterior_decision_accuracy": "snrstat.decision",
    "decision_accuracy_from_fits": "snrstat.decision",
    "predictive_decision_accuracy": "snrstat.decision",
    "design_curves": "snrstat.decision",
    "detectable_difference": "snrstat.decision",
    "rank_tasks": "snrstat.decision",
    "select_subtasks": "snrstat.decision",
    "paired_comparison": "snrstat.decision",
    # item level (Madaan et al. 2024; Lord 1980 for item response theory)
    "fit_items": "snrstat.items",
    "ItemFit": "snrstat.items",
    "snr_vs_decision": "snrstat.decision",
    # scaling laws
    "fit_scaling_law": "snrstat.scaling",
    "fit_ladder_point": "snrstat.scaling",
    "ladder_point_table": "snrstat.scaling",
    "leave_one_size_out": "snrstat.scaling",
    "ScalingFit": "snrstat.scaling",
    "coverage_summary": "snrstat.scaling",
    # LLM-as-judge noise (Zheng et al. 2023; Zeng et al. 2024)
    "read_judgments": "snrstat.io.judgments",
    "fit_judges": "snrstat.judges",
    "JudgeFit": "snrstat.judges",
    "judge_counts": "snrstat.judges",
    "judge_vs_proxy": "snrstat.judges",
    "simulate_modes": "snrstat.judges",
    # report
    "build_report": "snrstat.report",
}


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        # subpackages (snrstat.plots, snrstat.reference, ...) are reachable as attributes too
        try:
            value = importlib.import_module(f"snrstat.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"snrstat.{name}":
                raise
            raise AttributeError(f"module 'snrstat' has no attribute {name!r}") from None
        globals()[name] = value
        return value
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + list(_EXPORTS))


__all__ = sorted(_EXPORTS)
