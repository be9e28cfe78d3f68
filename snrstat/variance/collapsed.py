"""Integrating every random effect out of a Gaussian variance model, exactly.

With a Gaussian likelihood (``logit_normal``, ``normal``) the records are, given the
sigmas and the trend ``eta``, ``obs = eta + a[model] + b[run] + Z u + noise`` with

- ``noise[c] ~ N(0, var[c])`` (binomial + checkpoint variance, or the residual),
- ``b[r] ~ N(0, s_run^2)``: a nested seed (or data order) with one level per run,
- ``a[m] ~ N(0, s_model^2)``: the model effects,
- ``u ~ N(0, diag(g^2))``: the intercept mu (first column of ``Z``, all ones; ``g`` its
  prior sd) and every other seed / data-order effect (crossed labels, or nested labels
  shared by several runs: 0/1 columns, ``g`` their sigma).

So ``obs ~ N(eta, B + Z diag(g^2) Z')`` where ``B`` is block diagonal by model. ``B^-1`` and
``log det B`` follow from two nested applications of the matrix determinant lemma and
Sherman-Morrison (run within model, all sums over records); the low-rank ``Z`` part from
Woodbury with ``M = I + diag(g) Z' B^-1 Z diag(g)``, which stays well conditioned as any
``g`` goes to 0. NUTS then samples only the sigmas and the trend: a handful of parameters
with no funnel (mu is integrated out too, because its precision would otherwise depend on
the sigmas, a funnel of its own). Given those, ``u`` and then ``a`` are normal; the
``draw_effects`` function draws them for every posterior draw, so the joint draws are exact
posterior draws (as in a collapsed Gibbs sampler).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from snrstat.variance.spec import SHORT, Design


def run_marginal(design: Design) -> str | None:
    """The nested run-level component (one level per run) folded into ``B``, if any."""
    for col in ("seed", "data_order"):
        if (col in design.components and col != design.residual and design.designs[col] == "nested"
                and len(design.levels[col]) == len(design.runs)):
            return col
    return None


def low_rank_columns(design: Design) -> list[str]:
    """Components whose levels form the columns of ``Z`` (in this order)."""
    marginal = run_marginal(design)
    return [c for c in ("seed", "data_order")
            if c in design.components and c != design.residual and c != marginal]


def z_matrix(design: Design) -> np.ndarray:
    """``Z``: a column of ones (the intercept), then the levels of :func:`low_rank_columns` (0/1)."""
    blocks = [np.ones((len(design.rec_run), 1))]
    for col in low_rank_columns(design):
        codes = design.run_level[col][design.rec_run]
        z = np.zeros((len(codes), len(design.levels[col])))
        z[np.arange(len(codes)), codes] = 1.0
        blocks.append(z)
    return np.hstack(blocks)


class _Ops:
    """Group sums of rows in PyTensor (the sampled log density)."""

    def __init__(self, pt):
        self.pt = pt

    def segsum(self, x, idx, n: int):
        """Sums of the rows of x by group ``idx``."""
        pt = self.pt
        if x.ndim > 1:
            return pt.inc_subtensor(pt.zeros((n, x.shape[1]))[idx], x)
        return pt.inc_subtensor(pt.zeros(n)[idx], x)

    def ones_like(self, x):
        return self.pt.ones_like(x)


def _b_parts(ops, w, rec_run, run_model, n_runs, n_models, s2_run, m2):
    """Per-run and per-model quantities of ``B``: 1 + s2 W_r, A_m and the model factor."""
    W = ops.segsum(w, rec_run, n_runs)
    den_run = 1.0 + s2_run * W if s2_run is not None else ops.ones_like(W)
    A = ops.segsum(W / den_run, run_model, n_models)
    den_model = 1.0 + m2 * A
    return den_run, den_model


def _b_solve(ops, V, w, rec_run, run_model, n_runs, n_models, s2_run, m2, den_run, den_model):
    """``B^-1 V`` for V of shape (records,) or (records, k)."""
    wv = w * V if V.ndim == 1 else w[:, None] * V
    S = ops.segsum(wv, rec_run, n_runs)
    if s2_run is not None:
        ratio = s2_run * S / den_run if V.ndim == 1 else s2_run * S / den_run[:, None]
        y = wv - (w * ratio[rec_run] if V.ndim == 1 else w[:, None] * ratio[rec_run])
        S = S / den_run if V.ndim == 1 else S / den_run[:, None]
    else:
        y = wv
    T = ops.segsum(S, run_model, n_models)
    coef = m2 * T / den_model if V.ndim == 1 else m2 * T / den_model[:, None]
    f = w / den_run[rec_run]
    return y - (f * coef[run_model][rec_run] if V.ndim == 1 else f[:, None] * coef[run_model][rec_run])


def collapsed_logp(obs, var, eta, rec_run, run_model, n_runs: int, n_models: int, s_run, s_model, Z, g, pt):
    """``log N(obs; eta, B + Z diag(g^2) Z')`` (module docstring) as a PyTensor expression."""
    from pytensor.tensor.slinalg import cholesky, solve_triangular

    ops = _Ops(pt)
    w = 1.0 / var
    r = obs - eta
    s2 = None if s_run is None else s_run**2
    m2 = s_model**2
    den_run, den_model = _b_parts(ops, w, rec_run, run_model, n_runs, n_models, s2, m2)
    binv_r = _b_solve(ops, r, w, rec_run, run_model, n_runs, n_models, s2, m2, den_run, den_model)
    logdet = pt.sum(pt.log(var)) + pt.sum(pt.log(den_model))
    if s2 is not None:
        logdet += pt.sum(pt.log(den_run))
    quad = pt.sum(r * binv_r)
    if g is not None:
        binv_z = _b_solve(ops, Z, w, rec_run, run_model, n_runs, n_models, s2, m2, den_run, den_model)
        C = pt.dot(Z.T, binv_z)
        k = Z.shape[1]
        L = cholesky(pt.eye(k) + g[:, None] * g[None, :] * C)
        v = solve_triangular(L, g * pt.dot(Z.T, binv_r), lower=True)
        logdet += 2.0 * pt.sum(pt.log(pt.diag(L)))
        quad -= pt.sum(v**2)
    n = obs.shape[0]
    return -0.5 * (n * np.log(2 * np.pi) + logdet + quad)


def _seg(X: np.ndarray, H) -> np.ndarray:
    """Group sums along axis 1 of X (draws, items, ...) with a sparse one-hot H (items x groups)."""
    D, N = X.shape[:2]
    rest = X.shape[2:]
    Y = H.T @ np.moveaxis(X, 1, 0).reshape(N, -1)
    return np.moveaxis(np.asarray(Y).reshape(H.shape[1], D, *rest), 0, 1)


def _expand(x: np.ndarray, like: np.ndarray) -> np.ndarray:
    return x.reshape(x.shape + (1,) * (like.ndim - x.ndim))


def _np_b_solve(V, w, s2, m2, h_run, h_model, rec_run, rec_model):
    """``B^-1 V`` for a batch of draws: V (draws, records[, k]), w (draws, records)."""
    W = _seg(w, h_run)
    den_run = 1.0 + s2[:, None] * W if s2 is not None else np.ones_like(W)
    A = _seg(W / den_run, h_model)
    den_model = 1.0 + m2[:, None] * A
    wv = _expand(w, V) * V
    S = _seg(wv, h_run)
    if s2 is not None:
        ratio = _expand(s2[:, None] / den_run, S) * S
        wv = wv - _expand(w, V) * ratio[:, rec_run]
        S = S / _expand(den_run, S)
    T = _seg(S, h_model)
    coef = _expand(m2[:, None] / den_model, T) * T
    f = w / den_run[:, rec_run]
    return wv - _expand(f, V) * coef[:, rec_model], den_run, A


def draw_effects(post, design: Design, seed: int, mu_sd: float, chunk: int = 4_000_000) -> dict:
    """``mu_link``, ``effect_model`` and the ``Z`` components' effects, drawn from their exact
    conditional posterior for every posterior draw; a dict name -> DataArray."""
    import scipy.sparse as sp

    n_chain, n_draw = post.sizes["chain"], post.sizes["draw"]
    n_total = n_chain * n_draw

    def flat(name):
        v = np.asarray(post[name].values, dtype=float)
        return v.reshape(n_total, *v.shape[2:])

    runs, N = design.rec_run, len(design.rec_run)
    R, M = len(design.runs), len(design.models)
    rec_model = design.run_model[runs]
    h_run = sp.csr_matrix((np.ones(N), (np.arange(N), runs)), shape=(N, R))
    h_model = sp.csr_matrix((np.ones(R), (np.arange(R), design.run_model)), shape=(R, M))
    Z = z_matrix(design)
    K = Z.shape[1]
    zcols = low_rank_columns(design)
    sizes = [len(design.levels[c]) for c in zcols]
    if design.likelihood == "logit_normal":
        obs = design.data["ell"]
        s_ckpt = flat("sigma_ckpt_link") if "sigma_ckpt_link" in post else np.zeros(n_total)
        var_of = lambda sl: design.data["known_var"][None, :] + s_ckpt[sl, None] ** 2
    else:
        obs = design.data["y"]
        s_res = flat(f"sigma_{SHORT[design.residual]}_link")
        var_of = lambda sl: np.repeat(s_res[sl, None] ** 2, N, axis=1)
    marginal = run_marginal(design)
    s_run = flat(f"sigma_{SHORT[marginal]}_link") if marginal else None
    s_model = flat("sigma_model_link")
    slope = flat("trend_slope") if "trend_slope" in post else None
    g_all = np.hstack([np.full((n_total, 1), mu_sd)]
                      + [np.repeat(flat(f"sigma_{SHORT[c]}_link")[:, None], k, axis=1) for c, k in zip(zcols, sizes)])
    rng = np.random.default_rng(seed)
    a_out = np.empty((n_total, M))
    u_out = np.empty((n_total, K))
    step = max(1, chunk // (N * (K + 2)))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for start in range(0, n_total, step):
            sl = slice(start, min(start + step, n_total))
            w = 1.0 / var_of(sl)
            r = np.repeat(obs[None, :], sl.stop - sl.start, axis=0)
            if slope is not None:
                r = r - slope[sl][:, runs] * design.x
            s2 = None if s_run is None else s_run[sl] ** 2
            m2 = s_model[sl] ** 2
            # the intercept and crossed effects u (the intercept is always a column of Z)
            g = g_all[sl]
            binv_r, _, _ = _np_b_solve(r, w, s2, m2, h_run, h_model, runs, rec_model)
            binv_z, _, _ = _np_b_solve(np.broadcast_to(Z, (len(g), N, K)), w, s2, m2, h_run, h_model, runs,
                                       rec_model)
            mat = np.eye(K) + g[:, :, None] * g[:, None, :] * np.einsum("nk,dnl->dkl", Z, binv_z)
            L = np.linalg.cholesky(mat)
            mean = np.linalg.solve(mat, (g * (binv_r @ Z))[..., None])[..., 0]
            noise = np.linalg.solve(np.swapaxes(L, -1, -2), rng.standard_normal((len(g), K, 1)))[..., 0]
            u_out[sl] = g * (mean + noise)
            r = r - u_out[sl] @ Z.T
            # a | u: per-model normal with precision 1/m2 + A_m and mean B_m / precision
            W, S = _seg(w, h_run), _seg(w * r, h_run)
            if s2 is not None:
                den = 1.0 + s2[:, None] * W
                W, S = W / den, S / den
            A, B = _seg(W, h_model), _seg(S, h_model)
            prec = 1.0 / m2[:, None] + A
            ok = np.isfinite(prec)
            a_out[sl] = np.where(ok, B / prec + rng.standard_normal(prec.shape) / np.sqrt(prec), 0.0)
    coords = {"chain": post["chain"].values, "draw": post["draw"].values}
    out = {"mu_link": xr.DataArray(u_out[:, 0].reshape(n_chain, n_draw), dims=("chain", "draw"), coords=coords),
           "effect_model": xr.DataArray(a_out.reshape(n_chain, n_draw, M), dims=("chain", "draw", "model"),
                                        coords={**coords, "model": design.models})}
    start = 1
    for col, k in zip(zcols, sizes):
        out[f"effect_{SHORT[col]}"] = xr.DataArray(
            u_out[:, start:start + k].reshape(n_chain, n_draw, k), dims=("chain", "draw", col),
            coords={**coords, col: design.levels[col]})
        start += k
    return out
