"""Fitting the judge model and reading it: :func:`fit_judges` -> :class:`JudgeFit`.

The posterior's population parameters (discrimination ``k``, position bias ``beta``,
perception sd ``tau``, the subsets' gap distributions, the raters' thresholds) are sampled
with :func:`snrstat.inference.sample`; the judge-level quantities of
:mod:`snrstat.judges.quantities` (accuracy, flip rate, share for the answer shown first,
judge SNR, and isolated rating against pairwise comparison) are computed per draw and stored
in the posterior, so ``summary()`` gives them with intervals, R-hat and ESS, and with the
simple counts on the raw verdicts as the ``point`` column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from scipy import special

from snrstat.inference import Fit, SamplerSettings, diagnose, register_fit, sample
from snrstat.inference.intervals import check_level, median_interval
from snrstat.judges import quantities as Q
from snrstat.judges.counts import counterpart, judge_counts, mode_comparison_counts
from snrstat.judges.model import POPULATION_VARS, build_model, data_arrays, model_terms, structure_key
from snrstat.judges.spec import JudgeDesign, JudgePriors, judge_design, select_judgments
from snrstat.schema import DataError

#: Per-cell quantities stored in the posterior (dims chain, draw, cell).
CELL_QUANTITIES = ("accuracy", "flip", "first", "snr")
#: Rating-against-pairwise contrasts (dims chain, draw, comparison).
COMPARISONS = ("accuracy_diff", "agreement_diff", "snr_ratio")


@register_fit
class JudgeFit(Fit):
    """A fitted judge model (Zheng et al. 2023; Zeng et al. 2024).

    ``summary()`` rows, per (judge, strategy) cell ``judge|strategy``: ``accuracy``, ``flip``,
    ``first``, ``snr`` (point = the raw count, NaN for SNR), ``k``, ``beta``; per judge ``tau``;
    per subset ``mu_subset``, ``sigma_subset``; and per judge with both modes
    ``accuracy_diff``, ``agreement_diff`` (rating minus pairwise; agreement = 1 - flip) and
    ``snr_ratio`` (rating over pairwise) on the same pairs. Methods: :meth:`cells`,
    :meth:`compare_counts`, :meth:`mode_comparison`, :meth:`items_needed`, :meth:`power`.
    """

    kind = "judges"
    summary_vars = CELL_QUANTITIES + COMPARISONS + ("k", "beta", "tau", "shift", "mu_subset", "sigma_subset", "sigma_level", "omega")

    # ------------------------------------------------------------------ structure
    @property
    def cells(self) -> list[str]:
        return [str(c) for c in self.idata.posterior["cell"].values]

    def _const(self, name):
        return np.asarray(self.idata.constant_data[name].values)

    def _flat(self, name, max_draws=None):
        post = self.idata.posterior
        if name not in post:
            return None
        da = post[name].stack(sample=("chain", "draw"))
        arr = np.asarray(da.transpose("sample", *[d for d in da.dims if d != "sample"]).values, dtype=float)
        if max_draws is not None and arr.shape[0] > max_draws:
            arr = arr[np.linspace(0, arr.shape[0] - 1, max_draws).astype(int)]
        return arr

    def cell_table(self, level: float | None = None) -> pd.DataFrame:
        """One row per (judge, strategy): mode, median and interval of accuracy, flip, first, snr,
        k and beta, next to the raw counts (``*_count``)."""
        level = self.level if level is None else check_level(level)
        rows = []
        post = self.idata.posterior
        modes = self._const("cell_mode")
        for i, cell in enumerate(self.cells):
            judge, strategy = cell.split("|", 1)
            row = {"judge": judge, "strategy": strategy, "mode": str(modes[i])}
            for q in CELL_QUANTITIES + ("k",):
                med, lo, hi = median_interval(post[q].sel(cell=cell).values, level)
                row.update({q: med, f"{q}_lo": lo, f"{q}_hi": hi})
            if str(modes[i]) == "pairwise":
                med, lo, hi = median_interval(post["beta"].sel(pairwise_cell=cell).values, level)
            else:
                med = lo = hi = np.nan
            row.update(beta=med, beta_lo=lo, beta_hi=hi)
            for q in ("accuracy", "flip", "first"):
                row[f"{q}_count"] = self.point.get(f"{q}[{cell}]", np.nan)
            rows.append(row)
        return pd.DataFrame(rows).set_index(["judge", "strategy"])

    def compare_counts(self, level: float | None = None) -> pd.DataFrame:
        """Model against simple counts, per cell and quantity: count, median, interval, and whether
        the count lies inside the interval (a check of the model, not a validation of it)."""
        level = self.level if level is None else check_level(level)
        s = self.summary(level)
        rows = []
        for q in ("accuracy", "flip", "first"):
            for cell in self.cells:
                key = f"{q}[{cell}]"
                r = s.loc[key]
                rows.append({"quantity": q, "cell": cell, "count": r["point"], "median": r["median"], "lo": r["lo"],
                             "hi": r["hi"], "inside": bool(r["lo"] <= r["point"] <= r["hi"]),
                             "difference": r["median"] - r["point"]})
        return pd.DataFrame(rows)

    def mode_comparison(self, level: float | None = None) -> pd.DataFrame:
        """Isolated rating against pairwise comparison by the same judge on the same pairs: the
        differences in accuracy and self-agreement (rating minus pairwise) and the SNR ratio, with
        P(rating is better), next to the raw counts."""
        level = self.level if level is None else check_level(level)
        post = self.idata.posterior
        if "comparison" not in post.dims:
            return pd.DataFrame()
        rows = []
        for comp in [str(c) for c in post["comparison"].values]:
            judge, pair = comp.split("|", 1)
            rating, pairwise = pair.split(" vs ", 1)
            row = {"judge": judge, "rating": rating, "pairwise": pairwise}
            for q in COMPARISONS:
                v = post[q].sel(comparison=comp).values
                med, lo, hi = median_interval(v, level)
                row.update({q: med, f"{q}_lo": lo, f"{q}_hi": hi,
                            f"p_rating_better_{q.split('_')[0]}": float(np.mean(v > (1.0 if q == "snr_ratio" else 0.0)))})
                row[f"{q}_count"] = self.point.get(f"{q}[{comp}]", np.nan)
            rows.append(row)
        return pd.DataFrame(rows)

    # ------------------------------------------------------------------ planning
    def _cell_params(self, cell: str, max_draws: int):
        if cell not in self.cells:
            raise DataError(f"cell {cell!r} not in this fit; cells are 'judge|strategy': {self.cells}")
        i = self.cells.index(cell)
        if str(self._const("cell_mode")[i]) != "pairwise":
            raise DataError(f"planning uses pairwise verdicts; {cell!r} is a rating strategy")
        k = self._flat("k", max_draws)[:, i]
        pw = [str(c) for c in self.idata.posterior["pairwise_cell"].values]
        beta = self._flat("beta", max_draws)[:, pw.index(cell)]
        judges = [str(j) for j in self.idata.posterior["judge"].values]
        tau = self._flat("tau", max_draws)[:, judges.index(cell.split("|", 1)[0])]
        sig = np.sqrt((self._flat("sigma_subset", max_draws) ** 2).mean(axis=1))
        return k, beta, tau, sig

    def items_needed(self, cell: str, gap=(0.25, 0.5, 1.0), *, power: float = 0.8, alpha: float = 0.05,
                     orders: str = "both", repeats: int = 1, judges: int = 1, level: float | None = None,
                     max_draws: int = 1000) -> pd.DataFrame:
        """Pairs (items) needed to tell which of two systems is better with ``power``.

        ``gap``: the systems' mean quality difference in the model's latent units (the item gaps
        of this fit have a pooled within-subset sd of about ``sigma_subset``; pairs of the two
        systems spread around ``gap`` with that sd). Each pair is judged by ``judges`` judges
        like ``cell``, ``repeats`` times, in both orders or one (see
        :func:`snrstat.judges.quantities.verdict_moments`). Also reports the gain of judging
        both orders: ``gain_items`` = items needed with one (random) order over items needed
        with both, and ``gain_verdicts`` = the same per verdict (both orders cost two verdicts
        per repeat): above 1 when averaging the orders cancels position bias.
        """
        level = self.level if level is None else check_level(level)
        k, beta, tau, sig = self._cell_params(cell, max_draws)
        rows = []
        for g in np.atleast_1d(gap):
            m, v = Q.verdict_moments(k, beta, tau, float(g), sig, orders=orders, repeats=repeats, judges=judges)
            n = Q.items_from_moments(m, v, power, alpha)
            m1, v1 = Q.verdict_moments(k, beta, tau, float(g), sig, orders="one", repeats=repeats, judges=judges)
            m2, v2 = Q.verdict_moments(k, beta, tau, float(g), sig, orders="both", repeats=repeats, judges=judges)
            ratio = Q.items_from_moments(m1, v1, power, alpha) / Q.items_from_moments(m2, v2, power, alpha)
            med, lo, hi = median_interval(n, level)
            rmed, rlo, rhi = median_interval(ratio, level)
            rows.append({"cell": cell, "gap": float(g), "orders": orders, "repeats": repeats, "judges": judges,
                         "items": med, "items_lo": lo, "items_hi": hi, "gain_items": rmed,
                         "gain_items_lo": rlo, "gain_items_hi": rhi, "gain_verdicts": rmed / 2,
                         "gain_verdicts_lo": rlo / 2, "gain_verdicts_hi": rhi / 2})
        return pd.DataFrame(rows)

    def power(self, cell: str, n_items, gap: float = 0.5, *, alpha: float = 0.05, orders: str = "both",
              repeats: int = 1, judges: int = 1, level: float | None = None, max_draws: int = 1000) -> pd.DataFrame:
        """Power to order two systems ``gap`` apart with ``n_items`` pairs (median and interval over draws)."""
        level = self.level if level is None else check_level(level)
        k, beta, tau, sig = self._cell_params(cell, max_draws)
        m, v = Q.verdict_moments(k, beta, tau, float(gap), sig, orders=orders, repeats=repeats, judges=judges)
        rows = []
        for n in np.atleast_1d(n_items):
            med, lo, hi = median_interval(Q.power_from_moments(m, v, int(n), alpha), level)
            rows.append({"cell": cell, "gap": gap, "n_items": int(n), "orders": orders, "repeats": repeats,
                         "judges": judges, "power": med, "power_lo": lo, "power_hi": hi})
        return pd.DataFrame(rows)

    def to_dict(self, level: float | None = None) -> dict:
        """Everything a JSON reader needs: cells, comparisons, counts, diagnostics, config."""
        level = self.level if level is None else check_level(level)
        cells = self.cell_table(level).reset_index()
        comp = self.mode_comparison(level)
        d = self.diagnostics
        return {"kind": self.kind, "level": level, "config": self.config,
                "cells": cells.to_dict(orient="records"), "mode_comparison": comp.to_dict(orient="records"),
                "diagnostics": None if d is None else d.to_dict()}


def _draws_for_quantities(idata, design: JudgeDesign) -> Q.Draws:
    post = idata.posterior
    n = post.sizes["chain"] * post.sizes["draw"]

    def flat(name, fill_shape=None):
        if name not in post:
            return None if fill_shape is None else np.zeros((n,) + fill_shape)
        da = post[name].stack(sample=("chain", "draw"))
        return np.asarray(da.transpose("sample", *[d for d in da.dims if d != "sample"]).values, dtype=float)

    beta = np.zeros((n, len(design.cells)))
    if "beta" in post:
        beta[:, design.pairwise_cells] = flat("beta")
    return Q.Draws(gap=flat("gap"), k=flat("k"), beta=beta, tau=flat("tau"), level=flat("level"),
                   cutpoints=flat("cutpoints"), sigma_subset=flat("sigma_subset"), mu_subset=flat("mu_subset"),
                   item_subset=np.asarray(design.item_subset, dtype=int), shift=flat("shift"), omega=flat("omega"))


def cell_items(design: JudgeDesign) -> np.ndarray:
    """(cell, item) mask: which items each cell judged."""
    mask = np.zeros((len(design.cells), len(design.items)), dtype=bool)
    mask[design.pw_cell, design.pw_item] = True
    mask[design.rt_cell, design.rt_item] = True
    return mask


def comparisons(design: JudgeDesign) -> list[tuple[int, int]]:
    """(rating cell, pairwise cell) of the same judge: LLMBar's Rating -> Vanilla, Rating_X -> X."""
    out = []
    for r in design.rating_cells:
        judge, strategy = design.cells[r]
        pairwise = [design.cells[c][1] for c in design.pairwise_cells if design.cells[c][0] == judge]
        partner = counterpart(strategy, pairwise)
        if partner is not None:
            out.append((int(r), design.cells.index((judge, partner))))
    return out


