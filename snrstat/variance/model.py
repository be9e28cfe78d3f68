"""The PyMC graph of a :class:`~snrstat.variance.spec.Design`.

Every data array is a ``pm.Data`` container, so one compiled graph serves every task with
the same structure (:meth:`Design.signature`): only the data are swapped.

Parameterisation (why). With a Gaussian likelihood (the default ``logit_normal``, and
``normal``) the model effects, the checkpoint effects and a nested run-level effect (one
seed per run) enter linearly with normal priors, so they are integrated out exactly
(:mod:`snrstat.variance.collapsed`): NUTS samples only mu, the sigmas and any crossed
effects, a handful of parameters with no funnel, and the model effects are drawn afterwards
from their exact conditional posterior. Other likelihoods keep every effect as a parameter:
model effects *centred* when the data pin them down, seed and data-order effects
*non-centred* when few runs inform them (:func:`choose_centering`). ``binomial`` and
``binomial_t`` integrate each record's checkpoint effect out of the exact binomial by
quadrature (:func:`binomial_mixture_logp`): no per-record parameters, so near a ceiling or
with heavy tails NUTS still samples a few dozen parameters. ``logit_t`` integrates a Student-t
checkpoint effect out of the empirical logit's normal as a scale mixture of normals
(:func:`elogit_t_logp`), with nu a continuous parameter.
"""

from __future__ import annotations

import functools

import numpy as np

from snrstat.variance.collapsed import collapsed_logp, low_rank_columns, run_marginal, z_matrix
from snrstat.variance.spec import Design, Priors, SHORT
#: Data containers of the graph; ``with_data`` swaps these between tasks.
DATA_NAMES = ("rec_run", "run_model", "run_seed", "run_data_order", "x", "ell", "known_var", "y", "n")


def data_arrays(design: Design, collapsed: bool | None = None) -> dict[str, np.ndarray]:
    """The arrays fed to the graph's ``pm.Data`` containers for this design."""
    out = {"rec_run": design.rec_run, "run_model": design.run_model}
    if is_collapsed(design) if collapsed is None else collapsed:
        out["Z"] = z_matrix(design)
    for col, codes in design.run_level.items():
        out[f"run_{col}"] = codes
    if design.trend:
        out["x"] = design.x
    out.update(design.data)
    return {k: np.ascontiguousarray(v) for k, v in out.items()}


def coords(design: Design) -> dict[str, list]:
    c = {"model": design.models, "run": design.runs, "record": list(range(len(design.rec_run))),
         "effect_level": ["mu"] + [f"{col}:{lab}" for col in low_rank_columns(design) for lab in design.levels[col]]}
    for col, labels in design.levels.items():
        c[col] = labels
    return c


def is_collapsed(design: Design, marginalize: bool = True) -> bool:
    """Whether the graph integrates the model effects out (Gaussian likelihoods)."""
    return marginalize and design.likelihood in ("logit_normal", "normal")


