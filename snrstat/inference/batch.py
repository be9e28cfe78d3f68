"""Many fits at once: one batch runner, in this process or on Dask (one machine or a cluster).

A batch is a list of :class:`FitSpec`, each a picklable description of one fit: which fit
function (``"variance"``, ``"scaling"`` or ``"module:function"``), which data set (a key into
the ``data`` given to :func:`fit_many`), the positional arguments and keyword options, and a
stable ``name``. :func:`fit_many` runs the specs

- serially in this process (``client=None``, the default), or
- on a ``dask.distributed`` client (optional extra ``snrstat[dask]``): ``client="local"`` starts
  a ``LocalCluster`` sized to the machine, ``workers=N`` one of N workers, an address
  (``"tcp://host:8786"``) connects to a running scheduler, a ``Client`` is used as it is.

and returns a :class:`FitBatch` (a dict name -> fit, in spec order, with ``summary()``,
``failures`` and a per-fit ``report``).

Same numbers everywhere. Each fit's ``random_seed`` is :func:`derive_seed` of the batch's
``random_seed`` and the spec's name (SHA-256, not the position in the batch), so a fit draws the
same numbers, to the bit, serially, on any number of workers and in any order. An explicit
``random_seed`` in a spec's options is used as given.

Compile once per worker and model shape. Dask workers here are processes with one thread each;
fit functions keep compiled models in the process-wide
:data:`~snrstat.inference.sampling.COMPILE_CACHE` keyed by the model's shape, so a worker
compiles each shape once and only swaps the data in for the next fit of that shape. Fits on a
worker sample their chains one after another (``cores=1``): the workers are the parallelism.
Each data frame is sent to the cluster once (as a task the workers share and the scheduler can
redo if its worker dies), not once per fit.

Resume. With ``store=FOLDER`` each finished fit is saved as ``FOLDER/NAME.nc`` (one file,
:meth:`~snrstat.inference.fit.Fit.save`) as soon as it arrives, and its configuration records
the batch key (a hash of function, data, arguments, options, seed and ``finish``). A later call
skips every spec whose file loads (id hash checked) with the same key, so a batch that died
midway resumes where it stopped and a changed spec is refitted.

Faults. A fit that raises (bad data, sampler failure) is reported by name in
``FitBatch.failures`` and one :class:`BatchFailureWarning`, and the batch goes on. A worker that
dies mid-fit (killed, out of memory) has its fit rescheduled on another worker by the scheduler
(``distributed.scheduler.allowed-failures`` times, 3 by default; Dask's ``retries`` cover errors
raised outside the fit function); a fit that kills every worker it lands on is reported as failed.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import importlib
import inspect
import json
import logging
import os
import time
import traceback
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from snrstat.schema import DataError

log = logging.getLogger("snrstat.inference")

#: Short names of fit functions a spec may use instead of ``"module:function"``.
FIT_FUNCTIONS = {
    "variance": "snrstat.variance.api:fit_variance",
    "scaling": "snrstat.scaling.bayes:fit_scaling_law",
}
#: Version of the seed derivation and batch key (changing it changes every derived seed).
BATCH_FORMAT = "snrstat-batch/1"
#: Data key of a single frame given to :func:`fit_many` (the default of :attr:`FitSpec.data`).
DEFAULT_DATA = "frame"
#: Options a Dask worker passes to fit functions that accept them (unless the spec sets them):
#: chains one after another, since one worker process runs on one core.
WORKER_OPTIONS = {"cores": 1}

_AMBIENT: contextvars.ContextVar = contextvars.ContextVar("snrstat_batch_client", default=None)


class BatchFailureWarning(UserWarning):
    """Some fits of a batch failed (the others were kept); see ``FitBatch.failures``."""


@dataclass(frozen=True)
class FitSpec:
    """One fit of a batch, picklable and independent of where it runs.

    ``name``: stable identity; it keys the result, derives the seed (:func:`derive_seed`) and
    names the store file (``NAME.nc``; ``/`` makes sub-folders). ``function``: a key of
    :data:`FIT_FUNCTIONS` or ``"module:function"`` (importable on the workers); a function
    object is stored by its import name. ``data``: the key of the frame in :func:`fit_many`'s
    ``data`` passed as the first argument (``None``: no frame). ``args``, ``options``: further
    positional and keyword arguments.

    Example: ``FitSpec("arc_easy--acc--160m", "variance", args=("arc_easy", "acc"),
    options={"size": "160m", "last_n": 5})``.
    """

    name: str
    function: str
    data: str | None = DEFAULT_DATA
    args: tuple = ()
    options: dict = field(default_factory=dict)

    def __post_init__(self):
        if callable(self.function):
            object.__setattr__(self, "function", _import_name(self.function))
        if not isinstance(self.function, str) or not self.function:
            raise DataError(f"spec {self.name!r}: function must be a name, got {self.function!r}")
        _check_name(self.name)
        object.__setattr__(self, "args", tuple(self.args))
        object.__setattr__(self, "options", dict(self.options))

    __hash__ = None  # options are a dict

    def target(self) -> str:
        """``module:function`` of this spec's fit function."""
        return FIT_FUNCTIONS.get(self.function, self.function)


