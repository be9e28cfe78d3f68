"""Helpers shared by the CLI commands: one name per option, data loading, output paths,
escaped terminal text, strict JSON and progress lines."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from snrstat.inference.batch import positive_int  # noqa: F401 - the argparse type every command uses
from snrstat.schema import DataError

def _model_likelihoods() -> tuple[str, ...]:
    """The variance model's likelihoods, ``snrstat.variance.spec.LIKELIHOODS``, read from that
    module's source so that building the parser does not import PyMC (about a second)."""
    import ast

    spec = Path(__file__).resolve().parents[1] / "variance" / "spec.py"
    try:
        tree = ast.parse(spec.read_text(encoding="utf-8"))
        for node in tree.body:
            if (isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "LIKELIHOODS" for t in node.targets)):
                return tuple(ast.literal_eval(node.value))
    except (OSError, SyntaxError, ValueError):
        pass
    from snrstat.variance.spec import LIKELIHOODS as model_likelihoods  # pragma: no cover - fallback

    return tuple(model_likelihoods)


#: ``--likelihood`` choices: exactly the variance model's likelihoods.
LIKELIHOODS = _model_likelihoods()
#: accepted spellings of the likelihoods above
LIKELIHOOD_ALIASES = {"beta_binomial": "betabinomial", "beta-binomial": "betabinomial",
                      "logit-normal": "logit_normal", "student-t": "student_t", "studentt": "student_t"}
#: Default window of last checkpoints per run, everywhere (Heineman et al. 2025 average the last 5).
LAST_N = 5


class DeprecatedAlias(argparse.Action):
    """An old option name: sets the new option's value and says once that the name is deprecated."""

    def __init__(self, option_strings, dest, new: str, **kwargs):
        self.new = new
        kwargs.setdefault("help", argparse.SUPPRESS)
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"snrstat: warning: {option_string} is deprecated and will be removed; use {self.new}",
              file=sys.stderr)
        setattr(namespace, self.dest, values)


def add_data_argument(parser, *, default="olmo-ladder", help_extra: str = "") -> None:
    parser.add_argument(
        "--data", default=default, metavar="{olmo-ladder,pythia,PATH}",
        help=("a bundled data set, a tidy CSV/TSV/Parquet file, or a file or directory of evaluation "
              "results whose format is detected (lm-evaluation-harness JSON, OLMES, OLMo ladder "
              f"CSVs, Inspect logs, tidy tables){help_extra}"),
    )


def add_seed_argument(parser, *, what: str = "random seed of every sampler") -> None:
    """``--random-seed`` (the API's ``random_seed``), with ``--seed`` as a deprecated alias."""
    parser.add_argument("--random-seed", type=int, default=0, dest="random_seed", metavar="N",
                        help=f"{what} (default 0): the same seed prints the same numbers")
    parser.add_argument("--seed", type=int, dest="random_seed", action=DeprecatedAlias, new="--random-seed")


def add_last_n_argument(parser, *, what: str = "last checkpoints of every run used") -> None:
    """``--last-n``: the window of last checkpoints per run, default 5 (the paper's)."""
    parser.add_argument("--last-n", type=int, default=LAST_N, dest="last_n", metavar="N",
                        help=f"{what} (default {LAST_N}, the paper's)")


def add_likelihood_argument(parser) -> None:
    parser.add_argument("--likelihood", default="auto", type=likelihood_name, metavar="{" + ",".join(LIKELIHOODS) + "}",
                        help="likelihood of the variance model (default auto; 'beta_binomial' is accepted "
                             "for betabinomial)")


def likelihood_name(text: str) -> str:
    name = LIKELIHOOD_ALIASES.get(text.strip().lower(), text.strip().lower())
    if name not in LIKELIHOODS:
        raise argparse.ArgumentTypeError(f"invalid choice {text!r} (choose from {', '.join(LIKELIHOODS)})")
    return name



def load_frame(data: str) -> pd.DataFrame:
    """A bundled data set by name, or a file or directory by path (format detected), validated.

    Identifier columns are read as text, so seeds ``00`` and ``0`` stay two seeds.
    """
    from snrstat.datasets import DATASETS, load_dataset
    from snrstat.io.detect import read_any

    if data in DATASETS:
        return load_dataset(data)
    path = Path(data)
    if not path.exists():
        raise DataError(f"--data {data!r} is neither a bundled data set {sorted(DATASETS)} nor an existing "
                        "file or directory")
    frame, _ = read_any(path)
    return split_settings(frame)


