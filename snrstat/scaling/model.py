"""The two-step scaling law as one Bayesian model (the PyMC graph), with its parametrisation.

The paper's point fit (:mod:`snrstat.scaling.point`) says what the ladder predicts; this model
says how sure to be. Both steps are fitted *jointly* on the last checkpoints of the ladder runs:

```
L_law(N, D)  = T * ( sN (N/N0)^-alpha + sD (D/D0)^-beta + sE )          step 1 (sN+sD+sE = 1)
log Lbar_r   ~ Normal(log L_law(N_r, D_r), tau_L)                       run deviation from the law
log L[r, c]  ~ Normal(log Lbar_r + gamma_L off[r, c], sigma_L)          checkpoint noise
curve_r      = floor + (top - floor) logistic(k (L0 - Lbar_r))          step 2
acc[r, c]    = curve_r + tau_A w_r + gamma_A off[r, c] + sigma_A eps_rc,  w, eps ~ Normal(0, 1)
```

``off[r, c] = log(D_rc / D_r)`` places checkpoint c before run r's end (0 at the final
checkpoint): ``gamma`` absorbs drift over the window, ``sigma`` is the checkpoint-to-checkpoint
noise learned from the spread of each run's last ``noise_window`` checkpoints, and ``tau`` is
how far whole runs sit from the law (seed noise plus misfit); step 2 acts on each run's *true*
loss, so noise in the loss does not bias it. The accuracy's run deviation ``w`` enters linearly and
is integrated out exactly (integrating Gaussian effects out is exact): a run's checkpoint mean is
``Normal(curve_r + gamma_A mean(off_r), sqrt(tau_A^2 + sigma_A^2 / n_r))`` and the deviations
from it carry ``n_r - 1`` degrees of freedom of checkpoint noise. ``Lbar_r`` is centred because
each run's checkpoints pin it far more tightly than ``tau_L`` spreads the runs; both choices
remove the funnels that a non-centred ``z, w`` per run gives (about 10x fewer gradient
evaluations per draw). In the paper's notation (Heineman et al. 2025)
``A = exp(a) = T sN N0^alpha``, ``B = exp(b) = T sD D0^beta``, ``E = T sE`` and step 2's
``a = floor - top``, ``b = top``; all are in the posterior as ``a, b, alpha, beta, E, acc_a,
acc_b, k, L0``.

Parametrisation (why the priors sit where they do): the ladder pins down the loss at the
design centre (N0, D0 = geometric means), its slopes in log N and log D, and the accuracy and
its slope at the centre's loss; the exponents, E and the top of the sigmoid are only weakly
identified and trade off along curved ridges. Sampling the well-pinned quantities directly
(``log_T``, ``g_n = alpha sN``, ``g_d = beta sD``, ``acc_ref``, ``slope``) with weakly
informative priors on the log/logit scale, and the rest as shares and fractions, removes most
divergences a direct (a, alpha, E) parametrisation gives. Priors: ``log T ~ N(log Lbar, 0.5)``;
``g_n, g_d ~ LogNormal(log 0.1, 1)``; shares ``~ Dirichlet(2, 2, 2)``; ``logit acc_ref ~ N(0,
1.5)``; ``floor / acc_ref ~ Beta(2, 2)``; the fraction of the sigmoid's range reached at the
centre ``~`` logistic(N(0, 1.5)) on the range that keeps ``top <= 1``; ``slope ~ LogNormal(log
0.5, 1.5)``; ``tau ~ HalfNormal(0.1)``, ``sigma ~ HalfNormal(0.05)``, ``gamma ~ N(0, 0.5)``.

Defaults: 4 chains x 2000 draws after 1500 tuning steps, ``target_accept=0.99``. On the bundled
ladder 134 of 140 fits (20 tasks: targets two- and one-step, leave-one-size-out) pass every
sampler check (R-hat, ESS: Vehtari et al. 2021); ``validation/results/scaling.md`` names the others and why. A fit
takes about 5 s on 2 CPU cores once compiled (nutpie compiles once per number of runs and
observations, 15-35 s, and reuses it across tasks).

A target's predictive draws a new run deviation and new checkpoint noise: it is the
distribution of the *observed* score (its final checkpoint, or the mean of its last n), which
is what the observed 7B and 13B scores are checked against. ``one_step=True`` drops the loss:
accuracy is the same logistic curve of a power law in N and D (``sN (N/N0)^-alpha + (1 - sN)
(D/D0)^-beta``, 1 at the centre), fitted to accuracy alone (Bhagia et al.'s single-step
baseline).
"""

from __future__ import annotations

import numpy as np

from snrstat.scaling.data import ScalingData


