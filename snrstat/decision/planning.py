"""Planning a small-scale experiment: how many seeds and checkpoints to rank two models.

A new comparison trains each of two models with ``k`` runs (a run = one initialisation
seed with its own data order) and scores each run by the mean of its last ``n``
checkpoints; a model's score is the mean over its runs. Under the noise model of
snrstat (science notes, section 4) the error of that score has variance

    V = (sigma_seed**2 + sigma_order**2 + sigma_run**2) / k + sigma_ckpt**2 * f(n) / k,
    f(n) = (1 + 2 * sum_{h<n} (1 - h/n) * rho**h) / n

Assumptions, stated once:
- seed and data order are tied per run (each new run draws both afresh); ``sigma_run``
  is the combined run-level sd when a fit cannot separate them. Effects are independent
  between the two models' runs: if both models reuse the same seeds and a seed's effect
  is shared across models (the variance model's "crossed" design), it cancels in their
  difference, so pass ``sigma_seed=0`` for that plan;
- checkpoint noise is independent of the run effects and between checkpoints
  (``ckpt_rho`` = 0, the default); an AR(1) autocorrelation ``ckpt_rho`` between
  consecutive checkpoints can be given and inflates f(n), otherwise averaging
  positively correlated checkpoints is credited with too much;
- noise is the same for every model and the trend over the checkpoint window is shared
  by the two models, so it cancels in their difference;
- both models get the same k and n.

With a true difference ``delta`` between the models' means, the estimated difference is
N(delta, 2V), so P(correct ordering) = Phi(|delta| / sqrt(2V)). Given posterior draws of
the sigmas, every probability is averaged over the draws (the posterior predictive
probability). "Detected" means ordered correctly; with ``alpha`` it means the one-sided
z-test at level alpha (known V) declares the right model better: Phi(|delta|/sqrt(2V) - z_alpha).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr
from scipy import optimize, stats

from snrstat.decision._draws import check_model_draws, fit_draws, interval, stack_samples
from snrstat.decision._pairs import check_same_models, pair_indices
from snrstat.schema import DataError

RUN_KEYS = ("sigma_seed", "sigma_order", "sigma_run")
NOISE_KEYS = (*RUN_KEYS, "sigma_ckpt", "ckpt_rho", "sigma_model")


def noise_draws(noise) -> dict[str, np.ndarray]:
    """Noise components as aligned 1-d arrays of draws (length 1 for plain floats).

    ``noise`` is a mapping with any of ``sigma_seed``, ``sigma_order``, ``sigma_run``,
    ``sigma_ckpt`` (and optionally ``ckpt_rho``, ``sigma_model``), each a float, an array of
    draws or a DataArray with dims (chain, draw); or a fit offering those draws (a
    VarianceFit or NormalMeansFit). Missing components count as 0; at least one noise
    component must be present.
    """
    if not isinstance(noise, Mapping):
        fit = noise
        noise = {}
        for key in NOISE_KEYS:
            try:
                noise[key] = fit_draws(fit, key)
            except DataError:
                continue
        if not noise:
            raise DataError(f"{type(fit).__name__} offers none of the noise components {list(NOISE_KEYS)}")
    unknown = sorted(set(noise) - set(NOISE_KEYS))
    if unknown:
        raise DataError(f"unknown noise component(s) {unknown}; expected some of {list(NOISE_KEYS)}")
    if not any(k in noise for k in (*RUN_KEYS, "sigma_ckpt")):
        raise DataError(f"no noise component given; expected some of {[*RUN_KEYS, 'sigma_ckpt']}")
    arrays = {}
    for key, value in noise.items():
        if isinstance(value, xr.DataArray):
            if set(value.dims) - {"chain", "draw"}:
                raise DataError(f"{key}: draws must have dims (chain, draw), got {value.dims}")
            arr = stack_samples(value) if value.dims else np.atleast_1d(float(value))
        else:
            arr = np.atleast_1d(np.asarray(value, dtype=float)).ravel()
        if not np.isfinite(arr).all():
            raise DataError(f"{key}: values must be finite")
        if key == "ckpt_rho":
            if ((arr <= -1) | (arr >= 1)).any():
                raise DataError(f"ckpt_rho must lie in (-1, 1), got {arr.min():g}..{arr.max():g}")
        elif (arr < 0).any():
            raise DataError(f"{key}: a standard deviation cannot be negative (got {arr.min():g})")
        arrays[key] = arr
    sizes = {len(a) for a in arrays.values()} - {1}
    if len(sizes) > 1:
        raise DataError(f"noise components have different numbers of draws: { {k: len(a) for k, a in arrays.items()} }")
    size = sizes.pop() if sizes else 1
    return {k: np.broadcast_to(a, (size,)).copy() for k, a in arrays.items()}


def _ckpt_factor(n: int, rho: np.ndarray) -> np.ndarray:
    """Variance of the mean of n AR(1) checkpoints in units of one checkpoint's variance."""
    h = np.arange(1, n)
    return (1 + 2 * ((1 - h / n)[None, :] * rho[:, None] ** h[None, :]).sum(1)) / n