def derive_seed(random_seed: int, name: str) -> int:
    """The random_seed of the fit named ``name`` in a batch seeded ``random_seed``.

    The first 31 bits of SHA-256(``"snrstat-batch/1|<random_seed>|<name>"``): the same for a
    fit wherever and whenever it runs, different between fits, in ``[0, 2**31)``.
    """
    if isinstance(random_seed, bool) or not isinstance(random_seed, (int, np.integer)) or random_seed < 0:
        raise DataError(f"random_seed must be a non-negative integer, got {random_seed!r}")
    digest = hashlib.sha256(f"{BATCH_FORMAT}|{int(random_seed)}|{name}".encode()).digest()
    return int.from_bytes(digest[:4], "big") >> 1


class FitBatch(dict):
    """Fits of a batch by spec name (spec order); failed fits are absent.

    ``failures``: name -> error message. ``report``: one row per spec (status ``fitted``,
    ``resumed`` or ``failed``; worker, seconds, compile seconds, seed, stored file).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.failures: dict[str, str] = {}
        self.report = pd.DataFrame()

    def summary(self, level: float | None = None) -> pd.DataFrame:
        """Every fit's ``summary()`` stacked (index ``fit``, ``quantity``)."""
        if not self:
            raise DataError("no fits in this batch" + (f"; {len(self.failures)} failed" if self.failures else ""))
        return pd.concat({n: f.summary(level) for n, f in self.items()}, names=["fit", "quantity"])

    @property
    def n_compilations(self) -> int:
        """Model compilations the batch paid for (over all workers)."""
        return int(self.report["compiled"].sum()) if "compiled" in self.report else 0


# ---------------------------------------------------------------------------- clients
@contextlib.contextmanager
def using_client(client=None, workers: int | None = None):
    """Within the block, :func:`fit_many` calls without ``client=`` run on this client.

    ``client``: ``None`` (with ``workers=None``: nothing changes, fits run in this process),
    ``"local"`` (a ``LocalCluster`` sized to the machine, or of ``workers`` workers), a
    scheduler address or a ``Client``. A cluster or client opened here is closed on exit.
    This is how ``--scheduler`` / ``--workers`` of the command line reach every batch inside
    a command. Yields the client (or ``None``).
    """
    if client is None and workers is None:
        yield None
        return
    with _opened(client if client is not None else "local", workers) as c:
        token = _AMBIENT.set(c)
        try:
            yield c
        finally:
            _AMBIENT.reset(token)


@contextlib.contextmanager
def _opened(client, workers: int | None = None):
    """A ``distributed.Client`` for ``client`` (closing what was opened here on exit)."""
    try:
        from distributed import Client
    except ImportError:
        raise ImportError("running fits on Dask needs the optional dependencies: pip install 'snrstat[dask]'") \
            from None
    if isinstance(client, Client):
        yield client
        return
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise DataError(f"workers must be a positive integer, got {workers!r}")
    if isinstance(client, str) and client == "local":
        cluster = local_cluster(workers)
        with cluster, Client(cluster) as c:
            yield c
        return
    if isinstance(client, str):
        if workers is not None:
            raise DataError("workers= sizes a local cluster; a scheduler at an address has its own workers")
        with Client(client, timeout="30s") as c:
            yield c
        return
    if hasattr(client, "scheduler_address"):  # a cluster object
        with Client(client) as c:
            yield c
        return
    raise DataError(f"client must be None, 'local', a scheduler address or a distributed.Client, got {client!r}")


