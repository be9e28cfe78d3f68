"""Posterior draws as DataArrays: checks at the door, intervals, and reading them off fits."""

from __future__ import annotations

import numpy as np
import xarray as xr

from snrstat.inference import median_interval as interval  # noqa: F401 - the one interval helper
from snrstat.schema import DataError

SAMPLE_DIMS = ("chain", "draw")


def check_model_draws(draws, name: str) -> xr.DataArray:
    """A DataArray with exactly the dims (chain, draw, model), transposed to that order.

    Model coordinates become strings so that two fits can be matched by name.
    """
    if not isinstance(draws, xr.DataArray):
        raise DataError(f"{name}: expected an xarray DataArray with dims (chain, draw, model), got {type(draws).__name__}")
    dims = set(draws.dims)
    want = {"chain", "draw", "model"}
    if dims != want:
        extra = sorted(dims - want)
        missing = sorted(want - dims)
        hint = f"; select or reduce the extra dim(s) {extra} first" if extra else ""
        raise DataError(f"{name}: dims must be (chain, draw, model), got {tuple(draws.dims)} (missing {missing}){hint}")
    if "model" not in draws.coords:
        raise DataError(f"{name}: the 'model' dim needs coordinates (model names) to match the two scales")
    names = [str(m) for m in draws["model"].values]
    if len(set(names)) != len(names):
        raise DataError(f"{name}: model names repeat in the 'model' coordinate: {names}")
    values = np.asarray(draws.values, dtype=float)
    if not np.isfinite(values).all():
        raise DataError(f"{name}: draws must be finite; found NaN or infinite values")
    out = draws.transpose("chain", "draw", "model").astype(float)
    return out.assign_coords(model=names)


def check_scalar_draws(draws, name: str) -> xr.DataArray:
    """A DataArray with exactly the dims (chain, draw)."""
    if not isinstance(draws, xr.DataArray) or set(draws.dims) != set(SAMPLE_DIMS):
        got = tuple(draws.dims) if isinstance(draws, xr.DataArray) else type(draws).__name__
        raise DataError(f"{name}: expected a DataArray with dims (chain, draw), got {got}")
    return draws.transpose(*SAMPLE_DIMS).astype(float)


def fit_draws(fit, name: str) -> xr.DataArray:
    """Posterior draws ``name`` of a fit: ``fit.draws(name)``, else ``fit.idata.posterior[name]``.

    Works with :class:`snrstat.variance.VarianceFit` and with the conjugate
    :class:`snrstat.decision.NormalMeansFit`; a DataArray passes through.
    """
    if isinstance(fit, xr.DataArray):
        return fit
    errors = []
    getter = getattr(fit, "draws", None)
    if callable(getter):
        try:
            return getter(name)
        except (KeyError, ValueError, AttributeError) as exc:
            errors.append(f"draws({name!r}): {exc}")
    idata = getattr(fit, "idata", None)
    posterior = getattr(idata, "posterior", None)
    if posterior is not None and name in posterior:
        return posterior[name]
    raise DataError(
        f"{type(fit).__name__} has no posterior draws named {name!r}"
        + (f" ({'; '.join(errors)})" if errors else "")
        + f"; expected fit.draws({name!r}) or fit.idata.posterior[{name!r}]"
    )


def stack_samples(draws: xr.DataArray) -> np.ndarray:
    """Values with (chain, draw) flattened into a leading sample axis."""
    other = [d for d in draws.dims if d not in SAMPLE_DIMS]
    return np.asarray(draws.transpose(*SAMPLE_DIMS, *other).values, dtype=float).reshape(
        (-1, *[draws.sizes[d] for d in other])
    )
