"""OLMES (allenai/olmes, the ``oe_eval`` package) output directories as a tidy frame.

An OLMES run writes, per task, ``task-NNN-<task>-metrics.json`` (``task_name``, ``task_config``
with ``task_core``/``num_shots``/``primary_metric``, ``model_config`` with ``model``/``revision``,
``num_instances`` and ``metrics`` incl. ``primary_score``) and ``task-NNN-<task>-predictions.jsonl``
(one line per item: ``doc_id``, ``native_id``, ``metrics`` such as ``acc_raw``, ``acc_per_char``,
``bits_per_byte_corr``, ``predicted_index_raw``, ...). This is the evaluation code of the
signal-and-noise paper (Heineman et al. 2025) and of DataDecide.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from snrstat.io._common import (
    apply_overrides,
    as_number,
    check_conflicts,
    demote_unbounded_primary,
    files_under,
    find_step,
    iter_jsonl,
    load_json,
    require_model,
)
from snrstat.schema import DataError, validate

#: OLMES metric names given snrstat's vocabulary: bits per byte of the correct answer.
RENAME = {"bits_per_byte_corr": "bpb"}
#: Per-item fields that are choices or flags, not scores.
_NOT_SCORES = re.compile(r"^(predicted_index.*|correct_choice|no_answer|num_.*)$")
_TASK_FILE = re.compile(r"^(?:task-\d+-)?(?P<task>.+)-(?:metrics\.json|predictions\.jsonl)$")


def read_olmes(
    path: str | Path,
    *,
    model: str | None = None,
    size: str | None = None,
    seed: str | None = None,
    data_order: str | None = None,
    step: int | None = None,
    predictions: bool = False,
    full_task_names: bool = False,
) -> pd.DataFrame:
    """Read OLMES ``*-metrics.json`` files (a file or a directory, recursively).

    Each numeric entry of ``metrics`` becomes a record (``primary_score`` included;
    ``bits_per_byte_corr`` is renamed ``bpb``); ``n_items`` = ``num_instances``; an extra
    column ``num_fewshot`` (Int64) holds ``task_config.num_shots``. ``model`` is
    ``model_config.model``; ``step`` comes from ``stepN`` in ``model_config.revision``, the
    model path, or the folder the file sits in (OLMES runs are usually stored as
    ``<model>/step<N>-.../task-...``). Keyword arguments override them.

    ``task`` is the task core (``arc_easy`` for ``arc_easy:rc::olmes:full``); if one folder
    holds two formulations of a task (``:rc`` and ``:mc``) that is an error unless
    ``full_task_names=True``, which keeps the full OLMES task name.

    ``predictions=True`` adds the per-item records of the matching ``*-predictions.jsonl``
    (``item`` = ``str(doc_id)``, extra column ``native_id``, ``n_items`` = 1); choice indices
    and flags (``predicted_index_*``, ``correct_choice``, ``no_answer``) are left out.

    A ``primary_score`` outside [0, 1] (loss-like primary metrics, e.g. Paloma's bits per
    byte) is recorded as metric ``primary_score_unbounded``, with a warning.
    """
    path = Path(path)
    metric_files = [p for p in files_under(path, "*-metrics.json") if p.suffix == ".json"]
    if not metric_files:
        raise DataError(f"{path}: no OLMES '*-metrics.json' files")
    parts = []
    for file in metric_files:
        records, context = _read_metrics(file, full_task_names)
        parts.append(records.assign(source=str(file)))
        pred = file.with_name(file.name[: -len("-metrics.json")] + "-predictions.jsonl")
        if predictions and pred.exists():
            parts.append(_read_predictions(pred, context).assign(source=str(pred)))
    frame = pd.concat([p for p in parts if len(p)], ignore_index=True)
    frame = apply_overrides(frame, model=model, size=size, seed=seed, data_order=data_order, step=step)
    require_model(frame, str(path))
    _refuse_mixed_formulations(frame)
    frame = demote_unbounded_primary(frame.drop(columns="variant"), where=str(path))
    frame["num_fewshot"] = frame["num_fewshot"].astype("Int64")
    return validate(check_conflicts(frame))


def _read_metrics(path: Path, full_task_names: bool) -> tuple[pd.DataFrame, dict]:
    data = load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), dict):
        raise DataError(f"{path}: no 'metrics' object; not an OLMES task metrics file")
    task_config = data.get("task_config") if isinstance(data.get("task_config"), dict) else {}
    model_config = data.get("model_config") if isinstance(data.get("model_config"), dict) else {}
    full = data.get("task_name") or task_config.get("task_name")
    if not full:
        m = _TASK_FILE.match(path.name)
        full = m["task"] if m else path.stem
    task = full if full_task_names else (task_config.get("task_core") or str(full).split(":")[0])
    model = model_config.get("model") or data.get("model")
    step = find_step(model_config.get("revision"), model_config.get("model_path"), path.parent.name, model)
    shots = as_number(task_config.get("num_shots"))
    n = as_number(data.get("num_instances"))
    context = dict(task=task, variant=full, model=model, step=step,
                   num_fewshot=None if shots is None else int(shots))
    records = [dict(context, metric=RENAME.get(k, k), value=v, n_items=None if n is None else int(n))
               for k, v in _scores(data["metrics"]).items()]
    return pd.DataFrame.from_records(records), context


def _scores(metrics: dict) -> dict[str, float]:
    """Numeric score entries of a metrics mapping (nested objects and choice indices left out)."""
    out = {}
    for key, raw in metrics.items():
        value = as_number(raw)
        if value is not None and not _NOT_SCORES.match(key):
            out[key] = value
    return out


def _read_predictions(path: Path, context: dict) -> pd.DataFrame:
    records = []
    for lineno, obj in iter_jsonl(path):
        if "doc_id" not in obj or not isinstance(obj.get("metrics"), dict):
            raise DataError(f"{path}:{lineno}: a prediction needs 'doc_id' and a 'metrics' object")
        native = obj.get("native_id")
        for key, value in _scores(obj["metrics"]).items():
            records.append(dict(context, metric=RENAME.get(key, key), value=value, n_items=1,
                                item=str(obj["doc_id"]), native_id=None if native is None else str(native)))
    frame = pd.DataFrame.from_records(records)
    if len(frame):
        frame["native_id"] = frame["native_id"].astype("string")
    return frame


def _refuse_mixed_formulations(frame: pd.DataFrame) -> None:
    keys = ["model", "size", "seed", "data_order", "step", "task"]
    keys = [k for k in keys if k in frame.columns]
    variants = frame.groupby(keys, dropna=False)["variant"].unique()
    mixed = variants[variants.map(len) > 1]
    if len(mixed):
        names = sorted(mixed.iloc[0])
        raise DataError(
            f"task '{frame.loc[frame['variant'] == names[0], 'task'].iloc[0]}' was evaluated in more "
            f"than one formulation {names}; pass full_task_names=True to keep them apart"
        )
