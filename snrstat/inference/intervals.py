"""Credible intervals: one numpy kernel and one named-dim wrapper used by every fit.

The wrapper returns a DataArray with a ``ci_bound`` dim (``lower``, ``upper``) and the
probability in ``attrs["prob"]``, as arviz-stats does.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from snrstat.schema import DataError

SAMPLE_DIMS = ("chain", "draw")


def check_level(level) -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float, np.floating)) or not 0 < float(level) < 1:
        raise DataError(f"level must lie in (0, 1), got {level!r}")
    return float(level)


def median_interval(values, level: float = 0.9, *, discrete: bool = False) -> tuple[float, float, float]:
    """Median and equal-tailed ``level`` interval (median, lo, hi) of a set of draws (NaN ignored).

    ``discrete=True`` takes quantiles that are draws themselves (inverse of the empirical CDF),
    so a quantity on a lattice (decision accuracy) gets ends on the lattice.
    """
    level = check_level(level)
    flat = np.asarray(values, dtype=float).ravel()
    flat = flat[~np.isnan(flat)]
    if flat.size == 0:
        return (float("nan"),) * 3
    tail = (1 - level) / 2
    lo, med, hi = np.quantile(flat, [tail, 0.5, 1 - tail], method="inverted_cdf" if discrete else "linear")
    return float(med), float(lo), float(hi)


def interval(draws: xr.DataArray | xr.Dataset, level: float = 0.9, *, dims=SAMPLE_DIMS,
             discrete: bool = False):
    """Equal-tailed ``level`` interval over ``dims`` with a ``ci_bound`` dim (lower, upper)."""
    level = check_level(level)
    tail = (1 - level) / 2
    method = "inverted_cdf" if discrete else "linear"
    q = draws.quantile([tail, 1 - tail], dim=list(dims), method=method, skipna=True)
    q = q.rename({"quantile": "ci_bound"}).assign_coords(ci_bound=["lower", "upper"])
    q.attrs["prob"] = level
    return q
