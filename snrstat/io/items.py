"""Wide correctness matrices (one row per item, one 0/1 column per model) as tidy item records.

Leaderboards and papers often publish item-level results as a matrix: a row per question,
columns naming the question, its category or subject, and then one column per model holding
1 (right), 0 (wrong) or nothing (no output for that question). :func:`read_item_matrix` turns
such a table into the tidy frame of :mod:`snrstat.schema` with an ``item`` column and
``value`` 0/1, the shape that ``read_lm_eval(samples=True)`` and ``read_olmes(predictions=True)``
give, so every item-level analysis (:mod:`snrstat.items`) accepts all three.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from snrstat.schema import DataError, validate


def read_item_matrix(
    path_or_frame: str | Path | pd.DataFrame,
    *,
    item: str = "question_id",
    subtask: str | None = "category",
    models: list[str] | None = None,
    task: str = "items",
    metric: str = "acc",
    keep: tuple[str, ...] | list[str] = (),
) -> pd.DataFrame:
    """Read a wide correctness matrix into tidy item-level records.

    Parameters
    ----------
    path_or_frame
        A CSV/TSV (``.gz`` allowed) or Parquet file, or a DataFrame, with one row per item.
    item
        The column that identifies an item (read as text; must be unique within a subtask).
    subtask
        The column that groups items (a subject or category), or None.
    models
        The model columns; by default every column except ``item``, ``subtask`` and ``keep``.
    task, metric
        Labels of the records (every record is one item scored right or wrong).
    keep
        Further per-item columns carried into every record (e.g. ``src``).

    Returns a validated frame: one row per (model, item) with an answer, ``value`` 0.0/1.0,
    ``n_items`` 1. Empty cells (no output for that item) are dropped, not scored as wrong.
    Raises :class:`DataError` naming the column and offending values for missing columns,
    duplicated items, and cells other than 0, 1 (or true/false) and empty.
    """
    if isinstance(path_or_frame, pd.DataFrame):
        raw, where = path_or_frame.copy(), "the frame"
    else:
        raw, where = _read(Path(path_or_frame), item=item, subtask=subtask), str(path_or_frame)
    id_cols = [item] + ([subtask] if subtask else []) + list(keep)
    absent = [c for c in id_cols if c not in raw.columns]
    if absent:
        raise DataError(f"{where}: column(s) {absent} not found; columns are {list(raw.columns)}")
    if models is None:
        models = [c for c in raw.columns if c not in id_cols]
    else:
        missing = [m for m in models if m not in raw.columns]
        if missing:
            raise DataError(f"{where}: model column(s) {missing} not found; columns are {list(raw.columns)}")
    if not models:
        raise DataError(f"{where}: no model columns besides {id_cols}")
    ids = raw[item].astype("string")
    if ids.isna().any():
        raise DataError(f"{where}: column {item!r} is empty at rows {list(raw.index[ids.isna()][:5])}")
    key = ids if subtask is None else raw[subtask].astype("string").fillna("") + "/" + ids
    dup = key.duplicated(keep=False)
    if dup.any():
        raise DataError(f"{where}: column {item!r} repeats item(s) {sorted(set(ids[dup]))[:5]}"
                        + ("" if subtask is None else f" within one {subtask!r}"))

    values = np.empty((len(raw), len(models)), dtype="float64")
    for j, name in enumerate(models):
        col = raw[name]
        if col.dtype == bool:
            col = col.astype("float64")
        num = pd.to_numeric(col, errors="coerce")
        bad = (col.notna() & ~num.isin([0, 1])).to_numpy()
        if bad.any():
            raise DataError(
                f"{where}: model column {name!r} must hold 0/1 per item (empty = no answer); "
                f"got {sorted(map(str, pd.unique(col[bad])))[:5]} at rows {list(raw.index[bad][:5])}"
            )
        values[:, j] = num.to_numpy(dtype="float64", na_value=np.nan)

    n_items, n_models = values.shape
    rows_i, cols_j = np.nonzero(~np.isnan(values))
    if len(rows_i) == 0:
        raise DataError(f"{where}: every cell is empty")
    # One tidy record per answered cell, model-major so each model's items stay together.
    order = np.lexsort((rows_i, cols_j))
    rows_i, cols_j = rows_i[order], cols_j[order]
    out = pd.DataFrame({
        "task": task,
        "subtask": (raw[subtask].astype("string").to_numpy()[rows_i] if subtask else pd.NA),
        "metric": metric,
        "model": pd.Categorical.from_codes(cols_j, categories=[str(m) for m in models]).astype("string"),
        "item": ids.to_numpy()[rows_i],
        "value": values[rows_i, cols_j],
        "n_items": 1,
    })
    for col in keep:
        out[col] = raw[col].to_numpy()[rows_i]
    try:
        return validate(out)
    except DataError as exc:
        raise DataError(f"{where}: {exc}") from None


def _read(path: Path, *, item: str, subtask: str | None) -> pd.DataFrame:
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    suffixes = [s.lower() for s in path.suffixes]
    ext = suffixes[-2] if suffixes[-1:] == [".gz"] and len(suffixes) > 1 else (suffixes[-1] if suffixes else "")
    text = {c: "string" for c in (item, subtask) if c}
    try:
        if ext in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if ext in (".csv", ".tsv", ".txt"):
            sep = "\t" if ext == ".tsv" else ","
            header = pd.read_csv(path, sep=sep, nrows=0).columns
            return pd.read_csv(path, sep=sep, dtype={c: t for c, t in text.items() if c in header})
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot be read as {ext[1:]} ({exc})") from None
    raise DataError(f"{path}: unknown file type '{ext}'; use .csv, .tsv or .parquet, or pass a DataFrame")
