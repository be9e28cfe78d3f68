"""Inspect AI evaluation logs (UK AISI's ``inspect_ai``) as a tidy frame.

Two log formats are read, both holding the same objects:

* ``.eval`` (a zip archive): ``header.json`` (``version``, ``status``, ``eval`` with ``task``,
  ``model``, ``dataset``, ``config``; ``results.scores``), ``samples/<id>_epoch_<n>.json``
  (one per sample and epoch: ``id``, ``epoch``, ``scores``), ``reductions.json`` (per scorer,
  each sample's score reduced over epochs) and ``summaries.json``;
* ``.json``: one object with ``version``, ``eval``, ``results``, ``samples`` and ``reductions``.

A sample's score ``value`` is a number, a boolean, one of Inspect's letters (``C`` correct = 1,
``I`` incorrect = 0, ``P`` partial = 0.5, ``N`` no answer = 0, as ``inspect_ai.scorer.value_to_float``
maps them), ``yes``/``no``/``true``/``false``, or a dict of such values (one metric per key).
"""

from __future__ import annotations

import json
import re
import warnings
import zipfile
from pathlib import Path

import pandas as pd

from snrstat.io._common import as_number, files_under
from snrstat.schema import DataError, validate

#: Inspect's score letters and words as numbers (inspect_ai.scorer.value_to_float).
LETTERS = {"C": 1.0, "I": 0.0, "P": 0.5, "N": 0.0}
WORDS = {"yes": 1.0, "true": 1.0, "no": 0.0, "false": 0.0}
_SAMPLE_NAME = re.compile(r"^samples/(?P<id>.+)_epoch_(?P<epoch>\d+)\.json$")


class InspectLogWarning(UserWarning):
    """Scores of an Inspect log that could not be read as numbers (counted and named)."""


def is_inspect_log(obj) -> bool:
    """Whether a parsed JSON object is an Inspect log (``eval`` object with ``task`` and ``model``)."""
    return (isinstance(obj, dict) and isinstance(obj.get("eval"), dict)
            and "task" in obj["eval"] and "model" in obj["eval"])


def read_inspect(path: str | Path, *, level: str = "item", model: str | None = None,
                 task: str | None = None, reduced: bool = False) -> pd.DataFrame:
    """Read Inspect logs (a ``.eval``/``.json`` file, or a directory of them, recursively).

    ``level="item"`` (default): one record per sample, epoch and scorer: ``item`` = the sample
    id, extra column ``epoch`` (epochs are repeated attempts at the same item, so records that
    differ only in epoch are kept apart), ``metric`` = the scorer's name (``match``,
    ``choice``; ``<scorer>_<key>`` for dict-valued scores), ``n_items`` = 1, ``value`` the
    score as a number (see the module docstring). ``reduced=True`` reads the epoch-reduced
    scores of ``reductions`` instead (one record per item, ``epoch`` NA); a log without
    samples falls back to them.

    ``level="task"``: one record per log and scorer metric from ``results.scores``:
    ``metric`` = ``<scorer>_<metric>`` (``match_accuracy``), ``stderr`` from the scorer's
    ``stderr`` metric, ``n_items`` = ``results.completed_samples`` (``scored_samples`` when given).

    Extra column ``log`` (the file name) keeps two evaluation runs of one model on one task
    apart. ``task`` = the log's task name without a registry prefix (``inspect_evals/mmlu_0_shot``
    -> ``mmlu_0_shot``; the full name stays in extra column ``task_full``); ``model`` = the
    log's model (``openai/gpt-4o``). Keyword arguments override both. Logs whose status is not
    ``success`` are read with a warning naming them; scores that are not numbers are dropped
    with one warning per file that counts them.
    """
    if level not in ("item", "task"):
        raise DataError(f"level must be 'item' or 'task', got {level!r}")
    path = Path(path)
    files = [p for p in files_under(path, "*") if p.suffix in (".eval", ".json")]
    if not files:
        raise DataError(f"{path}: no Inspect logs (.eval or .json files)")
    parts = []
    for file in files:
        header, samples, reductions = _load(file)
        part = _records(file, header, samples, reductions, level=level, reduced=reduced)
        if not len(part):
            warnings.warn(f"{file}: the Inspect log holds no scores (no scorer ran); skipped",
                          InspectLogWarning, stacklevel=2)
        parts.append(part)
    frame = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else None
    if frame is None:
        raise DataError(f"{path}: the Inspect logs hold no numeric scores")
    if model is not None:
        frame["model"] = model
    if task is not None:
        frame["task"] = task
    if "epoch" in frame:
        frame["epoch"] = frame["epoch"].astype("Int64")
    return validate(frame)


