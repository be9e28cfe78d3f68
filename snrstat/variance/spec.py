"""What a variance fit estimates: components, likelihood, priors, and which parts the data identify.

The generative model (the hierarchical model of snrstat.variance.spec), for the records of one task and metric:

```
logit p[r, c] = mu + a[model] + b[seed] + d[data_order] + f_r(step) + e[r, c]
y[r, c] ~ Binomial(n_items, p[r, c])
```

The model effects ``a`` are exchangeable ``N(0, sigma_model)`` around ``mu``, the mean logit
of the population of models (their mean-centred version, which sums to zero over the models
in the data, is ``effect_model - effect_model.mean("model")``; every comparison of models
uses only it). Seeds and data orders are *crossed* (one effect per label, shared by every
model that uses it; these sum to zero, so their mean stays in ``mu``) or *nested* (one
effect per (model, label), independent normal). A component with no
replication in the data cannot be told apart from another one and is dropped with a
:class:`ComponentDroppedWarning` that says why, never fitted from its prior.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from snrstat.schema import DataError
from snrstat.variance.records import Records

log = logging.getLogger("snrstat.variance")

COMPONENTS = ("model", "seed", "data_order", "ckpt")
NOISE_COMPONENTS = ("seed", "data_order", "ckpt")
LIKELIHOODS = ("auto", "logit_normal", "logit_t", "binomial", "binomial_t", "betabinomial", "normal", "student_t")
BINOMIAL_LIKELIHOODS = ("logit_normal", "logit_t", "binomial", "binomial_t", "betabinomial")
#: Likelihoods whose checkpoint effects are Student-t (robust to spikes and bad checkpoints).
ROBUST_LIKELIHOODS = ("logit_t", "binomial_t", "student_t")
#: Likelihoods fitted to empirical logits with their binomial variance known.
ELOGIT_LIKELIHOODS = ("logit_normal", "logit_t")
#: Below this expected count of correct (or wrong) answers n min(p, 1 - p) in a run, the
#: empirical-logit approximation of ``logit_normal`` fails (its variance is overstated 1.7x at
#: n = 50, p = 0.97, and the logit is biased), so ``likelihood="auto"`` uses the exact binomial.
MIN_EXPECTED_COUNT = 6.0
DESIGNS = ("auto", "crossed", "nested")
#: short names used for posterior variables (``sigma_order``) and summary rows.
SHORT = {"model": "model", "seed": "seed", "data_order": "order", "ckpt": "ckpt"}


class ComponentDroppedWarning(UserWarning):
    """A variance component the data cannot identify was left out of the model."""


@dataclass(frozen=True)
class Priors:
    """Weakly informative priors, on the link scale of the likelihood.

    Link scale: the logit of the score for proportions (``logit_normal``, ``binomial``,
    ``betabinomial``); for continuous metrics (``normal``, ``student_t``) the standardised
    score ``(value - mean) / sd`` over the fitted records. On the logit scale near a score
    of 0.5 an sd of s is a score sd of about s / 4.

    - ``mu ~ Normal(0, mu)``: mean logit of the models; 1.0 puts 95% of the prior mass on
      mean scores between 0.12 and 0.88.
    - ``sigma_model ~ HalfNormal(model)``: between-model sd; 0.5 allows score sds up to
      about 0.25 (95%) at a score of 0.5, far beyond the 0.01-0.05 typical at one scale.
      Standardised scale: 1.0 (the total sd of the records).
    - ``sigma_seed, sigma_order, sigma_ckpt ~ HalfNormal(noise)``: 0.25 allows noise sds up
      to about 0.12 in score (95%); real checkpoint and seed noise is 0.002-0.03.
      Standardised scale: 0.5.
    - trend (``trend=True``): ``slope_r = trend_mean + trend_sd z_r`` per unit of centred
      log step, ``trend_mean ~ Normal(0, trend)``, ``trend_sd ~ HalfNormal(trend_sd)``.
    - ``nu``: Student-t degrees of freedom of the checkpoint effects of ``logit_t`` and
      ``binomial_t`` (on (1, 200)) and of the residual of ``student_t`` (on (2, 200): there the
      residual's sigma is its sd, which needs nu > 2), with the Jeffreys prior (Fonseca,
      Ferreira & Migon 2008; :func:`snrstat.variance.model.log_jeffreys_nu`).
    """

    mu: float = 1.0
    model: float = 0.5
    noise: float = 0.25
    trend: float = 1.0
    trend_sd: float = 0.5

    @classmethod
    def default(cls, link: str = "logit") -> Priors:
        """The defaults for a link: on the standardised scale of continuous metrics the
        between-model sd can be as large as the total sd (1), so ``model = 1.0`` and
        ``noise = 0.5`` there; on the logit scale the values above."""
        return cls() if link == "logit" else cls(model=1.0, noise=0.5)

    def __post_init__(self):
        for name, value in asdict(self).items():
            if not (np.isfinite(value) and value > 0):
                raise DataError(f"prior scale {name} must be a positive number, got {value!r}")

    def describe(self, link: str = "logit") -> str:
        scale = "logit of the score" if link == "logit" else "standardised score (value - mean) / sd"
        return (
            f"priors on the {scale}: mu ~ Normal(0, {self.mu}); sigma_model ~ HalfNormal({self.model}); "
            f"sigma_seed, sigma_order, sigma_ckpt ~ HalfNormal({self.noise}); "
            f"trend_mean ~ Normal(0, {self.trend}), trend_sd ~ HalfNormal({self.trend_sd}); nu ~ Jeffreys on (1, 200)"
        )


@dataclass
class Design:
    """The fitted structure and its data arrays (integer codes, observations).

    ``components`` are the identifiable ones kept, ``dropped`` maps a left-out component
    to the reason. ``residual`` names the component a normal likelihood uses as its
    observation sd (``ckpt``, or a nested run-level component when runs hold one record).
    """

    records: Records
    likelihood: str
    components: tuple[str, ...]
    dropped: dict[str, str]
    designs: dict[str, str]            # seed / data_order -> crossed | nested
    trend: bool
    residual: str | None
    models: list[str]
    runs: list[str]
    levels: dict[str, list[str]]       # seed / data_order -> level labels
    run_model: np.ndarray
    run_level: dict[str, np.ndarray]   # seed / data_order -> (R,) level code
    rec_run: np.ndarray
    x: np.ndarray                      # centred log step (0 without trend)
    data: dict[str, np.ndarray]        # observations for the likelihood
    center: float = 0.0                # normal likelihoods: value = center + scale * link
    scale: float = 1.0
    n_bar: float = np.nan              # typical item count (binomial noise)
    notes: list[str] = field(default_factory=list)
    #: seed / data-order columns whose labels are the same in every model and whose design was
    #: "auto": fitted nested, and the crossed alternative is compared by PSIS-LOO after the fit.
    crossable: tuple[str, ...] = ()
    #: why the likelihood was chosen (``likelihood="auto"``), for the fit's report.
    likelihood_reason: str = ""

    @property
    def link(self) -> str:
        return "logit" if self.likelihood in BINOMIAL_LIKELIHOODS else "identity"

    @property
    def n_models(self) -> int:
        return len(self.models)

    def replicated(self, col: str) -> np.ndarray:
        """Levels of a seed/data-order component whose model has several levels of it.

        Crossed levels always are; a nested level in a model with a single seed is not: its
        effect is confounded with the model effect and only its prior informs it.
        """
        codes = self.run_level[col]
        n_levels = len(self.levels[col])
        if self.designs[col] == "crossed":
            return np.ones(n_levels, dtype=bool)
        level_model = np.zeros(n_levels, dtype=np.int64)
        level_model[codes] = self.run_model
        per_model = np.bincount(level_model, minlength=len(self.models))
        return per_model[level_model] >= 2

    def df(self, col: str) -> int:
        """Degrees of freedom the data give a component's sd: models - 1; a crossed component's
        labels - 1; a nested one's replicated levels minus one per model that has them."""
        if col == "model":
            return len(self.models) - 1
        rep = self.replicated(col)
        if self.designs[col] == "crossed":
            return int(rep.sum()) - 1
        level_model = np.zeros(len(rep), dtype=np.int64)
        level_model[self.run_level[col]] = self.run_model
        counts = np.bincount(level_model[rep], minlength=len(self.models))
        return int((counts[counts > 0] - 1).sum())

    def signature(self) -> tuple:
        """Everything that fixes the compiled graph; equal signatures can share one compilation."""
        shapes = (len(self.models), len(self.runs), len(self.rec_run),
                  tuple((k, len(v), tuple(self.replicated(k))) for k, v in sorted(self.levels.items())))
        return (self.likelihood, self.components, tuple(sorted(self.designs.items())), self.trend,
                self.residual, shapes)

    def spec_dict(self, priors: Priors) -> dict:
        return {
            "likelihood": self.likelihood, "link": self.link, "components": list(self.components),
            "dropped": dict(self.dropped), "designs": dict(self.designs), "trend": self.trend,
            "residual": self.residual, "priors": asdict(priors), "priors_text": priors.describe(self.link),
            "center": self.center, "scale": self.scale, "n_bar": self.n_bar, "notes": list(self.notes),
            "n_models": len(self.models), "n_runs": len(self.runs), "n_records": len(self.rec_run),
            "crossable": list(self.crossable), "likelihood_reason": self.likelihood_reason,
        }


