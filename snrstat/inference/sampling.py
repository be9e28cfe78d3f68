"""Drawing a posterior: nutpie by default, PyMC's NUTS as the fallback, one bounded cache of
compiled models, one divergence retry, and no partial trace passed off as complete.

A model that is fitted again with other data of the same shape (another task, another
simulated data set) reuses its compilation: its data are ``pm.Data`` containers swapped in
with nutpie's ``with_data``. The compilation backend is chosen by measurement (see
:data:`~snrstat.inference.settings.BACKENDS`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
import warnings
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from snrstat.inference.diagnostics import SamplerWarning
from snrstat.inference.settings import RETRY_TARGET_ACCEPT, SamplerSettings
from snrstat.schema import DataError

log = logging.getLogger("snrstat.inference")


class SamplingInterrupted(KeyboardInterrupt):
    """Sampling stopped early (Ctrl-C): nothing of it is returned or saved."""


@dataclass
class Compiled:
    """A model ready to sample: nutpie's compilation, or the PyMC model for the fallback."""

    model: object
    sampler: str
    backend: str | None = None
    nutpie: object = None
    compile_s: float = 0.0
    data: dict | None = None  # arrays swapped in after compilation (None: the model's own)

    def with_data(self, arrays: dict | None) -> Compiled:
        """The same compiled graph with new data (no recompilation)."""
        if not arrays:
            return self
        if self.sampler == "nutpie":
            names = set(getattr(self.nutpie, "shared_data", None) or getattr(self.nutpie, "_shared_data", {}))
            shared = {k: v for k, v in arrays.items() if k in names}
            swapped = self.nutpie.with_data(**shared)
            # nutpie's initial point is computed from the PyMC model's own containers: give them
            # the new data too, so a cached compilation starts where a fresh one would
            import pymc as pm

            pm.set_data(shared, model=self.model)
            return Compiled(self.model, "nutpie", self.backend, swapped, 0.0, dict(arrays))
        return Compiled(self.model, "pymc", None, None, 0.0, dict(arrays))


def resolve_backend(backend: str) -> str:
    if backend != "auto":
        return backend
    try:
        import jax  # noqa: F401
    except ImportError:
        return "numba"
    return "jax"


def compile_model(model, settings: SamplerSettings | None = None) -> Compiled:
    """Compile ``model`` for nutpie (PyMC's NUTS, with a warning, if that fails)."""
    settings = settings or SamplerSettings()
    if settings.sampler == "nutpie":
        backend = resolve_backend(settings.backend)
        t0 = time.perf_counter()
        try:
            import nutpie

            # freeze_model=False keeps pm.Data containers swappable (nutpie freezes them for JAX otherwise)
            kw = ({"backend": "jax", "gradient_backend": "jax", "freeze_model": False} if backend == "jax"
                  else {"backend": "numba"})
            compiled = nutpie.compile_pymc_model(model, **kw)
            return Compiled(model, "nutpie", backend, compiled, time.perf_counter() - t0)
        except Exception as exc:  # any compile failure: the PyMC sampler still works
            warnings.warn(f"nutpie could not compile the model ({type(exc).__name__}: {exc}); "
                          "sampling with PyMC's NUTS instead", SamplerWarning, stacklevel=2)
    return Compiled(model, "pymc")


class CompileCache:
    """Compiled models by key (the model's shape and options), least recently used dropped first."""

    def __init__(self, maxsize: int = 16):
        self.maxsize = maxsize
        self._items: OrderedDict = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key, build, settings: SamplerSettings, data: dict | None = None) -> Compiled:
        """The compiled model for ``key`` with ``data`` swapped in; ``build()`` makes the PyMC
        model when the key is new (its compile time is in ``compile_s`` only then)."""
        full = (key, settings.sampler, resolve_backend(settings.backend))
        if full in self._items:
            self._items.move_to_end(full)
            self.hits += 1
            cached = self._items[full]
            return dataclasses.replace(cached, compile_s=0.0).with_data(data)
        self.misses += 1
        compiled = compile_model(build(), settings)
        self._items[full] = compiled
        while len(self._items) > self.maxsize:
            self._items.popitem(last=False)
        return compiled

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


#: The process-wide cache every fit kind uses.
COMPILE_CACHE = CompileCache()