def _load(file: Path) -> tuple[dict, list[dict], list[dict]]:
    """(header, samples, reductions) of one log file."""
    if file.suffix == ".eval":
        try:
            archive = zipfile.ZipFile(file)
        except (zipfile.BadZipFile, OSError) as exc:
            raise DataError(f"{file}: not a readable Inspect .eval archive ({exc})") from None
        with archive:
            names = set(archive.namelist())
            if "header.json" not in names:
                raise DataError(f"{file}: an .eval archive without header.json is not a finished Inspect log")
            header = _zip_json(archive, file, "header.json")
            samples = [_zip_json(archive, file, name) for name in sorted(names) if _SAMPLE_NAME.match(name)]
            reductions = _zip_json(archive, file, "reductions.json") if "reductions.json" in names else []
    else:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"{file}: cannot be read ({exc})") from None
        except json.JSONDecodeError as exc:
            raise DataError(f"{file}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
        header = data
        samples = data.get("samples") or [] if isinstance(data, dict) else []
        reductions = data.get("reductions") or [] if isinstance(data, dict) else []
    if not is_inspect_log(header):
        raise DataError(f"{file}: not an Inspect log (no 'eval' object with 'task' and 'model')")
    return header, samples, reductions


def _zip_json(archive: zipfile.ZipFile, file: Path, name: str):
    try:
        return json.loads(archive.read(name).decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, zipfile.BadZipFile) as exc:
        raise DataError(f"{file}: member {name} is not valid JSON ({exc})") from None


def score_value(value) -> float | None:
    """An Inspect score value as a number, or None when it is not one (lists, free text)."""
    if isinstance(value, bool):
        return float(value)
    number = as_number(value)
    if number is not None:
        return number
    if isinstance(value, str):
        text = value.strip()
        if text in LETTERS:
            return LETTERS[text]
        if text.lower() in WORDS:
            return WORDS[text.lower()]
        try:
            number = float(text)
        except ValueError:
            return None
        return number if number == number and abs(number) != float("inf") else None
    return None


def _values(scorer: str, value) -> list[tuple[str, float | None]]:
    if isinstance(value, dict):
        return [(f"{scorer}_{key}", score_value(v)) for key, v in value.items()]
    return [(scorer, score_value(value))]


def _records(file, header, samples, reductions, *, level: str, reduced: bool) -> pd.DataFrame:
    ev = header["eval"]
    full_task = str(ev["task"])
    base = dict(task=full_task.rsplit("/", 1)[-1], task_full=full_task, model=str(ev["model"]), log=file.name)
    status = header.get("status")
    if status not in (None, "success"):
        warnings.warn(f"{file}: Inspect log status is {status!r}; its scores may be partial", InspectLogWarning,
                      stacklevel=3)
    records, dropped = [], 0
    if level == "task":
        results = header.get("results") if isinstance(header.get("results"), dict) else {}
        for score in results.get("scores") or []:
            scorer = str(score.get("name") or score.get("scorer"))
            metrics = score.get("metrics") if isinstance(score.get("metrics"), dict) else {}
            stderr = as_number((metrics.get("stderr") or {}).get("value"))
            n = as_number(score.get("scored_samples")) or as_number(results.get("completed_samples"))
            for name, metric in metrics.items():
                if name == "stderr" or not isinstance(metric, dict):
                    continue
                value = as_number(metric.get("value"))
                if value is None:
                    dropped += 1
                    continue
                records.append(dict(base, metric=f"{scorer}_{name}", value=value, stderr=stderr,
                                    n_items=None if n is None else int(n)))
    elif samples and not reduced:
        for sample in samples:
            for scorer, score in (sample.get("scores") or {}).items():
                raw = score.get("value") if isinstance(score, dict) else score
                for metric, value in _values(scorer, raw):
                    if value is None:
                        dropped += 1
                        continue
                    records.append(dict(base, metric=metric, value=value, item=str(sample.get("id")),
                                        epoch=sample.get("epoch"), n_items=1))
    else:
        for block in reductions or []:
            scorer = str(block.get("scorer"))
            for sample in block.get("samples") or []:
                for metric, value in _values(scorer, sample.get("value")):
                    if value is None:
                        dropped += 1
                        continue
                    records.append(dict(base, metric=metric, value=value, item=str(sample.get("sample_id")),
                                        epoch=None, n_items=1))
    if dropped:
        warnings.warn(f"{file}: {dropped} score(s) are not numbers and were left out", InspectLogWarning,
                      stacklevel=3)
    return pd.DataFrame.from_records(records)
