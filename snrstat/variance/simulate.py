"""Simulated evaluation records with known variance components (for tests, calibration, power).

The generative model of the hierarchical model of snrstat.variance.spec, any design:

```
logit p[r, c] = mu + a[model] + b[seed] + d[data_order] + trend * x[r, c] + e[r, c]
value = Binomial(n_items, p) / n_items                       (likelihood="binomial")
value = mu + a + b + d + trend * x + e                      (likelihood="normal", natural scale)
```

with ``a ~ N(0, sigma_model)``, ``b ~ N(0, sigma_seed)``, ``d ~ N(0, sigma_order)``,
``e ~ N(0, sigma_ckpt)`` and ``x`` the log step centred within each run. ``crossed=True``
gives every model the same seed (and data-order) labels with one shared effect per label;
``crossed=False`` gives each model its own labels and effects. With one seed the seed label
is "0" everywhere; with one data order it is missing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

from snrstat.schema import DataError, validate
from snrstat.variance import quantities as q


def simulate(n_models: int = 25, n_seeds: int = 3, n_orders: int = 1, n_ckpt: int = 5, n_items: int = 1000,
             mu: float = 0.0, sigma_model: float = 0.3, sigma_seed: float = 0.05, sigma_order: float = 0.05,
             sigma_ckpt: float = 0.05, trend: float = 0.0, crossed: bool = True, likelihood: str = "binomial",
             random_seed: int = 0, *, task: str = "sim", metric: str | None = None, size: str = "1B",
             first_step: int = 1000, step_every: int = 1000):
    """Draw a validated tidy frame and the truth behind it: ``(frame, truth)``.

    ``truth`` holds the link-scale inputs (``sigma_model_link``, ...; ``mu_link = mu``, the
    population intercept the fit estimates), ``effects`` (the realised effects),
    ``model_means`` (Series by model: ``expit(mu + a_m)``, the model's score at a typical
    seed, data order and checkpoint) and the true score-scale quantities, computed by the
    same functions
    as a fit's posterior (:mod:`snrstat.variance.quantities`): ``sigma_model``,
    ``sigma_seed``, ``sigma_order``, ``sigma_ckpt``, ``sigma_binom``, ``noise_sd``,
    ``total_sd``, ``grand_mean``, ``signal``, ``noise``, ``snr``, ``snr_pop`` and
    ``snr_total``. Every effect is an independent normal draw, as in the fit's prior, so
    parameters drawn from the fit's priors give calibration data sets.
    """
    if likelihood not in ("binomial", "normal"):
        raise DataError(f"simulate: likelihood must be 'binomial' or 'normal', got {likelihood!r}")
    for name, v in (("n_models", n_models), ("n_seeds", n_seeds), ("n_orders", n_orders), ("n_ckpt", n_ckpt),
                    ("n_items", n_items)):
        if int(v) < 1:
            raise DataError(f"simulate: {name} must be at least 1, got {v}")
    for name, v in (("sigma_model", sigma_model), ("sigma_seed", sigma_seed), ("sigma_order", sigma_order),
                    ("sigma_ckpt", sigma_ckpt)):
        if not v >= 0:
            raise DataError(f"simulate: {name} must be >= 0, got {v}")
    rng = np.random.default_rng(random_seed)
    M, S, O, C = int(n_models), int(n_seeds), int(n_orders), int(n_ckpt)
    models = [f"m{i:02d}" for i in range(M)]
    a = rng.normal(0.0, sigma_model, M)
    b = rng.normal(0.0, sigma_seed, S if crossed else (M, S))
    d = rng.normal(0.0, sigma_order, O if crossed else (M, O))

    m_idx, s_idx, o_idx = (g.ravel() for g in np.meshgrid(np.arange(M), np.arange(S), np.arange(O), indexing="ij"))
    eta_run = mu + a[m_idx] + (b[s_idx] if crossed else b[m_idx, s_idx]) + (d[o_idx] if crossed else d[m_idx, o_idx])
    steps = first_step + step_every * np.arange(C)
    x = np.log1p(steps) - np.log1p(steps).mean()
    eta = eta_run[:, None] + trend * x[None, :] + rng.normal(0.0, sigma_ckpt, (len(eta_run), C))
    link = "logit" if likelihood == "binomial" else "identity"
    if link == "logit":
        value = rng.binomial(int(n_items), expit(eta)) / int(n_items)
    else:
        value = eta

    def label(kind, idx, count):
        if count == 1:
            return ["0"] * len(idx) if kind == "s" else [pd.NA] * len(idx)
        return [str(j) if crossed else f"{models[m]}-{kind}{j}" for m, j in zip(m_idx, idx)]

    R = len(eta_run)
    frame = pd.DataFrame({
        "task": task, "metric": metric or ("acc" if link == "logit" else "bpb"),
        "model": np.repeat([models[m] for m in m_idx], C), "size": size,
        "seed": np.repeat(label("s", s_idx, S), C), "data_order": np.repeat(label("o", o_idx, O), C),
        "step": np.tile(steps, R), "value": value.ravel(),
        "n_items": int(n_items) if link == "logit" else pd.NA,
    })
    frame = validate(frame)
    truth = _truth(float(mu), a, models, link, n_items if link == "logit" else np.nan,
                   dict(model=sigma_model, seed=sigma_seed if S > 1 else 0.0,
                        order=sigma_order if O > 1 else 0.0, ckpt=sigma_ckpt if C > 1 else 0.0))
    truth["effects"] = {"model": a, "seed": b, "data_order": d}
    truth["mu"] = float(mu)
    return frame, truth


def _truth(mu_c: float, a_c: np.ndarray, models, link: str, n_items: float, sig: dict) -> dict:
    """True quantities with the same definitions as the posterior's (:func:`quantities.score_quantities`)."""
    out = {"mu_link": float(mu_c)}
    for k, v in sig.items():
        out[f"sigma_{k}_link"] = float(v)
    qs = q.score_quantities(float(mu_c), np.asarray(a_c, dtype=float), {k: float(v) for k, v in sig.items()},
                            n_bar=n_items, link=link, residual="ckpt")
    out["model_means"] = pd.Series(qs.pop("model_mean"), index=pd.Index(models, name="model"))
    out.update({k: float(v) for k, v in qs.items()})
    out.setdefault("sigma_binom", 0.0)
    return out
