"""The Bayesian scaling-law fit of one task: sampling through the inference core, predictions of
the targets, and the result object (:class:`ScalingFit`, saved and loaded like every fit)."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable, Mapping
from io import StringIO

import numpy as np
import pandas as pd
import xarray as xr

from snrstat.inference import Diagnostics, Fit, SamplerSettings, diagnose, register_fit, sample
from snrstat.scaling.data import (ONE_STEP_SUMMARY, TWO_STEP_SUMMARY, ScalingConfig, ScalingData,
                                  scaling_data)
from snrstat.scaling.ladder import (DEFAULT_TARGETS, _n_checkpoints, checkpoint_table, ladder_points, parse_run,
                                    target_points)
from snrstat.scaling.model import build_model
from snrstat.scaling.point import chained_prediction, fit_points, loss_law
from snrstat.scaling.predictive import log_predictive_density, point_log_density, predictive_draws
from snrstat.schema import DataError


class ScalingFitWarning(UserWarning):
    """The sampler's diagnostics failed; the intervals may be wrong."""


def _settings(config: ScalingConfig, progress: bool) -> SamplerSettings:
    return SamplerSettings(random_seed=config.random_seed, draws=config.draws, tune=config.tune,
                           chains=config.chains, target_accept=config.target_accept, sampler=config.sampler,
                           progress=progress)


def _sample(data: ScalingData, config: ScalingConfig, progress: bool):
    """Sample the posterior; the model is compiled once per (shape, kind) and reused across tasks."""
    key = ("scaling", data.shape_key, config.one_step, config.helper_sd)
    t0 = time.perf_counter()
    idata = sample(lambda: build_model(data, one_step=config.one_step, helper_sd=config.helper_sd),
                   _settings(config, progress), key=key, data=data.model_data())
    timing = {"compile_s": float(idata.attrs["compile_s"]),
              "sample_s": time.perf_counter() - t0 - float(idata.attrs["compile_s"])}
    keep = [g for g in ("posterior", "sample_stats") if g in idata.groups()]
    idata = idata.__class__(**{g: getattr(idata, g) for g in keep})
    idata.posterior = idata.posterior.assign_coords(run=data.runs, term=["N", "D", "E"])
    idata.add_groups({
        "observed_data": xr.Dataset(
            {"loss": ("obs", data.loss), "acc": ("obs", data.acc)},
            coords={"obs": np.arange(len(data.obs_run))}),
        "constant_data": xr.Dataset(
            {"log_n": ("run", data.log_n), "log_d": ("run", data.log_d),
             "obs_run": ("obs", data.obs_run), "offset": ("obs", data.offset)},
            coords={"run": data.runs, "obs": np.arange(len(data.obs_run))},
            attrs={k: float(v) for k, v in data.anchors.items()}),
    })
    return idata, timing


def _advice(config: ScalingConfig) -> dict:
    return {
        "divergences": f"raise target_accept (now {config.target_accept}) towards 0.99; divergences on tasks "
                       "whose accuracy barely moves with loss (e.g. winogrande, boolq) mean the sigmoid is "
                       "poorly determined there, so read the intervals with care",
        "r_hat": f"run longer (draws={config.draws}, tune={config.tune}, chains={config.chains}: try draws=4000, "
                 "tune=2000, chains=4)",
        "ess": f"run longer (draws={config.draws}, tune={config.tune}: try draws=4000, tune=2000)",
        "bfmi": "more tuning, or the noise scales are poorly identified",
    }