def _codes(labels) -> tuple[np.ndarray, list[str]]:
    codes, uniques = pd.factorize(pd.Series(labels, dtype="string"), sort=True)
    return codes.astype(np.int64), [str(u) for u in uniques]


def _drop(dropped: dict, comp: str, reason: str, requested) -> None:
    if comp in requested:
        dropped[comp] = reason


def shared_labels(run_tab: pd.DataFrame, col: str) -> bool:
    """Every model uses the same (several) labels of ``col``: a crossed design is possible."""
    sets = run_tab.groupby("unit")[col].agg(lambda s: frozenset(s.astype(str)))
    return bool(sets.nunique() == 1 and len(next(iter(sets))) > 1)


def _level_design(run_tab: pd.DataFrame, col: str, how: str) -> str:
    """Nested unless the user asks for crossed: shared label *names* are no evidence of a shared
    effect (seed 0 of one data recipe shares nothing with seed 0 of another)."""
    return "nested" if how == "auto" else how


def build_design(records: Records, *, components=COMPONENTS, likelihood: str = "auto", trend: bool = False,
                 seed_design: str = "auto", order_design: str = "auto", warn: bool = True) -> Design:
    """Check identifiability and code the records for the PyMC graph (see module docstring)."""
    comps = tuple(components)
    unknown = [c for c in comps if c not in COMPONENTS]
    if unknown:
        raise DataError(f"unknown component(s) {unknown}; choose from {list(COMPONENTS)}")
    if "model" not in comps:
        raise DataError("components must include 'model': the between-model spread is the signal")
    if likelihood not in LIKELIHOODS:
        raise DataError(f"likelihood must be one of {list(LIKELIHOODS)}, got {likelihood!r}")
    for name, how in (("seed_design", seed_design), ("order_design", order_design)):
        if how not in DESIGNS:
            raise DataError(f"{name} must be one of {list(DESIGNS)}, got {how!r}")
    t = records.table
    models = sorted(t["unit"].unique())
    if len(models) < 2:
        raise DataError(
            f"one model ({models[0]!r}) in task {records.task!r}: the between-model spread (signal) needs at "
            "least two models"
        )
    notes: list[str] = []
    dropped: dict[str, str] = {}
    likelihood, reason = _resolve_likelihood(records, likelihood, notes, dropped)

    runs_tab = t.drop_duplicates("run")[["unit", "run", "seed", "data_order"]].sort_values("run")
    runs = runs_tab["run"].astype(str).tolist()
    run_model = pd.Categorical(runs_tab["unit"], categories=models).codes.astype(np.int64)
    rec_run = pd.Categorical(t["run"], categories=runs).codes.astype(np.int64)
    per_run = np.bincount(rec_run, minlength=len(runs))
    designs, levels, run_level = {}, {}, {}

    crossable = []
    for col, how in (("seed", seed_design), ("data_order", order_design)):
        if col not in comps:
            continue
        lab = runs_tab[col]
        if lab.isna().all():
            _drop(dropped, col, f"{col}: no {col} labels in the records, so {col} noise cannot be separated "
                  "from the model effect", comps)
            continue
        filled = runs_tab.assign(**{col: lab.fillna("NA")})
        per_model = filled.groupby("unit")[col].nunique()
        if (per_model < 2).all():
            what = "seed" if col == "seed" else "data order"
            _drop(dropped, col, f"{col}: each model has a single {what}, so {what} noise cannot be separated "
                  "from the model effect", comps)
            continue
        if col == "data_order" and "seed" in levels and _tied(filled):
            _drop(dropped, col, "data_order: tied to seed (each seed has its own data order), so data-order "
                  "noise cannot be separated from seed noise; the seed component carries both", comps)
            continue
        design = _level_design(filled, col, how)
        if how == "auto" and shared_labels(filled, col):
            crossable.append(col)
        key = filled[col].astype(str) if design == "crossed" else filled["unit"].astype(str) + "/" + filled[col].astype(str)
        codes, labels = _codes(key.to_numpy())
        designs[col], levels[col], run_level[col] = design, labels, codes

    kept = ["model"] + [c for c in ("seed", "data_order") if c in levels]
    residual = None
    if "ckpt" in comps:
        if (per_run >= 2).any():
            kept.append("ckpt")
            residual = "ckpt"
        else:
            _drop(dropped, "ckpt", "ckpt: each run has a single checkpoint, so checkpoint noise cannot be "
                  "separated from run-to-run noise (use more checkpoints, e.g. last_n=5)", comps)
    if likelihood not in BINOMIAL_LIKELIHOODS and residual is None:
        residual = _residual_from_runs(kept, designs, run_level, len(runs))
        if residual is None:
            raise DataError(
                "a normal likelihood needs a residual: give runs several checkpoints (ckpt noise), or several "
                "nested seeds per model with one record each"
            )
        note = (f"{residual}: runs hold one record each, so the residual sd of the normal likelihood is "
                f"the {residual} noise")
        dropped.pop("ckpt", None)
        log.info(note)
    use_trend = bool(trend)
    if use_trend:
        if t["step"].isna().any() or (per_run < 3).all():
            use_trend = False
            dropped["trend"] = "trend: needs steps and at least three checkpoints in some run; fitted without trend"
    design = Design(
        records=records, likelihood=likelihood, components=tuple(kept), dropped=dropped, designs=designs,
        trend=use_trend, residual=residual, models=models, runs=runs, levels=levels, run_model=run_model,
        run_level=run_level, rec_run=rec_run, x=_centred_log_step(t, rec_run, len(runs), use_trend), data={},
        notes=notes, crossable=tuple(crossable), likelihood_reason=reason,
    )
    _observations(design)
    _weak_components(design)
    for reason in dropped.values():
        log.info(reason)
        if warn:
            warnings.warn(reason, ComponentDroppedWarning, stacklevel=3)
    for note in design.notes:
        log.info(note)
        if warn:
            warnings.warn(note, UserWarning, stacklevel=3)
    return design