def sample(model, settings: SamplerSettings | None = None, *, key=None, data: dict | None = None,
           default_target_accept: float = 0.9, keep=None):
    """Posterior draws of a PyMC ``model`` (a :class:`Compiled`, or a function that builds the
    model) as InferenceData.

    ``key`` caches the compilation under that key (data of later calls are swapped in with
    ``data``). ``settings.target_accept=None`` uses ``default_target_accept`` and refits once at
    0.99 with the same seed when the run diverges. ``keep`` filters posterior variables (a
    callable on the name); sampler-internal ``__`` variables are always dropped.
    ``idata.attrs`` records sampler, backend, compile_s, sample_s, target_accept and retried.
    Raises :class:`SamplingInterrupted` on Ctrl-C: a partial trace is never returned.
    """
    from threadpoolctl import threadpool_limits

    settings = settings or SamplerSettings()
    # ``model`` may be a function that builds it: with a cache hit it is never called
    build = model if callable(model) and not hasattr(model, "free_RVs") else (lambda: model)
    if isinstance(model, Compiled):
        compiled = model.with_data(data)
    elif key is not None:
        compiled = COMPILE_CACHE.get(key, build, settings, data)
    else:
        compiled = compile_model(build(), settings).with_data(data)
    auto = settings.target_accept is None
    target = float(default_target_accept if auto else settings.target_accept)
    t0 = time.perf_counter()
    # BLAS single-threaded: the chains already run in parallel, and a multithreaded BLAS inside
    # every gradient of a small model oversubscribes the cores (10x slower measured)
    with threadpool_limits(limits=1, user_api="blas"):
        idata = _sample_once(compiled, settings, target)
        retried = False
        if auto and target < RETRY_TARGET_ACCEPT and _divergences(idata):
            # divergences at the edge of a plateau (a scale the data barely inform) vanish with
            # smaller steps; one refit costs less than a user chasing the warning
            log.info("%d divergences at target_accept=%s; refitting at %s", _divergences(idata), target,
                     RETRY_TARGET_ACCEPT)
            target, retried = RETRY_TARGET_ACCEPT, True
            idata = _sample_once(compiled, settings, target)
    if keep is not None:
        idata.posterior = idata.posterior[[v for v in idata.posterior.data_vars if keep(v)]]
    idata.attrs.update({"sampler": compiled.sampler, "backend": compiled.backend or "pymc",
                        "compile_s": float(compiled.compile_s), "sample_s": time.perf_counter() - t0,
                        "target_accept": target, "retried": int(retried),
                        "data_sha256": data_fingerprint(compiled.model, _sampled_data(compiled))})
    return idata


def _sampled_data(compiled: Compiled) -> dict | None:
    """The container values the sampler used: nutpie's own copy (a cached compilation keeps the
    data it was built or last swapped with, whatever the PyMC model's containers hold since)."""
    if compiled.sampler == "nutpie":
        shared = getattr(compiled.nutpie, "shared_data", None) or getattr(compiled.nutpie, "_shared_data", None)
        if shared:
            return dict(shared)
    return compiled.data


def data_fingerprint(model, arrays: dict | None = None) -> str:
    """SHA-256 of a PyMC model's data: its ``pm.Data`` containers (``arrays`` where given, the
    values sampled with; else as last set) and observed constants, by name. Recorded with every
    posterior so that :func:`merge_chains` can refuse runs of other data (nutpie's draws carry
    no data group)."""
    h = hashlib.sha256()
    values = {v.name: v.get_value() for v in getattr(model, "data_vars", [])}
    values.update({k: v for k, v in (arrays or {}).items() if k in values})
    for rv in getattr(model, "observed_RVs", []):
        value = model.rvs_to_values[rv]
        if hasattr(value, "data"):  # a constant, not a container already counted
            values[f"observed:{rv.name}"] = value.data
    for name in sorted(values):
        arr = np.ascontiguousarray(np.asarray(values[name]))
        h.update(f"{name}|{arr.dtype.str}|{arr.shape}|".encode())
        h.update(arr.tobytes())
    return h.hexdigest()


def _sample_once(compiled: Compiled, settings: SamplerSettings, target: float):
    cores = settings.cores or min(settings.chains, 2)
    idata = None
    if compiled.sampler == "nutpie":
        import nutpie

        try:
            idata = nutpie.sample(compiled.nutpie, draws=settings.draws, tune=settings.tune,
                                  chains=settings.chains, cores=cores, seed=int(settings.random_seed),
                                  progress_bar=settings.progress, target_accept=target, save_warmup=False,
                                  low_rank_modified_mass_matrix=settings.mass_matrix == "low_rank")
        except KeyboardInterrupt:
            raise SamplingInterrupted("sampling interrupted; nothing was kept") from None
        except Exception as exc:
            warnings.warn(f"nutpie failed while sampling ({type(exc).__name__}: {exc}); using PyMC's NUTS",
                          SamplerWarning, stacklevel=3)
    if idata is None:
        idata = _sample_pymc(compiled, settings, target, cores)
    _check_complete(idata, settings)
    drop = [v for v in idata.posterior.data_vars if v.endswith("__")]
    idata.posterior = idata.posterior.drop_vars(drop)
    for group in ("warmup_posterior", "warmup_sample_stats"):
        if group in idata.groups():
            delattr(idata, group)
    return idata


