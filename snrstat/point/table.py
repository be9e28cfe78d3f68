"""Whole tables of the paper's point estimates from one tidy frame, in one vectorised pass.

:func:`snr_table` gives signal, noise and SNR for every (task, metric, size);
:func:`decision_table` gives the decision accuracy between every pair of scales that
share models. Both follow Heineman et al. 2025 (Heineman et al. 2025) and the
definitions of :mod:`snrstat.point`; neither loops over groups in Python.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from snrstat.point import _frame
from snrstat.schema import DataError

GROUP = ("task", "metric", "size")
SNR_COLUMNS = ("task", "metric", "size", "params", "n_models", "n_runs", "signal", "noise", "snr")
DECISION_COLUMNS = ("task", "metric", "small", "target", "n_models", "decision_accuracy")


def snr_table(frame: pd.DataFrame, last_n: int = 5, mode: str = "per_run", metric=None, *,
              kind: str = "range", subtasks: str = "mean") -> pd.DataFrame:
    """Signal, noise and SNR of every (task, metric, size) of a tidy frame.

    Per group this is exactly :func:`snrstat.point.small_scale_snr`: each run scored by the
    mean of its last ``last_n`` checkpoints, models by the mean over their runs, signal of
    ``kind`` over the model scores, noise per ``mode`` (``"per_run"``: pooled within-run
    spread; ``"reference"``: the paper's quick-start, std/mean of all window scores
    flattened, capped at SNR <= sqrt(2 k)). Subtasks are averaged per checkpoint
    (``subtasks="mean"``) or kept as their own groups (``"separate"``, adds a ``subtask``
    column).

    Columns: task, [subtask], metric, size, params (median over the size's records, NaN if
    unknown), n_models, n_runs, signal, noise, snr; rows sorted by task, metric and size
    (small to large). Undefined values are NaN, not errors: the signal with fewer than two
    models, the noise when no run has two checkpoints in its window. A noise of exactly 0
    gives snr = +inf with one :class:`snrstat.point.InfiniteSNRWarning` for the table.
    The frame should have passed :func:`snrstat.validate`; ambiguous records (two scores at
    one step of one run) raise DataError.
    """
    df = _frame.prepare(frame, metric=metric, subtasks=subtasks)
    group = _group_cols(subtasks)
    w = _frame.windows(df, group, last_n)
    out = _frame.group_table(w, mode=mode, kind=kind)
    out.insert(out.columns.get_loc("size") + 1, "params", _size_params(df, w))
    return _sorted(out, group)


def decision_table(frame: pd.DataFrame, small=None, target=None, last_n: int = 1, metric=None, *,
                   subtasks: str = "mean") -> pd.DataFrame:
    """Decision accuracy between scales, long format: one row per (task, metric, small, target).

    A model's score at a size is the mean over its runs (seeds, data orders: averaged
    explicitly, each run equally) of each run's final checkpoint (``last_n=1``, the paper's
    choice) or of the mean of its last ``last_n`` checkpoints. For each pair of sizes the
    models present at both are compared with :func:`snrstat.point.decision_accuracy`'s rule
    (pairs i < j in model-name order, ``(s_i > s_j) == (t_i > t_j)``); ``n_models`` says how
    many. Pairs sharing fewer than two models are left out.

    ``small`` / ``target``: a size label or a list of them restricting the rows; by default
    every pair with the smaller size (by params, else by label) as ``small``. Two records at
    the same step of one run are refused (the final checkpoint would be ambiguous).
    """
    df = _frame.prepare(frame, metric=metric, subtasks=subtasks)
    group = _group_cols(subtasks)
    w = _frame.windows(df, group, last_n)
    key_cols = [c for c in group if c != "size"]

    labels = w.groups
    tm = _frame.combine_codes(labels, key_cols)          # (task, metric[, subtask]) of each group
    sizes = labels["size"]
    size_code, n_sizes = _frame.factorize(sizes)
    params = _size_params(df, w)
    size_labels = pd.Series(sizes.to_numpy()).groupby(size_code).first()
    size_par = pd.Series(params).groupby(size_code).median()
    rank = _frame.size_rank(size_labels.to_numpy(), size_par.to_numpy())
    model_code, n_names = _frame.factorize(pd.array(w.model_name, dtype="string"))
    n_tm = int(tm.max()) + 1

    scores = np.full((n_tm, n_names, n_sizes), np.nan)
    mg = w.model_group
    scores[tm[mg], model_code, size_code[mg]] = w.model_mean
    present = ~np.isnan(scores)
    shared = np.einsum("gma,gmb->gab", present.astype(np.int64), present.astype(np.int64))
    agree, pairs = _pair_counts(scores, present)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = agree / pairs

    g, a, b = np.nonzero(shared >= 2)
    keep = a != b
    wanted_small = _wanted(small, size_labels, "small")
    wanted_target = _wanted(target, size_labels, "target")
    if small is None and target is None:
        keep &= rank[a] < rank[b]
    else:
        if wanted_small is not None:
            keep &= np.isin(a, wanted_small)
        if wanted_target is not None:
            keep &= np.isin(b, wanted_target)
        if wanted_small is None or wanted_target is None:
            keep &= rank[a] < rank[b]
    g, a, b = g[keep], a[keep], b[keep]
    first_group = _frame._first_rows(tm)
    out = labels.iloc[first_group[g]][key_cols].reset_index(drop=True)
    out["small"] = pd.array(size_labels.to_numpy()[a], dtype="string")
    out["target"] = pd.array(size_labels.to_numpy()[b], dtype="string")
    out["n_models"] = shared[g, a, b]
    out["decision_accuracy"] = acc[g, a, b]
    out["_ra"], out["_rb"] = rank[a], rank[b]
    return out.sort_values(key_cols + ["_rb", "_ra"], kind="stable").drop(columns=["_ra", "_rb"]).reset_index(drop=True)


def _pair_counts(scores: np.ndarray, present: np.ndarray, budget: int = 2**24):
    """Agreeing and total model pairs for every (group, size a, size b).

    Pairs i < j in model-name order; a pair counts at (a, b) when both models are present
    at both sizes. Groups are processed in chunks to bound memory.
    """
    n_tm, n_models, n_sizes = scores.shape
    i, j = np.triu_indices(n_models, k=1)
    agree = np.zeros((n_tm, n_sizes, n_sizes), dtype=np.int64)
    pairs = np.zeros((n_tm, n_sizes, n_sizes), dtype=np.int64)
    step = max(1, budget // max(1, len(i) * n_sizes * n_sizes))
    for lo in range(0, n_tm, step):  # chunks of groups, not one group at a time
        s, p = scores[lo:lo + step], present[lo:lo + step]
        with np.errstate(invalid="ignore"):
            gt = s[:, i, :] > s[:, j, :]                 # (g, pair, size)
        # counts as float matrix products (exact below 2**53) so BLAS does the work
        valid = (p[:, i, :] & p[:, j, :]).astype(np.float64)
        up, down = valid * gt, valid * ~gt
        both = np.matmul(valid.transpose(0, 2, 1), valid)
        same = np.matmul(up.transpose(0, 2, 1), up) + np.matmul(down.transpose(0, 2, 1), down)
        agree[lo:lo + step] = np.rint(same)
        pairs[lo:lo + step] = np.rint(both)
    return agree, pairs


def _wanted(sizes, size_labels: pd.Series, name: str):
    if sizes is None:
        return None
    wanted = [sizes] if isinstance(sizes, str) else list(sizes)
    known = [str(s) for s in size_labels.to_numpy()]
    absent = [s for s in wanted if s not in known]
    if absent:
        raise DataError(f"{name} size(s) {absent} not in column 'size'; available: {known}")
    return np.array([known.index(s) for s in wanted])


def _group_cols(subtasks: str) -> tuple:
    return ("task", "subtask", "metric", "size") if subtasks == "separate" else GROUP


def _size_params(df: pd.DataFrame, w: _frame.Windows) -> np.ndarray:
    """Median params over the records of each group's size (NaN when unknown)."""
    par = pd.Series(df["params"].to_numpy(dtype=float)).groupby(df["size"].to_numpy(), dropna=False).median()
    sizes = w.groups["size"]
    known = sizes.notna().to_numpy()
    out = np.full(len(sizes), np.nan)
    out[known] = par.reindex(sizes[known].to_numpy()).to_numpy()
    return out


def _sorted(table: pd.DataFrame, group) -> pd.DataFrame:
    labels = table["size"].to_numpy()
    code, _ = _frame.factorize(table["size"])
    by_size = pd.DataFrame({"label": labels, "params": table["params"].to_numpy(), "code": code})
    uniq = by_size.groupby("code").agg(label=("label", "first"), params=("params", "median"))
    rank = _frame.size_rank(uniq["label"].to_numpy(), uniq["params"].to_numpy())
    keys = [c for c in group if c != "size"]
    return (table.assign(_rank=rank[code]).sort_values(keys + ["_rank"], kind="stable")
            .drop(columns="_rank").reset_index(drop=True))