def split_settings(frame: pd.DataFrame) -> pd.DataFrame:
    """Keep records that differ only in a setting that is not a column apart: a task evaluated
    with several ``num_fewshot`` (or ``split``) values becomes one task per value,
    ``<task>_<n>shot`` (``<task>_<split>``), with a note on stderr naming the setting."""
    for col, suffix in (("num_fewshot", "shot"), ("split", "")):
        if col not in frame.columns or frame[col].dropna().nunique() < 2:
            continue
        varies = frame.groupby("task")[col].nunique()
        tasks = sorted(varies[varies > 1].index)
        if not tasks:
            continue
        frame = frame.copy()
        rows = frame["task"].isin(tasks) & frame[col].notna()
        frame.loc[rows, "task"] = frame.loc[rows, "task"] + "_" + frame.loc[rows, col].astype(str) + suffix
        print(f"snrstat: note: task(s) {', '.join(tasks[:5])}{' ...' if len(tasks) > 5 else ''} hold records "
              f"that differ only in {col!r}; kept apart as <task>_<{col}>{suffix}", file=sys.stderr)
    return frame


def data_name(data: str) -> str:
    """A short name for a data set given as ``--data``: the bundled name or the file's stem."""
    from snrstat.datasets import DATASETS

    return data if data in DATASETS else (Path(data).stem or str(data))


def check_output_path(path: Path | None, *, what: str = "--save", directory: bool = False) -> None:
    """Refuse an output path that cannot be written, before any sampling starts."""
    if path is None:
        return
    path = Path(path)
    if directory:
        if path.exists() and not path.is_dir():
            raise DataError(f"{what} {str(path)!r} exists and is not a directory")
        probe_dir = path if path.exists() else _existing_parent(path)
    else:
        if path.is_dir():
            raise DataError(f"{what} {str(path)!r} is a directory; give a file name such as fit.nc")
        if path.exists() and not os.access(path, os.W_OK):
            raise DataError(f"{what} {str(path)!r} exists and is not writable")
        probe_dir = path.parent if path.parent.exists() else _existing_parent(path)
    if probe_dir is None or not probe_dir.is_dir():
        raise DataError(f"{what} {str(path)!r}: its folder cannot be created ({probe_dir} is not a directory)")
    if not os.access(probe_dir, os.W_OK | os.X_OK):
        raise DataError(f"{what} {str(path)!r}: the folder {str(probe_dir)!r} is not writable")


def _existing_parent(path: Path) -> Path | None:
    for parent in path.absolute().parents:
        if parent.exists():
            return parent
    return None


# --------------------------------------------------------------------------- output

def esc(value) -> str:
    """User text (task, model, size names) safe for rich: ``[red]`` is printed, not interpreted."""
    from rich.markup import escape

    return escape(str(value))


def console(args=None, *, stderr: bool = False, wide: bool | None = None):
    """A rich Console; when output is piped (or ``--wide``) it is wide enough that names stay whole."""
    from rich.console import Console

    quiet = bool(getattr(args, "quiet", False)) and stderr
    out = Console(stderr=stderr, quiet=quiet)
    wide = getattr(args, "wide", False) if wide is None else wide
    if wide or not out.is_terminal:
        out = Console(stderr=stderr, quiet=quiet, width=max(out.width, 200), soft_wrap=False)
    return out


def name_column(table, header: str, values=(), **kwargs) -> None:
    """A column of names that are never cut or ellipsised: at least as wide as its longest
    value (``values``), so other columns wrap instead; only a name wider than the terminal folds."""
    width = max([len(header)] + [len(str(v)) for v in values])
    table.add_column(header, no_wrap=True, overflow="fold", min_width=min(width, 60), **kwargs)


