"""Model pairs, alignment by model name, and the paper's decision-accuracy rule.

The point estimate of decision accuracy (Heineman et al. 2025) is the fraction of model
pairs i < j whose order agrees at two scales: ``(s_i > s_j) == (t_i > t_j)``. The
canonical implementation lives in :mod:`snrstat.point`; this module uses it when present
and otherwise applies the same rule here (the only private copy in the package).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from snrstat.schema import DataError


def pair_indices(n_models: int) -> tuple[np.ndarray, np.ndarray]:
    """Index arrays (i, j) of every pair i < j, in row-major order."""
    return np.triu_indices(n_models, k=1)


def as_score_series(scores, name: str) -> pd.Series:
    """Observed scores keyed by model name (dict, Series, or 1-d DataArray with a model dim)."""
    if isinstance(scores, pd.Series):
        out = scores.copy()
    elif isinstance(scores, Mapping):
        out = pd.Series(dict(scores), dtype="float64")
    elif hasattr(scores, "dims") and tuple(scores.dims) == ("model",):
        out = pd.Series(np.asarray(scores.values, dtype=float), index=[str(m) for m in scores["model"].values])
    else:
        raise DataError(
            f"{name}: expected observed scores keyed by model (dict, pandas Series or a DataArray "
            f"with dim 'model'), got {type(scores).__name__}"
        )
    out.index = [str(i) for i in out.index]
    if out.index.duplicated().any():
        raise DataError(f"{name}: model(s) listed twice: {sorted(set(out.index[out.index.duplicated()]))}")
    values = pd.to_numeric(out, errors="coerce").astype(float)
    if not np.isfinite(values.to_numpy()).all():
        bad = list(values.index[~np.isfinite(values.to_numpy())])
        raise DataError(f"{name}: scores must be finite numbers; not for model(s) {bad}")
    return values


def check_same_models(small: list[str], target: list[str], what: str = "model") -> list[str]:
    """The common models in the order of ``small``; a DataError naming every unmatched one."""
    only_small = [m for m in small if m not in set(target)]
    only_target = [m for m in target if m not in set(small)]
    if only_small or only_target:
        parts = []
        if only_small:
            parts.append(f"missing at the target scale: {only_small}")
        if only_target:
            parts.append(f"missing at the small scale: {only_target}")
        raise DataError(
            f"the two scales must hold the same {what}s (pairs are matched by name); " + "; ".join(parts)
        )
    return list(small)


def point_decision_accuracy(scores_small, scores_target) -> float:
    """The paper's decision accuracy of observed scores keyed by model name.

    Models are matched by name (never by position); both sides must hold the same models.
    Uses :func:`snrstat.point.decision_accuracy` when that module exists.
    """
    s = as_score_series(scores_small, "scores_small")
    t = as_score_series(scores_target, "scores_target")
    models = check_same_models(list(s.index), list(t.index))
    s_arr = s.loc[models].to_numpy()
    t_arr = t.loc[models].to_numpy()
    try:
        from snrstat.point import decision_accuracy
    except ImportError:
        return _pair_rule(s_arr, t_arr)
    return float(decision_accuracy(s_arr, t_arr))


def _pair_rule(small: np.ndarray, target: np.ndarray) -> float:
    """Fraction of pairs i<j with ``(s_i > s_j) == (t_i > t_j)``; NaN with fewer than two models."""
    if len(small) < 2:
        return float("nan")
    i, j = pair_indices(len(small))
    return float(np.mean((small[i] > small[j]) == (target[i] > target[j])))