def _check_kn(k, n):
    for name, v in (("k (seeds)", k), ("n (checkpoints)", n)):
        if int(v) != v or v < 1:
            raise DataError(f"{name} must be a positive integer, got {v}")


def estimate_variance(noise, k: int = 1, n: int = 1) -> np.ndarray:
    """Draws of V, the variance of one model's score from k runs x last n checkpoints."""
    _check_kn(k, n)
    d = noise_draws(noise)
    size = len(next(iter(d.values())))
    zero = np.zeros(size)
    run_var = sum(d.get(key, zero) ** 2 for key in RUN_KEYS)
    ckpt = d.get("sigma_ckpt", zero) ** 2 * _ckpt_factor(int(n), d.get("ckpt_rho", zero))
    return (run_var + ckpt) / k


def _z_alpha(alpha):
    if alpha is None:
        return 0.0
    if not 0 < alpha < 1:
        raise DataError(f"alpha must be in (0, 1), got {alpha}")
    return float(stats.norm.ppf(1 - alpha))


def p_correct(noise, delta: float, k: int = 1, n: int = 1, *, alpha: float | None = None,
              return_draws: bool = False):
    """P(a new experiment with k seeds and n checkpoints ranks two models correctly).

    ``delta`` is the true difference of the two models' mean scores (a float). The
    probability is Phi(|delta| / sqrt(2V) - z_alpha), averaged over the noise draws; with
    ``return_draws`` the per-draw probabilities are returned instead.
    """
    delta = float(delta)
    if not np.isfinite(delta):
        raise DataError(f"delta must be finite, got {delta}")
    sd = np.sqrt(2 * estimate_variance(noise, k, n))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sd > 0, abs(delta) / sd, np.where(delta != 0, np.inf, 0.0))
    p = stats.norm.cdf(z - _z_alpha(alpha))
    if delta == 0:
        # a tie has no correct order; with no noise at all the estimate ties too
        p = np.where(sd > 0, p, 0.5 if alpha is None else 0.0)
    return p if return_draws else float(np.mean(p))


def p_agree(noise, delta_small, delta_target=None, k: int = 1, n: int = 1, *, alpha: float | None = None) -> float:
    """P(the new small-scale comparison orders the pair as the target scale does).

    ``delta_small`` is the true small-scale difference (model a - model b) and
    ``delta_target`` the target-scale one, each a float or draws (array or DataArray
    (chain, draw)) from a fit's posterior of that pair; draws are paired with each other
    and with the noise draws when their lengths match. Without ``delta_target`` the
    reference is the true small-scale order. P = mean Phi(sign(delta_target) *
    delta_small / sqrt(2V) - z_alpha).
    """
    ds = _as_draws(delta_small, "delta_small")
    dt = ds if delta_target is None else _as_draws(delta_target, "delta_target")
    sd = np.sqrt(2 * estimate_variance(noise, k, n))
    lengths = {len(ds), len(dt), len(sd)} - {1}
    if len(lengths) > 1:
        raise DataError(f"draw counts differ: delta_small {len(ds)}, delta_target {len(dt)}, noise {len(sd)}")
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.sign(dt) * ds / sd
    z = np.where(np.isnan(z), 0.0, z)
    p = stats.norm.cdf(z - _z_alpha(alpha))
    p = np.where(dt == 0, 0.5, p)  # a target tie: either order "agrees" half the time
    return float(np.mean(p))


