"""lm-evaluation-harness result files (EleutherAI) as a tidy frame.

Two layouts are understood, both one JSON object with a ``results`` mapping:

* the older harness (v0.3, e.g. the Pythia evaluations): ``{task: {"acc": v, "acc_stderr": se}}``
  with ``config.model_args = "pretrained=...,revision=stepN"`` and ``config.num_fewshot``;
* v0.4: keys ``"<metric>,<filter>"`` (``"acc,none"``, ``"exact_match,flexible-extract"``),
  ``alias``/``name``/``sample_len`` entries, per-task ``configs``, ``n-shot``, ``n-samples``
  and the group tree ``group_subtasks``, plus per-item ``samples_<task>_<date>.jsonl`` files
  written next to ``results_<date>.json`` by ``--log_samples``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from snrstat.io._common import (
    as_number,
    check_conflicts,
    files_under,
    find_step,
    is_proportion,
    iter_jsonl,
    load_json,
    n_items_from_stderr,
    require_model,
)
from snrstat.schema import DataError, validate

_DATE = r"\d{4}-\d{2}-\d{2}T[\d.\-]+"
_SAMPLES_FILE = re.compile(rf"^samples_(?P<task>.+)_(?P<date>{_DATE})\.jsonl$")
_RESULTS_DATE = re.compile(rf"_(?P<date>{_DATE})\.json$")
#: Entries of a v0.4 task result that describe it rather than score it.
_META_KEYS = frozenset({"alias", "name", "sample_len", "sample_count", "samples"})
#: Keys of a v0.4 sample line that are not per-item metrics.
_SAMPLE_KEYS = frozenset({
    "doc_id", "doc", "target", "arguments", "resps", "filtered_resps", "filter", "metrics",
    "doc_hash", "prompt_hash", "target_hash",
})
#: Corpus-level metrics whose per-sample value is an intermediate (a log-likelihood), not the metric.
_NOT_PER_ITEM = frozenset({"perplexity", "ppl", "word_perplexity", "byte_perplexity", "bits_per_byte"})
#: Model-argument keys naming the model, in the order the harness itself looks for them.
_MODEL_KEYS = ("peft", "delta", "pretrained", "model", "path", "engine")
_OLD_MMLU_PREFIX = "hendrycksTest-"


def read_lm_eval(
    path: str | Path,
    *,
    model: str | Callable[[Path], str] | None = None,
    size: str | Callable[[Path], str] | None = None,
    seed: str | Callable[[Path], str] | None = None,
    data_order: str | Callable[[Path], str] | None = None,
    step: int | Callable[[Path], int] | None = None,
    path_pattern: str | None = None,
    samples: bool = False,
    groups: bool = False,
    on_error: str = "raise",
) -> pd.DataFrame:
    """Read lm-evaluation-harness results (a JSON file or a directory, recursively).

    Every vintage of the harness is understood: the oldest files (``results`` and ``versions``
    only, no ``config``), v0.3 (``config.model`` a class name such as ``hf-causal``, the model in
    ``config.model_args``), v0.4 (``"acc,none"`` keys, ``configs``, ``n-shot``, ``n-samples``,
    ``group_subtasks``, ``model_name``), and ``results`` given as a list of per-task objects
    (each with ``task``/``task_name``/``name``) instead of a mapping.

    Every metric of every task becomes a record; ``<metric>_stderr`` fills ``stderr`` and
    an extra column ``num_fewshot`` (Int64) records the shot count, so records that differ
    only in the shot count stay apart. Metric names lose the ``,none`` filter suffix; other
    filters are kept (``exact_match,flexible-extract``). Scores that are not finite numbers
    (``"N/A"``, text, ``NaN``, ``Infinity``) are left out with one warning per file that
    counts and names them.

    Identifiers, first that applies:

    * ``model``, ``size``, ``seed``, ``data_order``, ``step`` given as values set every record;
      given as callables they are called with each file's path;
    * ``path_pattern``: a regular expression with named groups (``(?P<model>...)``, ``size``,
      ``seed``, ``data_order``, ``step``) searched in each file's path relative to ``path``
      (``/``-separated), or the same with ``{model}``-style placeholders, e.g.
      ``"{model}/{size}/step{step}"``; a file the pattern does not match is an error;
    * the file: ``model`` from ``config.model_args`` (``pretrained=``, or the dict form) when it
      is a hub id (``org/name``), else ``model_name``; ``step`` from ``revision=stepN``,
      ``config.model_revision`` or ``stepN`` in the file name;
    * **the path rule** when the file does not name the model (no ``config``, a generic
      ``config.model`` only, or ``pretrained=`` a local path): ``model`` = the nearest folder
      above the file that is not a shot, step or output folder (``zero-shot``, ``5shot``,
      ``step1000``, ``checkpoint-500``, ``results``, ``outputs``, ``eval...``), with the
      harness's ``org__name`` folder spelling turned back into ``org/name``; a local
      ``pretrained=`` path gives its last such component instead;
    * ``size`` = the first part of the model name (split at ``-``, ``_``, ``/``), else of the
      path, that spells a parameter count: ``160m``, ``1.4b``, ``0.1B``, ``1b1`` (1.1B), ``7B``.

    Task names: a leaf task below a group (v0.4 ``group_subtasks``, e.g. mmlu ->
    mmlu_stem -> mmlu_anatomy) becomes ``task`` = its outermost aggregating group and
    ``subtask`` = its name without the ``<group>_`` prefix (``mmlu``/``anatomy``); the old
    harness's ``hendrycksTest-<subject>`` becomes ``mmlu``/``<subject>``. Group aggregate
    rows are dropped, since they are functions of their subtasks; ``groups=True`` keeps
    them as ``task`` = the group's own name, ``subtask`` NA.

    ``n_items``: v0.4 ``n-samples[task].effective`` (else ``sample_len``); otherwise the
    size implied by a proportion and its stderr (:func:`n_items_from_stderr`), shared by
    all metrics of the task.

    ``samples=True`` adds per-item records from ``samples_<task>_<date>.jsonl`` files (column
    ``item`` = ``str(doc_id)``, ``n_items`` = 1), labelled like the ``results_<date>.json``
    written in the same run.

    ``on_error="skip"``: in a directory, ``.json`` files that are not harness results (another
    tool's output, invalid JSON) are skipped with one warning that names them;
    ``"raise"`` (default) stops at the first with a :class:`DataError` saying what is wrong.
    """
    if on_error not in ("raise", "skip"):
        raise DataError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    path = Path(path)
    root = path if path.is_dir() else path.parent
    given = dict(model=model, size=size, seed=seed, data_order=data_order, step=step)
    pattern = _compile_pattern(path_pattern)
    if path.is_file() and path.suffix == ".jsonl":
        result_files, sample_files = [], [path]
    else:
        result_files = files_under(path, "*.json")
        sample_files = _sample_files(path) if samples else []
    if not result_files and not sample_files:
        raise DataError(f"{path}: no lm-evaluation-harness .json result files")

    parts, runs, skipped = [], {}, []
    for file in result_files:
        try:
            records, context = _read_results(file, groups=groups)
        except DataError as exc:
            if on_error == "raise" or not path.is_dir():
                raise
            skipped.append(str(exc))
            continue
        ids = _identifiers(file, root, context, given, pattern)
        parts.append(records.assign(source=str(file), **ids))
        context.update(ids)
        if date := _RESULTS_DATE.search(file.name):
            runs[(file.parent, date["date"])] = context
    if skipped:
        warnings.warn(f"{path}: skipped {len(skipped)} file(s) that are not lm-evaluation-harness results: "
                      + "; ".join(skipped[:5]) + (" ..." if len(skipped) > 5 else ""), ForeignFileWarning,
                      stacklevel=2)
    for file in sample_files:
        context = runs.get((file.parent, _sample_date(file)))
        records = _read_samples(file, context)
        if context is None and len(records):
            ids = _identifiers(file, root, {}, given, pattern)
            if not any(given.values()) and pattern is None:
                ids["model"] = None  # a samples file alone does not name its model: require_model says so
            records = records.assign(**ids)
        parts.append(records.assign(source=str(file)))
    parts = [p for p in parts if len(p)]
    if not parts:
        why = f"; skipped: {'; '.join(skipped[:5])}" if skipped else ""
        raise DataError(f"{path}: no numeric metrics in any lm-evaluation-harness result file{why}")
    frame = pd.concat(parts, ignore_index=True)
    require_model(frame, str(path))
    frame["num_fewshot"] = frame["num_fewshot"].astype("Int64")
    return validate(check_conflicts(frame))


class ForeignFileWarning(UserWarning):
    """Files of another format found while reading a directory, and skipped."""


class DroppedScoreWarning(UserWarning):
    """Scores that are not finite numbers (text, NaN, Infinity), left out and counted."""


#: Folder names that say how or when a model was evaluated, not which model it is.
_NOT_A_MODEL = re.compile(
    r"^(?:[\w.]*-?shots?|\d+-?shots?|zero-?shot|few-?shot|five-?shot|step[_-]?\d+|global_step\d+|"
    r"checkpoint[_-]?\d+|ckpt[_-]?\d+|iter[_-]?\d+|results?|outputs?|evals?|evaluations?|lm[_-]?eval.*|logs?|"
    r"samples|baseline|intervention)$", re.IGNORECASE)
_SIZE_PART = re.compile(r"^(?:\d+(?:\.\d+)?|\d+[kmbt]\d+)[kmbt]?$", re.IGNORECASE)
_SIZE_TOKEN = re.compile(r"^\d+(?:\.\d+)?[kmbt]$|^\d+[kmbt]\d+$", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"\{(model|size|seed|data_order|step)\}")
_IDS = ("model", "size", "seed", "data_order", "step")


def _compile_pattern(pattern: str | None):
    if pattern is None:
        return None
    if "(?P<" not in pattern and _PLACEHOLDER.search(pattern):
        parts, last = [], 0
        for m in _PLACEHOLDER.finditer(pattern):
            parts.append(re.escape(pattern[last:m.start()]))
            parts.append(rf"(?P<{m[1]}>\d+)" if m[1] == "step" else rf"(?P<{m[1]}>[^/]+?)")
            last = m.end()
        parts.append(re.escape(pattern[last:]))
        pattern = "".join(parts) + r"(?=/|$|[._-])"
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise DataError(f"path_pattern {pattern!r} is not a valid regular expression ({exc})") from None
    unknown = set(compiled.groupindex) - set(_IDS)
    if unknown:
        raise DataError(f"path_pattern names unknown group(s) {sorted(unknown)}; use {list(_IDS)}")
    return compiled


def size_from_name(*names) -> str | None:
    """The first part of a model name or path (split at ``-``, ``_``, ``/``) that spells a
    parameter count (``160m``, ``1.4b``, ``0.1B``, ``1b1``), else None."""
    for name in names:
        if not name:
            continue
        for part in re.split(r"[-_/\\]+", str(name)):
            if _SIZE_TOKEN.match(part):
                return part
    return None


def _is_local_path(name: str) -> bool:
    return name.startswith(("/", ".", "~")) or name.count("/") > 1 or "\\" in name


def _model_from_path(file: Path, root: Path) -> str | None:
    """The path rule: nearest folder above ``file`` (up to and including ``root``) that names a model."""
    folders = [file.parent]
    while folders[-1] != root and folders[-1] != folders[-1].parent and root in folders[-1].parents:
        folders.append(folders[-1].parent)
    for folder in folders:
        name = folder.name
        if name and not _NOT_A_MODEL.match(name):
            return name.replace("__", "/")
    return None


def _identifiers(file: Path, root: Path, context: dict, given: dict, pattern) -> dict:
    """model, size, seed, data_order, step of one file's records (see read_lm_eval)."""
    ids = {k: context.get(k) for k in ("model", "step")}
    local = context.get("local_model")
    if pattern is not None:
        rel = file.relative_to(root).as_posix() if root in file.parents else file.as_posix()
        m = pattern.search(rel)
        if m is None:
            raise DataError(f"{file}: path_pattern {pattern.pattern!r} does not match its path {rel!r}")
        for key, value in m.groupdict().items():
            if value is not None:
                ids[key] = int(value) if key == "step" else value
    if ids.get("model") is None:
        ids["model"] = _local_model(local) if local else _model_from_path(file, root)
    for key, value in given.items():
        if value is None:
            continue
        ids[key] = value(file) if callable(value) else value
    if ids.get("size") is None:
        rel = file.relative_to(root).as_posix() if root in file.parents else file.name
        ids["size"] = size_from_name(ids.get("model"), rel)
    for key in ("seed", "data_order"):
        ids.setdefault(key, None)
    return ids


def _local_model(path: str) -> str | None:
    parts = [p for p in re.split(r"[/\\]+", path.rstrip("/\\")) if p and p not in (".", "..", "~")]
    for part in reversed(parts):
        if not _NOT_A_MODEL.match(part):
            return part
    return None


def _sample_files(path: Path) -> list[Path]:
    """Per-item files of a directory, or those written in the same run as one results file."""
    if path.is_dir():
        return sorted(path.rglob("samples_*.jsonl"))
    date = _RESULTS_DATE.search(path.name)
    siblings = path.parent.glob("samples_*.jsonl")
    return sorted(p for p in siblings if date and _sample_date(p) == date["date"])


def _sample_date(path: Path) -> str | None:
    m = _SAMPLES_FILE.match(path.name)
    return m["date"] if m else None


def _model_args(raw) -> dict:
    """``config.model_args`` as a dict: the harness stores either a dict or "k=v,k=v"."""
    if isinstance(raw, dict):
        return {str(k): v for k, v in raw.items()}
    if isinstance(raw, str):
        pairs = (item.split("=", 1) for item in raw.split(",") if "=" in item)
        return {k.strip(): v.strip() for k, v in pairs}
    return {}


def _results_mapping(path: Path, data) -> dict:
    """``results`` as {task: {metric: value}}, from a mapping or a list of per-task objects."""
    if not isinstance(data, dict):
        raise DataError(f"{path}: the file holds a JSON {type(data).__name__}, not an object with 'results'; "
                        "not an lm-evaluation-harness results file")
    if "results" not in data:
        raise DataError(f"{path}: no 'results' object (keys: {sorted(data)[:8]}); not an lm-evaluation-harness "
                        "results file")
    results = data["results"]
    if isinstance(results, dict):
        return results
    if isinstance(results, list):
        out = {}
        for i, entry in enumerate(results):
            if isinstance(entry, (list, tuple)) and len(entry) == 2 and isinstance(entry[1], dict):
                name, metrics = entry
            elif isinstance(entry, dict):
                name = next((entry[k] for k in ("task", "task_name", "name", "alias") if isinstance(entry.get(k), str)), None)
                metrics = {k: v for k, v in entry.items() if k not in ("task", "task_name", "name")}
            else:
                name, metrics = None, None
            if name is None:
                raise DataError(f"{path}: results[{i}] is a {type(entry).__name__} without a task name "
                                "('task', 'task_name' or 'name'); cannot tell which task it scores")
            out[str(name)] = metrics
        return out
    raise DataError(f"{path}: 'results' is a {type(results).__name__}, expected an object (task -> metrics) "
                    "or a list of per-task objects")


def _read_results(path: Path, *, groups: bool) -> tuple[pd.DataFrame, dict]:
    data = load_json(path)
    results = _results_mapping(path, data)
    config = data.get("config") if isinstance(data.get("config"), dict) else {}
    args = _model_args(config.get("model_args"))
    named = next((str(args[k]) for k in _MODEL_KEYS if args.get(k)), None)
    local = None
    if named is not None and _is_local_path(named):
        local, named = named, None
    model = named or (str(data["model_name"]) if data.get("model_name") and not _is_local_path(str(data["model_name"]))
                      else None)
    step = find_step(args.get("revision"), config.get("model_revision"), path.stem, local)

    tree = data.get("group_subtasks") if isinstance(data.get("group_subtasks"), dict) else {}
    children = {g: c for g, c in tree.items() if isinstance(c, list) and c}
    parent = {child: g for g, kids in children.items() for child in kids}
    aggregating = set(data["groups"]) if isinstance(data.get("groups"), dict) else set(children)
    n_samples = data.get("n-samples") if isinstance(data.get("n-samples"), dict) else {}
    configs = data.get("configs") if isinstance(data.get("configs"), dict) else {}
    n_shot = data.get("n-shot") if isinstance(data.get("n-shot"), dict) else {}

    records, labels, dropped = [], {}, []
    for name, entry in results.items():
        if not isinstance(entry, dict):
            raise DataError(f"{path}: results['{name}'] is {type(entry).__name__}, expected an object of metrics")
        if name in children and not groups:
            continue
        task, subtask = _label(name, parent, aggregating, is_group=name in children)
        shots = _num_fewshot(name, configs, n_shot, config)
        labels[name] = (task, subtask, shots)
        rows, bad = _metric_rows(entry)
        dropped += [f"{name}/{metric}={value!r}" for metric, value in bad]
        n = _group_size(name, children, n_samples) if name in children else _n_items(name, entry, rows, n_samples)
        for metric, value, stderr in rows:
            records.append(dict(task=task, subtask=subtask, metric=metric, value=value, stderr=stderr,
                                n_items=n, num_fewshot=shots))
    if dropped:
        warnings.warn(f"{path}: {len(dropped)} score(s) are not finite numbers and were left out: "
                      + ", ".join(dropped[:5]) + (" ..." if len(dropped) > 5 else ""), DroppedScoreWarning,
                      stacklevel=3)
    context = dict(model=model, step=step, local_model=local, labels=labels, parent=parent, aggregating=aggregating)
    return pd.DataFrame.from_records(records), context


def _label(name: str, parent: dict, aggregating: set, *, is_group: bool) -> tuple[str, str | None]:
    if name.startswith(_OLD_MMLU_PREFIX):
        return "mmlu", name[len(_OLD_MMLU_PREFIX):]
    if is_group:
        return name, None
    top, node, seen = None, name, set()
    while node in parent and node not in seen:  # walk up to the outermost aggregating group
        seen.add(node)
        node = parent[node]
        if node in aggregating:
            top = node
    if top is None:
        return name, None
    return top, name[len(top) + 1:] if name.startswith(top + "_") else name


def _num_fewshot(name: str, configs: dict, n_shot: dict, config: dict) -> int | None:
    cfg = configs.get(name) if isinstance(configs.get(name), dict) else {}
    for value in (cfg.get("num_fewshot"), n_shot.get(name), config.get("num_fewshot")):
        if (num := as_number(value)) is not None:
            return int(num)
    return None


def _metric_rows(entry: dict) -> tuple[list[tuple[str, float, float | None]], list[tuple[str, object]]]:
    """(metric, value, stderr) for each numeric metric of one task's result entry, and the
    (metric, raw value) of scores that are not finite numbers (stderrs are not scores)."""
    new_format = any("," in key for key in entry)
    rows, bad = [], []
    for key, raw in entry.items():
        if key in _META_KEYS or (new_format and "," not in key):
            continue
        name, _, filt = key.partition(",")
        if name.endswith("_stderr"):
            continue
        value = as_number(raw)
        if value is None:
            if not isinstance(raw, (dict, list)):
                bad.append((key, raw))
            continue
        stderr = as_number(entry.get(f"{name}_stderr,{filt}" if new_format else f"{name}_stderr"))
        rows.append((name if filt in ("", "none") else key, value, stderr))
    return rows, bad


def _n_items(name: str, entry: dict, rows: list, n_samples: dict) -> int | None:
    counts = n_samples.get(name)
    if isinstance(counts, dict) and (n := as_number(counts.get("effective"))) is not None:
        return int(n)
    if (n := as_number(entry.get("sample_len"))) is not None and n > 0:
        return int(n)
    # All metrics of a task are computed over the same documents, so one proportion suffices.
    implied = [n_items_from_stderr(v, se) for m, v, se in rows if is_proportion(m)]
    implied = [n for n in implied if n is not None]
    return max(set(implied), key=implied.count) if implied else None


def _group_size(name: str, children: dict, n_samples: dict) -> int | None:
    """Items in a group: the sum over its leaf tasks, when every leaf reports its count."""
    total, stack, seen = 0, list(children[name]), {name}
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        if node in children:
            stack.extend(children[node])
            continue
        counts = n_samples.get(node)
        n = as_number(counts.get("effective")) if isinstance(counts, dict) else None
        if n is None:
            return None
        total += int(n)
    return total or None


def _read_samples(path: Path, context: dict | None) -> pd.DataFrame:
    m = _SAMPLES_FILE.match(path.name)
    if not m:
        raise DataError(f"{path}: not a samples file named like 'samples_<task>_<date>.jsonl'")
    context = context or {}
    name = m["task"]
    labels = context.get("labels", {})
    if name in labels:
        task, subtask, shots = labels[name]
    else:
        task, subtask = _label(name, context.get("parent", {}), context.get("aggregating", set()), is_group=False)
        shots = None
    records = []
    for lineno, obj in iter_jsonl(path):
        if "doc_id" not in obj:
            raise DataError(f"{path}:{lineno}: sample has no 'doc_id'")
        filt = obj.get("filter") or "none"
        keys = obj["metrics"] if isinstance(obj.get("metrics"), list) else [k for k in obj if k not in _SAMPLE_KEYS]
        for key in keys:
            value = as_number(obj.get(key), allow_bool=True)
            if key in _NOT_PER_ITEM or value is None:
                continue
            records.append(dict(task=task, subtask=subtask, metric=key if filt == "none" else f"{key},{filt}",
                                value=value, item=str(obj["doc_id"]), n_items=1, num_fewshot=shots,
                                **{k: context.get(k) for k in _IDS}))
    return pd.DataFrame.from_records(records)