def local_cluster(workers: int | None = None, **kwargs):
    """A ``LocalCluster`` of ``workers`` processes (default: one per available core), one
    thread each, no dashboard unless bokeh is installed, quiet logs."""
    from distributed import LocalCluster

    n = workers or _cpu_count()
    try:
        import bokeh  # noqa: F401
        dashboard = ":0"
    except ImportError:
        dashboard = None
    opts = {"n_workers": n, "threads_per_worker": 1, "processes": True, "dashboard_address": dashboard,
            "silence_logs": logging.ERROR}
    opts.update(kwargs)
    return LocalCluster(**opts)


def _cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


def add_cluster_arguments(parser) -> None:
    """``--scheduler ADDRESS`` and ``--workers N`` on a command that runs batches of fits."""
    parser.add_argument("--scheduler", metavar="ADDRESS", default=None,
                        help="run the fits on the Dask scheduler at ADDRESS, e.g. tcp://host:8786 "
                             "(pip install 'snrstat[dask]'; same numbers as without it)")
    parser.add_argument("--workers", metavar="N", type=positive_int, default=None,
                        help="run the fits on a local Dask cluster of N worker processes")


def cluster_from_args(args):
    """:func:`using_client` for the ``--scheduler`` / ``--workers`` of a parsed command line."""
    scheduler, workers = getattr(args, "scheduler", None), getattr(args, "workers", None)
    if scheduler is not None and workers is not None:
        raise DataError("--workers starts a local cluster; a --scheduler has its own workers: give one of them")
    return using_client(scheduler, workers)