def _weak_components(design: Design) -> None:
    """A note for every kept sd that the data inform through a single contrast."""
    for col in ("model", "seed", "data_order"):
        if col not in design.components or design.residual == col or design.df(col) != 1:
            continue
        if col == "model":
            design.notes.append(
                "model: two models, so sigma_model (the between-model sd) rests on one difference and its "
                "posterior leans on the prior, as does snr_pop (superpopulation SNR); signal, snr and "
                "prob_superior (about these two models) are identified by the data"
            )
        else:
            design.notes.append(
                f"{col}: a single replicated contrast (e.g. one model with two {col} labels), so "
                f"sigma_{SHORT[col]} rests on one difference and its posterior leans on the prior; total_sd "
                "and snr_total inherit that uncertainty"
            )


def _tied(runs_tab: pd.DataFrame) -> bool:
    """Within every model, seeds and data orders pair one to one (the usual 'order = seed')."""
    g = runs_tab.assign(pair=runs_tab["seed"].astype(str) + "\x00" + runs_tab["data_order"].astype(str))
    stats = g.groupby("unit").agg(s=("seed", "nunique"), o=("data_order", "nunique"), p=("pair", "nunique"))
    return bool(((stats["s"] == stats["p"]) & (stats["o"] == stats["p"])).all())


