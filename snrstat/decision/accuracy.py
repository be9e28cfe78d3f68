"""Decision accuracy as a posterior distribution.

Decision accuracy (Heineman et al. 2025) is the fraction of model pairs whose order at a
small scale agrees with their order at the target scale. Here it is a function of the
*true* model means: for every posterior draw of the means at both scales, count the pairs
ordered the same, so the result is a distribution with a credible interval, next to the
paper's point estimate from observed scores.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from snrstat.decision._draws import check_model_draws, fit_draws, interval
from snrstat.decision._pairs import check_same_models, pair_indices, point_decision_accuracy
from snrstat.schema import DataError


@dataclass(frozen=True)
class DecisionSummary:
    """Median and equal-tailed credible interval of decision accuracy, the point estimate, pairs."""

    median: float
    lo: float
    hi: float
    level: float
    mean: float
    point: float | None
    n_models: int
    n_pairs: int
    pairs: pd.DataFrame = field(repr=False)

    def to_dict(self) -> dict:
        out = {k: getattr(self, k) for k in ("median", "lo", "hi", "level", "mean", "point", "n_models", "n_pairs")}
        out["pairs"] = self.pairs.to_dict(orient="records")
        return out


@dataclass(frozen=True)
class DecisionResult:
    """Posterior decision accuracy between two scales.

    Attributes
    ----------
    accuracy : DataArray (chain, draw)
        Fraction of model pairs ordered the same at both scales, per draw.
    pair_agreement : DataArray (pair)
        P(the pair is ordered the same at both scales); coords ``model_a``, ``model_b``.
    p_above_small, p_above_target : DataArray (model, model_other)
        P(model's true mean score > model_other's) at each scale ("higher score"; for
        losses such as BPB higher is worse, agreement is unaffected).
    point : float or None
        The paper's point estimate from observed scores, when given.
    """

    accuracy: xr.DataArray
    pair_agreement: xr.DataArray
    p_above_small: xr.DataArray
    p_above_target: xr.DataArray
    point: float | None = None
    point_pairs: np.ndarray | None = field(default=None, repr=False)

    @property
    def models(self) -> list[str]:
        return [str(m) for m in self.p_above_small["model"].values]

    def summary(self, level: float = 0.9) -> DecisionSummary:
        """Median and equal-tailed interval (ends are attainable values: DA lives on a lattice)."""
        med, lo, hi = interval(self.accuracy.values, level, discrete=True)
        pa = self.pair_agreement
        pairs = pd.DataFrame({
            "model_a": pa["model_a"].values.astype(str),
            "model_b": pa["model_b"].values.astype(str),
            "p_agree": pa.values,
            "p_a_above_small": [float(self.p_above_small.sel(model=a, model_other=b)) for a, b in zip(pa["model_a"].values, pa["model_b"].values)],
            "p_a_above_target": [float(self.p_above_target.sel(model=a, model_other=b)) for a, b in zip(pa["model_a"].values, pa["model_b"].values)],
        })
        if self.point_pairs is not None:
            pairs["observed_agree"] = self.point_pairs
        n = len(self.models)
        return DecisionSummary(
            median=med, lo=lo, hi=hi, level=level, mean=float(self.accuracy.mean()),
            point=self.point, n_models=n, n_pairs=n * (n - 1) // 2, pairs=pairs,
        )


def posterior_decision_accuracy(
    means_small: xr.DataArray,
    means_target: xr.DataArray,
    *,
    observed_small=None,
    observed_target=None,
) -> DecisionResult:
    """Posterior of decision accuracy from draws of each model's true mean at two scales.

    ``means_small`` and ``means_target`` have dims (chain, draw, model) and the same model
    names (matched by name, never by position; a DataError lists any model missing from
    either side). Draw d of one is paired with draw d of the other, which keeps the
    dependence of a joint fit (:func:`snrstat.decision.fit_two_scales`, recommended).
    Draws of two independent fits can be passed too, but their prior treats the scales
    as unrelated, so a pair whose order is uncertain agrees with probability near 1/2 and
    the result is biased down when noise is comparable to the gaps between models.
    Per draw the paper's rule ``(s_i > s_j) == (t_i > t_j)`` is applied to every pair i < j.

    ``observed_small``/``observed_target`` (scores keyed by model, e.g. each run's final
    checkpoint as in the paper) give the point estimate printed next to the posterior.
    """
    small = check_model_draws(means_small, "means_small")
    target = check_model_draws(means_target, "means_target")
    models = check_same_models([str(m) for m in small["model"].values], [str(m) for m in target["model"].values])
    if len(models) < 2:
        raise DataError(f"decision accuracy needs at least two models, got {models}")
    target = target.sel(model=models)
    if small.sizes["chain"] != target.sizes["chain"] or small.sizes["draw"] != target.sizes["draw"]:
        raise DataError(
            f"the two posteriors must have the same numbers of chains and draws to be paired draw by draw: "
            f"small {dict(chain=small.sizes['chain'], draw=small.sizes['draw'])}, "
            f"target {dict(chain=target.sizes['chain'], draw=target.sizes['draw'])}"
        )
    s = small.values
    t = target.values
    i, j = pair_indices(len(models))
    above_s = s[..., i] > s[..., j]
    above_t = t[..., i] > t[..., j]
    agree = above_s == above_t
    coords = {"chain": small["chain"].values, "draw": small["draw"].values}
    accuracy = xr.DataArray(agree.mean(axis=-1), dims=("chain", "draw"), coords=coords, name="decision_accuracy")
    pair_names = [f"{models[a]} vs {models[b]}" for a, b in zip(i, j)]
    pair_agreement = xr.DataArray(
        agree.mean(axis=(0, 1)), dims=("pair",),
        coords={"pair": pair_names, "model_a": ("pair", [models[a] for a in i]), "model_b": ("pair", [models[b] for b in j])},
        name="pair_agreement",
    )
    result = dict(
        accuracy=accuracy,
        pair_agreement=pair_agreement,
        p_above_small=_p_above(s, models),
        p_above_target=_p_above(t, models),
    )
    if (observed_small is None) != (observed_target is None):
        raise DataError("give both observed_small and observed_target for the point estimate, or neither")
    if observed_small is not None:
        from snrstat.decision._pairs import as_score_series

        obs_s = as_score_series(observed_small, "observed_small")
        obs_t = as_score_series(observed_target, "observed_target")
        check_same_models(models, list(obs_s.index), what="observed small-scale model")
        check_same_models(models, list(obs_t.index), what="observed target-scale model")
        result["point"] = point_decision_accuracy(obs_s.loc[models], obs_t.loc[models])
        os_, ot = obs_s.loc[models].to_numpy(), obs_t.loc[models].to_numpy()
        result["point_pairs"] = (os_[i] > os_[j]) == (ot[i] > ot[j])
    return DecisionResult(**result)


def _p_above(values: np.ndarray, models: list[str]) -> xr.DataArray:
    """P(model > model_other) over draws, as a (model, model_other) matrix."""
    p = (values[..., :, None] > values[..., None, :]).mean(axis=(0, 1))
    return xr.DataArray(p, dims=("model", "model_other"), coords={"model": models, "model_other": models})


def _common_draws(a: xr.DataArray, b: xr.DataArray) -> tuple[xr.DataArray, xr.DataArray]:
    """Truncate two independent posteriors to common numbers of chains and draws."""
    n_chain = min(a.sizes["chain"], b.sizes["chain"])
    n_draw = min(a.sizes["draw"], b.sizes["draw"])
    def cut(x):
        x = x.isel(chain=slice(0, n_chain), draw=slice(0, n_draw))
        return x.assign_coords(chain=np.arange(n_chain), draw=np.arange(n_draw))
    return cut(a), cut(b)


def decision_accuracy_from_fits(fit_small, fit_target, point_small=None, point_target=None) -> DecisionResult:
    """:func:`posterior_decision_accuracy` from two fits (one per scale).

    Each fit must offer posterior draws of every model's mean score named ``model_mean``
    with dims (chain, draw, model): the two views ``joint.small``/``joint.target`` of a
    :class:`snrstat.decision.TwoScaleFit` (recommended: the joint posterior), or two
    separate fits (a :class:`snrstat.variance.VarianceFit` or
    :class:`snrstat.decision.NormalMeansFit` per scale; biased down for close pairs, see
    :func:`posterior_decision_accuracy`). Draws are truncated to common chain/draw counts
    and paired by index. ``point_small``/``point_target``
    are observed scores keyed by model; when omitted, each fit's own records give them (the
    mean over a model's runs of each run's final checkpoint, the paper's choice).
    """
    small = check_model_draws(fit_draws(fit_small, "model_mean"), "fit_small model_mean")
    target = check_model_draws(fit_draws(fit_target, "model_mean"), "fit_target model_mean")
    small, target = _common_draws(small, target)
    if point_small is None and point_target is None:
        point_small, point_target = _point_scores(fit_small), _point_scores(fit_target)
        if point_small is None or point_target is None:
            point_small = point_target = None
    return posterior_decision_accuracy(small, target, observed_small=point_small, observed_target=point_target)


def _point_scores(fit):
    """Observed final-checkpoint scores of a fit: ``fit.point_scores``, or from ``fit.records.table``."""
    scores = getattr(fit, "point_scores", None)
    if scores is not None:
        return scores
    table = getattr(getattr(fit, "records", None), "table", None)
    if table is None or not {"unit", "run", "step", "value"} <= set(table.columns):
        return None
    from snrstat.decision._window import final_scores

    ordered = table.sort_values(["run", "step"], kind="mergesort")
    return final_scores(ordered[["unit", "run", "value"]])