def _sample_pymc(compiled: Compiled, settings: SamplerSettings, target: float, cores: int):
    import pymc as pm

    pm_log = logging.getLogger("pymc")
    old_level = pm_log.level
    if not settings.progress:
        pm_log.setLevel(logging.WARNING)  # PyMC announces every run at INFO
    try:
        with compiled.model, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if compiled.data is not None:
                pm.set_data(compiled.data)
            return pm.sample(draws=settings.draws, tune=settings.tune, chains=settings.chains, cores=cores,
                             random_seed=int(settings.random_seed), target_accept=target,
                             progressbar=settings.progress, compute_convergence_checks=False)
    except KeyboardInterrupt:
        raise SamplingInterrupted("sampling interrupted; nothing was kept") from None
    finally:
        pm_log.setLevel(old_level)


def _check_complete(idata, settings: SamplerSettings) -> None:
    """A sampler that stopped early (nutpie returns what it has on Ctrl-C) is an interruption."""
    post = idata.posterior
    if post.sizes.get("chain") != settings.chains or post.sizes.get("draw") != settings.draws:
        raise SamplingInterrupted(
            f"sampling stopped early ({post.sizes.get('chain')} chains x {post.sizes.get('draw')} draws of "
            f"{settings.chains} x {settings.draws}); nothing was kept")


def _divergences(idata) -> int:
    stats = getattr(idata, "sample_stats", None)
    return int(stats["diverging"].sum()) if stats is not None and "diverging" in stats else 0


def merge_chains(*runs):
    """One posterior of the chains of several runs of one model on the same data (the same fit
    started with other seeds, in other processes or on other machines), chains renumbered
    0..n-1, so that R-hat and ESS compare every chain: a fit too long for one process is
    sampled in parts, then finished once (e.g. :func:`snrstat.judges.fit.finish_judge_fit`).

    Refused (:class:`~snrstat.schema.DataError`) when the runs differ in groups, variables,
    dims, coordinates or draws per chain, or in a group without chains (the data), and when two
    runs share a chain: the same seed twice gives identical chains, which agree by construction
    and would hide poor mixing. The data are compared by the ``data_sha256`` that :func:`sample`
    records. ``attrs``: the first run's, ``sample_s`` summed, ``runs``.
    """
    import arviz as az

    if len(runs) < 2:
        raise DataError(f"merge_chains needs at least two runs, got {len(runs)}")
    first = runs[0]
    for i, run in enumerate(runs[1:], 1):
        prints = (first.attrs.get("data_sha256"), run.attrs.get("data_sha256"))
        if None not in prints and prints[0] != prints[1]:
            raise DataError(f"runs 0 and {i} were sampled on other data (data_sha256 differs): "
                            "they are not fits of the same data")
        if set(run.groups()) != set(first.groups()):
            raise DataError(f"run {i} has groups {sorted(run.groups())}, run 0 {sorted(first.groups())}")
        for group in first.groups():
            a, b = first[group], run[group]
            if "chain" not in a.dims:
                if not a.equals(b):
                    raise DataError(f"runs 0 and {i} differ in {group}: they are not fits of the same data")
                continue
            if set(a.data_vars) != set(b.data_vars):
                raise DataError(f"runs 0 and {i} differ in the variables of {group}: "
                                f"{sorted(set(a.data_vars) ^ set(b.data_vars))}")
            for dim, size in a.sizes.items():
                if dim != "chain" and b.sizes.get(dim) != size:
                    raise DataError(f"runs 0 and {i} differ in {group}'s dim {dim!r}: {size} against "
                                    f"{b.sizes.get(dim)} (draws per chain must agree too)")
            for name, coord in a.coords.items():
                if name != "chain" and not np.array_equal(coord.values, b.coords[name].values):
                    raise DataError(f"runs 0 and {i} differ in {group}'s coordinate {name!r}")
    # fingerprint each chain by its smallest posterior variable
    var = min(first.posterior.data_vars, key=lambda v: first.posterior[v].size)
    seen = {}
    for i, run in enumerate(runs):
        for chain in run.posterior["chain"].values:
            values = np.ascontiguousarray(run.posterior[var].sel(chain=chain).values)
            digest = hashlib.sha256(values.tobytes()).hexdigest()
            if digest in seen:
                j, other = seen[digest]
                raise DataError(f"chain {chain} of run {i} repeats chain {other} of run {j} (the same seed twice?): "
                                "identical chains agree by construction and would hide poor mixing")
            seen[digest] = (i, chain)
    merged = az.concat(*runs, dim="chain", reset_dim=True)
    merged.attrs = dict(first.attrs)
    merged.attrs["sample_s"] = float(sum(float(r.attrs.get("sample_s", 0.0)) for r in runs))
    merged.attrs["runs"] = len(runs)
    return merged