def positive_int(text: str) -> int:
    """An argparse type: a positive integer, or a message naming the bad value."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


# ---------------------------------------------------------------------------- the runner
def fit_many(specs: Iterable[FitSpec], data=None, *, client=None, workers: int | None = None, store=None,
             random_seed: int = 0, finish=None, progress: bool = True, retries: int = 1) -> FitBatch:
    """Run every spec and return a :class:`FitBatch` (name -> fit, spec order).

    ``data``: a DataFrame (key ``"frame"``) or a dict key -> DataFrame; each spec names its
    frame. ``client``: ``None`` runs in this process (or on the client of an enclosing
    :func:`using_client`), ``"local"`` / ``workers=N`` on a ``LocalCluster``, an address or a
    ``Client`` on that cluster. ``store``: a folder; every finished fit is saved there as
    ``NAME.nc`` as it arrives and a rerun skips specs already stored with the same batch key
    (see the module docstring). ``random_seed``: the batch's seed, from which each fit's is
    derived by name (:func:`derive_seed`). ``finish``: a function (or ``"module:function"``)
    applied to each fit where it was made, before it is returned and saved (e.g. slimming).
    ``retries``: Dask retries of a task that raised outside the fit function.

    Results do not depend on ``client``, ``workers`` or the order of ``specs``. Failed fits are
    in ``failures`` (and one :class:`BatchFailureWarning` naming them); the others are kept.
    Warnings raised inside the fits are repeated here once per distinct message with the
    number of fits that raised them.
    """
    specs = list(specs)
    frames = _frames(data)
    _check_specs(specs, frames)
    finish_name = None if finish is None else (finish if isinstance(finish, str) else _import_name(finish))
    if finish_name is not None:
        _resolve(finish_name)
    digests = {k: _frame_hash(frames[k]) for k in {s.data for s in specs if s.data is not None}}
    plan = {s.name: _plan(s, random_seed, digests, finish_name) for s in specs}
    root = None if store is None else Path(store)

    rows: dict[str, dict] = {}
    done: dict[str, object] = {}
    failures: dict[str, str] = {}
    todo = []
    for s in specs:
        fit = _stored(root, s, plan[s.name]["key"]) if root is not None else None
        if fit is not None:
            done[s.name] = fit
            rows[s.name] = _row(s, plan[s.name], "resumed", path=_store_path(root, s))
        else:
            todo.append(s)
    caught: list[tuple[str, str, str]] = []

    def receive(outcome: _Outcome) -> None:
        s = by_name[outcome.name]
        caught.extend((s.name, cat, msg) for cat, msg in outcome.warnings)
        if outcome.error is not None:
            failures[s.name] = outcome.error
            rows[s.name] = _row(s, plan[s.name], "failed", outcome=outcome)
            log.debug("fit %s failed:\n%s", s.name, outcome.traceback)
            return
        path = None
        if root is not None:
            path = _store_path(root, s)
            try:
                outcome.fit.save(path)
            except Exception as exc:  # the fit is still returned; only the resume point is lost
                warnings.warn(f"fit {s.name!r} could not be saved to {path} ({type(exc).__name__}: {exc})",
                              BatchFailureWarning, stacklevel=3)
                path = None
        done[s.name] = outcome.fit
        rows[s.name] = _row(s, plan[s.name], "fitted", outcome=outcome, path=path)

    by_name = {s.name: s for s in specs}
    if todo:
        with _Bar(progress, len(specs), len(specs) - len(todo)) as bar:
            target = client if client is not None else ("local" if workers is not None else _AMBIENT.get())
            if target is None:
                for s in todo:
                    receive(_run_spec(s, frames.get(s.data), plan[s.name], None, finish_name))
                    bar.advance(s.name, failed=s.name in failures)
            else:
                with _opened(target, workers) as c:
                    _run_dask(c, todo, frames, digests, plan, finish_name, retries, receive, bar, failures)

    out = FitBatch((s.name, done[s.name]) for s in specs if s.name in done)
    out.failures = {s.name: failures[s.name] for s in specs if s.name in failures}
    out.report = pd.DataFrame([rows[s.name] for s in specs]).set_index("name")
    _repeat_warnings(caught, len(specs))
    if out.failures:
        listing = "; ".join(f"{n}: {m}" for n, m in list(out.failures.items())[:10])
        more = f"; ... {len(out.failures) - 10} more" if len(out.failures) > 10 else ""
        warnings.warn(f"{len(out.failures)} of {len(specs)} fits failed (see .failures): {listing}{more}",
                      BatchFailureWarning, stacklevel=2)
    return out


def _run_dask(client, todo, frames, digests, plan, finish_name, retries, receive, bar, failures) -> None:
    from distributed import as_completed

    import dask

    # Each frame goes to the cluster once, as a task that returns it: workers fetch it from each
    # other, and when the worker holding it dies the scheduler makes it again (scattered data
    # would be lost with that worker, and every fit needing it with it).
    scattered = {}
    with dask.config.set({"distributed.admin.large-graph-warning-threshold": "1 TiB"}):
        for k in sorted({s.data for s in todo if s.data is not None}):
            scattered[k] = client.submit(_hold, frames[k], key=f"snrstat-data-{k}-{digests[k][:16]}",
                                         pure=False)
    futures = {}
    for s in todo:
        fut = client.submit(_run_spec, s, scattered.get(s.data), plan[s.name], WORKER_OPTIONS, finish_name,
                            key=f"snrstat-fit-{plan[s.name]['key'][:16]}-{s.name}", pure=False, retries=retries)
        futures[fut] = s
    try:
        for fut in as_completed(futures):
            s = futures.pop(fut)
            try:
                outcome = fut.result()
            except Exception as exc:  # KilledWorker after repeated deaths, a lost scheduler, ...
                outcome = _Outcome(s.name, error=f"{type(exc).__name__}: {exc}", traceback="")
            receive(outcome)
            fut.release()
            bar.advance(s.name, failed=s.name in failures)
    finally:
        if futures:  # interrupted: stop what is still queued (finished fits are already stored)
            client.cancel(list(futures))
        for f in scattered.values():
            f.release()


def _hold(frame):
    return frame


@dataclass
class _Outcome:
    name: str
    fit: object = None
    error: str | None = None
    traceback: str = ""
    seconds: float = float("nan")
    compile_s: float = float("nan")
    compiled: bool = False
    worker: str = "local"
    warnings: list = field(default_factory=list)


def _run_spec(spec: FitSpec, frame, plan: dict, worker_options: dict | None, finish: str | None) -> _Outcome:
    """Run one spec here (in this process or on a Dask worker); exceptions become a failed outcome.

    ``plan``: the seed and batch key from :func:`_plan`; ``worker_options`` (on a Dask worker):
    options passed to a fit function that accepts them and whose spec does not set them."""
    from snrstat.inference.sampling import COMPILE_CACHE

    worker = "local"
    if worker_options is not None:
        try:
            from distributed import get_worker

            worker = get_worker().address
        except (ImportError, ValueError):
            pass
    t0 = time.perf_counter()
    misses = COMPILE_CACHE.misses
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fn = _resolve(spec.target())
            kwargs = dict(spec.options)
            kwargs["random_seed"] = plan["seed"]  # the spec's own, or derived from its name
            if _accepts(fn, "progress"):
                kwargs.setdefault("progress", False)  # the batch has its own progress bar
            for k, v in (worker_options or {}).items():
                if _accepts(fn, k):
                    kwargs.setdefault(k, v)
            args = ((frame,) if spec.data is not None else ()) + spec.args
            fit = fn(*args, **kwargs)
            if finish is not None:
                fit = _resolve(finish)(fit)
            _tag(fit, {"name": spec.name, "key": plan["key"], "random_seed": int(plan["seed"])})
        except Exception as exc:
            return _Outcome(spec.name, error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc(),
                            seconds=time.perf_counter() - t0, worker=worker, warnings=_warning_list(caught))
    compile_s = _compile_seconds(fit)
    compiled = COMPILE_CACHE.misses > misses or (compile_s > 0)
    return _Outcome(spec.name, fit=fit, seconds=time.perf_counter() - t0, compile_s=compile_s, compiled=bool(compiled),
                    worker=worker, warnings=_warning_list(caught))


# ---------------------------------------------------------------------------- helpers
def _plan(spec: FitSpec, random_seed: int, digests: dict, finish: str | None) -> dict:
    from snrstat.inference.fit import jsonable

    seed = spec.options.get("random_seed")
    seed = derive_seed(random_seed, spec.name) if seed is None else int(seed)
    ident = {"format": BATCH_FORMAT, "function": spec.target(), "data": digests.get(spec.data),
             "args": jsonable(list(spec.args)), "options": jsonable({k: v for k, v in spec.options.items()
                                                                    if k != "random_seed"}),
             "random_seed": seed, "finish": finish}
    key = hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()
    return {"seed": seed, "key": key}


def _tag(fit, info: dict) -> None:
    """Record the batch identity in the fit's configuration (saved and hashed with it)."""
    config = getattr(fit, "config", None)
    if isinstance(config, dict):
        config["batch"] = info