def _residual_from_runs(kept, designs, run_level, n_runs) -> str | None:
    for col in ("data_order", "seed"):
        if col in kept and designs[col] == "nested" and len(np.unique(run_level[col])) == n_runs:
            kept.remove(col)
            kept.append(col)  # kept last: its sigma is the residual
            return col
    return None


def dispersion(records: Records, n_boot: int = 999) -> tuple[float, float]:
    """Within-run dispersion of the counts against binomial item sampling, and its p-value.

    Statistic: Pearson's ``X = sum_c (y_c - n_c p_r)^2 / (n_c p_r (1 - p_r))`` over the records
    of every run, with ``p_r`` the run's pooled proportion; ``ratio = X / df``, df = sum over
    runs of (records - 1). A ratio well below 1 means checkpoints vary less than independent
    binomial item samples would: the records share one item set, so item sampling is not
    per-record noise and a binomial likelihood would overstate the noise.

    ``p`` = P(X* <= X) under the binomial null, by parametric bootstrap (``n_boot`` data sets
    drawn with ``p_r``, seeded from the data so the answer is reproducible). Exact where the
    chi-square reference and the empirical logits are not: near a ceiling (n p < 10) the
    empirical-logit version of this test fired on 12-97% of purely binomial data sets.
    Returns (nan, nan) without replicated runs.
    """
    t = records.table
    n = np.rint(t["n_items"].to_numpy(dtype=float)).astype(np.int64)
    y = np.rint(t["value"].to_numpy(dtype=float) * n).astype(np.int64)
    run = pd.factorize(t["run"])[0]
    cnt = np.bincount(run)
    df = int((cnt - 1).sum())
    if df < 1:
        return np.nan, np.nan

    onehot = np.zeros((len(y), len(cnt)))
    onehot[np.arange(len(y)), run] = 1.0
    n_run = np.bincount(run, n)

    def stat(yy):  # yy: (..., records)
        p_run = (yy @ onehot) / n_run
        p = p_run[..., run]
        v = n * p * (1 - p)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(v > 0, (yy - n * p) ** 2 / np.where(v > 0, v, 1.0), 0.0)
        return terms.sum(-1)

    x_obs = float(stat(y))
    p_hat = np.bincount(run, y) / np.bincount(run, n)
    rng = np.random.default_rng(int(y.sum()) * 7919 + len(y))
    boot = stat(rng.binomial(n, p_hat[run], size=(n_boot, len(y))))
    p_value = float((1 + np.sum(boot <= x_obs)) / (n_boot + 1))
    return x_obs / df, p_value