def build_model(design: Design, priors: Priors | None = None, centered=("model",), marginalize: bool = True,
                shares: bool | None = None):
    """A ``pm.Model`` of the design (variables on the link scale, suffix ``_link``).

    ``centered`` lists the explicit components whose effects are sampled directly (the
    others as ``sigma * z``); see :func:`choose_centering`. With ``marginalize`` and a
    Gaussian likelihood mu and every effect are integrated out; ``mu_link``,
    ``effect_model`` and the seed / data-order effects are then added after sampling
    (:func:`snrstat.variance.collapsed.draw_effects`). With ``shares`` the run-level sigmas
    are sampled as a total and its shares (:func:`_run_level_sigmas`); the priors are the
    same either way. ``shares=None`` decides by :func:`use_shares`.
    """
    import pymc as pm
    import pytensor.tensor as pt

    priors = priors or Priors.default(design.link)
    collapsed = is_collapsed(design, marginalize)
    arrays = data_arrays(design, collapsed)
    marginal = run_marginal(design) if collapsed else None
    with pm.Model(coords=coords(design)) as model:
        data = {k: pm.Data(k, v, dims=_dims(k)) for k, v in arrays.items()}
        # collapsed: mu is integrated out with the effects (drawn afterwards)
        mu = 0.0 if collapsed else pm.Normal("mu_link", 0.0, priors.mu)
        run_level = ["model"] + [c for c in ("seed", "data_order") if c in design.components]
        shares = use_shares(design) if shares is None else shares
        sigmas = _run_level_sigmas(run_level, priors, shares, pm, pt)
        sigma_model = sigmas["model"]
        eta_run = mu * pt.ones(len(design.runs))
        if not collapsed:
            if "model" in centered:
                # centred on the model means themselves: with mu + a as coordinates the
                # well-measured sums mu + a_m leave a ridge along (mu + c, a - c)
                theta = pm.Normal("c_model", mu, sigma_model, dims="model")
                pm.Deterministic("effect_model", theta - mu, dims="model")
                eta_run = theta[data["run_model"]]
            else:
                effect_model = pm.Deterministic("effect_model", sigma_model * pm.Normal("z_model", dims="model"),
                                                dims="model")
                eta_run = eta_run + effect_model[data["run_model"]]

        for col in run_level[1:]:
            if design.residual == col or collapsed:
                continue
            effect = _level_effects(design, col, sigmas[col], col in centered, pm, pt)
            eta_run = eta_run + effect[data[f"run_{col}"]]

        eta = eta_run[data["rec_run"]]
        if design.trend:
            t_mean = pm.Normal("trend_mean", 0.0, priors.trend)
            t_sd = pm.HalfNormal("trend_sd_link", priors.trend_sd)
            z_t = pm.Normal("z_trend", dims="run")
            slope = pm.Deterministic("trend_slope", t_mean + t_sd * z_t, dims="run")
            eta = eta + slope[data["rec_run"]] * data["x"]
        if "ckpt" in design.components:
            sigmas["ckpt"] = pm.HalfNormal("sigma_ckpt_link", priors.noise)
        if collapsed:
            obs, var = _gaussian_obs(design, data, sigmas, pt)
            s_run = sigmas[marginal] if marginal else None
            g = pt.concatenate([pt.as_tensor([priors.mu])]
                               + [sigmas[c] * pt.ones(len(design.levels[c])) for c in low_rank_columns(design)])
            pm.Potential("obs", collapsed_logp(obs, var, eta, data["rec_run"], data["run_model"], len(design.runs),
                                               len(design.models), s_run, sigma_model, data.get("Z"), g, pt))
        else:
            _likelihood(design, data, eta, sigmas, pm, pt)
    return model


def use_shares(design: Design) -> bool:
    """Whether to sample the run-level sigmas as a total and shares (:func:`_run_level_sigmas`).

    Only when a nested seed or data-order component is replicated in some models but not in
    others (the OLMo ladder: a second seed for one model): then the data pin down the total
    spread of runs better than its split, and the (total, shares) coordinates straighten
    the ridge. With crossed or fully replicated components each sigma is informed on its
    own, and independent HalfNormal sigmas sample better (measured on 25 models x 3 crossed
    seeds: twice the ESS and no divergences, against a few divergences per fit with shares).
    """
    for col in ("seed", "data_order"):
        if col in design.components and col != design.residual and col in design.levels:
            rep = design.replicated(col)
            if rep.any() and not rep.all():
                return True
    return False


def _run_level_sigmas(run_level, priors: Priors, shares: bool, pm, pt) -> dict:
    """sigma_model and the seed / data-order sigmas, with HalfNormal priors.

    The data often pin down only the *total* spread of runs: with one seed per model
    everywhere but one, seeds could explain much of the between-model spread or little of
    it, and in (sigma_model, sigma_seed) the posterior is a curved ridge that NUTS crosses
    badly. Sampling ``tau`` (the root of the summed variances, flat on log tau) and the
    variance shares ``pi`` (flat on the simplex), with ``sigma_j = tau sqrt(pi_j)``,
    straightens it; a potential adds the HalfNormal log priors of the sigmas and the log
    Jacobian ``log 2 + (2K - 1) log tau - K log 2 - sum_j log sigma_j`` so that the prior is
    exactly the HalfNormal one on each sigma.
    """
    scale = {"model": priors.model, "seed": priors.noise, "data_order": priors.noise}
    if not shares or len(run_level) == 1:
        return {c: pm.HalfNormal(f"sigma_{SHORT[c]}_link", scale[c]) for c in run_level}
    k = len(run_level)
    tau = pm.HalfFlat("z_total")
    pi = pm.Dirichlet("z_shares", a=np.ones(k))
    out, logp = {}, np.log(2.0) + (2 * k - 1) * pt.log(tau) - k * np.log(2.0)
    for j, c in enumerate(run_level):
        out[c] = pm.Deterministic(f"sigma_{SHORT[c]}_link", tau * pt.sqrt(pi[j]))
        logp += -pt.log(out[c]) + pm.logp(pm.HalfNormal.dist(scale[c]), out[c])
    pm.Potential("prior_sigmas", logp)
    return out