def json_safe(obj):
    """Recursively replace NaN/inf by None and numpy scalars by Python ones (strict JSON)."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if obj is pd.NA or obj is pd.NaT:
        return None
    if isinstance(obj, (pd.Timestamp,)):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    return obj


def print_json(obj, *, indent: int = 2) -> None:
    """Print strictly valid JSON (no NaN/Infinity tokens: non-finite numbers become null)."""
    print(json.dumps(json_safe(obj), indent=indent, allow_nan=False, default=str))


class Progress:
    """``[i/n] label`` lines on stderr; silent with ``--quiet`` or ``--json`` piped nowhere."""

    def __init__(self, args, total: int, what: str):
        self.quiet = bool(getattr(args, "quiet", False))
        self.total, self.what, self.done = total, what, 0

    def step(self, label: str) -> None:
        self.done += 1
        if not self.quiet:
            print(f"snrstat: {self.what} {self.done}/{self.total}: {label}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- choosing records

from snrstat.schema import METRIC_PREFERENCE  # noqa: E402  (the one preference, shared with the report)


def _listing(values, limit: int = 30) -> str:
    values = [str(v) for v in values]
    more = f" ... ({len(values) - limit} more)" if len(values) > limit else ""
    return ", ".join(values[:limit]) + more


def pick_task(frame: pd.DataFrame, task: str) -> str:
    """``task`` when the data hold it; else a DataError listing the valid ones."""
    tasks = sorted(frame["task"].dropna().unique())
    if task not in tasks:
        raise DataError(f"--task {task!r} is not in the data; tasks: {_listing(tasks)}")
    return task


def pick_metric(frame: pd.DataFrame, task: str, metric: str | None) -> str:
    """The metric of ``task``: ``--metric`` when recorded; else the first of
    :data:`METRIC_PREFERENCE` present, else the task's only metric; else a DataError listing them."""
    metrics = sorted(frame.loc[frame["task"] == task, "metric"].dropna().unique())
    if not metrics:
        pick_task(frame, task)
    if metric is not None:
        if metric not in metrics:
            raise DataError(f"--metric {metric!r} not recorded for task {task!r}; metrics: {_listing(metrics)}")
        return metric
    for m in METRIC_PREFERENCE:
        if m in metrics:
            return m
    if len(metrics) == 1:
        return metrics[0]
    raise DataError(f"task {task!r} has metrics {_listing(metrics)}; choose one with --metric")


def pick_size(frame: pd.DataFrame, task: str, metric: str, size: str | None) -> str | None:
    """``--size`` when present; the only size; else a DataError listing them small to large."""
    from snrstat.schema import size_order

    rows = frame[(frame["task"] == task) & (frame["metric"] == metric)]
    sizes = size_order(rows["size"].dropna().unique(), rows.groupby("size")["params"].median().to_dict())
    if size is not None:
        if size not in sizes:
            raise DataError(f"--size {size!r} not recorded for task {task!r} / {metric}; sizes: {_listing(sizes)}")
        return size
    if len(sizes) > 1:
        raise DataError(f"task {task!r} / {metric} has sizes {_listing(sizes)}; choose one with --size")
    return sizes[0] if sizes else None


def print_blocks(out, title: str, names: list[tuple[str, list[str]]], columns: list[tuple[str, list[str]]],
                 *, wide: bool = False, box_style=None) -> None:
    """Print a table whose name columns (``names``: header, cells) stay whole: when the value
    ``columns`` do not fit beside them in the console's width, they are split into several blocks,
    each repeating the names, instead of being squeezed into unreadable cells. ``wide``: one block."""
    from rich import box
    from rich.table import Table

    name_width = sum(max([len(h)] + [len(c) for c in cells]) + 3 for h, cells in names)
    widths = [max([len(line) for line in h.split("\n")] + [len(c) for c in cells]) + 3 for h, cells in columns]
    budget = max(out.width - name_width - 2, 1)
    blocks, current, used = [], [], 0
    for i, w in enumerate(widths):
        if current and not wide and used + w > budget:
            blocks.append(current)
            current, used = [], 0
        current.append(i)
        used += w
    blocks.append(current)
    n_rows = len(names[0][1]) if names else (len(columns[0][1]) if columns else 0)
    for b, block in enumerate(blocks):
        label = title if len(blocks) == 1 else f"{title} ({b + 1}/{len(blocks)})"
        table = Table(title=label, box=box_style or box.SIMPLE_HEAD)
        for header, cells in names:
            name_column(table, header, cells)
        for i in block:
            table.add_column(columns[i][0], justify="right", no_wrap=True)
        for r in range(n_rows):
            table.add_row(*[esc(cells[r]) for _, cells in names], *[columns[i][1][r] for i in block])
        out.print(table)