def add_quantities(idata, design: JudgeDesign, nodes: int = Q.QUAD_NODES) -> None:
    """Compute the cell quantities and mode contrasts for every draw and store them in the posterior."""
    draws = _draws_for_quantities(idata, design)
    mask = cell_items(design)
    post = idata.posterior
    shape = (post.sizes["chain"], post.sizes["draw"])
    values = {q: np.empty(shape + (len(design.cells),)) for q in CELL_QUANTITIES}
    rjudges = design.rating_judges
    per_cell = {}
    for c, (judge, _) in enumerate(design.cells):
        items = np.flatnonzero(mask[c])
        j = design.judges.index(judge)
        if design.cell_mode[c] == "pairwise":
            out = Q.pairwise_cell(draws, c, j, items, design.item_sign, nodes)
        else:
            out = Q.rating_cell(draws, c, j, rjudges.index(judge), items, design.item_sign)
        per_cell[c] = out
        for q in CELL_QUANTITIES:
            values[q][..., c] = out[q].reshape(shape)
    coords = {"chain": post["chain"].values, "draw": post["draw"].values, "cell": design.cell_labels}
    for q in CELL_QUANTITIES:
        post[q] = xr.DataArray(values[q], dims=("chain", "draw", "cell"), coords=coords)
    pairs = comparisons(design)
    if pairs:
        labels = [f"{design.cells[r][0]}|{design.cells[r][1]} vs {design.cells[p][1]}" for r, p in pairs]
        ccoords = {"chain": post["chain"].values, "draw": post["draw"].values, "comparison": labels}
        contrasts = {"accuracy_diff": [], "agreement_diff": [], "snr_ratio": []}
        for r, p in pairs:
            # the same pairs: recompute a cell on the pairs both judged where it judged others too
            both = mask[r] & mask[p]
            items = np.flatnonzero(both)
            j = design.judges.index(design.cells[r][0])
            rr = per_cell[r] if np.array_equal(both, mask[r]) else \
                Q.rating_cell(draws, r, j, rjudges.index(design.cells[r][0]), items, design.item_sign)
            pp = per_cell[p] if np.array_equal(both, mask[p]) else \
                Q.pairwise_cell(draws, p, j, items, design.item_sign, nodes)
            contrasts["accuracy_diff"].append(rr["accuracy"] - pp["accuracy"])
            contrasts["agreement_diff"].append(pp["flip"] - rr["flip"])
            contrasts["snr_ratio"].append(rr["snr"] / pp["snr"])
        for q, vals in contrasts.items():
            post[q] = xr.DataArray(np.stack(vals, axis=-1).reshape(shape + (len(pairs),)),
                                   dims=("chain", "draw", "comparison"), coords=ccoords)


