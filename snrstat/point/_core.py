"""Signal, noise, SNR and decision accuracy of plain score vectors.

Definitions of Heineman et al. 2025, "Signal and Noise" (arXiv 2508.13144), section 2 of
Heineman et al. 2025; the appendix variants of the signal are selected with ``kind``.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

from snrstat.schema import DataError

#: Signal variants: the paper's relative range, and its appendix alternatives.
SIGNAL_KINDS = ("range", "rel_std", "range_raw", "std_raw")


class InfiniteSNRWarning(RuntimeWarning):
    """The noise is exactly 0 while the signal is not, so the SNR is reported as +inf."""


class UndefinedSNRWarning(RuntimeWarning):
    """Signal and noise are both exactly 0 (constant scores): the SNR 0/0 is undefined, NaN."""


#: The reason given wherever an SNR is NaN because signal and noise are both 0.
CONSTANT_REASON = "undefined: constant scores (signal and noise both 0)"


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def warn_infinite(where: str) -> None:
    # point the warning at the caller's line, outside snrstat
    level, frame = 2, sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        level, frame = level + 1, frame.f_back
    warnings.warn(
        f"noise is 0 {where}: the SNR is reported as +inf (scores that never move cannot "
        "hide a difference; check that the window really holds distinct checkpoints)",
        InfiniteSNRWarning,
        stacklevel=level,
    )


def warn_undefined(where: str) -> None:
    level, frame = 2, sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        level, frame = level + 1, frame.f_back
    warnings.warn(
        f"signal and noise are both 0 {where}: the scores are constant, so the SNR (0/0) is undefined "
        "and reported as NaN; such a benchmark cannot rank models",
        UndefinedSNRWarning,
        stacklevel=level,
    )


def as_scores(values, name: str, *, at_least: int, need: str) -> np.ndarray:
    """A finite 1-d float array from a sequence, Series or dict of scores.

    ``need`` completes the message raised when there are fewer than ``at_least`` scores.
    """
    labels = None
    if isinstance(values, Mapping):
        labels, values = list(values.keys()), list(values.values())
    elif isinstance(values, pd.Series):
        labels, values = list(values.index), values.to_numpy(dtype=float, na_value=np.nan)
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name}: scores must be numbers ({exc})") from None
    if arr.ndim != 1:
        raise DataError(f"{name}: expected a 1-d sequence of scores, got an array of shape {arr.shape}")
    bad = np.flatnonzero(~np.isfinite(arr))
    if len(bad):
        where = [labels[i] for i in bad[:5]] if labels is not None else list(bad[:5])
        raise DataError(f"{name}: {len(bad)} NaN/infinite score(s), at {where}; drop or fill them first")
    if len(arr) < at_least:
        raise DataError(f"{name}: {need}; got {len(arr)} score(s)")
    return arr


def _relative(numerator: float, mean: float, name: str) -> float:
    if mean == 0:
        raise DataError(f"{name}: the mean score is 0, so a relative spread (divided by the mean) is undefined")
    return numerator / mean


def signal(scores, kind: str = "range") -> float:
    """Signal of a population of models: how far apart their scores are.

    ``scores`` holds one score per model (at small scale each model's mean over its last n
    checkpoints). ``kind`` (Heineman et al. 2025, section 2 and appendix):

    - ``"range"`` (the paper): ``max_{j,k} |m_j - m_k| / mean(m) = (max - min) / mean``;
    - ``"rel_std"``: ``std(m) / mean(m)``, population std (ddof=0);
    - ``"range_raw"``: ``max - min``, dispersion without normalisation;
    - ``"std_raw"``: ``std(m)`` (ddof=0), without normalisation.

    Raises DataError for fewer than two models, NaN scores, or a zero mean (relative kinds).
    """
    if kind not in SIGNAL_KINDS:
        raise DataError(f"signal kind must be one of {SIGNAL_KINDS}, got {kind!r}")
    m = as_scores(scores, "signal", at_least=2, need="signal needs at least two models")
    if kind in ("range", "range_raw"):
        spread = float(m.max() - m.min())
    else:
        spread = 0.0 if m.max() == m.min() else float(np.std(m))
    return spread if kind.endswith("_raw") else _relative(spread, float(np.mean(m)), "signal")


def noise(scores) -> float:
    """Noise of a set of scores (the last n checkpoints of one run): ``std(s) / mean(s)``.

    Population std (ddof=0), as numpy's default and the paper. Identical scores give
    exactly 0 (not a rounding residue of the mean). Needs at least two scores.
    """
    s = as_scores(scores, "noise", at_least=2, need="noise needs at least two scores (checkpoints)")
    spread = 0.0 if s.max() == s.min() else float(np.std(s))
    return _relative(spread, float(np.mean(s)), "noise")


def signal_to_noise_ratio(signal_scores, noise_scores, kind: str = "range") -> float:
    """SNR = ``signal(signal_scores, kind) / noise(noise_scores)`` (Heineman et al. 2025).

    A noise of exactly 0 gives ``+inf`` with an :class:`InfiniteSNRWarning` when the signal
    is positive; when the signal is 0 too (constant scores) the ratio 0/0 is undefined: NaN with
    an :class:`UndefinedSNRWarning` (0/0 has no value), never ranked as the best benchmark.
    """
    sig = signal(signal_scores, kind)
    noi = noise(noise_scores)
    if noi == 0 and sig == 0:
        warn_undefined("in the scores")
        return float("nan")
    if noi == 0:
        warn_infinite("in the noise scores")
        return float("inf")
    return sig / noi


def _keyed(scores) -> bool:
    return isinstance(scores, (Mapping, pd.Series))


def decision_accuracy(scores_small, scores_target) -> float:
    """Fraction of model pairs whose order agrees at two scales (Heineman et al. 2025).

    For pairs i < j: ``(s_i > s_j) == (t_i > t_j)``, exactly the paper's rule. Ties are
    counted as that rule counts them: a tie at both scales agrees; a tie at one scale
    agrees only when the other scale has ``s_i < s_j`` too, so with ties the result
    depends on the order of the models. Keyed inputs (pandas Series or dicts, by model
    name) are matched by name and ordered by name, as the paper's script sorts them, so
    the answer does not depend on input order; both sides must hold the same models (a
    DataError lists the models missing on each side). Plain sequences are paired by
    position and must have equal length. Needs at least two models; NaN is refused.
    """
    if _keyed(scores_small) != _keyed(scores_target):
        raise DataError(
            "decision_accuracy: pass both score sets keyed by model name (Series or dict), or both "
            "as plain sequences in the same model order; mixing them would pair models by position"
        )
    if _keyed(scores_small):
        small = _by_name(scores_small, "scores_small")
        target = _by_name(scores_target, "scores_target")
        only_small = sorted(set(small.index) - set(target.index))
        only_target = sorted(set(target.index) - set(small.index))
        if only_small or only_target:
            raise DataError(
                "decision_accuracy: the two scales must hold the same models (pairs are matched by name); "
                f"missing at the target scale: {only_small}; missing at the small scale: {only_target}"
            )
        models = sorted(small.index)
        s, t = small.loc[models].to_numpy(), target.loc[models].to_numpy()
    else:
        s = as_scores(scores_small, "scores_small", at_least=0, need="")
        t = as_scores(scores_target, "scores_target", at_least=0, need="")
        if len(s) != len(t):
            raise DataError(f"decision_accuracy: {len(s)} small-scale scores but {len(t)} target scores")
    if len(s) < 2:
        raise DataError(f"decision_accuracy needs at least two models; got {len(s)}")
    i, j = np.triu_indices(len(s), k=1)
    return float(np.mean((s[i] > s[j]) == (t[i] > t[j])))


def _by_name(scores, name: str) -> pd.Series:
    series = pd.Series(scores) if isinstance(scores, Mapping) else scores
    keys = [str(k) for k in series.index]
    if len(set(keys)) != len(keys):
        dup = sorted({k for k in keys if keys.count(k) > 1})
        raise DataError(f"{name}: model(s) listed twice: {dup}")
    values = as_scores(series, name, at_least=0, need="")
    return pd.Series(values, index=keys)
