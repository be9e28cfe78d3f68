"""Choosing benchmarks: rank tasks by posterior SNR, and pick a suite's best subtasks.

Heineman et al. 2025 filter a suite's subtasks by their own point-estimate SNR and keep the
top k (MMLU: 16 of 57 subjects beat all 57). Here each subtask's SNR is a posterior (the
nested normal model of :mod:`snrstat.decision.single_scale`, fitted to the last n
checkpoints of every run), the subset is chosen to maximise the posterior median SNR of
the aggregate score (the mean of the kept subtasks per record), and the result says how
probable it is that the subset really beats the full suite.

Caveat, stated once: choosing subtasks and judging the chosen subset on the same records
favours the subset (winner's curse), for the paper's rule and for this one alike; the
reported P(subset SNR > full-suite SNR) conditions on the data but not on the search.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from snrstat.decision._draws import check_scalar_draws, fit_draws, interval, stack_samples
from snrstat.decision._window import last_checkpoints, pick_records
from snrstat.decision.single_scale import fit_window
from snrstat.inference import renamed
from snrstat.schema import RUN_COLUMNS, DataError, run_ids
from snrstat.select import DEFAULT_LAST_N


def rank_tasks(fits: Mapping[str, object], *, level: float = 0.9, snr_name: str = "snr") -> pd.DataFrame:
    """Tasks ranked by posterior median SNR, with credible intervals and P(highest SNR).

    ``fits`` maps a task name to a fit offering posterior draws of the SNR (``snr_name``,
    dims (chain, draw)): a VarianceFit or a NormalMeansFit. Fits are independent, so
    P(best) pairs draws after truncating to the shortest posterior.
    """
    if not fits:
        raise DataError("rank_tasks needs at least one fit")
    draws = {}
    for task, fit in fits.items():
        draws[task] = stack_samples(check_scalar_draws(fit_draws(fit, snr_name), f"{task} {snr_name}"))
    n = min(len(d) for d in draws.values())
    matrix = np.stack([d[:n] for d in draws.values()], axis=1)
    matrix = np.where(np.isnan(matrix), -np.inf, matrix)
    best = np.bincount(matrix.argmax(1), minlength=matrix.shape[1]) / n
    rows = []
    for idx, (task, d) in enumerate(draws.items()):
        med, lo, hi = interval(d, level)
        rows.append({"task": task, "snr_median": med, "snr_lo": lo, "snr_hi": hi, "p_best": best[idx]})
    out = pd.DataFrame(rows).sort_values("snr_median", ascending=False, kind="mergesort")
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out.reset_index(drop=True)


def point_snr(window: pd.DataFrame) -> float:
    """The paper's SNR of a window (columns unit, run, value), per-run noise pooled over runs.

    The same estimator as :func:`snrstat.point.small_scale_snr` (``mode='per_run'``,
    ``kind='range'``), but for any definition of "model" (``unit``): signal = (max - min) /
    mean of the per-model scores (each the mean over its runs of the run's window mean);
    noise = sqrt(mean over runs with two or more scores of their variance, ddof=0) / mean
    of the run means. Infinite when the noise is 0; NaN when undefined.
    """
    grouped = window.groupby(["unit", "run"])["value"]
    runs = pd.DataFrame({"mean": grouped.mean(), "var": grouped.var(ddof=0), "n": grouped.size()})
    models = runs.groupby(level="unit")["mean"].mean()
    if len(models) < 2 or models.mean() == 0:
        return float("nan")
    signal = (models.max() - models.min()) / models.mean()
    usable = runs[runs["n"] >= 2]
    if usable.empty:
        return float("nan")
    noise = np.sqrt(usable["var"].mean()) / runs["mean"].mean()
    if noise == 0:
        return float("inf")
    return float(signal / noise)


@dataclass
class SelectionResult:
    """Per-subtask SNRs, the chosen subsets and the SNR of their aggregates.

    ``subtasks``: one row per subtask with the paper's point SNR and the posterior SNR
    (median, lo, hi) and both ranks. ``aggregates``: one row per subset ('full', 'posterior'
    = this module's choice, 'point' = the paper's top-k by point SNR) with its size, the
    posterior SNR of its aggregate score, the point SNR, and ``p_above_full`` =
    P(subset SNR > full-suite SNR) from the two posteriors' draws paired as independent
    (they share records, so the true joint probability is further from 1/2: conservative).
    ``curve``: the posterior median and point SNR of the top-k aggregate for every k, in
    posterior and in point order.
    """

    subtasks: pd.DataFrame
    selected: list[str]
    selected_point: list[str]
    aggregates: pd.DataFrame
    curve: pd.DataFrame
    method: str
    level: float
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        def clean(df):
            return df.replace([np.inf, -np.inf], None).to_dict(orient="records")
        return {
            "method": self.method, "level": self.level, "selected": self.selected,
            "selected_point": self.selected_point, "aggregates": clean(self.aggregates.reset_index()),
            "subtasks": clean(self.subtasks), "notes": self.notes,
        }


class _Suite:
    """Records as a matrix: one row per (run, step), one column per subtask."""

    def __init__(self, rows: pd.DataFrame, by: Sequence[str], last_n: int):
        keys = [*RUN_COLUMNS, "step"]
        rid = run_ids(rows) + "#" + rows["step"].astype("string").fillna("NA")
        rows = rows.assign(_rid=rid.to_numpy())
        dup = rows.duplicated(["_rid", "subtask"], keep=False)
        if dup.any():
            first = rows.loc[dup].iloc[0]
            raise DataError(
                f"subtask {first['subtask']!r} has several records for run/step {first['_rid']!r}; "
                "a suite needs one score per subtask per run and step"
            )
        wide = rows.pivot(index="_rid", columns="subtask", values="value")
        complete = wide.notna().all(axis=1)
        self.dropped = int((~complete).sum())
        wide = wide[complete]
        if wide.empty:
            raise DataError("no (run, step) has a score for every subtask; the suite cannot be aggregated")
        self.subtasks = [str(s) for s in wide.columns]
        self.matrix = wide.to_numpy(dtype=float)
        self.ids = rows.drop_duplicates("_rid").set_index("_rid").loc[wide.index, keys].reset_index(drop=True)
        self.by = list(by)
        self.last_n = last_n

    def window(self, columns: Sequence[int]) -> pd.DataFrame:
        frame = self.ids.copy()
        frame["value"] = self.matrix[:, list(columns)].mean(1)
        return last_checkpoints(frame, self.last_n, by=self.by)


def select_subtasks(
    frame: pd.DataFrame,
    task: str = "mmlu",
    *,
    metric: str | None = None,
    size: str | Sequence[str] | None = None,
    by: Sequence[str] | None = None,
    last_n: int = DEFAULT_LAST_N,
    k: int | None = None,
    method: str = "topk",
    level: float = 0.9,
    draws: int = 1000,
    search_draws: int = 300,
    random_seed: int = 0,
    seed: int | None = None,
) -> SelectionResult:
    """Pick the subtasks of a suite whose aggregate has the highest posterior SNR.

    Each subtask (and each candidate aggregate: the mean of the kept subtasks per
    record, on the records that have every subtask) is fitted with the nested normal
    model on the last ``last_n`` checkpoints of every run. ``by`` defines a "model" of the
    population whose spread is the signal: default ('model',) at one size, ('model',
    'size') when the rows span several sizes (each recipe at each size is a model).

    ``method='topk'`` ranks subtasks by posterior median SNR and keeps the top ``k`` (or,
    with k=None, the k whose aggregate has the highest posterior median SNR);
    ``method='greedy'`` adds, one at a time, the subtask that most raises the aggregate's
    posterior median SNR, stopping at ``k`` or when nothing helps. The paper's selection
    (top k by point SNR, k chosen the same way on the point aggregate SNR when k=None) is
    reported beside it. ``search_draws`` draws are used while searching, ``draws`` for
    the reported posteriors. A subtask whose scores are constant (0/0: no signal, no noise)
    is left out with a warning that names it; the rest of the suite is still ranked.
    ``seed`` is the old name of ``random_seed`` (deprecated).
    """
    from snrstat.point.small_scale import without_constant_subtasks

    seed = renamed("seed", seed, "random_seed", random_seed)
    if method not in ("topk", "greedy"):
        raise DataError(f"method must be 'topk' or 'greedy', got {method!r}")
    rows = pick_records(frame, task=task, metric=metric, size=size, subtask=None)
    rows = rows[rows["subtask"].notna()]
    if rows.empty:
        raise DataError(f"task {task!r} has no subtask rows (column 'subtask' is empty)")
    rows, frozen = without_constant_subtasks(rows, task, last_n)
    if frozen:
        warnings.warn(f"task {task!r}: subtask(s) {frozen} have constant scores (SNR undefined) and are left out "
                      "of the selection", UserWarning, stacklevel=2)
    if by is None:
        by = ("model", "size") if rows["size"].nunique() > 1 else ("model",)
    suite = _Suite(rows, by, last_n)
    names = suite.subtasks
    if len(names) < 2:
        raise DataError(f"task {task!r} has one subtask {names}; nothing to select")
    if k is not None and not 1 <= k <= len(names):
        raise DataError(f"k must be between 1 and {len(names)} subtasks, got {k}")
    notes = []
    if suite.dropped:
        notes.append(f"{suite.dropped} (run, step) records lack some subtask and were left out of the aggregates")
    notes.append(f"a model is one {'+'.join(by)}; last {last_n} checkpoints per run; nested normal model")

    def fit(columns, n_draws, salt):
        return fit_window(suite.window(columns), draws=n_draws, random_seed=seed * 1_000_003 + salt)

    per_sub = []
    for c, name in enumerate(names):
        window = suite.window([c])
        row = {"subtask": name, "snr_point": point_snr(window)}
        try:
            snr = fit(([c]), draws, c).draws("snr").values
            row["snr_median"], row["snr_lo"], row["snr_hi"] = interval(snr, level)
        except DataError as exc:
            row["snr_median"] = row["snr_lo"] = row["snr_hi"] = np.nan
            notes.append(f"subtask {name}: {exc}")
        per_sub.append(row)
    table = pd.DataFrame(per_sub)
    table["rank_posterior"] = table["snr_median"].rank(ascending=False, method="first", na_option="bottom").astype(int)
    table["rank_point"] = table["snr_point"].rank(ascending=False, method="first", na_option="bottom").astype(int)
    post_order = list(table.sort_values("rank_posterior").index)
    point_order = list(table.sort_values("rank_point").index)

    cache: dict[tuple, float] = {}

    def score(columns) -> float:
        key = tuple(sorted(columns))
        if key not in cache:
            try:
                cache[key] = float(np.median(fit(key, search_draws, 7 + len(cache)).draws("snr").values))
            except DataError:
                cache[key] = -np.inf
        return cache[key]

    curve = pd.DataFrame({"k": np.arange(1, len(names) + 1)})
    curve["snr_posterior_order"] = [score(post_order[:j]) for j in curve["k"]]
    curve["point_snr_point_order"] = [point_snr(suite.window(point_order[:j])) for j in curve["k"]]
    if method == "topk":
        k_post = k if k is not None else int(curve["k"][curve["snr_posterior_order"].idxmax()])
        chosen = post_order[:k_post]
    else:
        chosen = _greedy(score, len(names), k)
    k_point = k if k is not None else int(curve["k"][curve["point_snr_point_order"].idxmax()])
    chosen_point = point_order[:k_point]

    full = list(range(len(names)))
    subsets = {"full": full, "posterior": chosen, "point": chosen_point}
    snr_draws = {key: fit(cols, draws, 100 + i).draws("snr").values.ravel() for i, (key, cols) in enumerate(subsets.items())}
    agg = []
    for key, cols in subsets.items():
        med, lo, hi = interval(snr_draws[key], level)
        agg.append({
            "subset": key, "n_subtasks": len(cols), "snr_median": med, "snr_lo": lo, "snr_hi": hi,
            "snr_point": point_snr(suite.window(cols)),
            "p_above_full": float(np.mean(snr_draws[key] > snr_draws["full"])) if key != "full" else np.nan,
        })
    return SelectionResult(
        subtasks=table, selected=[names[c] for c in chosen], selected_point=[names[c] for c in chosen_point],
        aggregates=pd.DataFrame(agg).set_index("subset"), curve=curve, method=method, level=level, notes=notes,
    )


def _greedy(score, n: int, k: int | None) -> list[int]:
    """Forward selection on the aggregate's posterior median SNR."""
    chosen: list[int] = []
    best = -np.inf
    limit = n if k is None else k
    while len(chosen) < limit:
        candidates = [c for c in range(n) if c not in chosen]
        scores = [score([*chosen, c]) for c in candidates]
        top = int(np.argmax(scores))
        if k is None and scores[top] <= best:
            break
        best = scores[top]
        chosen.append(candidates[top])
    return chosen
