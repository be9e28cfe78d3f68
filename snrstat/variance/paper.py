"""The paper's point estimates for the records of a fit, printed next to the posterior."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from snrstat.variance.records import Records


def point_estimates(records: Records) -> dict:
    """Signal, noise (per-run mode) and SNR of Heineman et al. 2025 on the fitted records.

    Uses :func:`snrstat.point.small_scale_snr` over every record of the fit (each run's
    window is all its fitted checkpoints); falls back to :func:`per_run_snr` if that module
    is unavailable. Undefined estimates are NaN. ``grand_mean`` is the mean of the model
    means (each the mean of its runs' window means).
    """
    t = records.table
    run_mean = t.groupby(["unit", "run"])["value"].mean()
    out = {"grand_mean": float(run_mean.groupby("unit").mean().mean())}
    last_n = int(t.groupby("run").size().max())
    try:
        from snrstat.point import small_scale_snr

        frame = pd.DataFrame({"task": records.task, "metric": records.metric, "model": t["unit"],
                              "size": "fit", "seed": t["seed"], "data_order": t["data_order"],
                              "step": t["step"], "value": t["value"]})
        if frame["step"].isna().any():  # the point module orders a window by step
            frame["step"] = t.groupby("run").cumcount().astype("Int64")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = small_scale_snr(frame, last_n=last_n, mode="per_run")
        out.update(signal=r.signal, noise=r.noise, snr=r.snr)
    except ImportError:
        out.update(per_run_snr(t))
    except ValueError:  # DataError: e.g. one checkpoint per run, no within-run noise
        out.update(signal=np.nan, noise=np.nan, snr=np.nan)
    return out


def per_run_snr(t: pd.DataFrame) -> dict:
    """Heineman et al. 2025, per-run noise: ``signal = range(m) / mean(m)`` over model means
    ``m`` (mean of run means); ``noise = sqrt(mean_r v_r) / mean_r(mu_r)`` over runs with at
    least two scores, ``v_r`` the population variance (ddof=0) and ``mu_r`` the mean of run r."""
    g = t.groupby(["unit", "run"])["value"]
    run = pd.DataFrame({"mean": g.mean(), "var": g.var(ddof=0), "n": g.size()})
    m = run["mean"].groupby("unit").mean()
    signal = float((m.max() - m.min()) / m.mean())
    rep = run[run["n"] >= 2]
    if rep.empty:
        return {"signal": signal, "noise": np.nan, "snr": np.nan}
    noise = float(np.sqrt(rep["var"].mean()) / rep["mean"].mean())
    return {"signal": signal, "noise": noise, "snr": signal / noise if noise > 0 else np.inf}