def p_correct_population(noise, k: int = 1, n: int = 1, sigma_model=None) -> float:
    """P(correct ordering) for two models drawn at random from the between-model distribution.

    With model effects N(0, sigma_model) the true difference is N(0, 2 sigma_model**2) and
    the probability has the closed form 1/2 + arctan(sigma_model / sqrt(V)) / pi, averaged
    over draws. This is also the expected decision accuracy of a new small-scale experiment
    against the true small-scale ranking of a random population of models.
    """
    d = noise_draws(noise)
    if sigma_model is None:
        if "sigma_model" not in d:
            raise DataError("give sigma_model (or a noise mapping/fit that has it)")
        sm = d["sigma_model"]
    else:
        sm = np.atleast_1d(np.asarray(sigma_model if not isinstance(sigma_model, xr.DataArray)
                                      else stack_samples(sigma_model), dtype=float)).ravel()
    v = estimate_variance(noise, k, n)
    if len({len(sm), len(v)} - {1}) > 1:
        raise DataError(f"draw counts differ: sigma_model {len(sm)}, noise {len(v)}")
    with np.errstate(divide="ignore"):
        ratio = np.where(v > 0, sm / np.sqrt(v), np.inf)
    return float(np.mean(0.5 + np.arctan(ratio) / np.pi))


def predictive_decision_accuracy(noise, means_small: xr.DataArray, means_target: xr.DataArray | None = None,
                                 k: int = 1, n: int = 1) -> tuple[float, xr.DataArray]:
    """Expected decision accuracy of a new small-scale experiment with k seeds, n checkpoints.

    For each posterior draw of the true model means, every pair's new small-scale
    comparison agrees with the target order with probability
    Phi(sign(t_i - t_j) (s_i - s_j) / sqrt(2V)); the expected fraction of agreeing pairs
    is the mean over pairs. Returns its posterior mean and the per-draw values (chain,
    draw). Without ``means_target`` the reference is the true small-scale ranking. Noise
    draws are paired with mean draws when their counts match (a joint posterior), else
    the noise must be a float set.
    """
    s = check_model_draws(means_small, "means_small")
    models = [str(m) for m in s["model"].values]
    t = s if means_target is None else check_model_draws(means_target, "means_target")
    check_same_models(models, [str(m) for m in t["model"].values])
    t = t.sel(model=models)
    if s.sizes["chain"] != t.sizes["chain"] or s.sizes["draw"] != t.sizes["draw"]:
        raise DataError("means_small and means_target need the same numbers of chains and draws")
    sv, tv = stack_samples(s), stack_samples(t)
    sd = np.sqrt(2 * estimate_variance(noise, k, n))
    if len(sd) not in (1, len(sv)):
        raise DataError(f"noise has {len(sd)} draws but the means have {len(sv)}; give floats or matching draws")
    i, j = pair_indices(len(models))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.sign(tv[:, i] - tv[:, j]) * (sv[:, i] - sv[:, j]) / sd[:, None]
    p = stats.norm.cdf(np.where(np.isnan(z), 0.0, z)).mean(1)
    per_draw = xr.DataArray(p.reshape(s.sizes["chain"], s.sizes["draw"]), dims=("chain", "draw"),
                            coords={"chain": s["chain"].values, "draw": s["draw"].values})
    return float(p.mean()), per_draw


def design_curves(noise, k_values: Sequence[int], n_values: Sequence[int], delta: float | None = None,
                  *, alpha: float | None = None, level: float = 0.9) -> pd.DataFrame:
    """P(correct ordering) over a grid of seeds k and averaged checkpoints n.

    One row per (k, n): ``p_correct`` (averaged over the noise draws), ``p_lo``/``p_hi``
    (equal-tailed interval of the per-draw probability: how sure we are of the curve
    itself), ``sd_difference`` (posterior mean sd of the estimated difference) and
    ``detectable_80`` (the difference ordered correctly with probability 0.8). With
    ``delta=None`` the pair is drawn from the between-model distribution (needs
    ``sigma_model`` in ``noise``).
    """
    rows = []
    for k in k_values:
        for n in n_values:
            if delta is None:
                d = noise_draws(noise)
                if "sigma_model" not in d:
                    raise DataError("delta=None draws the pair from the between-model distribution: noise needs sigma_model")
                v = estimate_variance(noise, k, n)
                per = 0.5 + np.arctan(d["sigma_model"] / np.sqrt(v)) / np.pi
            else:
                per = p_correct(noise, delta, k, n, alpha=alpha, return_draws=True)
            _, lo, hi = interval(per, level)
            rows.append({
                "k": int(k), "n": int(n), "p_correct": float(np.mean(per)), "p_lo": lo, "p_hi": hi,
                "sd_difference": float(np.mean(np.sqrt(2 * estimate_variance(noise, k, n)))),
                "detectable_80": detectable_difference(noise, k, n, power=0.8, alpha=alpha),
            })
    return pd.DataFrame(rows)


