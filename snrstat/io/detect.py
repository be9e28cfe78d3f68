"""Read a file or a directory of evaluation results whatever its format (``--data PATH``).

Detection, by content, never by trust in a file name alone:

* ``.eval`` archives, and JSON objects with an ``eval`` object naming ``task`` and ``model``:
  Inspect AI logs (:func:`snrstat.io.inspect.read_inspect`, item level);
* ``*-metrics.json`` with a ``metrics`` object: OLMES (:func:`snrstat.read_olmes`);
* JSON objects with ``results``: lm-evaluation-harness (:func:`snrstat.read_lm_eval`, foreign
  JSON files in a directory skipped with one warning);
* CSVs whose header has ``eval/downstream`` columns: OLMo ladder / wandb exports
  (:func:`snrstat.read_olmo_ladder`);
* other ``.csv``/``.tsv``/``.parquet`` files: tidy tables (:func:`snrstat.read_table`,
  identifiers read as text), concatenated.

A directory must hold one format; several are an error that lists them.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pandas as pd

from snrstat.schema import DataError, validate

FORMATS = ("inspect", "olmes", "lm_eval", "olmo_ladder", "table")
_TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq", ".gz")


def detect_format(path: str | Path) -> str:
    """The format of one file or of the files below a directory (one of :data:`FORMATS`)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or directory")
    if path.is_file():
        kind = _file_kind(path)
        if kind is None:
            raise DataError(f"{path}: not a format snrstat reads (expected .csv/.tsv/.parquet tables, "
                            "lm-evaluation-harness or OLMES JSON, OLMo ladder CSVs, Inspect .eval/.json logs)")
        return kind
    kinds: dict[str, list[Path]] = {}
    for file in sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")):
        kind = _file_kind(file)
        if kind is not None:
            kinds.setdefault(kind, []).append(file)
    if not kinds:
        raise DataError(f"{path}: no evaluation results found below this directory (no tables, "
                        "lm-evaluation-harness/OLMES JSON, OLMo ladder CSVs or Inspect logs)")
    if len(kinds) > 1:
        # lm-eval folders also hold samples .jsonl (not listed) and OLMES metrics are JSON too;
        # a table next to JSON results is a different format, though
        listing = "; ".join(f"{k}: {len(v)} file(s), e.g. {v[0].relative_to(path)}" for k, v in kinds.items())
        raise DataError(f"{path}: holds results of several formats ({listing}); point --data at one format's folder")
    return next(iter(kinds))


def _file_kind(file: Path) -> str | None:
    suffix = file.suffix.lower()
    if suffix == ".eval":
        return "inspect" if zipfile.is_zipfile(file) else None
    if suffix == ".json":
        if file.stat().st_size == 0:
            return None
        try:
            with open(file, encoding="utf-8") as fh:
                head = fh.read(1 << 16)
            data = json.loads(head) if len(head) < (1 << 16) else _load(file)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return None
        if not isinstance(data, dict):
            return None
        if isinstance(data.get("eval"), dict) and "task" in data["eval"] and "model" in data["eval"]:
            return "inspect"
        if file.name.endswith("-metrics.json") and isinstance(data.get("metrics"), dict):
            return "olmes"
        if "results" in data:
            return "lm_eval"
        return None
    if suffix in _TABLE_SUFFIXES:
        if suffix in (".csv", ".txt") or file.name.lower().endswith(".csv.gz"):
            try:
                header = pd.read_csv(file, nrows=0).columns
            except Exception:  # noqa: BLE001 - an unreadable table is reported by the reader
                return "table"
            if any(str(c).startswith("eval/downstream") for c in header):
                return "olmo_ladder"
        return "table"
    return None


def _load(file: Path):
    with open(file, encoding="utf-8") as fh:
        return json.load(fh)


def read_any(path: str | Path) -> tuple[pd.DataFrame, str]:
    """``(frame, format)`` for a file or directory of results in any format snrstat reads.

    Empty or corrupt files are a :class:`DataError` naming the file.
    """
    path = Path(path)
    if path.is_file() and path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty")
    kind = detect_format(path)
    if kind == "inspect":
        from snrstat.io.inspect import read_inspect

        return read_inspect(path), kind
    if kind == "olmes":
        from snrstat.io.olmes import read_olmes

        return read_olmes(path), kind
    if kind == "lm_eval":
        from snrstat.io.lm_eval import read_lm_eval

        return read_lm_eval(path, on_error="skip"), kind
    if kind == "olmo_ladder":
        from snrstat.io.olmo_ladder import read_olmo_ladder

        return read_olmo_ladder(path, on_error="skip"), kind
    from snrstat.io.generic import read_table

    if path.is_file():
        return read_table(path), kind
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in _TABLE_SUFFIXES)
    frames = []
    for file in files:
        if file.stat().st_size == 0:
            raise DataError(f"{file}: the file is empty")
        frames.append(read_table(file))
    return validate(pd.concat(frames, ignore_index=True)), kind