@register_fit
class ScalingFit(Fit):
    """A Bayesian scaling-law fit of one task: posterior, predictions of the targets, diagnostics.

    ``config`` is the :class:`~snrstat.scaling.data.ScalingConfig`. ``targets`` holds per target
    its N, D, observed score (``observed``, NaN if unknown), the paper's point prediction
    (``point_pred``) and the residual sd used to score it. ``points`` holds the training runs
    (the final checkpoint or the mean of the last n). ``summary()`` shows the law's parameters
    in the paper's notation and the noise scales, with the paper's point fit beside them.
    """

    kind = "scaling"

    def __init__(self, config: ScalingConfig, idata, targets: pd.DataFrame, points: pd.DataFrame, anchors: dict,
                 diagnostics: Diagnostics, timing: dict, point_params: dict | None = None, level: float = 0.9):
        point_params = point_params or {}
        point = {**point_params.get("step1", {}),
                 **{f"acc_{k}" if k in ("a", "b") else k: v for k, v in point_params.get("step2", {}).items()}}
        super().__init__(idata, {}, diagnostics, {} if config.one_step else point, level)
        self.config = config
        self.targets = targets
        self.points = points
        self.anchors = anchors
        self.timing = timing
        self.point_params = point_params

    @property
    def one_step(self) -> bool:
        return self.config.one_step

    def _summary_names(self) -> list[str]:
        names = ONE_STEP_SUMMARY if self.one_step else TWO_STEP_SUMMARY
        return [n for n in names if n in self.idata.posterior]

    def _extra(self) -> dict:
        return {"targets": self.targets.to_json(orient="split", index=False),
                "points": self.points.to_json(orient="split", index=False),
                "anchors": self.anchors, "timing": self.timing, "point_params": self.point_params}

    @classmethod
    def _from_saved(cls, idata, config, diagnostics, point, level, extra):
        cfg = dict(config)
        cfg["targets"] = tuple(cfg["targets"])
        if cfg.get("train_runs") is not None:
            cfg["train_runs"] = tuple(tuple(r) for r in cfg["train_runs"])
        return cls(ScalingConfig(**cfg), idata, pd.read_json(StringIO(extra["targets"]), orient="split"),
                   pd.read_json(StringIO(extra["points"]), orient="split"), extra["anchors"], diagnostics,
                   extra["timing"], extra["point_params"], level)

    def predictive(self, params, tokens, *, n_checkpoints=1, offset=0.0, random_seed=None,
                   dim="point") -> xr.Dataset:
        """Posterior predictive at arbitrary N (``params``) and D (``tokens``); see
        :func:`~snrstat.scaling.predictive.predictive_draws`."""
        seed = self.config.random_seed + 1 if random_seed is None else random_seed
        return predictive_draws(
            self.idata.posterior, np.log(np.asarray(params, dtype=float)),
            np.log(np.asarray(tokens, dtype=float)), self.anchors, one_step=self.one_step,
            n_checkpoints=n_checkpoints, offset=offset, random_seed=seed, dim=dim,
        )

    def predictions(self) -> pd.DataFrame:
        """Per target: observed, point_pred, the predictive median and 50%/90% intervals, whether
        the observed score falls inside them, and log scores (Bayes and point)."""
        pred = self.idata.predictions
        q = pred["acc"].quantile([0.05, 0.25, 0.5, 0.75, 0.95], dim=("chain", "draw")).transpose("target", "quantile").values
        t = self.targets
        out = pd.DataFrame({
            "target": t["target"].astype(str).to_numpy(), "observed": t["observed"].to_numpy(dtype=float),
            "point_pred": t["point_pred"].to_numpy(dtype=float),
            "median": q[:, 2], "lo50": q[:, 1], "hi50": q[:, 3], "lo90": q[:, 0], "hi90": q[:, 4],
        })
        y = out["observed"]
        out["inside50"] = ((y >= out["lo50"]) & (y <= out["hi50"])).where(y.notna())
        out["inside90"] = ((y >= out["lo90"]) & (y <= out["hi90"])).where(y.notna())
        out["point_rel_error"] = (out["point_pred"] - y).abs() / y
        out["bayes_rel_error"] = (out["median"] - y).abs() / y
        out["log_score"] = log_predictive_density(pred, y.fillna(0.0).to_numpy()) if len(y) else []
        out.loc[y.isna(), "log_score"] = np.nan
        out["point_log_score"] = point_log_density(y, out["point_pred"], t["point_sd"].to_numpy(dtype=float))
        if "loss" in pred:
            out["loss_median"] = pred["loss"].median(dim=("chain", "draw")).values
            out["observed_loss"] = t["observed_loss"].to_numpy(dtype=float)
        return out

    def plot_fan(self, ax=None, **kwargs):
        from snrstat.scaling.plots import plot_fan

        return plot_fan(self, ax=ax, **kwargs)

    def __repr__(self) -> str:
        kind = "one-step" if self.one_step else "two-step"
        health = "ok" if self.diagnostics.ok else "PROBLEMS: " + "; ".join(self.diagnostics.messages)
        return f"ScalingFit({self.config.task!r}, {kind}, {len(self.points)} runs, diagnostics {health})"