def _gaussian_obs(design: Design, data, sigmas, pt):
    """Observations and their residual variance per record (binomial + checkpoint, or residual)."""
    ckpt = sigmas.get("ckpt")
    if design.likelihood == "logit_normal":
        return data["ell"], (data["known_var"] if ckpt is None else data["known_var"] + ckpt**2)
    return data["y"], sigmas[design.residual] ** 2 * pt.ones_like(data["y"])


def _level_effects(design: Design, col: str, sigma, centred: bool, pm, pt):
    """Seed or data-order effects; centred ones sampled directly, the rest as ``sigma * z``.

    Effects are independent normal around mu (as in the collapsed model). In a nested
    design only the levels of models with several levels can be centred
    (:meth:`Design.replicated`); the others are confounded with their model effect and stay
    non-centred.
    """
    name = SHORT[col]
    rep = design.replicated(col)
    if not centred or rep.all() or not rep.any():
        if centred:
            return pm.Normal(f"effect_{name}", 0.0, sigma, dims=col)
        return pm.Deterministic(f"effect_{name}", sigma * pm.Normal(f"z_{name}", dims=col), dims=col)
    idx_c, idx_n = np.flatnonzero(rep), np.flatnonzero(~rep)
    centred_part = pm.Normal(f"c_{name}", 0.0, sigma, shape=len(idx_c))
    z = pm.Normal(f"z_{name}", shape=len(idx_n))
    full = pt.zeros(len(rep))
    full = pt.set_subtensor(full[idx_c], centred_part)
    full = pt.set_subtensor(full[idx_n], sigma * z)
    return pm.Deterministic(f"effect_{name}", full, dims=col)


_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(20)
_GH_LW = np.log(_GH_W / _GH_W.sum())
_GL_U, _GL_W = np.polynomial.legendre.leggauss(16)
_GL_U, _GL_LW = (_GL_U + 1) / 2, np.log(_GL_W / 2)
#: Degrees of freedom the Student-t checkpoint effects of ``binomial_t`` may take, and their
#: prior weights: the mass of the Jeffreys prior (:func:`log_jeffreys_nu`) on (NU_MIN, NU_MAX)
#: between the geometric midpoints of the grid. A discrete grid keeps the quadrature nodes
#: constant (the t quantile function has no gradient in nu in PyTensor); nu is summed out of
#: the likelihood and drawn after sampling from its exact conditional (:func:`draw_nu`).
NU_GRID = np.array([2.0, 3.0, 4.0, 6.0, 10.0, 30.0])


@functools.cache
def _nu_prior() -> np.ndarray:
    from scipy.integrate import quad

    edges = np.concatenate([[NU_MIN], np.sqrt(NU_GRID[1:] * NU_GRID[:-1]), [NU_MAX]])
    mass = np.array([quad(lambda v: np.exp(log_jeffreys_nu(v)), a, b)[0] for a, b in zip(edges[:-1], edges[1:])])
    return np.log(mass / mass.sum())


def _t_nodes() -> np.ndarray:
    from scipy.stats import t as student_t

    return student_t.ppf(_GL_U[None, :], NU_GRID[:, None])


