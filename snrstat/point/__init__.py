"""Point estimates of the signal-and-noise paper (Heineman et al. 2025, arXiv 2508.13144)
and the variance metrics of Madaan et al. 2024 (arXiv 2406.10229).

- plain score vectors: :func:`signal`, :func:`noise`, :func:`signal_to_noise_ratio`,
  :func:`decision_accuracy`;
- a tidy frame: :func:`small_scale_snr`, :func:`subtask_selection` (and, for whole tables,
  :mod:`snrstat.point.table`);
- training curves: :func:`total_variation`, :func:`monotonicity`, :func:`seed_std`;
- smoothing interventions: :func:`last_n_mean`, :func:`ema`.

A noise of exactly 0 with a positive signal gives SNR = +inf with an :class:`InfiniteSNRWarning`;
signal and noise both 0 (constant scores) give NaN with an :class:`UndefinedSNRWarning`: 0/0 is
undefined (0/0 has no value), and such a benchmark or subtask is never ranked first.
"""

from snrstat.point._core import (
    SIGNAL_KINDS,
    CONSTANT_REASON,
    InfiniteSNRWarning,
    UndefinedSNRWarning,
    decision_accuracy,
    noise,
    signal,
    signal_to_noise_ratio,
)
from snrstat.point.small_scale import SmallScaleSNR, small_scale_snr, subtask_selection
from snrstat.point.smoothing import ema, last_n_mean
from snrstat.point.variance import SeedStd, monotonicity, seed_std, total_variation

__all__ = [
    "CONSTANT_REASON", "SIGNAL_KINDS", "InfiniteSNRWarning", "UndefinedSNRWarning", "SeedStd", "SmallScaleSNR", "decision_accuracy", "ema",
    "last_n_mean", "monotonicity", "noise", "seed_std", "signal", "signal_to_noise_ratio",
    "small_scale_snr", "subtask_selection", "total_variation",
]