def _points(rows: pd.DataFrame, design: JudgeDesign) -> dict:
    counts = judge_counts(rows)
    point = {}
    for judge, strategy in design.cells:
        label = f"{judge}|{strategy}"
        if (judge, strategy) in counts.index:
            r = counts.loc[(judge, strategy)]
            point[f"accuracy[{label}]"] = float(r["accuracy"])
            point[f"flip[{label}]"] = float(r["flip_rate"])
            point[f"first[{label}]"] = float(r["first_rate"])
    mc = mode_comparison_counts(rows)
    for _, r in mc.iterrows():
        label = f"{r['judge']}|{r['rating']} vs {r['pairwise']}"
        point[f"accuracy_diff[{label}]"] = float(r["accuracy_diff"])
        point[f"agreement_diff[{label}]"] = float(r["agreement_diff"])
    return point


def fit_judges(judgments: pd.DataFrame, *, subsets=None, strategies=None, judges=None, repeats: str = "auto",
               priors: JudgePriors | None = None, settings: SamplerSettings | dict | None = None,
               level: float = 0.9, categories=None, **sampler) -> JudgeFit:
    """Fit the judge model to a judgment frame (:func:`snrstat.read_judgments`).

    ``subsets``, ``strategies``, ``judges`` select records (None = all; an entry ending in '/'
    or '*' is a prefix); ``repeats`` reads repeated verdicts as independent ("all"), keeps the
    first ("first"), or ("auto", default) makes follow-up rounds their own strategy
    (:func:`snrstat.judges.spec.select_judgments`). ``settings``
    or keyword overrides (``random_seed``, ``draws``, ``tune``, ``chains``, ...) set the sampler
    (:class:`snrstat.inference.SamplerSettings`). ``categories``: the rating scale (default: the scores seen).
    """
    settings = SamplerSettings.build(settings, **sampler)
    level = check_level(level)
    priors = priors or JudgePriors()
    rows, design = judge_selection(judgments, subsets=subsets, strategies=strategies, judges=judges,
                                   repeats=repeats, categories=categories)
    idata = sample_judge_posterior(design, priors, settings)
    return finish_judge_fit(idata, rows, design, priors=priors, settings=settings, level=level)


