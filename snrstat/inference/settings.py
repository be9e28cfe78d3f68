"""Sampler settings: one object for every Bayesian fit in snrstat.

Every fit records its settings in its configuration, so a saved fit says how it was drawn and
the same settings with the same ``random_seed`` give the same numbers.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from snrstat.schema import DataError

SAMPLERS = ("nutpie", "pymc")
#: nutpie's compilation backends. "auto" takes JAX when it is installed (a small model compiles
#: in about 2 s, against 25-60 s for numba on two cores) and numba otherwise; numba samples
#: about 4x faster once compiled, so long batches of one model shape may ask for it.
BACKENDS = ("auto", "jax", "numba")
#: nutpie's mass-matrix adaptation: "diag" (the default, as in Stan and PyMC) or "low_rank", a
#: diagonal plus a low-rank update that follows a few strongly correlated directions (Seyboldt
#: et al. 2024); it costs more per step and pays off where a diagonal matrix mixes slowly.
MASS_MATRICES = ("diag", "low_rank")
#: target_accept of the automatic retry after divergent transitions.
RETRY_TARGET_ACCEPT = 0.99


@dataclass(frozen=True)
class SamplerSettings:
    """How to draw a posterior.

    ``target_accept=None`` lets the model choose (most use 0.9, or 0.99 where a scale rests on
    a single contrast) and refits once at :data:`RETRY_TARGET_ACCEPT` with the same seed when
    the first run diverges; a number is used as given, without retry. ``sampler="pymc"`` uses
    PyMC's NUTS (also the automatic fallback when nutpie fails). ``cores=None`` runs
    ``min(chains, 2)`` chains in parallel.
    """

    random_seed: int = 0
    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    target_accept: float | None = None
    sampler: str = "nutpie"
    backend: str = "auto"
    cores: int | None = None
    progress: bool = False
    mass_matrix: str = "diag"

    def __post_init__(self):
        for name in ("draws", "chains"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise DataError(f"{name} must be a positive integer, got {value!r}")
        if isinstance(self.tune, bool) or not isinstance(self.tune, int) or self.tune < 0:
            raise DataError(f"tune must be a non-negative integer, got {self.tune!r}")
        if isinstance(self.random_seed, bool) or not isinstance(self.random_seed, int) or self.random_seed < 0:
            raise DataError(f"random_seed must be a non-negative integer, got {self.random_seed!r}")
        if self.target_accept is not None and not 0 < float(self.target_accept) < 1:
            raise DataError(f"target_accept must lie in (0, 1), got {self.target_accept!r}")
        if self.sampler not in SAMPLERS:
            raise DataError(f"sampler must be one of {SAMPLERS}, got {self.sampler!r}")
        if self.backend not in BACKENDS:
            raise DataError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.mass_matrix not in MASS_MATRICES:
            raise DataError(f"mass_matrix must be one of {MASS_MATRICES}, got {self.mass_matrix!r}")
        if self.cores is not None and (not isinstance(self.cores, int) or self.cores < 1):
            raise DataError(f"cores must be a positive integer or None, got {self.cores!r}")

    @classmethod
    def build(cls, settings: SamplerSettings | dict | None = None, **overrides) -> SamplerSettings:
        """Settings from an object or dict, with keyword overrides (``None`` values ignored)."""
        base = settings if isinstance(settings, SamplerSettings) else cls(**(settings or {}))
        given = {k: v for k, v in overrides.items() if v is not None}
        return dataclasses.replace(base, **given) if given else base

    def replace(self, **changes) -> SamplerSettings:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> SamplerSettings:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


class SnrstatDeprecationWarning(FutureWarning):
    """An old name that still works for one release (shown to users, unlike DeprecationWarning)."""


def renamed(old_name: str, old_value, new_name: str, new_value):
    """The value of a keyword argument that was renamed: the old one, with a warning, when given.

    One name per idea across snrstat (``random_seed``, ``last_n``, ...); the old names keep
    working for one release."""
    import warnings

    if old_value is None:
        return new_value
    warnings.warn(f"{old_name}= is deprecated and will be removed in the next release; use {new_name}=",
                  SnrstatDeprecationWarning, stacklevel=3)
    return old_value
