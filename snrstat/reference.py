"""Saved reference fits of the bundled data sets.

Each fit is one small NetCDF file written by :meth:`snrstat.inference.Fit.save` (scalar
hyperparameters, derived quantities and model means as float32, with the configuration, records,
diagnostics and id hash in its attributes). ``snrstat models --rebuild`` regenerates them; the
report reuses a fit only when its data hash matches the records it would fit, so a stale fit is
never shown as current.

Where they are (:func:`models_dir`): the folder in ``$SNRSTAT_MODELS`` when set, else the
repository's top-level ``models/`` folder, which the wheel ships as the package
``snrstat.reference_models`` (``pyproject.toml`` maps it), so a checkout and an installed wheel
find the same fits.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd

from snrstat.inference import load_fit_file
from snrstat.schema import DataError


@dataclass(frozen=True)
class ReferenceSet:
    """Which variance fits describe a bundled data set: tasks x sizes, one metric per task."""

    dataset: str
    sizes: tuple[str, ...]  # (small, target): decision accuracy is read between them
    models: tuple[str, ...]
    metric: str
    metric_overrides: tuple[tuple[str, str], ...] = ()
    exclude_tasks_suffix: str | None = None
    last_n: int = 5

    def frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        rows = frame[frame["model"].isin(self.models) & frame["size"].isin(self.sizes)]
        if self.exclude_tasks_suffix:
            rows = rows[~rows["task"].str.endswith(self.exclude_tasks_suffix)]
        return rows

    def metrics(self, frame: pd.DataFrame) -> dict[str, str]:
        overrides = dict(self.metric_overrides)
        rows = self.frame(frame)
        tasks = sorted(rows["task"].unique())
        return {t: overrides.get(t, self.metric) for t in tasks}


REFERENCE_SETS = {
    "olmo-ladder": ReferenceSet(
        dataset="olmo-ladder", sizes=("190M", "3B"), models=("0.5xC", "1xC", "2xC", "5xC", "10xC"),
        metric="len_norm", metric_overrides=(("boolq_val", "acc"),),
    ),
    "pythia": ReferenceSet(
        dataset="pythia", sizes=("160m", "12b"), models=("pile", "pile-deduped"), metric="acc",
        exclude_tasks_suffix="_5shot",
    ),
}

#: Posterior variables a reference fit keeps (everything else is large or derivable).
KEEP_DIMS = {"chain", "draw", "model"}
#: Draws kept per reference fit (thinned evenly): enough for 90% intervals, small on disk.
KEEP_DRAWS = 800


#: The environment variable that points snrstat at another folder of saved fits.
MODELS_ENV = "SNRSTAT_MODELS"


def models_dir(root=None) -> Path:
    """Where saved reference fits live: ``root`` if given, else ``$SNRSTAT_MODELS``, else the
    fits installed with the package (the repository's ``models/`` folder)."""
    if root is not None:
        return Path(root)
    env = os.environ.get(MODELS_ENV)
    if env:
        return Path(env)
    return Path(str(resources.files("snrstat.reference_models")))


def fit_path(dataset: str, task: str, metric: str, size: str, root: Path | None = None) -> Path:
    return (root or models_dir()) / dataset / f"{task}--{metric}--{size}.nc"


def slim(fit):
    """A copy of a VarianceFit keeping scalar quantities and model means as float32."""
    import arviz as az

    from snrstat.variance import VarianceFit

    post = fit.idata.posterior
    every = _every(post)
    keep = [v for v in post.data_vars if set(post[v].dims) <= KEEP_DIMS]
    parts = {"posterior": post[keep].astype("float32").isel(draw=every)}
    stats = getattr(fit.idata, "sample_stats", None)
    if stats is not None:
        parts["sample_stats"] = _slim_stats(stats, every)
    idata = az.InferenceData(**parts)
    return VarianceFit(idata, fit.records, fit.spec, fit.point, fit.diagnostics, fit.settings, fit.level)


def _every(post) -> slice:
    """The draw step that keeps about KEEP_DRAWS draws over all chains."""
    return slice(None, None, max(1, (post.sizes["chain"] * post.sizes["draw"]) // KEEP_DRAWS))


def _slim_stats(stats, every: slice):
    """What the diagnostics plots need of the sample stats: divergences, energy, log density."""
    return stats[[v for v in ("diverging", "energy", "lp") if v in stats]].isel(draw=every)


def slim_scaling(fit):
    """A copy of a ScalingFit keeping the law's parameters and the targets' predictive draws,
    thinned to about KEEP_DRAWS as float32 (diagnostics stay those of the full run)."""
    import arviz as az

    post = fit.idata.posterior
    every = _every(post)
    # sampler-internal transforms and per-training-run effects are not needed to predict
    keep = [v for v in post.data_vars if not v.endswith("__") and "run" not in post[v].dims]
    parts = {"posterior": post[keep].astype("float32").isel(draw=every)}
    for group in ("predictions", "sample_stats", "observed_data", "constant_data"):
        if group in fit.idata.groups():
            data = fit.idata[group]
            if group == "sample_stats":
                parts[group] = _slim_stats(data, every)
            else:
                parts[group] = data.isel(draw=every) if "draw" in data.dims else data
    parts["predictions"] = parts["predictions"].astype("float32")
    return type(fit)(fit.config, az.InferenceData(**parts), fit.targets, fit.points, fit.anchors, fit.diagnostics,
                     fit.timing, fit.point_params, fit.level)


def fit_reference(dataset: str, frame: pd.DataFrame, *, draws: int = 1000, tune: int = 1000, chains: int = 4,
                  random_seed: int = 0, progress: bool = True, tasks=None) -> dict:
    """Variance fits of every (size, task) of a reference set: ``{(size, task): VarianceFit}``.

    ``tasks`` restricts the fits to some tasks (default: all of the set)."""
    from snrstat.variance import fit_variance_many

    ref = _reference(dataset)
    rows = ref.frame(frame)
    metrics = ref.metrics(frame)
    if tasks is not None:
        unknown = sorted(set(tasks) - set(metrics))
        if unknown:
            raise DataError(f"tasks {unknown} are not in the {dataset} reference set; available: {sorted(metrics)}")
        metrics = {t: metrics[t] for t in tasks}
    fits = {}
    for size in ref.sizes:
        batch = fit_variance_many(rows, tasks=list(metrics), metric=metrics, size=size, last_n=ref.last_n,
                                  draws=draws, tune=tune, chains=chains, random_seed=random_seed,
                                  progress=progress)
        fits.update({(size, task): fit for task, fit in batch.items()})
    return fits


def save_reference(dataset: str, fits: dict, root: Path | None = None) -> list[Path]:
    paths = []
    for (size, task), fit in fits.items():
        paths.append(slim(fit).save(fit_path(dataset, task, fit.metric, size, root)))
    return paths


def load_reference(dataset: str, frame: pd.DataFrame | None = None, root: Path | None = None) -> dict:
    """The saved fits of a reference set; with ``frame``, only those whose data hash still matches."""
    from snrstat.variance.records import select_records

    ref = _reference(dataset)
    rows = ref.frame(frame) if frame is not None else None
    metrics = ref.metrics(frame) if frame is not None else None
    fits = {}
    for nc in sorted(((root or models_dir()) / dataset).glob("*.nc")):
        task, metric, size = nc.stem.split("--")
        fit = load_fit_file(nc)
        if rows is not None:
            if metrics.get(task) != metric:
                continue
            current = select_records(rows, task, metric, size=size, last_n=ref.last_n)
            if current.data_hash() != fit.records.data_hash():
                continue
        fits[(size, task)] = fit
    return fits


def fit_name(path: Path, root: Path | None = None) -> str:
    """The name :func:`load_fit` takes for a saved fit file: ``dataset/task/metric/size`` or
    ``dataset/scaling/task``."""
    rel = Path(path).relative_to(models_dir(root))
    parts = list(rel.with_suffix("").parts)
    return "/".join(parts[:-1] + parts[-1].split("--"))


def name_path(name: str, root: Path | None = None) -> Path:
    """The file of a saved fit named as :func:`fit_name` prints it."""
    parts = str(name).split("/")
    if len(parts) == 3 and parts[1] == "scaling":
        return models_dir(root) / parts[0] / "scaling" / f"{parts[2]}.nc"
    if len(parts) == 4:
        return fit_path(*parts, root=root)
    raise DataError(f"a reference fit is named dataset/task/metric/size or dataset/scaling/task, got {name!r}; "
                    "'snrstat models' lists them")


def list_fits(root: Path | None = None) -> list[dict]:
    """One entry per saved fit: name, kind, bytes on disk, sampler health (read from the file's
    attributes without loading the posterior)."""
    import h5py

    out = []
    base = models_dir(root)
    for nc in sorted(base.glob("**/*.nc")):
        try:
            with h5py.File(nc, "r") as fh:
                attrs = {k: (v.decode() if isinstance(v, bytes) else str(v)) for k, v in fh.attrs.items()}
            diag = json.loads(attrs.get("snrstat_diagnostics", "null")) or {}
            kind = attrs.get("snrstat_kind", "?")
        except (OSError, ValueError):
            diag, kind = {}, "unreadable"
        out.append({"name": fit_name(nc, base), "kind": kind, "bytes": nc.stat().st_size,
                    "ok": bool(diag.get("ok", False))})
    return out


def load_fit(name_or_path):
    """A saved fit of any kind: a path to its ``.nc`` file, or the name of a reference fit,
    ``dataset/task/metric/size`` for a variance fit (e.g. ``olmo-ladder/hellaswag_val/len_norm/3B``)
    or ``olmo-ladder/scaling/TASK`` for a scaling law. ``snrstat models`` lists the names.
    The file's id hash is checked; an edited or damaged file is refused."""
    path = Path(name_or_path)
    if path.suffix == ".nc" or path.exists():
        return load_fit_file(path)
    target = name_path(str(name_or_path))
    if not target.exists():
        available = [f["name"] for f in list_fits()]
        raise DataError(f"no saved fit {str(name_or_path)!r} (looked for {target}); available: {available[:8]}"
                        f"{' ...' if len(available) > 8 else ''} ('snrstat models' lists all)")
    return load_fit_file(target)


def _reference(dataset: str) -> ReferenceSet:
    try:
        return REFERENCE_SETS[dataset]
    except KeyError:
        raise DataError(f"no reference set for {dataset!r}; available: {sorted(REFERENCE_SETS)}") from None


# ---------------------------------------------------------------------------- scaling laws
def scaling_tasks(frame: pd.DataFrame) -> list[str]:
    """Tasks of the OLMo ladder with both a task loss (bpb) and an accuracy metric."""
    has = frame.groupby("task")["metric"].unique().map(set)
    return sorted(t for t, m in has.items() if "bpb" in m and m & {"len_norm", "acc"})


def _scaling_hash(frame: pd.DataFrame, task: str) -> str:
    import hashlib

    from snrstat.scaling import checkpoint_table

    table = checkpoint_table(frame, [task])
    return hashlib.sha256(table.to_csv(index=False, float_format="%.17g").encode()).hexdigest()


def fit_scaling_reference(frame: pd.DataFrame, *, tasks=None, draws: int = 2000, tune: int = 1500,
                          chains: int = 4, random_seed: int = 0, progress: bool = True) -> dict:
    """Bayesian two-step scaling-law fits of the OLMo ladder, one per task, with a count of fits done."""
    from rich.progress import Progress

    from snrstat.scaling import fit_scaling_law

    tasks = scaling_tasks(frame) if tasks is None else list(tasks)
    fits = {}
    with Progress(disable=not progress, transient=True) as bar:
        job = bar.add_task("scaling fits", total=len(tasks))
        for task in tasks:
            fits[task] = fit_scaling_law(frame, task, draws=draws, tune=tune, chains=chains,
                                         random_seed=random_seed, progress=False)
            bar.advance(job)
    return fits


def save_scaling_reference(fits: dict, frame: pd.DataFrame, root: Path | None = None) -> list[Path]:
    folder = (root or models_dir()) / "olmo-ladder" / "scaling"
    folder.mkdir(parents=True, exist_ok=True)
    index = {}
    for task, fit in fits.items():
        slim_scaling(fit).save(folder / f"{task}.nc")
        index[task] = _scaling_hash(frame, task)
    (folder / "index.json").write_text(json.dumps(index, indent=1))
    return sorted(folder.glob("*.nc"))


def load_scaling_reference(frame: pd.DataFrame | None = None, root: Path | None = None) -> dict:
    """Saved scaling fits by task; with ``frame``, only those whose ladder data still match."""
    import json

    folder = (root or models_dir()) / "olmo-ladder" / "scaling"
    if not (folder / "index.json").exists():
        return {}
    index = json.loads((folder / "index.json").read_text())
    fits = {}
    for task, digest in index.items():
        if frame is not None and _scaling_hash(frame, task) != digest:
            continue
        fits[task] = load_fit_file(folder / f"{task}.nc")
    return fits
