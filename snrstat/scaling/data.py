"""The scaling-law model's inputs: what defines a fit (:class:`ScalingConfig`) and the arrays
it is built from (:class:`ScalingData`): ladder runs (log N, log D), checkpoint observations and
the anchors of the parametrisation (see :mod:`snrstat.scaling.model`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from snrstat.scaling.ladder import DEFAULT_TARGETS, RUN_KEYS, _n_checkpoints, ladder_points
from snrstat.schema import DataError

TWO_STEP_SUMMARY = ("a", "b", "alpha", "beta", "E", "acc_a", "acc_b", "k", "L0", "top", "floor",
                    "tau_loss", "sigma_loss", "gamma_loss", "tau_acc", "sigma_acc", "gamma_acc")
ONE_STEP_SUMMARY = ("alpha", "beta", "share_n", "acc_a", "acc_b", "k", "L0", "top", "floor",
                    "tau_acc", "sigma_acc", "gamma_acc")



@dataclass(frozen=True)
class ScalingConfig:
    """Everything that defines a fit (stored beside the posterior by :meth:`ScalingFit.save`)."""

    task: str
    loss_metric: str = "bpb"
    acc_metric: str | None = None
    targets: tuple[str, ...] = DEFAULT_TARGETS
    target_tokens: dict = field(default_factory=dict)
    target_params: dict = field(default_factory=dict)
    train_runs: tuple | None = None
    checkpoints: str | int = "final"
    noise_window: int = 5
    one_step: bool = False
    helper_sd: float | None = 0.02
    random_seed: int = 0
    draws: int = 2000
    tune: int = 1500
    chains: int = 4
    sampler: str = "nutpie"
    target_accept: float = 0.99

    def __post_init__(self):
        _n_checkpoints(self.checkpoints)
        if self.sampler not in ("nutpie", "pymc"):
            raise ValueError(f"sampler must be 'nutpie' or 'pymc', got {self.sampler!r}")
        for name in ("draws", "tune", "chains", "noise_window"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < (0 if name == "tune" else 1):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")



@dataclass
class ScalingData:
    """Arrays the model is built from: runs (log N, log D), checkpoint observations, anchors."""

    runs: list[str]
    log_n: np.ndarray
    log_d: np.ndarray
    obs_run: np.ndarray
    offset: np.ndarray
    loss: np.ndarray
    acc: np.ndarray
    log_n0: float
    log_d0: float
    log_loss_ref: float

    @property
    def shape_key(self) -> tuple[int, int]:
        return (len(self.runs), len(self.obs_run))

    @property
    def anchors(self) -> dict[str, float]:
        return {"log_n0": self.log_n0, "log_d0": self.log_d0, "log_loss_ref": self.log_loss_ref}

    def run_average(self) -> np.ndarray:
        """(run x obs) matrix that averages each run's checkpoints."""
        m = np.zeros((len(self.runs), len(self.obs_run)))
        m[self.obs_run, np.arange(len(self.obs_run))] = 1.0
        return m / m.sum(axis=1, keepdims=True)

    def model_data(self) -> dict[str, np.ndarray]:
        avg = self.run_average()
        acc_mean, off_mean = avg @ self.acc, avg @ self.offset
        return {
            "log_n": self.log_n, "log_d": self.log_d, "obs_run": self.obs_run, "offset": self.offset,
            "log_loss_obs": np.log(self.loss), "n_obs_run": np.bincount(self.obs_run, minlength=len(self.runs)).astype(float),
            "acc_mean": acc_mean, "offset_mean": off_mean,
            "acc_dev": self.acc - acc_mean[self.obs_run], "offset_dev": self.offset - off_mean[self.obs_run],
            "log_n0": np.asarray(self.log_n0), "log_d0": np.asarray(self.log_d0),
            "log_loss_ref": np.asarray(self.log_loss_ref),
        }


def scaling_data(table: pd.DataFrame, runs, noise_window: int) -> ScalingData:
    """The last ``noise_window`` checkpoints of each training run in one task's checkpoint table."""
    final = ladder_points(table, runs, "final")
    if final["task"].nunique() != 1:
        raise DataError(f"scaling_data needs one task, got {sorted(final['task'].unique())}")
    obs = table.merge(final[RUN_KEYS], on=RUN_KEYS, how="inner").sort_values([*RUN_KEYS, "step"], kind="stable")
    obs = obs.groupby(RUN_KEYS, sort=False).tail(noise_window)
    index = {tuple(r): i for i, r in enumerate(final[RUN_KEYS].itertuples(index=False))}
    obs_run = np.array([index[tuple(r)] for r in obs[RUN_KEYS].itertuples(index=False)], dtype="int64")
    d_final = final["tokens"].to_numpy(dtype=float)[obs_run]
    tokens = obs["tokens"].to_numpy(dtype=float)
    offset = np.where(np.isfinite(tokens), np.log(tokens / d_final), 0.0)
    loss = obs["loss"].to_numpy(dtype=float)
    acc = obs["acc"].to_numpy(dtype=float)
    if np.any(~np.isfinite(loss)) or np.any(~np.isfinite(acc)):
        raise DataError("the training runs' checkpoints have missing loss or accuracy values (column 'value')")
    if np.any(loss <= 0):
        raise DataError("the loss metric must be positive (it is modelled on the log scale)")
    log_n = np.log(final["params"].to_numpy(dtype=float))
    log_d = np.log(final["tokens"].to_numpy(dtype=float))
    return ScalingData(
        runs=list(final["run"]), log_n=log_n, log_d=log_d, obs_run=obs_run, offset=offset,
        loss=loss, acc=acc,
        log_n0=float(log_n.mean()), log_d0=float(log_d.mean()),
        log_loss_ref=float(np.log(final["loss"].to_numpy(dtype=float)).mean()),
    )