def binomial_mixture_logp(y, n, eta, sigma, robust: bool, xp, per_nu: bool = False):
    """``log int Binomial(y; n, expit(eta + sigma z)) f(z) dz`` per record.

    ``f`` is N(0, 1) (Gauss-Hermite, 20 nodes) or, with ``robust``, Student-t with ``nu`` on
    :data:`NU_GRID` (Gauss-Legendre nodes in the probability, 16 per nu); the t case sums nu
    out globally, so it returns one number, ``log sum_j prior_j prod_r p_j(y_r)``, split evenly
    over records (the sum is what matters), or with ``per_nu`` the (records, nu) matrix.
    Works on PyTensor (``xp = pytensor.tensor``) and numpy (``xp = numpy``) arrays alike.
    """
    if xp is np:
        from scipy.special import gammaln, logsumexp

        softplus = lambda v: np.logaddexp(0.0, v)
    else:
        gammaln, softplus = xp.gammaln, xp.softplus
        logsumexp = xp.logsumexp
    const = gammaln(n + 1.0) - gammaln(y + 1.0) - gammaln(n - y + 1.0)
    if not robust:
        e = eta[..., None] + sigma * _GH_X
        ll = -y[..., None] * softplus(-e) - (n - y)[..., None] * softplus(e)
        return const + logsumexp(ll + _GH_LW, axis=-1)
    e = eta[..., None, None] + sigma * _t_nodes()
    ll = -y[..., None, None] * softplus(-e) - (n - y)[..., None, None] * softplus(e)
    rec = const[..., None] + logsumexp(ll + _GL_LW, axis=-1)  # (records, nu)
    if per_nu:
        return rec
    return logsumexp(rec.sum(axis=-2) + _nu_prior(), axis=-1)


#: Nodes in ``x = log w`` for the scale mixture of :func:`elogit_t_logp` (trapezoid rule):
#: the integrand decays like ``exp((nu + 1) x / 2)`` below and ``exp(-nu e^x / 2)`` above, and
#: its width in x is about ``sqrt(2 / nu)``, so steps of 0.1 over [-20, 4] are accurate to
#: better than 1e-6 for nu in [NU_MIN, NU_MAX].
_LOGW_STEP = 0.1
_LOGW = np.arange(-20.0, 4.0 + _LOGW_STEP / 2, _LOGW_STEP)


def elogit_t_logp(ell, known_var, eta, sigma, nu, xp):
    """``log int N(ell; eta + sigma t, known_var) t_nu(t) dt`` per record (last axis: records).

    The Student-t checkpoint effect is a scale mixture, ``t = z / sqrt(w)`` with
    ``w ~ Gamma(nu / 2, rate nu / 2)``, so given w the empirical logit is normal with variance
    ``known_var + sigma^2 / w``; w is integrated out by the trapezoid rule in ``log w``
    (:data:`_LOGW`). Unlike quadrature over the effect itself, the integrand stays smooth however
    precise the binomial is (1,000s of items pin a record's logit far more tightly than the
    spacing of any fixed set of t nodes), and nu keeps a gradient. ``xp``: ``numpy`` or
    ``pytensor.tensor``; ``nu`` a scalar.
    """
    if xp is np:
        from scipy.special import gammaln, logsumexp
    else:
        gammaln, logsumexp = xp.gammaln, xp.logsumexp
    half = nu / 2.0
    # log density of x = log w (Gamma(half, half) times the Jacobian w) plus log trapezoid weight
    log_mix = half * xp.log(half) - gammaln(half) + half * _LOGW - half * np.exp(_LOGW) \
        + np.log(_LOGW_STEP)
    var = known_var[..., None] + sigma**2 * np.exp(-_LOGW)
    ll = -0.5 * (np.log(2 * np.pi) + xp.log(var) + (ell - eta)[..., None] ** 2 / var)
    return logsumexp(ll + log_mix, axis=-1)


def log_jeffreys_nu(nu, xp=np):
    """Log of the independence Jeffreys prior of Student-t degrees of freedom, unnormalised
    (Fonseca, Ferreira & Migon 2008, Biometrika 95: intervals for nu under it cover at close to
    their nominal rate). A Gamma(2, 0.1) prior (mean 20) pulls a weakly informed nu towards
    near-normal tails and so understates the sd of a heavy-tailed effect: on Student-t(3)
    checkpoint spikes, 90% intervals of sigma_ckpt covered 0.81 under it (validation/misfit_study.py)."""
    if xp is np:
        from scipy.special import polygamma
    else:
        polygamma = xp.polygamma
    trigamma = lambda v: polygamma(1, v)
    return 0.5 * (xp.log(nu) - xp.log(nu + 3.0)) + 0.5 * xp.log(
        trigamma(nu / 2.0) - trigamma((nu + 1.0) / 2.0) - 2.0 * (nu + 3.0) / (nu * (nu + 1.0) ** 2))