def detectable_difference(noise, k: int = 1, n: int = 1, power: float = 0.8, *, alpha: float | None = None) -> float:
    """The smallest true difference that a new experiment detects with probability >= power.

    Definition: the smallest |delta| with p_correct(noise, delta, k, n, alpha) >= power,
    i.e. P(correct ordering) >= power (alpha=None), or P(the one-sided z-test at alpha
    picks the right model) >= power. For fixed sigmas this is
    sqrt(2V) * (Phi^-1(power) + z_alpha); with draws it is solved numerically.
    """
    if not 0 < power < 1:
        raise DataError(f"power must be in (0, 1), got {power}")
    za = _z_alpha(alpha)
    if alpha is None and power <= 0.5:
        return 0.0
    sd = np.sqrt(2 * estimate_variance(noise, k, n))
    if np.all(sd == sd[0]):
        return float(sd[0] * (stats.norm.ppf(power) + za))
    upper = float(sd.max() * (stats.norm.ppf(power) + za))
    lower = float(max(0.0, sd.min() * (stats.norm.ppf(power) + za)))
    f = lambda d: p_correct(noise, d, k, n, alpha=alpha) - power  # noqa: E731
    if f(lower) >= 0:
        return lower
    return float(optimize.brentq(f, lower, upper, xtol=1e-12 * max(upper, 1e-300), rtol=1e-10))


def simulate_comparisons(noise, delta: float, k: int, n: int, *, experiments: int = 10_000,
                         alpha: float | None = None, seed: int = 0) -> tuple[float, float]:
    """Empirical rate at which simulated experiments order two models correctly.

    Draws experiments from the generative model itself — per run a seed, data-order and
    run effect, per checkpoint AR(1) noise (independent when ckpt_rho = 0) — with model a
    delta above model b; for noise draws, each experiment first picks one draw at random.
    Returns (rate, Monte Carlo standard error). Used to check :func:`p_correct`.
    """
    _check_kn(k, n)
    rng = np.random.default_rng(seed)
    d = noise_draws(noise)
    size = len(next(iter(d.values())))
    pick = rng.integers(size, size=experiments)
    zero = np.zeros(size)
    comp = {key: d.get(key, zero)[pick] for key in (*RUN_KEYS, "sigma_ckpt", "ckpt_rho")}
    scores = []
    for mean in (float(delta), 0.0):
        runs = np.zeros((experiments, k))
        for key in RUN_KEYS:
            runs += comp[key][:, None] * rng.standard_normal((experiments, k))
        e = _ar1(rng, comp["ckpt_rho"], experiments, k, n) * comp["sigma_ckpt"][:, None, None]
        scores.append(mean + (runs + e.mean(2)).mean(1))
    diff = scores[0] - scores[1]
    if alpha is None:
        correct = np.sign(diff) == np.sign(delta)
    else:
        v = estimate_variance({kk: comp[kk] for kk in comp}, k, n)
        correct = np.sign(delta) * diff > _z_alpha(alpha) * np.sqrt(2 * v)
    rate = float(correct.mean())
    return rate, float(np.sqrt(rate * (1 - rate) / experiments))


def _ar1(rng, rho, experiments, k, n):
    """Stationary AR(1) series with unit marginal variance, shape (experiments, k, n)."""
    e = rng.standard_normal((experiments, k, n))
    r = rho[:, None]
    out = np.empty_like(e)
    out[..., 0] = e[..., 0]
    scale = np.sqrt(1 - r**2)
    for c in range(1, n):
        out[..., c] = r * out[..., c - 1] + scale * e[..., c]
    return out


def _as_draws(x, name: str) -> np.ndarray:
    if isinstance(x, xr.DataArray):
        if set(x.dims) - {"chain", "draw"}:
            raise DataError(f"{name}: draws must have dims (chain, draw), got {x.dims}")
        return stack_samples(x) if x.dims else np.atleast_1d(float(x))
    arr = np.atleast_1d(np.asarray(x, dtype=float)).ravel()
    if not np.isfinite(arr).all():
        raise DataError(f"{name}: values must be finite")
    return arr