def judge_selection(judgments: pd.DataFrame, *, subsets=None, strategies=None, judges=None, repeats: str = "auto",
                    categories=None) -> tuple[pd.DataFrame, JudgeDesign]:
    """The selected rows and the model's design, as :func:`fit_judges` builds them (same arguments)."""
    rows = select_judgments(judgments, subsets=subsets, strategies=strategies, judges=judges, repeats=repeats)
    design = judge_design(rows, repeats="all", categories=categories)  # rows are selected already
    design.selection.update({"subsets": None if subsets is None else list(np.atleast_1d(subsets)),
                             "strategies": None if strategies is None else list(np.atleast_1d(strategies)),
                             "judges": None if judges is None else list(np.atleast_1d(judges)), "repeats": repeats})
    return rows, design


def sample_judge_posterior(design: JudgeDesign, priors: JudgePriors, settings: SamplerSettings):
    """The judge model's posterior as sampled, before :func:`finish_judge_fit`: to save a long
    fit's draws first, or to sample it in parts and join them (:func:`snrstat.inference.merge_chains`)."""
    return sample(lambda: build_model(design, priors), settings, key=structure_key(design, priors),
                  data=data_arrays(design), keep=lambda v: not v.startswith(("z_", "log_k")))


def finish_judge_fit(idata, rows: pd.DataFrame, design: JudgeDesign, *, priors: JudgePriors,
                     settings: SamplerSettings, level: float = 0.9) -> JudgeFit:
    """The steps of :func:`fit_judges` after sampling: the design as constant data, the cell
    quantities for every draw, diagnostics and the model checks. Separate so that a long fit's
    posterior, saved as sampled, can be finished again without resampling."""
    mask = cell_items(design)
    const = xr.Dataset({
        "item_sign": ("item", design.item_sign), "item_subset": ("item", design.item_subset),
        "cell_mode": ("cell", np.array(design.cell_mode, dtype=str)), "cell_items": (("cell", "item"), mask),
    }, coords={"item": design.items, "cell": design.cell_labels})
    if "constant_data" in idata.groups():
        idata.constant_data = idata.constant_data.drop_vars(list(const.data_vars), errors="ignore").merge(const)
    else:
        idata.add_groups(constant_data=const)
    add_quantities(idata, design)
    diag_vars = [v for v in POPULATION_VARS + ("gap", "level") + CELL_QUANTITIES + COMPARISONS if v in idata.posterior]
    diagnostics = diagnose(idata, diag_vars, advice={
        "divergences": "refit with a higher target_accept (settings=SamplerSettings(target_accept=0.99)) or "
                       "select fewer strategies"})
    config = {"selection": design.selection, "design": design.counts(), "notes": design.notes,
              "priors": vars(priors).copy(), "terms": model_terms(design, priors), "settings": settings.to_dict(),
              "categories": design.categories, "subsets": design.subsets, "judges": design.judges}
    fit = JudgeFit(idata, config, diagnostics, _points(rows, design), level)
    fit.diagnostics.checks.extend(count_checks(fit, mask.sum(axis=1)))
    fit.diagnostics.checks.extend(agreement_checks(fit, design, random_seed=settings.random_seed))
    return fit


