"""The PyMC graph of the item-response model (Madaan et al. 2024; Lord 1980 for item response theory).

For respondent r (a model, or one run of it at one checkpoint) and item i of category c:

```
P(correct) = g + (1 - g) * logistic(a_i * (theta[m(r)] + delta[m(r), c] + u[run(r)] + w[r] - b_i))
b_i = mu_c + sigma_c * z_i,   mu_c = mu_b + d_c, d ~ ZeroSumNormal(tau)   difficulties pooled by category
```

(Rasch 1960 and Birnbaum 1968 for the 1PL/2PL forms; the 3PL guessing floor g is fixed at
1/number of options rather than estimated, which keeps it identifiable with few models.)
The likelihood is one vectorised binomial term per (respondent, item) cell, written on the
log scale with softplus so that it stays finite for confident predictions:
``log P = logaddexp(log g, log(1 - g) - softplus(-eta))``, ``log(1 - P) = log(1 - g) - softplus(eta)``.
Abilities are centred and sum to zero over the models (PyMC's ZeroSumNormal: each is the
deviation of a model from the fitted models' mean, iid Normal(0, sigma_theta) projected onto
the zero-sum plane), which identifies the location without a prior-only direction;
category means too (many items each), and model-by-category abilities over both axes; item difficulties are centred where each item has many
answers and non-centred otherwise, as are model-by-category abilities; run and checkpoint terms
are non-centred.
"""

from __future__ import annotations

import numpy as np

from snrstat.items.design import ItemDesign, ItemSpec

#: Posterior variables shown by ``ItemFit.summary()``, when present.
SUMMARY_VARS = ("theta", "sigma_theta", "mu_b", "tau", "sigma_c", "sigma_a", "sigma_mc", "sigma_run", "sigma_ckpt")


def coords(design: ItemDesign) -> dict:
    return {"model": list(design.models), "item": list(design.items), "category": list(design.categories),
            "run": list(design.runs), "respondent": list(design.respondents)}


def build_item_model(design: ItemDesign, spec: ItemSpec):
    """The PyMC model of ``design`` under ``spec`` (responses enter as the data ``k``)."""
    import pymc as pm
    import pytensor.tensor as pt

    p = spec.priors
    c = coords(design)
    if not spec.run:
        c.pop("run")
    if not spec.ckpt:
        c.pop("respondent")
    cell_model = design.resp_model[design.cell_resp]
    cell_cat = design.item_category[design.cell_item]
    with pm.Model(coords=c) as model:
        k = pm.Data("k", design.k.astype("float64"))
        n = design.n.astype("float64")
        if len(design.models) > 1:
            sigma_theta = pm.HalfNormal("sigma_theta", p.theta)
            # abilities sum to zero over the models: the benchmark's location lives in mu_b alone,
            # so no shared shift of every ability and difficulty is left for the sampler to wander along
            theta = pm.ZeroSumNormal("theta", sigma=sigma_theta, dims="model")
        else:
            # one model (repeated trials of one agent, say): its ability is the benchmark's location
            theta = pm.Deterministic("theta", pt.zeros(1), dims="model")
        mu_b = pm.Normal("mu_b", 0.0, p.location)
        if len(design.categories) > 1:
            # category deviations sum to zero, so mu_b is the mean category difficulty and no
            # shared shift of mu_b and every category is left unidentified; centred, because
            # every category has many items, with a zero-avoiding Gamma(2) prior on their spread
            # (Chung et al. 2013) so that the centred form has no funnel at tau -> 0
            tau = pm.Gamma("tau", alpha=2.0, beta=2.0 / p.category)
            dc = pm.ZeroSumNormal("dc", sigma=tau, dims="category")
            mu_c = pm.Deterministic("mu_c", mu_b + dc, dims="category")
        else:
            mu_c = pm.Deterministic("mu_c", pt.stack([mu_b]), dims="category")
        sigma_c = pm.HalfNormal("sigma_c", p.item, dims="category")
        if spec.centred_items:
            b = pm.Normal("b", mu_c[design.item_category], sigma_c[design.item_category], dims="item")
        else:
            z = pm.Normal("z", 0.0, 1.0, dims="item")
            b = pm.Deterministic("b", mu_c[design.item_category] + sigma_c[design.item_category] * z, dims="item")
        ability = theta[cell_model]
        if spec.interaction:
            sigma_mc = pm.HalfNormal("sigma_mc", p.interaction)
            # zero-sum over categories and over models: theta[m] is the model's ability averaged over
            # categories and mu_c the category's difficulty, so delta is a pure interaction. Free
            # row means let theta[m] and delta[m, :] trade places along a prior-only direction
            # (the full MMLU-Pro fit had abilities at 11% ESS per draw), free column means do the
            # same with mu_c and every difficulty of the category
            if spec.centred_interaction:
                delta = pm.ZeroSumNormal("delta", sigma=sigma_mc, dims=("model", "category"), n_zerosum_axes=2)
            else:
                zmc = pm.ZeroSumNormal("zmc", sigma=1.0, dims=("model", "category"), n_zerosum_axes=2)
                delta = pm.Deterministic("delta", sigma_mc * zmc, dims=("model", "category"))
            ability = ability + delta[cell_model, cell_cat]
        if spec.run:
            sigma_run = pm.HalfNormal("sigma_run", p.training)
            zr = pm.Normal("zr", 0.0, 1.0, dims="run")
            ability = ability + (sigma_run * zr)[design.resp_run[design.cell_resp]]
        if spec.ckpt:
            sigma_ckpt = pm.HalfNormal("sigma_ckpt", p.training)
            zw = pm.Normal("zw", 0.0, 1.0, dims="respondent")
            ability = ability + (sigma_ckpt * zw)[design.cell_resp]
        eta = ability - b[design.cell_item]
        if spec.twopl:
            sigma_a = pm.HalfNormal("sigma_a", p.discrimination)
            za = pm.Normal("za", 0.0, 1.0, dims="item")
            a = pm.Deterministic("a", pt.exp(sigma_a * za), dims="item")
            eta = a[design.cell_item] * eta
        log_fail = -pt.softplus(eta)
        log_right = -pt.softplus(-eta)
        if spec.guess > 0:
            lg, l1g = np.log(spec.guess), np.log1p(-spec.guess)
            log_right = pt.logaddexp(lg, l1g + log_right)
            log_fail = l1g + log_fail
        pm.Potential("loglik", pt.sum(k * log_right + (n - k) * log_fail))
    return model