def _row(spec, plan, status, outcome: _Outcome | None = None, path=None) -> dict:
    o = outcome or _Outcome(spec.name)
    return {"name": spec.name, "status": status, "worker": o.worker if outcome else None, "seconds": o.seconds,
            "compile_s": o.compile_s, "compiled": bool(o.compiled), "random_seed": plan["seed"],
            "file": None if path is None else str(path), "error": o.error}


def _stored(root: Path, spec: FitSpec, key: str):
    """The stored fit of ``spec`` when its file loads and carries the same batch key, else None."""
    from snrstat.inference.fit import load_fit_file

    path = _store_path(root, spec)
    if not path.exists():
        return None
    try:
        fit = load_fit_file(path)
    except Exception as exc:  # damaged, edited, another format: fit again
        log.info("refitting %s: stored file not usable (%s)", spec.name, exc)
        return None
    info = _saved_config(fit).get("batch") or {}
    if info.get("key") != key:
        return None
    _tag(fit, info)  # a kind that rebuilds its config from parts drops the entry on loading
    return fit


def _saved_config(fit) -> dict:
    """The configuration as saved in the file (checked against the id hash by load_fit_file)."""
    try:
        return json.loads(fit.idata.attrs["snrstat_config"])
    except (AttributeError, KeyError, TypeError, ValueError):
        return getattr(fit, "config", None) or {}


def _store_path(root: Path, spec: FitSpec) -> Path:
    return root / f"{spec.name}.nc"


def _check_name(name) -> None:
    if not isinstance(name, str) or not name.strip():
        raise DataError(f"a fit spec needs a non-empty name, got {name!r}")
    parts = name.split("/")
    bad = [c for c in ("\\", "\x00") if c in name]
    if name.startswith("/") or bad or any(p in ("", ".", "..") for p in parts):
        raise DataError(f"fit spec name {name!r} cannot name a file in the store (no leading '/', empty, '.' or "
                        "'..' parts, backslashes)")


