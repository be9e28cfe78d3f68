"""LLM-as-judge noise (Zheng et al. 2023; Zeng et al. 2024): judge, position and scoring-mode effects.

Records -> design (:mod:`~snrstat.judges.spec`) -> PyMC graph (:mod:`~snrstat.judges.model`)
-> per-draw quantities (:mod:`~snrstat.judges.quantities`) -> fit (:mod:`~snrstat.judges.fit`).
Simple counts on raw verdicts are in :mod:`~snrstat.judges.counts`, simulations (calibration,
isolated against relative scoring) in :mod:`~snrstat.judges.simulate`, and the
errors-in-variables fit of a judge score against a proxy metric in :mod:`~snrstat.judges.proxy`.
Importing this package does not import PyMC.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "JudgePriors": "snrstat.judges.spec",
    "judge_design": "snrstat.judges.spec",
    "select_judgments": "snrstat.judges.spec",
    "LLMBAR_SUBSETS": "snrstat.judges.spec",
    "DEFAULT_STRATEGIES": "snrstat.judges.spec",
    "judge_counts": "snrstat.judges.counts",
    "mode_comparison_counts": "snrstat.judges.counts",
    "build_model": "snrstat.judges.model",
    "fit_judges": "snrstat.judges.fit",
    "JudgeFit": "snrstat.judges.fit",
    "simulate_judgments": "snrstat.judges.simulate",
    "simulate_modes": "snrstat.judges.simulate",
    "judge_vs_proxy": "snrstat.judges.proxy",
    "ProxyResult": "snrstat.judges.proxy",
}


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'snrstat.judges' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + list(_EXPORTS))


__all__ = sorted(_EXPORTS)