def plain_item_model(design: ItemDesign, spec: ItemSpec):
    """The textbook formulation, for benchmarks: one Bernoulli node per answer (cells expanded),
    probabilities through ``invlogit`` and no aggregation. Same priors and terms as
    :func:`build_item_model` (1PL/2PL and the guessing floor; no run or checkpoint terms), with the
    textbook centred priors (``mu_c ~ Normal(mu_b, tau)``, ``b_i ~ Normal(mu_c, sigma_c)``)."""
    import pymc as pm
    import pytensor.tensor as pt

    p = spec.priors
    reps = design.n
    resp = np.repeat(design.cell_resp, reps)
    item = np.repeat(design.cell_item, reps)
    y = np.concatenate([np.r_[np.ones(kk), np.zeros(nn - kk)] for kk, nn in zip(design.k, design.n)]) \
        if (reps > 1).any() else design.k.astype(float)
    model_of = design.resp_model[resp]
    cat_of = design.item_category[item]
    c = coords(design)
    with pm.Model(coords={k: c[k] for k in ("model", "item", "category")}) as model:
        sigma_theta = pm.HalfNormal("sigma_theta", p.theta)
        theta = pm.ZeroSumNormal("theta", sigma=sigma_theta, dims="model")
        mu_b = pm.Normal("mu_b", 0.0, p.location)
        tau = pm.Gamma("tau", alpha=2.0, beta=2.0 / p.category)
        mu_c = pm.Normal("mu_c", mu_b, tau, dims="category")
        sigma_c = pm.HalfNormal("sigma_c", p.item, dims="category")
        b = pm.Normal("b", mu_c[design.item_category], sigma_c[design.item_category], dims="item")
        ability = theta[model_of]
        if spec.interaction:
            sigma_mc = pm.HalfNormal("sigma_mc", p.interaction)
            delta = pm.ZeroSumNormal("delta", sigma=sigma_mc, dims=("model", "category"), n_zerosum_axes=2)
            ability = ability + delta[model_of, cat_of]
        eta = ability - b[item]
        if spec.twopl:
            sigma_a = pm.HalfNormal("sigma_a", p.discrimination)
            a = pm.LogNormal("a", 0.0, sigma_a, dims="item")
            eta = a[item] * eta
        prob = spec.guess + (1 - spec.guess) * pm.math.invlogit(eta)
        pm.Bernoulli("y", p=pt.clip(prob, 1e-12, 1 - 1e-12), observed=y)
    return model