def expected_counts(records: Records) -> np.ndarray:
    """``n min(p_r, 1 - p_r)`` per record, with ``p_r`` the run's pooled proportion."""
    t = records.table
    n = t["n_items"].to_numpy(dtype=float)
    y = t["value"].to_numpy(dtype=float) * n
    run = pd.factorize(t["run"])[0]
    p = ((np.bincount(run, y) + 0.5) / (np.bincount(run, n) + 1.0))[run]
    return n * np.minimum(p, 1 - p)


def _resolve_likelihood(records: Records, likelihood: str, notes: list, dropped: dict) -> tuple[str, str]:
    """The likelihood to fit and why (``likelihood="auto"``: before any fit; the fit may then
    switch to a robust one when its posterior predictive checks flag heavy tails)."""
    if likelihood == "auto":
        if not (records.bounded and records.has_items):
            return "normal", "likelihood: normal (a continuous metric, or no item counts)"
        ratio, p = dispersion(records)
        if p < 0.01:
            dropped["items"] = (
                f"items: scores vary across checkpoints only {ratio:.2f} times as much as independent binomial "
                f"item samples would (bootstrap p = {p:.3f}; the records share one item set), so item sampling is "
                "not per-record noise here; fitted with a normal likelihood on the score scale"
            )
            return "normal", f"likelihood: normal (counts under-dispersed against binomial, ratio {ratio:.2f}, p {p:.3f})"
        low = float(expected_counts(records).min())
        if low < MIN_EXPECTED_COUNT:
            return "binomial", (f"likelihood: binomial (exact; the fewest expected correct or wrong answers in a run "
                                f"is {low:.1f} < {MIN_EXPECTED_COUNT:g}, where the empirical-logit approximation fails)")
        return "logit_normal", (f"likelihood: logit_normal (dispersion ratio {ratio:.2f} against binomial, p "
                                f"{p:.2f}; at least {low:.0f} expected correct and wrong answers per run)")
    if likelihood in BINOMIAL_LIKELIHOODS:
        if not records.has_items:
            raise DataError(
                f"likelihood {likelihood!r} needs column 'n_items' (the benchmark size) on every record of task "
                f"{records.task!r}; use likelihood='normal' for scores without item counts"
            )
        v = records.table["value"].to_numpy()
        if ((v < 0) | (v > 1)).any():
            raise DataError(f"likelihood {likelihood!r} needs proportions in [0, 1] in column 'value' "
                            f"(metric {records.metric!r}); use 'normal' or 'student_t'")
        ratio, p = dispersion(records)
        if p < 0.01:
            notes.append(f"scores vary across checkpoints only {ratio:.2f} times as much as independent binomial "
                         f"item samples would: the binomial term of likelihood {likelihood!r} overstates the noise "
                         "(the records share one item set); likelihood='normal' estimates it from the data")
    return likelihood, f"likelihood: {likelihood} (chosen by the user)"