def build_model(data: ScalingData, *, one_step: bool = False, helper_sd: float | None = 0.02):
    """The PyMC model of the module docstring. Observations and anchors are ``pm.Data``, so a
    compiled model is reused for any task with the same number of runs and observations.

    ``helper_sd``: the paper's helper point (L = 0, acc = 1) as a soft constraint on step 2,
    ``acc(0) ~ Normal(1, helper_sd)`` (two-step only; ``None`` drops it). A model that puts all
    probability on the correct answer (zero BPB) is always right, so this is physics, not a
    fudge; it is what keeps the extrapolated top of the sigmoid from sagging."""
    import pymc as pm
    import pytensor.tensor as pt

    md = data.model_data()
    coords = {"run": data.runs, "obs": np.arange(len(data.obs_run)), "term": ["N", "D", "E"]}
    with pm.Model(coords=coords) as model:
        log_n = pm.Data("log_n", md["log_n"], dims="run")
        log_d = pm.Data("log_d", md["log_d"], dims="run")
        obs_run = pm.Data("obs_run", md["obs_run"], dims="obs")
        offset = pm.Data("offset", md["offset"], dims="obs")
        n_obs = pm.Data("n_obs_run", md["n_obs_run"], dims="run")
        acc_mean = pm.Data("acc_mean", md["acc_mean"], dims="run")
        offset_mean = pm.Data("offset_mean", md["offset_mean"], dims="run")
        acc_dev = pm.Data("acc_dev", md["acc_dev"], dims="obs")
        offset_dev = pm.Data("offset_dev", md["offset_dev"], dims="obs")
        log_n0 = pm.Data("log_n0", md["log_n0"])
        log_d0 = pm.Data("log_d0", md["log_d0"])
        dn, dd = log_n - log_n0, log_d - log_d0

        if one_step:
            alpha = pm.LogNormal("alpha", mu=np.log(0.3), sigma=0.75)
            beta = pm.LogNormal("beta", mu=np.log(0.3), sigma=0.75)
            share_n = pm.Beta("share_n", alpha=2.0, beta=2.0)
            x_run = share_n * pt.exp(-alpha * dn) + (1 - share_n) * pt.exp(-beta * dd)
            x_ref = 1.0
        else:
            log_ref = pm.Data("log_loss_ref", md["log_loss_ref"])
            log_loss_obs = pm.Data("log_loss_obs", md["log_loss_obs"], dims="obs")
            log_t = pm.Normal("log_T", mu=log_ref, sigma=0.5)
            g_n = pm.LogNormal("g_n", mu=np.log(0.1), sigma=1.0)
            g_d = pm.LogNormal("g_d", mu=np.log(0.1), sigma=1.0)
            shares = pm.Dirichlet("shares", a=np.full(3, 2.0), dims="term")
            alpha = pm.Deterministic("alpha", g_n / shares[0])
            beta = pm.Deterministic("beta", g_d / shares[1])
            pm.Deterministic("a", log_t + pt.log(shares[0]) + alpha * log_n0)
            pm.Deterministic("b", log_t + pt.log(shares[1]) + beta * log_d0)
            pm.Deterministic("E", pt.exp(log_t) * shares[2])
            law = pt.exp(log_t) * (shares[0] * pt.exp(-alpha * dn) + shares[1] * pt.exp(-beta * dd) + shares[2])
            tau_loss = pm.HalfNormal("tau_loss", sigma=0.1)
            sigma_loss = pm.HalfNormal("sigma_loss", sigma=0.05)
            gamma_loss = pm.Normal("gamma_loss", mu=0.0, sigma=0.5)
            # Centred: each run's last checkpoints pin its log loss far tighter than tau_loss
            # spreads the runs, the regime where a non-centred run effect makes a funnel.
            log_loss_run = pm.Normal("log_loss_run", mu=pt.log(law), sigma=tau_loss, dims="run")
            pm.Normal("loss_obs", mu=log_loss_run[obs_run] + gamma_loss * offset, sigma=sigma_loss,
                      observed=log_loss_obs, dims="obs")
            x_run = pt.exp(log_loss_run)
            x_ref = pt.exp(log_ref)

        # Step 2 through what the data pin down: accuracy and slope at the centre's loss.
        acc_ref = pm.Deterministic("acc_ref", pm.math.sigmoid(pm.Normal("acc_ref_logit", 0.0, 1.5)))
        floor = pm.Deterministic("floor", acc_ref * pm.Beta("floor_frac", alpha=2.0, beta=2.0))
        p_min = (acc_ref - floor) / (1 - floor)  # smallest fraction of the range that keeps top <= 1
        p_ref = pm.Deterministic("p_ref", p_min + (1 - p_min) * pm.math.sigmoid(pm.Normal("rho", 0.0, 1.5)))
        slope = pm.LogNormal("slope", mu=np.log(0.5), sigma=1.5)
        span = (acc_ref - floor) / p_ref
        top = pm.Deterministic("top", floor + span)
        k = pm.Deterministic("k", slope / (span * p_ref * (1 - p_ref)))
        l0 = pm.Deterministic("L0", x_ref + pm.math.logit(p_ref) / k)
        pm.Deterministic("acc_a", floor - top)
        pm.Deterministic("acc_b", top)
        if helper_sd is not None and not one_step:
            pm.Normal("helper", mu=floor + span * pm.math.sigmoid(k * l0), sigma=helper_sd, observed=1.0)

        tau_acc = pm.HalfNormal("tau_acc", sigma=0.1)
        sigma_acc = pm.HalfNormal("sigma_acc", sigma=0.05)
        gamma_acc = pm.Normal("gamma_acc", mu=0.0, sigma=0.5)
        curve = pm.Deterministic("acc_curve", floor + span * pm.math.sigmoid(k * (l0 - x_run)), dims="run")
        # The run deviation tau_acc * w_r enters linearly, so it is integrated out exactly: a run's
        # mean of n checkpoints is Normal(curve + drift, sqrt(tau^2 + sigma^2 / n)) and, independent
        # of it, the deviations from that mean carry n - 1 degrees of freedom of checkpoint noise.
        pm.Normal("acc_mean_obs", mu=curve + gamma_acc * offset_mean,
                  sigma=pt.sqrt(tau_acc ** 2 + sigma_acc ** 2 / n_obs), observed=acc_mean, dims="run")
        resid = acc_dev - gamma_acc * offset_dev
        pm.Potential("acc_within", -(n_obs.sum() - n_obs.shape[0]) * pt.log(sigma_acc)
                     - 0.5 * pt.sum(resid ** 2) / sigma_acc ** 2)
    return model