#: A raw count further than this many predictive sds from the model is a misfit (two-sided 1%).
COUNT_CHECK_Z = 2.576


def count_checks(fit: JudgeFit, pairs_per_cell: np.ndarray) -> list[str]:
    """An approximate posterior predictive check of the simple counts: for each cell and each of
    accuracy, flip rate and first-answer rate, the raw count against the model's expectation with
    the posterior sd and the binomial sd of a count over that cell's pairs added in quadrature
    (pairs, not verdicts: the two orders of a pair are not independent, so this errs wide).
    Counts outside the central 99% range mean the model does not capture how these cells
    differ; their intervals should not be read as the judge's."""
    post = fit.idata.posterior
    found = []
    for q in ("accuracy", "flip", "first"):
        bad = []
        for c, cell in enumerate(fit.cells):
            count = fit.point.get(f"{q}[{cell}]", np.nan)
            if not np.isfinite(count):
                continue
            v = np.asarray(post[q].sel(cell=cell).values, dtype=float).ravel()
            m = float(np.median(v))
            sd = np.sqrt(v.var() + m * (1 - m) / max(1, int(pairs_per_cell[c])))
            z = (count - m) / sd if sd > 0 else 0.0
            if abs(z) > COUNT_CHECK_Z:
                bad.append((abs(z), cell, count, m))
        if bad:
            bad.sort(reverse=True)
            worst = ", ".join(f"{cell} (count {count:.3f}, model {m:.3f})" for _, cell, count, m in bad[:3])
            found.append(f"the raw {q} of {len(bad)} of {len(fit.cells)} judge|strategy cells lies outside the model's "
                         f"99% predictive range: {worst}; the model does not capture how these cells differ (for "
                         "isolated ratings, scores that tie more often than a judge-wide scale with a per-call offset "
                         "allows; for pairwise cells, a strategy whose verdicts are not one independent verdict per "
                         "order): read these cells by their counts, or fit fewer strategies together")
    return found