def _check_specs(specs: list, frames: dict) -> None:
    if not specs:
        raise DataError("no fit specs given")
    bad = [s for s in specs if not isinstance(s, FitSpec)]
    if bad:
        raise DataError(f"fit_many takes FitSpec objects, got {type(bad[0]).__name__}")
    names = pd.Series([s.name for s in specs])
    dup = sorted(names[names.duplicated()].unique())
    if dup:
        raise DataError(f"fit spec names must be unique in a batch; repeated: {dup[:10]}")
    missing = sorted({s.data for s in specs if s.data is not None and s.data not in frames})
    if missing:
        raise DataError(f"specs name data {missing} that fit_many was not given; data keys: {sorted(frames)}")
    for target in sorted({s.target() for s in specs}):
        _resolve(target)  # fail here, not on every worker


def _frames(data) -> dict:
    if data is None:
        return {}
    if isinstance(data, pd.DataFrame):
        return {DEFAULT_DATA: data}
    if isinstance(data, Mapping):
        bad = [k for k, v in data.items() if not isinstance(v, pd.DataFrame)]
        if bad:
            raise DataError(f"data must map names to DataFrames; not a DataFrame: {bad}")
        return dict(data)
    raise DataError(f"data must be a DataFrame or a dict of DataFrames, got {type(data).__name__}")


def _frame_hash(frame: pd.DataFrame) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode())
    h.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return h.hexdigest()


def _resolve(target: str) -> Callable:
    module, _, qualname = target.partition(":")
    if not module or not qualname:
        raise DataError(f"fit function {target!r} is neither one of {sorted(FIT_FUNCTIONS)} nor 'module:function'")
    try:
        obj = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise DataError(f"cannot import fit function {target!r} ({type(exc).__name__}: {exc})") from None
    if not callable(obj):
        raise DataError(f"{target!r} is not callable")
    return obj


def _import_name(fn) -> str:
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if not module or "<" in qualname or module == "__main__":
        raise DataError(f"{fn!r} cannot be found by name on the workers: define it at the top level of an "
                        "importable module")
    return f"{module}:{qualname}"


def _accepts(fn, name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def _compile_seconds(fit) -> float:
    attrs = getattr(getattr(fit, "idata", None), "attrs", None) or {}
    for source in (attrs, getattr(fit, "settings", None), (getattr(fit, "config", None) or {}).get("settings")):
        if isinstance(source, Mapping) and "compile_s" in source:
            try:
                return float(source["compile_s"])
            except (TypeError, ValueError):
                pass
    return float("nan")


def _warning_list(caught) -> list[tuple[str, str]]:
    out = []
    for w in caught:
        cat = w.category
        out.append((f"{cat.__module__}:{cat.__qualname__}", " ".join(str(w.message).split())))
    return out


def _repeat_warnings(caught: list, total: int) -> None:
    """Each distinct warning of the fits once, with how many fits raised it."""
    by = {}
    for name, cat, msg in caught:
        by.setdefault((cat, msg), [])
        if name not in by[(cat, msg)]:
            by[(cat, msg)].append(name)
    for (cat, msg), names in by.items():
        try:
            category = _resolve(cat)
            if not (isinstance(category, type) and issubclass(category, Warning)):
                category = UserWarning
        except DataError:
            category = UserWarning
        shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        warnings.warn(f"{msg} ({len(names)} of {total} fits: {shown})", category, stacklevel=3)


class _Bar:
    """A rich progress bar of fits done (resumed ones count as done; a no-op when disabled)."""

    def __init__(self, enabled: bool, total: int, done: int):
        self.enabled, self.total, self.done, self.failed = enabled, total, done, 0

    def __enter__(self):
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._p = Progress(TextColumn("fits"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                               TextColumn("{task.description}"), console=Console(stderr=True))
            self._p.__enter__()
            self._task = self._p.add_task("", total=self.total, completed=self.done)
        return self

    def advance(self, name: str, failed: bool = False) -> None:
        self.failed += bool(failed)
        if self.enabled:
            note = f"{name}" + (f"  [red]{self.failed} failed[/]" if self.failed else "")
            self._p.update(self._task, advance=1, description=note)

    def __exit__(self, *exc):
        if self.enabled:
            self._p.__exit__(*exc)
        return False