#: Range of nu. Below 1, spikes heavier than Cauchy are broken evaluations rather than
#: checkpoint noise (the Jeffreys prior puts 61% of its mass there); above 200 a t effect is
#: normal for any purpose here, and the scale-mixture rule of :func:`elogit_t_logp` stays exact.
NU_MIN, NU_MAX = 1.0, 200.0


#: Lower end of nu where the Student-t is parameterised by its sd (``student_t``): the sd of a
#: score exists only for nu > 2.
NU_MIN_SD = 2.0


def nu_prior(pm, pt, lower: float = NU_MIN):
    """``nu`` with the Jeffreys prior of :func:`log_jeffreys_nu` on (lower, NU_MAX)."""
    nu = pm.Uniform("nu", lower, NU_MAX)
    pm.Potential("nu_prior", log_jeffreys_nu(nu, pt))
    return nu


def t_scale(sd, nu, xp=np):
    """Scale of a Student-t(nu) with standard deviation ``sd`` (nu > 2).

    ``student_t`` samples the residual's sd, not its scale: on the natural scale the noise is
    that sd, so it must exist (nu > 2), and a (scale, nu) pair trades along a ridge where nu
    nears 2 and the sd explodes (on real OLMo checkpoints: divergences, and SNR intervals
    reaching 0). With the sd as the parameter the data pin it whatever the tails.
    """
    return sd * xp.sqrt((nu - 2.0) / nu)


def record_eta(post, design: Design) -> np.ndarray:
    """Link-scale mean of every record for every draw, (draws, records), from a non-collapsed
    fit's posterior (mu, model and seed / data-order effects, trend)."""
    def flat(name):
        v = np.asarray(post[name].values, dtype=float)
        return v.reshape(-1, *v.shape[2:])

    eta = flat("mu_link")[:, None] + flat("effect_model")[:, design.run_model]
    for col in ("seed", "data_order"):
        if col in design.components and col != design.residual:
            eta = eta + flat(f"effect_{SHORT[col]}")[:, design.run_level[col]]
    eta = eta[:, design.rec_run]
    if "trend_slope" in post:
        eta = eta + flat("trend_slope")[:, design.rec_run] * design.x
    return eta


def draw_nu(post, design: Design, seed: int):
    """Draws of ``nu`` (``binomial_t``) from its exact conditional posterior given each draw
    of the other parameters, as a DataArray (chain, draw); ``None`` for other likelihoods."""
    import xarray as xr

    if design.likelihood != "binomial_t" or "sigma_ckpt_link" not in post:
        return None
    eta = record_eta(post, design)
    s = np.asarray(post["sigma_ckpt_link"].values, dtype=float).ravel()
    y, n = design.data["y"].astype(float), design.data["n"].astype(float)
    rng = np.random.default_rng(seed)
    out = np.empty(len(s))
    prior = _nu_prior()
    for d in range(len(s)):
        logw = binomial_mixture_logp(y, n, eta[d], s[d], True, np, per_nu=True).sum(0) + prior
        w = np.exp(logw - logw.max())
        out[d] = NU_GRID[rng.choice(len(NU_GRID), p=w / w.sum())]
    shape = (post.sizes["chain"], post.sizes["draw"])
    return xr.DataArray(out.reshape(shape), dims=("chain", "draw"),
                        coords={"chain": post["chain"].values, "draw": post["draw"].values})


def _dims(name: str):
    if name == "Z":
        return ("record", "effect_level")
    if name in ("rec_run", "x", "ell", "known_var", "y", "n"):
        return "record"
    return "run"


