"""The fit base: what every Bayesian result in snrstat has and how it is saved.

A fit is its posterior (ArviZ ``InferenceData`` with named dims), its configuration (a
JSON-able dict: data selection, model options, sampler settings), its sampler diagnostics and
the point estimates printed beside the posterior. ``summary()`` has the same columns for every
kind. ``save`` writes ONE NetCDF file whose ``idata.attrs`` carry the kind, configuration,
card, diagnostics and an id hash over all of them and the posterior; :func:`load_fit` finds the
class through a registry of kinds and refuses a file whose hash does not match (after an edit
or a damaged write). Files are written to a temporary file and renamed, so a failed or
interrupted save leaves the previous file intact.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import os
import platform
import tempfile
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from snrstat.inference.diagnostics import Diagnostics
from snrstat.inference.intervals import check_level
from snrstat.schema import DataError

#: Columns of every fit's ``summary()``.
SUMMARY_COLUMNS = ("median", "lo", "hi", "point", "r_hat", "ess_bulk", "ess_tail")
#: Format of the saved file (bumped when the layout of the attrs changes).
FORMAT = "snrstat-fit/1"

_REGISTRY: dict[str, type] = {}


class FitIntegrityError(DataError):
    """A saved fit whose contents do not match its id hash (edited or damaged)."""


def register_fit(cls):
    """Class decorator: make ``cls.kind`` loadable by :func:`load_fit`."""
    kind = cls.__dict__.get("kind")
    if not kind:
        raise TypeError(f"{cls.__name__} needs a class attribute 'kind' to be registered")
    if kind in _REGISTRY and _REGISTRY[kind].__qualname__ != cls.__qualname__:
        raise TypeError(f"fit kind {kind!r} is already registered by {_REGISTRY[kind].__qualname__}")
    _REGISTRY[kind] = cls
    return cls


def fit_kinds() -> dict[str, type]:
    return dict(_REGISTRY)


class Fit:
    """Base of every Bayesian result: ``idata``, ``config``, ``diagnostics``, ``point``.

    Subclasses set ``kind`` (registry name), ``summary_vars`` (posterior variables shown by
    :meth:`summary`, vectors one row per element) and, if they hold more state than these four,
    override :meth:`_extra` / :meth:`_from_saved` to store and rebuild it from JSON.
    """

    kind: ClassVar[str] = ""
    summary_vars: ClassVar[tuple[str, ...]] = ()

    def __init__(self, idata, config: dict, diagnostics: Diagnostics | None = None, point: dict | None = None,
                 level: float = 0.9):
        self.idata = idata
        self.config = dict(config)
        self.diagnostics = diagnostics
        self.point = dict(point or {})
        self.level = check_level(level)

    # ------------------------------------------------------------------ reading the posterior
    def draws(self, name: str):
        """Posterior draws of ``name`` as a DataArray with dims (chain, draw, ...)."""
        post = self.idata.posterior
        if name not in post:
            raise DataError(f"{name!r} is not in this fit's posterior; available: {sorted(post.data_vars)}")
        return post[name]

    def interval(self, name: str, level: float | None = None):
        """Equal-tailed interval of ``name`` with a ``ci_bound`` dim (lower, upper)."""
        from snrstat.inference.intervals import interval

        return interval(self.draws(name), self.level if level is None else level)

    def _summary_names(self) -> list[str]:
        post = self.idata.posterior
        return [v for v in self.summary_vars if v in post]

    def summary(self, level: float | None = None) -> pd.DataFrame:
        """Median and equal-tailed ``level`` interval of each quantity, the point estimate beside
        it (NaN where none exists), R-hat and bulk/tail ESS. Index ``quantity``; vector
        quantities appear as ``name[label]``."""
        import warnings

        import arviz as az

        level = self.level if level is None else check_level(level)
        names = self._summary_names()
        ds = self.idata.posterior[names]
        tail = (1 - level) / 2
        q = ds.quantile([0.5, tail, 1 - tail], dim=("chain", "draw"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stats = {"r_hat": az.rhat(ds), "ess_bulk": az.ess(ds, method="bulk"), "ess_tail": az.ess(ds, method="tail")}
        rows, index = [], []
        for name in names:
            da = ds[name]
            other = [d for d in da.dims if d not in ("chain", "draw")]
            qv = np.asarray(q[name].transpose("quantile", *other).values, dtype=float).reshape(3, -1)
            sv = {k: np.asarray(v[name].transpose(*other).values, dtype=float).ravel() for k, v in stats.items()}
            labels = [None] if not other else _labels(da, other)
            for i, lab in enumerate(labels):
                key = name if lab is None else f"{name}[{lab}]"
                index.append(key)
                rows.append((qv[0, i], qv[1, i], qv[2, i], _point(self.point.get(key, np.nan)),
                             sv["r_hat"][i], sv["ess_bulk"][i], sv["ess_tail"][i]))
        return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS), index=pd.Index(index, name="quantity"))

    # ------------------------------------------------------------------ persistence
    def _extra(self) -> dict:
        """JSON-able state beyond idata/config/diagnostics/point (subclasses)."""
        return {}

    @classmethod
    def _from_saved(cls, idata, config: dict, diagnostics, point: dict, level: float, extra: dict):
        return cls(idata, config, diagnostics, point, level)

    def card(self) -> dict:
        """What a reader of the file needs to know besides the posterior (versions, kind)."""
        import arviz as az
        import pymc

        import snrstat

        try:
            import nutpie
            nutpie_version = nutpie.__version__
        except ImportError:  # pragma: no cover - a dependency
            nutpie_version = None
        return {"kind": self.kind, "class": f"{type(self).__module__}:{type(self).__qualname__}",
                "versions": {"snrstat": snrstat.__version__, "pymc": pymc.__version__, "arviz": az.__version__,
                             "nutpie": nutpie_version, "numpy": np.__version__,
                             "python": platform.python_version()}}

    def _payload(self) -> dict[str, str]:
        return {
            "snrstat_format": FORMAT,
            "snrstat_kind": self.kind,
            "snrstat_module": type(self).__module__,
            "snrstat_config": _dumps(self.config),
            "snrstat_point": _dumps(self.point),
            "snrstat_level": _dumps(self.level),
            "snrstat_diagnostics": _dumps(None if self.diagnostics is None else self.diagnostics.to_dict()),
            "snrstat_extra": _dumps(self._extra()),
            "snrstat_card": _dumps(self.card()),
        }

    def fit_id(self) -> str:
        """SHA-256 over the configuration, point estimates, diagnostics and every array of the fit."""
        return _fit_hash(self.idata, self._payload())

    def save(self, path) -> Path:
        """Write the fit to ``path`` (one NetCDF file; ``.nc`` is appended unless ``path`` ends in it).

        Written to a temporary file in the same folder and renamed over ``path``: a save that
        fails or is interrupted leaves any previous file at ``path`` as it was, and concurrent
        saves to one path leave one complete fit. Returns the path written.
        """
        payload = self._payload()
        idata = self.idata.copy()
        idata.attrs = {k: v for k, v in dict(self.idata.attrs).items() if not str(k).startswith("snrstat_")}
        idata.attrs.update(_netcdf_attrs(idata.attrs))
        idata.attrs.update(payload)
        idata.attrs["snrstat_id"] = _fit_hash(idata, payload)
        return write_idata(idata, fit_file(path))

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}(kind={self.kind!r})"]
        s = self.summary()
        for name, row in s.head(12).iterrows():
            point = "" if np.isnan(row["point"]) else f"  point {row['point']:.4g}"
            lines.append(f"  {name:<16} {row['median']:.4g} [{row['lo']:.4g}, {row['hi']:.4g}]{point}")
        if len(s) > 12:
            lines.append(f"  ... {len(s) - 12} more rows in summary()")
        if self.diagnostics is not None:
            lines.append(f"  {self.diagnostics!r}")
        return "\n".join(lines)


def fit_file(path) -> Path:
    """``path`` as a fit file: ``.nc`` appended unless already there (``run.190M`` -> ``run.190M.nc``)."""
    p = Path(path)
    return p if p.suffix == ".nc" else p.with_name(p.name + ".nc")


def load_fit_file(path) -> Fit:
    """Read a fit written by :meth:`Fit.save`, checking its id hash."""
    import arviz as az

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p} not found (a saved fit is one .nc file)")
    try:
        idata = az.from_netcdf(str(p))
        for group in idata.groups():
            getattr(idata, group).load()
    except Exception as exc:  # not NetCDF, truncated, ...
        raise DataError(f"{p} is not a readable fit file ({type(exc).__name__}: {exc})") from None
    attrs = dict(idata.attrs)
    if attrs.get("snrstat_format") != FORMAT:
        raise DataError(f"{p} is not a snrstat fit file (format {attrs.get('snrstat_format')!r}, expected {FORMAT!r}); "
                        "fits saved before snrstat 0.2 are refitted with 'snrstat models --rebuild'")
    payload = {k: str(attrs.get(k, "")) for k in (
        "snrstat_format", "snrstat_kind", "snrstat_module", "snrstat_config", "snrstat_point", "snrstat_level",
        "snrstat_diagnostics", "snrstat_extra", "snrstat_card")}
    stored = attrs.get("snrstat_id")
    actual = _fit_hash(idata, payload)
    if stored != actual:
        raise FitIntegrityError(f"{p}: the contents do not match the fit's id hash (the file was edited or "
                                "damaged); refit it instead of trusting it")
    kind = payload["snrstat_kind"]
    cls = _REGISTRY.get(kind)
    if cls is None and payload["snrstat_module"].startswith("snrstat."):
        importlib.import_module(payload["snrstat_module"])  # registers the kind
        cls = _REGISTRY.get(kind)
    if cls is None:
        raise DataError(f"{p}: unknown fit kind {kind!r}; known: {sorted(_REGISTRY)}")
    diag = json.loads(payload["snrstat_diagnostics"])
    point = {k: (np.nan if v is None else v) for k, v in json.loads(payload["snrstat_point"]).items()}
    fit = cls._from_saved(idata, json.loads(payload["snrstat_config"]),
                          None if diag is None else Diagnostics.from_dict(diag), point,
                          float(json.loads(payload["snrstat_level"])), json.loads(payload["snrstat_extra"]))
    fit.source = p
    return fit


# ---------------------------------------------------------------------------- helpers
def _labels(da, dims) -> list[str]:
    grids = np.meshgrid(*[np.asarray(da.coords[d].values if d in da.coords else np.arange(da.sizes[d]))
                          for d in dims], indexing="ij")
    return [",".join(str(g.ravel()[i]) for g in grids) for i in range(grids[0].size)]


def _point(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def jsonable(v):
    """A JSON-safe copy (numpy scalars and arrays to Python; non-finite floats to strings)."""
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return jsonable(dataclasses.asdict(v))
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return jsonable(v.tolist())
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        v = float(v)
        return v if np.isfinite(v) else (None if np.isnan(v) else ("inf" if v > 0 else "-inf"))
    if v is None or isinstance(v, str):
        return v
    if v is pd.NA or (not isinstance(v, (list, dict)) and pd.isna(v)):
        return None
    return str(v)


def _dumps(v) -> str:
    return json.dumps(jsonable(v), sort_keys=True, allow_nan=False)


def _netcdf_attrs(attrs: dict) -> dict:
    """Attributes NetCDF can hold (strings and numbers); others as their JSON text."""
    out = {}
    for k, v in attrs.items():
        if isinstance(v, (str, int, float, np.integer, np.floating)) and not isinstance(v, bool):
            out[k] = v
        else:
            out[k] = _dumps(v)
    return out


def _fit_hash(idata, payload: dict) -> str:
    h = hashlib.sha256()
    for k in sorted(payload):
        h.update(f"{k}={payload[k]}\n".encode())
    for group in sorted(idata.groups()):
        ds = getattr(idata, group)
        for name in sorted(list(ds.data_vars) + [c for c in ds.coords]):
            arr = np.asarray(ds[name].values)
            text = arr.dtype.kind in "OUS"  # strings come back from NetCDF as object arrays
            h.update(f"{group}/{name}:{'str' if text else arr.dtype.str}:{arr.shape}:{ds[name].dims}\n".encode())
            if text:
                h.update("\x1f".join(map(str, arr.ravel().tolist())).encode())
            else:
                h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def write_idata(idata, target) -> Path:
    """Write InferenceData to ``target`` (NetCDF) through a temporary file in the same folder,
    renamed over ``target`` once complete: a failed or interrupted write leaves any previous
    file as it was. Also for a posterior saved as sampled, before a fit is finished."""
    target = Path(target)
    folder = target.parent
    if folder.exists() and not folder.is_dir():
        raise DataError(f"cannot save to {target}: {folder} is not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    if not os.access(folder, os.W_OK):
        raise DataError(f"cannot save to {target}: folder {folder} is not writable")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        _write_netcdf(idata, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return target


def _write_netcdf(idata, path: str) -> None:
    """NetCDF (h5netcdf engine) of every group, string coordinates stored as strings."""
    idata.to_netcdf(path, engine="h5netcdf")