def _centred_log_step(t: pd.DataFrame, rec_run, n_runs: int, trend: bool) -> np.ndarray:
    """log(1 + step) minus its mean within the run: the run effect is the window mean."""
    if not trend:
        return np.zeros(len(t))
    ls = np.log1p(t["step"].to_numpy(dtype=float))
    mean = np.bincount(rec_run, ls, minlength=n_runs) / np.bincount(rec_run, minlength=n_runs)
    return ls - mean[rec_run]


def empirical_logits(y, n, rec_run):
    """``(ell, known_var, p)`` per record: the empirical logit ``log((y + 0.5) / (n - y + 0.5))``,
    its binomial variance at the run's pooled proportion ``p`` (see :func:`_observations`), and p."""
    y, n = np.asarray(y, dtype=float), np.asarray(n, dtype=float)
    p = ((np.bincount(rec_run, y) + 0.5) / (np.bincount(rec_run, n) + 1.0))[rec_run]
    npq = n * p * (1 - p)
    # Var of the empirical logit: 1/(npq) to first order; the second-order term
    # (1 - 4pq) / (2 npq) (checked against the exact binomial sum) matters near 0 and 1
    known = (1.0 + (1.0 - 4.0 * p * (1 - p)) / (2.0 * npq)) / npq
    return np.log((y + 0.5) / (n - y + 0.5)), known, p


def _observations(design: Design) -> None:
    """Data arrays of the likelihood.

    ``logit_normal``: the empirical logit ``log((y + 0.5) / (n - y + 0.5))`` of each record
    with its binomial variance known, ``(1 + (1 - 4 p q) / (2 n p q)) / (n p q)`` with
    ``p = p_r`` pooled over the run's records (so the variance carries no per-record noise)
    and ``q = 1 - p``; checkpoint noise adds to it, so the per-record effects are integrated
    out analytically.
    """
    t = design.records.table
    value = t["value"].to_numpy(dtype=float)
    if design.link == "logit":
        n = t["n_items"].to_numpy(dtype=float)
        y = value * n
        if design.likelihood not in ELOGIT_LIKELIHOODS:
            design.data = {"y": np.rint(y).astype(np.int64), "n": np.rint(n).astype(np.int64)}
        else:
            ell, known, p = empirical_logits(y, n, design.rec_run)
            design.data = {"ell": ell, "known_var": known}
            low = np.minimum(n * p, n * (1 - p))
            if low.min() < MIN_EXPECTED_COUNT:
                design.notes.append(
                    f"some runs have fewer than {MIN_EXPECTED_COUNT:g} expected correct (or wrong) answers (min "
                    f"{low.min():.1f}); the empirical-logit approximation fails there (variance overstated, logit "
                    "biased): use likelihood='binomial' (the default 'auto' does)"
                )
        design.n_bar = float(np.mean(n))
    else:
        center, scale = float(np.mean(value)), float(np.std(value))
        if scale == 0:
            raise DataError(f"every record of task {design.records.task!r} has the same value {value[0]}; "
                            "there is no variance to decompose")
        design.center, design.scale = center, scale
        design.data = {"y": (value - center) / scale}
