"""The paper's two-step scaling-law prediction, as point estimates.

Heineman et al. 2025 ("Signal and Noise", scaling-law error) use the task scaling laws of the
OLMo model ladder (Bhagia et al. 2024):

* step 1, task loss from parameters N and tokens D:
  ``L(N, D) = exp(a - alpha*log N) + exp(b - beta*log D) + E`` (= A/N^alpha + B/D^beta + E),
* step 2, accuracy from task loss: ``acc(L) = a / (1 + exp(-k (L - L0))) + b``,

chained to predict a larger run's accuracy; the error is ``|pred - actual| / actual``.

Fitting follows the ladder code where it matters: step 1 minimises the Huber loss
(delta = 1e-3) of ``log(pred) - log(L)`` with every parameter >= 0; step 2 is least squares
with a in [-1, 0], k >= 0, L0 >= 0, b in [0, 1] and one helper point (L = 0, acc = 1) that
pins the curve's top. Both use :func:`scipy.optimize.least_squares` from a fixed set of
starting points and keep the best, so results are deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from snrstat.scaling.ladder import (
    DEFAULT_TARGETS,
    checkpoint_table,
    ladder_points,
    target_points,
)
from snrstat.schema import DataError

STEP1_NAMES = ("a", "b", "alpha", "beta", "E")
STEP2_NAMES = ("a", "k", "L0", "b")
HUBER_DELTA = 1e-3


def loss_law(params, tokens, a, b, alpha, beta, E):
    """Step 1: ``exp(a - alpha*log N) + exp(b - beta*log D) + E`` (vectorised)."""
    log_n = np.log(np.asarray(params, dtype=float))
    log_d = np.log(np.asarray(tokens, dtype=float))
    return np.exp(a - alpha * log_n) + np.exp(b - beta * log_d) + E


def acc_law(loss, a, k, L0, b):
    """Step 2: ``a / (1 + exp(-k (L - L0))) + b``; with a < 0, b is the accuracy as L -> -inf
    and a + b the accuracy as L -> inf."""
    loss = np.asarray(loss, dtype=float)
    return a * _expit(k * (loss - L0)) + b


def chained_prediction(params, tokens, step1: Mapping[str, float], step2: Mapping[str, float]):
    """Accuracy predicted from N and D through the fitted loss: ``acc(L(N, D))``."""
    return acc_law(loss_law(params, tokens, **step1), **step2)


def _expit(x):
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=float)))


def fit_loss_law(params, tokens, loss, *, huber_delta: float | None = HUBER_DELTA) -> dict[str, float]:
    """Fit step 1 to training runs; ``huber_delta=None`` gives plain least squares on log loss.

    Residuals are on the log scale as in the ladder code (relative errors); all five
    parameters are bounded below by 0. Starts: the ladder code's (3, 6, 0.1, 0.2, 1) plus a
    small grid of exponents, with a and b chosen so that each term starts at a third of the
    median loss.
    """
    n, d, y = (np.asarray(v, dtype=float) for v in (params, tokens, loss))
    if not (len(n) == len(d) == len(y)) or len(y) < 5:
        raise DataError(f"step 1 needs at least 5 runs with N, D and loss; got {len(y)}")
    if np.any(y <= 0) or np.any(n <= 0) or np.any(d <= 0):
        raise DataError("step 1 needs positive N, D and loss (the law is fitted on log loss)")
    log_n, log_d, log_y = np.log(n), np.log(d), np.log(y)

    def parts(p):
        a, b, alpha, beta, e = p
        t_n = np.exp(a - alpha * log_n)
        t_d = np.exp(b - beta * log_d)
        return t_n, t_d, t_n + t_d + e

    def resid(p):
        return np.log(parts(p)[2]) - log_y

    def jac(p):
        t_n, t_d, pred = parts(p)
        cols = (t_n, t_d, -log_n * t_n, -log_d * t_d, np.ones_like(pred))
        return np.column_stack(cols) / pred[:, None]

    med = float(np.median(y))
    starts = [np.array([3.0, 6.0, 0.1, 0.2, 1.0])]
    for alpha in (0.15, 0.4):
        for beta in (0.15, 0.4):
            for e_frac in (0.0, 0.5):
                a0 = np.log(med / 3) + alpha * np.median(log_n)
                b0 = np.log(med / 3) + beta * np.median(log_d)
                starts.append(np.array([max(a0, 0.0), max(b0, 0.0), alpha, beta, e_frac * y.min()]))
    kwargs = dict(bounds=(np.zeros(5), np.full(5, np.inf)), x_scale="jac",
                  ftol=1e-12, xtol=1e-12, gtol=1e-12, max_nfev=5000)
    if huber_delta is not None:
        kwargs.update(loss="huber", f_scale=huber_delta)
    best = _best_fit(resid, jac, starts, kwargs)
    return dict(zip(STEP1_NAMES, map(float, best.x)))


def fit_acc_law(loss, acc, *, helper_point: bool = True, acc_max: float = 1.0) -> dict[str, float]:
    """Fit step 2 (least squares, the ladder code's bounds) to (loss, accuracy) pairs.

    ``helper_point`` adds the ladder code's ideal point (L = 0, acc = ``acc_max``), which
    keeps the curve's top sensible when the data cover only its lower part.
    """
    x, y = np.asarray(loss, dtype=float), np.asarray(acc, dtype=float)
    if len(x) != len(y) or len(y) < 4:
        raise DataError(f"step 2 needs at least 4 (loss, accuracy) pairs; got {len(y)}")
    if helper_point:
        x, y = np.append(x, 0.0), np.append(y, acc_max)

    def resid(p):
        return acc_law(x, *p) - y

    def jac(p):
        a, k, l0, _ = p
        s = _expit(k * (x - l0))
        ds = s * (1 - s)
        return np.column_stack((s, a * ds * (x - l0), -a * ds * k, np.ones_like(x)))

    lo, hi = float(np.min(x[x > 0])), float(np.max(x))
    top = min(1.0, float(y.max()) + 0.05)
    starts = [np.array([-0.75, 3.0, 0.9, 1.0])]  # the ladder code's start, as (a, k, L0, b)
    for a0 in (-0.75, -0.5):
        for k0 in (2.0, 8.0):
            for l0 in (lo, 0.5 * (lo + hi), hi):
                starts.append(np.array([a0, k0, l0, top]))
    bounds = (np.array([-1.0, 0.0, 0.0, 0.0]), np.array([0.0, np.inf, np.inf, 1.0]))
    kwargs = dict(bounds=bounds, x_scale="jac", ftol=1e-12, xtol=1e-12, gtol=1e-12, max_nfev=5000)
    best = _best_fit(resid, jac, starts, kwargs)
    return dict(zip(STEP2_NAMES, map(float, best.x)))


def _best_fit(resid, jac, starts, kwargs):
    best = None
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for x0 in starts:
            lo, hi = kwargs["bounds"]
            x0 = np.clip(x0, lo + 1e-12 * (np.isfinite(lo)), np.where(np.isfinite(hi), hi - 1e-12, np.inf))
            try:
                res = least_squares(resid, x0, jac=jac, **kwargs)
            except ValueError:  # a start where the residuals are not finite
                continue
            if np.isfinite(res.cost) and (best is None or res.cost < best.cost - 1e-15):
                best = res
    if best is None:
        raise RuntimeError("scaling-law fit failed from every starting point")
    return best


@dataclass
class LadderPointFit:
    """The paper's two-step fit of one task and its chained predictions of the targets.

    ``points``: the training runs (N, D, observed loss/accuracy, fitted loss, step-2 fit and
    chained prediction). ``predictions``: one row per target with the predicted loss and
    accuracy, the observed ones, and ``rel_error = |predicted - actual| / actual``.
    ``residual_sd``: root mean square of the chained residuals ``acc - acc(L(N, D))`` over the
    training runs, the spread used when the point prediction is scored as a normal density.
    """

    task: str
    loss_metric: str
    acc_metric: str
    checkpoints: str | int
    step1: dict[str, float]
    step2: dict[str, float]
    points: pd.DataFrame
    predictions: pd.DataFrame
    residual_sd: float
    helper_point: bool = True
    settings: dict = field(default_factory=dict)

    def predict(self, params, tokens):
        """Chained accuracy at N = ``params``, D = ``tokens``."""
        return chained_prediction(params, tokens, self.step1, self.step2)

    def predict_loss(self, params, tokens):
        return loss_law(params, tokens, **self.step1)

    def summary(self) -> pd.DataFrame:
        """The fitted parameters, one row per (step, parameter)."""
        rows = [("step1", k, v) for k, v in self.step1.items()] + [("step2", k, v) for k, v in self.step2.items()]
        return pd.DataFrame(rows, columns=["step", "parameter", "value"])

    def __repr__(self) -> str:
        s1 = ", ".join(f"{k}={v:.4g}" for k, v in self.step1.items())
        s2 = ", ".join(f"{k}={v:.4g}" for k, v in self.step2.items())
        preds = "; ".join(
            f"{r.target}: pred {r.predicted:.4f} actual {r.actual:.4f} ({100 * r.rel_error:.1f}%)"
            for r in self.predictions.itertuples()
        )
        return f"LadderPointFit({self.task!r}, step1[{s1}], step2[{s2}]; {preds})"


def fit_points(points: pd.DataFrame, *, huber_delta=HUBER_DELTA, helper_point=True):
    """Both steps on a table of training runs (columns params, tokens, loss, acc).

    Returns (step1, step2, residual_sd, fitted): ``fitted`` holds loss_fit, acc_fit (step 2 at
    the observed loss) and acc_chain (the chained prediction) per run.
    """
    step1 = fit_loss_law(points["params"], points["tokens"], points["loss"], huber_delta=huber_delta)
    step2 = fit_acc_law(points["loss"], points["acc"], helper_point=helper_point)
    loss_fit = loss_law(points["params"], points["tokens"], **step1)
    fitted = pd.DataFrame({
        "loss_fit": loss_fit,
        "acc_fit": acc_law(points["loss"], **step2),
        "acc_chain": acc_law(loss_fit, **step2),
    }, index=points.index)
    resid = points["acc"].to_numpy(dtype=float) - fitted["acc_chain"].to_numpy()
    return step1, step2, float(np.sqrt(np.mean(resid ** 2))), fitted


def _predict_targets(targets: pd.DataFrame, step1, step2) -> pd.DataFrame:
    out = targets.copy()
    out["pred_loss"] = loss_law(out["params"], out["tokens"], **step1)
    out["predicted"] = acc_law(out["pred_loss"], **step2)
    out["rel_error"] = (out["predicted"] - out["actual"]).abs() / out["actual"]
    out["loss_rel_error"] = (out["pred_loss"] - out["actual_loss"]).abs() / out["actual_loss"]
    cols = ["target", "params", "tokens", "step", "n_checkpoints", "pred_loss", "actual_loss",
            "loss_rel_error", "predicted", "actual", "rel_error"]
    return out[cols].reset_index(drop=True)


def fit_ladder_point(
    frame: pd.DataFrame,
    task: str,
    *,
    loss_metric: str = "bpb",
    acc_metric: str | None = None,
    train_runs: Iterable | None = None,
    checkpoints: str | int = "final",
    targets: Iterable[str] = DEFAULT_TARGETS,
    target_tokens: Mapping[str, float] | None = None,
    target_params: Mapping[str, float] | None = None,
    huber_delta: float | None = HUBER_DELTA,
    helper_point: bool = True,
) -> LadderPointFit:
    """The paper's two-step scaling-law prediction of one task.

    Fits step 1 (loss from N, D) and step 2 (accuracy from loss) on the training runs
    (default: :data:`~snrstat.scaling.ladder.PAPER_TRAIN_RUNS`) and chains them at each
    target's N and D. ``checkpoints="final"`` uses each run's last checkpoint; an integer n
    averages the last n checkpoints of every training run *and* of the targets (the paper's
    "average the last n checkpoints" intervention). The actual value of a target is its
    checkpoint at its training tokens D (7B: step 925000; 13B: step 596057).
    """
    table = checkpoint_table(frame, [task], loss_metric=loss_metric, acc_metric=acc_metric)
    points = ladder_points(table, train_runs, checkpoints)
    step1, step2, resid_sd, fitted = fit_points(points, huber_delta=huber_delta, helper_point=helper_point)
    points = pd.concat([points, fitted], axis=1)
    tgt = target_points(table, tuple(targets), target_tokens=target_tokens,
                        target_params=target_params, checkpoints=checkpoints)
    return LadderPointFit(
        task=task, loss_metric=loss_metric, acc_metric=str(points["acc_metric"].iloc[0]),
        checkpoints=checkpoints, step1=step1, step2=step2, points=points,
        predictions=_predict_targets(tgt, step1, step2), residual_sd=resid_sd,
        helper_point=helper_point, settings={"huber_delta": huber_delta},
    )


def ladder_point_table(
    frame: pd.DataFrame,
    tasks: Iterable[str] | None = None,
    *,
    loss_metric: str = "bpb",
    train_runs: Iterable | None = None,
    checkpoints: str | int = "final",
    targets: Iterable[str] = DEFAULT_TARGETS,
    target_tokens: Mapping[str, float] | None = None,
    target_params: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """The paper's scaling-law error for every task that has BPB and accuracy: one row per
    (task, target) with task, target, predicted, actual, rel_error (plus the loss columns,
    the accuracy metric and the residual sd of the fit).

    The data for all tasks are extracted in one pass; each task is then one pair of small fits.
    """
    table = checkpoint_table(frame, tasks, loss_metric=loss_metric)
    points = ladder_points(table, train_runs, checkpoints)
    tgt = target_points(table, tuple(targets), target_tokens=target_tokens,
                        target_params=target_params, checkpoints=checkpoints)
    rows = []
    for task, pts in points.groupby("task", sort=True):
        step1, step2, resid_sd, _ = fit_points(pts)
        pred = _predict_targets(tgt.loc[tgt["task"] == task], step1, step2)
        pred.insert(0, "task", task)
        pred["acc_metric"] = pts["acc_metric"].iloc[0]
        pred["residual_sd"] = resid_sd
        rows.append(pred)
    out = pd.concat(rows, ignore_index=True)
    lead = ["task", "target", "predicted", "actual", "rel_error"]
    return out[lead + [c for c in out.columns if c not in lead]]