def _likelihood(design: Design, data, eta, sigmas, pm, pt) -> None:
    lik = design.likelihood
    ckpt = sigmas.get("ckpt")
    if lik == "logit_normal" or (lik == "logit_t" and ckpt is None):  # no checkpoint effect to be heavy-tailed
        var = data["known_var"] if ckpt is None else data["known_var"] + ckpt**2
        pm.Normal("obs", eta, pt.sqrt(var), observed=data["ell"], dims="record")
    elif lik == "logit_t":
        nu = nu_prior(pm, pt)
        pm.Potential("obs", elogit_t_logp(data["ell"], data["known_var"], eta, ckpt, nu, pt).sum())
    elif lik in ("binomial", "binomial_t"):
        if ckpt is None:
            pm.Binomial("obs", n=data["n"], logit_p=eta, observed=data["y"], dims="record")
        else:
            lp = binomial_mixture_logp(data["y"], data["n"], eta, ckpt, lik == "binomial_t", pt)
            pm.Potential("obs", lp if lik == "binomial_t" else lp.sum())
    elif lik == "betabinomial":
        p = pm.math.invlogit(eta)
        if ckpt is None:
            pm.Binomial("obs", n=data["n"], p=p, observed=data["y"], dims="record")
        else:
            # Var(p_rc) = p(1-p)/(kappa+1) matched to the delta-method (p(1-p) sigma)^2
            kappa = pt.maximum(1.0 / (p * (1 - p) * ckpt**2) - 1.0, 1e-3)
            pm.BetaBinomial("obs", alpha=p * kappa, beta=(1 - p) * kappa, n=data["n"], observed=data["y"],
                            dims="record")
    else:
        resid = sigmas[design.residual]
        if lik == "normal":
            pm.Normal("obs", eta, resid, observed=data["y"], dims="record")
        else:
            nu = nu_prior(pm, pt, lower=NU_MIN_SD)
            pm.StudentT("obs", nu=nu, mu=eta, sigma=t_scale(resid, nu, pt), observed=data["y"], dims="record")


def choose_centering(design: Design) -> tuple[str, ...]:
    """Components to sample centred: those whose levels the data pin down.

    The usual rule (Papaspiliopoulos, Roberts & Sköld 2007; Betancourt & Girolami 2015):
    centred when the standard error of a level's mean is smaller than the spread of the
    effects, non-centred otherwise. Both come from a quick REML fit of the same model
    (:mod:`snrstat.variance.reml`): the se of a level is ``sqrt(residual / records)`` (plus
    the run-level variances over runs for model effects), and the spread is the REML sd
    shrunk to a lower 90% bound ``sigma sqrt(df / chi2_0.9(df))`` with df = informative
    levels - 1, because with few levels the posterior reaches far below the REML value,
    where a centred form funnels. If REML fails, model effects are centred, the rest not.
    """
    from scipy.stats import chi2

    from snrstat.variance.reml import reml_link_variances

    try:
        var = reml_link_variances(design)
    except Exception:  # a numerical failure of the cross-check must not stop the fit
        return ("model",)
    resid = var["residual"]
    out = []
    for col in ("model", "seed", "data_order"):
        if col not in design.components or design.residual == col:
            continue
        if col == "model":
            codes, informative = design.run_model, np.ones(len(design.models), dtype=bool)
        else:
            codes, informative = design.run_level[col], design.replicated(col)
        per_level = np.bincount(codes[design.rec_run], minlength=len(informative))[informative]
        df = _level_df(design, col, informative)
        if df < 1 or not len(per_level):
            continue
        se2 = resid / np.median(per_level)
        if col == "model":
            runs_per_model = np.median(np.bincount(design.run_model))
            se2 += sum(var.get(c, 0.0) for c in ("seed", "data_order")) / runs_per_model
        low = max(var.get(col, 0.0), 0.0) * df / chi2.ppf(0.9, df)
        if low > se2:
            out.append(col)
    return tuple(out)


def _level_df(design: Design, col: str, informative: np.ndarray) -> int:
    """Degrees of freedom for the spread of a component's effects."""
    if col == "model" or design.designs[col] == "crossed":
        return int(informative.sum()) - 1
    level_model = np.zeros(len(informative), dtype=np.int64)
    level_model[design.run_level[col]] = design.run_model
    counts = np.bincount(level_model[informative], minlength=len(design.models))
    return int((counts[counts > 0] - 1).sum())