def fit_table(table: pd.DataFrame, targets: pd.DataFrame, config: ScalingConfig, *, progress: bool = True) -> ScalingFit:
    """Fit one task's checkpoint table (:func:`~snrstat.scaling.ladder.checkpoint_table`) and
    predict ``targets`` (columns target, params, tokens, actual, actual_loss, n_checkpoints,
    log_offset_mean: :func:`~snrstat.scaling.ladder.target_points` or held-out ladder runs)."""
    runs = config.train_runs
    points = ladder_points(table, runs, config.checkpoints)
    n_sizes, n_tokens = points["params"].nunique(), points["tokens"].nunique()
    if n_sizes < 2 or n_tokens < 2 or len(points) < 5:
        raise DataError(
            f"task {config.task!r}: the training runs span {n_sizes} size(s) (column 'params') and "
            f"{n_tokens} token count(s) (column 'tokens') in {len(points)} runs; the law needs at least "
            "2 of each and 5 runs"
        )
    step1, step2, resid_sd, fitted = fit_points(points)
    data = scaling_data(table, runs, config.noise_window)
    idata, timing = _sample(data, config, progress)

    t = targets.reset_index(drop=True)
    n_ckpt = t["n_checkpoints"].where(t["n_checkpoints"] > 0, _n_checkpoints(config.checkpoints))
    pred = predictive_draws(
        idata.posterior, np.log(t["params"].to_numpy(dtype=float)), np.log(t["tokens"].to_numpy(dtype=float)),
        data.anchors, one_step=config.one_step, n_checkpoints=n_ckpt.to_numpy(dtype=float),
        offset=t["log_offset_mean"].fillna(0.0).to_numpy(dtype=float),
        random_seed=config.random_seed + 1, dim="target", coords={"target": t["target"].astype(str).to_numpy()},
    )
    idata.add_groups({"predictions": pred[["acc", "acc_run", "acc_law", "acc_loc", "acc_scale"]
                                          + (["loss", "loss_law"] if "loss" in pred else [])]})
    target_table = pd.DataFrame({
        "target": t["target"].astype(str), "params": t["params"], "tokens": t["tokens"],
        "observed": t["actual"], "observed_loss": t["actual_loss"], "n_checkpoints": n_ckpt,
        "log_offset_mean": t["log_offset_mean"].fillna(0.0),
        "point_pred": chained_prediction(t["params"], t["tokens"], step1, step2),
        "point_loss": loss_law(t["params"], t["tokens"], **step1),
        "point_sd": resid_sd,
    })
    diag = diagnose(idata, advice=_advice(config))
    fit = ScalingFit(config, idata, target_table, pd.concat([points, fitted], axis=1), data.anchors, diag,
                     {**timing, "total_s": timing["compile_s"] + timing["sample_s"]},
                     {"step1": step1, "step2": step2, "residual_sd": resid_sd})
    if not diag.ok:
        warnings.warn(
            f"scaling-law fit of {config.task!r} ({'one' if config.one_step else 'two'}-step): "
            f"sampler diagnostics failed: {'; '.join(diag.messages)}",
            ScalingFitWarning, stacklevel=3,
        )
    return fit
def fit_scaling_law(
    frame: pd.DataFrame,
    task: str,
    *,
    targets: Iterable[str] = DEFAULT_TARGETS,
    train_runs: Iterable | None = None,
    checkpoints: str | int = "final",
    loss_metric: str = "bpb",
    acc_metric: str | None = None,
    one_step: bool = False,
    helper_sd: float | None = 0.02,
    noise_window: int = 5,
    target_tokens: Mapping[str, float] | None = None,
    target_params: Mapping[str, float] | None = None,
    random_seed: int = 0,
    draws: int = 2000,
    tune: int = 1500,
    chains: int = 4,
    sampler: str = "nutpie",
    target_accept: float = 0.99,
    progress: bool = True,
) -> ScalingFit:
    """Bayesian two-step (or ``one_step``) scaling law of ``task``, fitted jointly on the ladder
    runs (default: the paper's, :data:`~snrstat.scaling.ladder.PAPER_TRAIN_RUNS`), with the
    posterior predictive of each target's observed score next to the paper's point prediction.

    ``checkpoints``: what a score is, as in :func:`~snrstat.scaling.point.fit_ladder_point`
    ("final" or the mean of the last n) for the point fit and the targets; the Bayesian model
    always sees each run's last ``noise_window`` checkpoints (at least ``checkpoints``) to learn
    the checkpoint noise. Sampling uses nutpie (compiled once per data shape and reused across
    tasks) or PyMC's NUTS with ``sampler="pymc"``; every random number comes from ``random_seed``.
    Failed diagnostics raise a :class:`ScalingFitWarning` with advice.
    """
    window = max(noise_window, _n_checkpoints(checkpoints))
    config = ScalingConfig(
        task=task, loss_metric=loss_metric, acc_metric=acc_metric, targets=tuple(targets),
        target_tokens=dict(target_tokens or {}), target_params=dict(target_params or {}),
        train_runs=None if train_runs is None else tuple(parse_run(r) for r in train_runs),
        checkpoints=checkpoints, noise_window=window, one_step=one_step, helper_sd=helper_sd,
        random_seed=random_seed,
        draws=draws, tune=tune, chains=chains, sampler=sampler, target_accept=target_accept,
    )
    table = checkpoint_table(frame, [task], loss_metric=loss_metric, acc_metric=acc_metric)
    tgt = target_points(table, config.targets, target_tokens=target_tokens,
                        target_params=target_params, checkpoints=checkpoints)
    return fit_table(table, tgt, config, progress=progress)
