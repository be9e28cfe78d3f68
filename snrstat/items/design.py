"""Item-level records -> the design of an item-response model: who answered which item, how often right.

An *item-level record* is one model (or one run at one checkpoint) scored right (1) or wrong (0)
on one item of a benchmark; :func:`snrstat.read_item_matrix`, ``read_lm_eval(samples=True)`` and
``read_olmes(predictions=True)`` give them as tidy frames with an ``item`` column. The design keeps:

- the *respondents*: one per (run, checkpoint), with the run (model, size, seed, data order) and
  the model each belongs to. Runs and checkpoints become model terms only where they are
  replicated (several runs of one model, several checkpoints of one run); otherwise they are
  dropped with a message, never fitted from their prior;
- the *items*, keyed by (subtask, item) so suites whose subtasks reuse ids stay apart, and each
  item's *category* (the subtask by default) which groups the item difficulties;
- the responses aggregated per (respondent, item) cell: ``k`` right out of ``n`` (n > 1 only for
  repeated samples of one checkpoint), so the likelihood is one vectorised binomial term per cell.

Options that change the model (2PL discrimination, the guessing floor, model-by-category
abilities, priors) live in :class:`ItemSpec`, printed by ``str(spec)``.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from snrstat.schema import DataError, validate
from snrstat.select import pick


#: Mean answers per (model, category) from which model-by-category abilities are sampled centred.
CENTRED_MIN_ANSWERS = 100
#: Mean answers per item from which item difficulties are sampled centred.
CENTRED_ITEM_MIN_ANSWERS = 16


class TermDroppedWarning(UserWarning):
    """A run or checkpoint term the data cannot identify was left out of the item model."""


@dataclass(frozen=True)
class ItemPriors:
    """Priors on the logit scale of the item model (Madaan et al. 2024; Lord 1980 for item response theory).

    - ``theta ~ ZeroSumNormal(sigma_theta)``, ``sigma_theta ~ HalfNormal(theta)``: model abilities
      (iid Normal(0, sigma_theta) centred on their mean: the item difficulties carry the location).
    - ``b_i ~ Normal(mu_c, sigma_c)`` for item i of category c, ``mu_c = mu_b + d_c`` with
      ``d ~ ZeroSumNormal(tau)`` (so ``mu_b`` is the mean category difficulty),
      ``mu_b ~ Normal(0, location)``, ``tau ~ Gamma(2, 2 / category)`` (mean ``category``, zero-avoiding),
      ``sigma_c ~ HalfNormal(item)``:
      difficulties pooled within categories, categories pooled within the benchmark.
    - 2PL: ``log a_i ~ Normal(0, sigma_a)``, ``sigma_a ~ HalfNormal(discrimination)``.
    - model-by-category abilities ``delta ~ ZeroSumNormal(sigma_mc)`` over models and over
      categories (a pure interaction: ``theta`` is the mean over categories),
      ``sigma_mc ~ HalfNormal(interaction)``.
    - runs and checkpoints: ``u_run ~ Normal(0, sigma_run)``, ``w_ckpt ~ Normal(0, sigma_ckpt)``,
      both sds ``HalfNormal(training)``.
    """

    theta: float = 2.0
    location: float = 2.0
    category: float = 1.0
    item: float = 2.0
    discrimination: float = 0.5
    interaction: float = 0.5
    training: float = 0.5

    def text(self) -> str:
        return (
            f"theta ~ ZeroSumNormal(sigma_theta) over models, sigma_theta ~ HalfNormal({self.theta})\n"
            f"b_i ~ Normal(mu_c, sigma_c); mu_c = mu_b + d_c, d ~ ZeroSumNormal(tau); mu_b ~ Normal(0, {self.location}); "
            f"tau ~ Gamma(2, {2 / self.category:g}); sigma_c ~ HalfNormal({self.item})\n"
            f"log a_i ~ Normal(0, sigma_a), sigma_a ~ HalfNormal({self.discrimination})  [2PL]\n"
            f"delta_mc ~ ZeroSumNormal(sigma_mc) over models and categories, sigma_mc ~ HalfNormal({self.interaction})  [model x category]\n"
            f"u_run ~ Normal(0, sigma_run), w_ckpt ~ Normal(0, sigma_ckpt), sigmas ~ HalfNormal({self.training})"
        )


@dataclass(frozen=True)
class ItemSpec:
    """Which terms the item model has (decided from the data and the caller's options)."""

    twopl: bool = False
    guess: float = 0.0
    interaction: bool = False
    run: bool = False
    ckpt: bool = False
    #: model-by-category abilities sampled centred (each (model, category) cell has many answers)
    centred_interaction: bool = False
    #: item difficulties sampled centred (each item answered by many respondents)
    centred_items: bool = False
    priors: ItemPriors = field(default_factory=ItemPriors)
    dropped: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        out = asdict(self)
        out["dropped"] = list(self.dropped)
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "ItemSpec":
        d = dict(d)
        d["priors"] = ItemPriors(**d.get("priors", {}))
        d["dropped"] = tuple(d.get("dropped", ()))
        return cls(**d)

    def __str__(self) -> str:
        floor = f"{self.guess:.3g} + {1 - self.guess:.3g} * " if self.guess else ""
        disc = "a_i * " if self.twopl else ""
        inter = " + delta[m, c(i)]" if self.interaction else ""
        train = (" + u[run]" if self.run else "") + (" + w[run, ckpt]" if self.ckpt else "")
        lines = [f"P(correct) = {floor}logistic({disc}(theta[m]{inter}{train} - b[i]))",
                 self.priors.text()]
        lines += [f"dropped: {d}" for d in self.dropped]
        return "\n".join(lines)


@dataclass
class ItemDesign:
    """Index arrays of an item-level data set (see the module docstring)."""

    task: str
    metric: str
    models: list[str]
    runs: list[str]
    run_model: np.ndarray          # run -> model index
    respondents: list[str]         # one per (run, checkpoint)
    resp_run: np.ndarray           # respondent -> run index
    resp_step: list                # respondent -> step (None when absent)
    items: list[str]               # "subtask/item" keys
    item_category: np.ndarray      # item -> category index
    categories: list[str]
    cell_resp: np.ndarray          # one entry per (respondent, item) cell
    cell_item: np.ndarray
    k: np.ndarray                  # right answers in the cell
    n: np.ndarray                  # answers in the cell

    @property
    def resp_model(self) -> np.ndarray:
        return self.run_model[self.resp_run]

    @property
    def n_cells(self) -> int:
        return len(self.k)

    def observed_scores(self) -> pd.Series:
        """Each model's observed accuracy over all its answers."""
        m = self.resp_model[self.cell_resp]
        right = np.bincount(m, weights=self.k, minlength=len(self.models))
        total = np.bincount(m, weights=self.n, minlength=len(self.models))
        return pd.Series(right / total, index=pd.Index(self.models, name="model"), name="observed")

    def matrix(self) -> np.ndarray:
        """(respondent, item) proportion right, NaN where not answered."""
        out = np.full((len(self.respondents), len(self.items)), np.nan)
        out[self.cell_resp, self.cell_item] = self.k / self.n
        return out

    def fingerprint(self) -> dict:
        return {"task": self.task, "metric": self.metric, "models": len(self.models), "runs": len(self.runs),
                "respondents": len(self.respondents), "items": len(self.items),
                "categories": len(self.categories), "cells": self.n_cells, "answers": int(self.n.sum()),
                "right": int(self.k.sum())}


def item_design(
    frame: pd.DataFrame,
    *,
    task: str | None = None,
    metric: str | None = None,
    models: list[str] | None = None,
    category: str | None = "subtask",
    last_n: int | None = None,
) -> ItemDesign:
    """Validate item-level records and index them (see the module docstring).

    ``category`` names the column that groups items (default ``subtask``; None for one group).
    ``last_n`` keeps each run's last n checkpoints. Raises :class:`DataError` for frames
    without item-level records, values other than 0/1, or items whose category differs
    between records.
    """
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame of item-level records, got {type(frame).__name__}")
    if "item" not in frame.columns:
        raise DataError("the item model needs item-level records: the frame has no 'item' column "
                        "(read_item_matrix, read_lm_eval(samples=True) or read_olmes(predictions=True) give one)")
    if category is not None and category not in frame.columns:
        raise DataError(f"category column {category!r} is not in the frame; columns: {list(frame.columns)}")
    rows = validate(frame)
    rows = rows[rows["item"].notna()]
    if rows.empty:
        raise DataError("column 'item' is empty in every row: no item-level records")
    rows, task = pick(rows, "task", task, "the item-level records")
    rows, metric = pick(rows, "metric", metric, f"the item-level records of task {task!r}")
    if models is not None:
        missing = sorted(set(models) - set(rows["model"].unique()))
        if missing:
            raise DataError(f"model(s) {missing} have no item-level records; available: {sorted(rows['model'].unique())}")
        rows = rows[rows["model"].isin(models)]
    value = rows["value"].to_numpy()
    bad = ~np.isin(value, (0.0, 1.0))
    if bad.any():
        raise DataError(f"column 'value' must be 0/1 per item for the item model; got {sorted(set(value[bad]))[:5]}")

    def text(col):
        return rows[col].astype("string").fillna("")

    # string keys built column-wise (a row-wise join is slow on 10^5 records)
    run_key = text("model") + "/" + text("size") + "/" + text("seed") + "/" + text("data_order")
    rows = rows.assign(_run=run_key.str.rstrip("/").to_numpy())
    if last_n is not None and rows["step"].notna().any():
        order = rows.groupby("_run")["step"].rank(method="dense", ascending=False)
        rows = rows[order.isna() | (order <= last_n)]
    rows = rows.assign(_resp=(rows["_run"] + "@" + text("step")).to_numpy())
    cat = rows[category].astype("string").fillna("NA") if category else pd.Series("all", index=rows.index, dtype="string")
    rows = rows.assign(_key=(text("subtask") + "/" + rows["item"].astype("string")).to_numpy(), _cat=cat.to_numpy())
    first_cat = rows.drop_duplicates(["_key", "_cat"])
    if first_cat["_key"].duplicated().any():
        bad_items = first_cat.loc[first_cat["_key"].duplicated(), "_key"].unique()
        raise DataError(f"column {category!r} differs between the records of item(s) {list(bad_items[:5])}")

    model_names = sorted(rows["model"].unique())
    if not model_names:
        raise DataError("no item-level records left to fit")
    model_idx = {m: i for i, m in enumerate(model_names)}
    runs = rows.drop_duplicates("_run").sort_values("_run")
    run_names = runs["_run"].tolist()
    run_idx = {r: i for i, r in enumerate(run_names)}
    run_model = np.array([model_idx[m] for m in runs["model"]], dtype=np.int64)
    resp = rows.drop_duplicates("_resp").sort_values(["_run", "step"])
    resp_names = resp["_resp"].tolist()
    resp_run = np.array([run_idx[r] for r in resp["_run"]], dtype=np.int64)
    resp_step = [None if pd.isna(s) else int(s) for s in resp["step"]]

    items = rows.drop_duplicates("_key")[["_key", "_cat"]].sort_values("_key")
    item_names = items["_key"].tolist()
    cats = sorted(items["_cat"].unique())
    cat_idx = {c: i for i, c in enumerate(cats)}
    item_category = np.array([cat_idx[c] for c in items["_cat"]], dtype=np.int64)

    r = pd.Index(resp_names).get_indexer(rows["_resp"])
    i = pd.Index(item_names).get_indexer(rows["_key"])
    cell = r.astype(np.int64) * len(item_names) + i
    uniq, inverse = np.unique(cell, return_inverse=True)
    k = np.rint(np.bincount(inverse, weights=rows["value"].to_numpy(dtype=float))).astype(np.int64)
    n = np.bincount(inverse).astype(np.int64)
    return ItemDesign(
        task=task, metric=metric, models=model_names, runs=run_names, run_model=run_model,
        respondents=resp_names, resp_run=resp_run, resp_step=resp_step, items=item_names,
        item_category=item_category, categories=cats, cell_resp=uniq // len(item_names),
        cell_item=uniq % len(item_names), k=k, n=n,
    )


def item_spec(
    design: ItemDesign,
    *,
    twopl: bool = False,
    n_options: int | None = None,
    interaction: bool | str = "auto",
    training: bool | str = "auto",
    priors: ItemPriors | None = None,
) -> ItemSpec:
    """Decide the model's terms from the design and the options.

    ``n_options``: the number of answer options per item; sets the guessing floor 1/n_options
    (None: no floor). ``interaction`` ("auto": with 2+ categories) adds model-by-category
    abilities. ``training`` ("auto": wherever replicated) adds run and checkpoint terms;
    a term without replication is dropped with a :class:`TermDroppedWarning`.
    """
    if n_options is not None and (not isinstance(n_options, (int, np.integer)) or n_options < 2):
        raise DataError(f"n_options must be an integer >= 2 (the number of answer options), got {n_options!r}")
    guess = 0.0 if n_options is None else 1.0 / n_options
    if interaction == "auto":
        interaction = len(design.categories) > 1
    elif interaction and len(design.categories) < 2:
        raise DataError("interaction=True needs items in at least two categories")
    dropped = []
    run = ckpt = False
    if training:
        runs_per_model = np.bincount(design.run_model, minlength=len(design.models))
        ckpts_per_run = np.bincount(design.resp_run, minlength=len(design.runs))
        run = bool((runs_per_model > 1).any())
        ckpt = bool((ckpts_per_run > 1).any())
        if not run:
            dropped.append("run term: one run per model, so training-seed noise cannot be told apart from the model's ability")
        if not ckpt:
            dropped.append("checkpoint term: one checkpoint per run, so checkpoint noise cannot be told apart from the run")
        if training is True:
            for d in dropped:
                warnings.warn(d, TermDroppedWarning, stacklevel=2)
    # answers per (model, category): with many, the data pin each delta down and the centred form
    # samples better; with few, the non-centred one (Betancourt and Girolami 2015)
    per_cell = design.n.sum() / max(1, len(design.models) * len(design.categories))
    # the same for items: with 16+ answers an item's difficulty is mostly data (Fisher information
    # about 0.2 per answer against a prior sd near 1); then the non-centred form leaves mu_c on a
    # ridge with the sum of thousands of z's, which NUTS with a diagonal mass matrix crawls along
    per_item = design.n.sum() / max(1, len(design.items))
    return ItemSpec(twopl=bool(twopl), guess=guess, interaction=bool(interaction), run=run, ckpt=ckpt,
                    centred_interaction=bool(interaction) and per_cell >= CENTRED_MIN_ANSWERS,
                    centred_items=per_item >= CENTRED_ITEM_MIN_ANSWERS,
                    priors=priors or ItemPriors(), dropped=tuple(dropped))
