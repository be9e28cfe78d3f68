"""Saved reference fits of the bundled data sets (the top-level ``models/`` folder).

Each fit is a small NetCDF posterior (scalar hyperparameters, derived quantities and model
means, float32) plus its JSON card (data hash, records, spec, sampler settings, diagnostics).
``snrstat models --rebuild`` regenerates them; the report reuses them when the card's data
hash matches the records it would fit, so a stale fit is never shown as current.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

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


def models_dir() -> Path:
    """``$SNRSTAT_MODELS`` or the repository's ``models/`` folder."""
    env = os.environ.get("SNRSTAT_MODELS")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "models"


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
    import dataclasses

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
    return dataclasses.replace(fit, idata=az.InferenceData(**parts))


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
        nc, _ = slim(fit).save(fit_path(dataset, task, fit.metric, size, root))
        paths.append(nc)
    return paths


def load_reference(dataset: str, frame: pd.DataFrame | None = None, root: Path | None = None) -> dict:
    """The saved fits of a reference set; with ``frame``, only those whose data hash still matches."""
    from snrstat.variance import load_fit
    from snrstat.variance.records import select_records

    ref = _reference(dataset)
    rows = ref.frame(frame) if frame is not None else None
    metrics = ref.metrics(frame) if frame is not None else None
    fits = {}
    for nc in sorted(((root or models_dir()) / dataset).glob("*.nc")):
        task, metric, size = nc.stem.split("--")
        fit = load_fit(nc)
        if rows is not None:
            if metrics.get(task) != metric:
                continue
            current = select_records(rows, task, metric, size=size, last_n=ref.last_n)
            if current.data_hash() != fit.records.data_hash():
                continue
        fits[(size, task)] = fit
    return fits


def load_named_fit(name: str):
    """``dataset/task/metric/size`` (e.g. ``olmo-ladder/arc_easy_test/len_norm/3B``) from models/."""
    from snrstat.variance import load_fit

    parts = name.split("/")
    if len(parts) != 4:
        raise DataError(f"a reference fit is named dataset/task/metric/size, got {name!r}")
    path = fit_path(*parts)
    if not path.exists():
        available = sorted("/".join([p.parent.name, *p.stem.split("--")]) for p in models_dir().glob("*/*.nc"))
        raise DataError(f"no reference fit {name!r}; available: {available[:8]}{' ...' if len(available) > 8 else ''}")
    return load_fit(path)


def load_fit(name_or_path):
    """A saved fit: a path to a ``.nc`` file (its JSON card beside it), or the name of a reference
    fit in models/: ``dataset/task/metric/size`` for a variance fit (e.g.
    ``olmo-ladder/hellaswag_val/len_norm/3B``) or ``olmo-ladder/scaling/TASK`` for a scaling law.
    ``snrstat models`` lists the names."""
    from snrstat.variance import load_fit as load_variance_fit

    path = Path(name_or_path)
    if path.suffix == ".nc" or path.exists():
        card = json.loads(path.with_suffix(".json").read_text()) if path.with_suffix(".json").exists() else {}
        if "Scaling" in str(card.get("kind", "")):
            from snrstat.scaling import ScalingFit

            return ScalingFit.load(path)
        return load_variance_fit(path)
    parts = str(name_or_path).split("/")
    if len(parts) == 3 and parts[1] == "scaling":
        from snrstat.scaling import ScalingFit

        nc = models_dir() / parts[0] / "scaling" / f"{parts[2]}.nc"
        if not nc.exists():
            raise DataError(f"no saved scaling-law fit {name_or_path!r} (looked for {nc})")
        return ScalingFit.load(nc)
    return load_named_fit(str(name_or_path))


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
    import json

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

    from snrstat.scaling import ScalingFit

    folder = (root or models_dir()) / "olmo-ladder" / "scaling"
    if not (folder / "index.json").exists():
        return {}
    index = json.loads((folder / "index.json").read_text())
    fits = {}
    for task, digest in index.items():
        if frame is not None and _scaling_hash(frame, task) != digest:
            continue
        fits[task] = ScalingFit.load(folder / f"{task}.nc")
    return fits
