"""Fan chart of a Bayesian scaling-law fit: accuracy against training compute."""

from __future__ import annotations

import numpy as np


def plot_fan(fit, ax=None, *, tokens_per_param: float | None = None, n_grid: int = 60,
             show_point: bool = True, random_seed: int | None = None):
    """Accuracy against compute C = 6 N D: the ladder runs (points, one colour per size), the
    predictive band (50% and 90%) and median of an observed score along a path of constant
    tokens per parameter (default: the targets' median D/N), the paper's point curve along the
    same path (dashed), and each target's observed score with its own 90% predictive interval.

    Returns ``(figure, axes)``.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4.5))
    else:
        fig = ax.figure
    pts, tgt = fit.points, fit.targets
    ratio = tokens_per_param
    if ratio is None:
        ratio = float(np.median(tgt["tokens"] / tgt["params"])) if len(tgt) else float(np.median(pts["tokens"] / pts["params"]))
    c_pts = 6 * pts["params"].to_numpy(float) * pts["tokens"].to_numpy(float)
    c_tgt = 6 * tgt["params"].to_numpy(float) * tgt["tokens"].to_numpy(float)
    c_all = np.concatenate([c_pts, c_tgt])
    grid = np.geomspace(c_all.min() / 1.5, c_all.max() * 2.0, n_grid)
    n_grid_params = np.sqrt(grid / (6 * ratio))
    pred = fit.predictive(n_grid_params, ratio * n_grid_params, random_seed=random_seed)
    q = pred["acc"].quantile([0.05, 0.25, 0.5, 0.75, 0.95], dim=("chain", "draw")).transpose("point", "quantile").values
    ax.fill_between(grid, q[:, 0], q[:, 4], color="tab:blue", alpha=0.15, lw=0, label="90% predictive")
    ax.fill_between(grid, q[:, 1], q[:, 3], color="tab:blue", alpha=0.3, lw=0, label="50% predictive")
    ax.plot(grid, q[:, 2], color="tab:blue", lw=1.5, label=f"median (D/N = {ratio:.0f})")
    if show_point and fit.point_params and not fit.one_step:
        from snrstat.scaling.point import chained_prediction

        curve = chained_prediction(n_grid_params, ratio * n_grid_params, fit.point_params["step1"], fit.point_params["step2"])
        ax.plot(grid, curve, color="k", ls="--", lw=1, label="point fit (paper)")

    sizes = list(dict.fromkeys(pts["size"].astype(str)))
    colors = plt.get_cmap("viridis")(np.linspace(0, 0.9, max(len(sizes), 1)))
    for size, color in zip(sizes, colors):
        sel = (pts["size"].astype(str) == size).to_numpy()
        ax.scatter(c_pts[sel], pts["acc"].to_numpy(float)[sel], color=color, s=22, zorder=3, label=f"ladder {size}")

    if len(tgt) and "predictions" in fit.idata.groups():
        tq = fit.idata.predictions["acc"].quantile([0.05, 0.5, 0.95], dim=("chain", "draw")).transpose("target", "quantile").values
        ax.errorbar(c_tgt, tq[:, 1], yerr=[tq[:, 1] - tq[:, 0], tq[:, 2] - tq[:, 1]], fmt="o", color="tab:red",
                    mfc="white", capsize=3, zorder=4, label="target: predicted (90%)")
        obs = tgt["observed"].to_numpy(float)
        ok = np.isfinite(obs)
        ax.scatter(c_tgt[ok], obs[ok], marker="*", s=110, color="tab:red", zorder=5, label="target: observed")
        for c, y, name in zip(c_tgt, tq[:, 2], tgt["target"]):
            ax.annotate(str(name), (c, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("training compute 6ND (FLOPs)")
    metric = fit.points["acc_metric"].iloc[0] if "acc_metric" in fit.points else "accuracy"
    ax.set_ylabel(f"{fit.config.task} ({metric})")
    kind = "one-step" if fit.one_step else "two-step"
    ax.set_title(f"{fit.config.task}: {kind} scaling law, predictive of the observed score", fontsize=10)
    ax.legend(fontsize=7, loc="upper left", ncol=2)
    return fig, ax