#: Pairs with fewer pairwise verdicts than this are left out of the agreement check, and
#: subsets with fewer such pairs than AGREEMENT_MIN_PAIRS are not checked.
AGREEMENT_MIN_VERDICTS = 4
AGREEMENT_MIN_PAIRS = 20
#: Bins of a pair's share of verdicts for gold: none, up to 1/4, 1/2, 3/4, below all, all.
AGREEMENT_BINS = ("none", "(0, 1/4]", "(1/4, 1/2]", "(1/2, 3/4]", "(3/4, 1)", "all")


def _agreement_histogram(right, pair, n_v, used, subset, n_subsets):
    """(subset, bin) counts of pairs by their share of verdicts for gold."""
    share = np.bincount(pair, weights=right, minlength=n_v.size) / np.maximum(n_v, 1)
    bins = np.where(share == 0, 0, np.where(share == 1, 5, 1 + np.minimum(3, np.ceil(share * 4) - 1))).astype(int)
    hist = np.zeros((n_subsets, len(AGREEMENT_BINS)))
    np.add.at(hist, (subset[used], bins[used]), 1)
    return hist


def agreement_checks(fit: JudgeFit, design: JudgeDesign, *, random_seed: int = 0, max_draws: int = 200) -> list[str]:
    """A posterior predictive check of the model's normal population of pairs (Gelman, Meng &
    Stern 1996): per subset, the histogram of the pairs' shares of pairwise verdicts for gold
    against that of fresh pairs from the fitted population (new gaps and perception errors,
    the same cells and orders per pair), by a chi-square discrepancy. The normal is what
    ``sigma_subset``, ``items_needed`` and ``power`` draw new pairs from; excess unanimous pairs
    mean gaps with heavy tails or traps every judge falls into (or wrong gold labels)."""
    if not design.has_gold or design.pw_y.size == 0:
        return []
    n_items, n_subsets = len(design.items), len(design.subsets)
    sign = np.asarray(design.item_sign, dtype=float)
    gold_first = sign[design.pw_item] > 0
    n_v = np.bincount(design.pw_item, minlength=n_items)
    used = n_v >= AGREEMENT_MIN_VERDICTS
    subset = np.asarray(design.item_subset, dtype=int)
    d = _draws_for_quantities(fit.idata, design)
    take = np.linspace(0, d.k.shape[0] - 1, min(max_draws, d.k.shape[0])).astype(int)
    rng = np.random.default_rng([int(random_seed), 8])
    pc_subset = subset[design.pc_item]
    shift = d.shift if d.shift is not None else np.zeros_like(d.k)
    reps = []
    for s in take:
        gap = d.sigma_subset[s, subset] * rng.standard_normal(n_items)
        x = (d.mu_subset[s, design.pc_judge, pc_subset] + gap[design.pc_item]
             + d.tau[s, design.pc_judge] * rng.standard_normal(design.pc_item.size))
        eta = (d.k[s, design.pw_cell] * (x[design.pw_pc] + shift[s, design.pw_cell]) * sign[design.pw_item]
               + d.beta[s, design.pw_cell] * design.pw_order)
        first = rng.random(eta.size) < special.expit(eta)
        reps.append(_agreement_histogram(first == gold_first, design.pw_item, n_v, used, subset, n_subsets))
    reps = np.array(reps)                                              # (draw, subset, bin)
    obs = _agreement_histogram((design.pw_y == 1) == gold_first, design.pw_item, n_v, used, subset, n_subsets)
    expected = reps.mean(axis=0) + 0.5                                 # +0.5: no empty bins in the divisor
    t_obs = ((obs - expected) ** 2 / expected).sum(axis=1)
    t_rep = ((reps - expected) ** 2 / expected).sum(axis=2)
    found = []
    for g, name in enumerate(design.subsets):
        if obs[g].sum() < AGREEMENT_MIN_PAIRS:
            continue
        p = float(np.mean(t_rep[:, g] >= t_obs[g]))
        if p < 0.01:
            excess = np.argsort(-(obs[g] - expected[g]))[:2]
            where = ", ".join(f"{AGREEMENT_BINS[b]} for gold: {obs[g, b]:.0f} pairs (model {expected[g, b] - 0.5:.0f})"
                              for b in excess)
            found.append((p, f"{name} (p {p:.3f}; {where})"))
    if not found:
        return []
    found.sort()
    return [f"how the pairs' verdicts split for and against gold differs from the model's normal population of pairs in "
            f"{len(found)} of {n_subsets} subsets: {'; '.join(f for _, f in found[:3])}. Excess pairs where all verdicts "
            "agree (for or against gold) mean gaps with heavy tails, or traps every judge falls into (or wrong gold "
            "labels); excess near one half, pairs the judges cannot tell apart. The per-cell rates average over "
            "these pairs and stay usable; sigma_subset, items_needed and power, which draw new pairs from the "
            "normal, describe a typical pair, not these"]
