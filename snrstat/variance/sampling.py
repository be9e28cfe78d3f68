"""Sampling (nutpie by default, PyMC's NUTS as the fallback) and sampler health.

Health thresholds follow science.md section 5: R-hat <= 1.01, bulk and tail ESS >= 400,
no divergent transitions, E-BFMI > 0.3 in every chain.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from snrstat.schema import DataError

log = logging.getLogger("snrstat.variance")

SAMPLERS = ("nutpie", "pymc")
RHAT_MAX = 1.01
ESS_MIN = 400
BFMI_MIN = 0.3


class SamplerWarning(UserWarning):
    """A fit whose sampler diagnostics miss the thresholds: its intervals may be wrong."""


@dataclass
class Compiled:
    """A model ready to sample: the nutpie compilation, or the PyMC model for the fallback."""

    model: object
    sampler: str
    nutpie: object = None
    compile_s: float = 0.0
    data: dict | None = None  # arrays swapped in after compilation (None: the model's own)

    def with_data(self, arrays: dict) -> Compiled:
        """The same compiled graph with new data (no recompilation)."""
        if self.sampler == "nutpie":
            names = set(self.nutpie.shared_data)
            swapped = self.nutpie.with_data(**{k: v for k, v in arrays.items() if k in names})
            return Compiled(self.model, "nutpie", swapped, 0.0, arrays)
        return Compiled(self.model, "pymc", None, 0.0, arrays)


def compile_model(model, sampler: str = "nutpie") -> Compiled:
    """Compile ``model`` once for nutpie (falls back to PyMC with a warning if that fails)."""
    if sampler not in SAMPLERS:
        raise DataError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
    if sampler == "nutpie":
        t0 = time.perf_counter()
        try:
            import nutpie

            compiled = nutpie.compile_pymc_model(model)
            return Compiled(model, "nutpie", compiled, time.perf_counter() - t0)
        except Exception as exc:  # any compile failure: the PyMC sampler still works
            warnings.warn(f"nutpie could not compile the model ({type(exc).__name__}: {exc}); "
                          "sampling with PyMC's NUTS instead", SamplerWarning, stacklevel=2)
    return Compiled(model, "pymc")


def sample(compiled: Compiled, *, draws: int, tune: int, chains: int, seed: int, target_accept: float = 0.8,
           cores: int | None = None, progress: bool = False):
    """Posterior draws as InferenceData (raw ``z_*``, ``c_*`` and transformed variables dropped).

    BLAS runs single-threaded meanwhile: the chains already run in parallel, and a
    multithreaded BLAS inside every gradient of a small model oversubscribes the cores
    (a 10x slowdown measured for 3x3 Cholesky factors).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return _sample(compiled, draws=draws, tune=tune, chains=chains, seed=seed, target_accept=target_accept,
                       cores=cores or min(chains, 2), progress=progress)


def _sample(compiled: Compiled, *, draws, tune, chains, seed, target_accept, cores, progress):
    idata = None
    if compiled.sampler == "nutpie":
        import nutpie

        try:
            idata = nutpie.sample(compiled.nutpie, draws=draws, tune=tune, chains=chains, cores=cores,
                                  seed=int(seed), progress_bar=progress, target_accept=target_accept,
                                  save_warmup=False)
        except Exception as exc:
            warnings.warn(f"nutpie failed while sampling ({type(exc).__name__}: {exc}); using PyMC's NUTS",
                          SamplerWarning, stacklevel=2)
    if idata is None:
        import pymc as pm

        pm_log = logging.getLogger("pymc")
        old_level = pm_log.level
        if not progress:
            pm_log.setLevel(logging.WARNING)  # PyMC announces every run at INFO
        try:
            with compiled.model, warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if compiled.data is not None:
                    pm.set_data(compiled.data)
                idata = pm.sample(draws=draws, tune=tune, chains=chains, cores=cores, random_seed=int(seed),
                                  target_accept=target_accept, progressbar=progress,
                                  compute_convergence_checks=False)
        finally:
            pm_log.setLevel(old_level)
        idata.attrs["sampler"] = "pymc"
    else:
        idata.attrs["sampler"] = "nutpie"
    drop = [v for v in idata.posterior.data_vars if v.endswith("__") or v.startswith(("z_", "c_"))]
    idata.posterior = idata.posterior.drop_vars(drop)
    for group in ("warmup_posterior", "warmup_sample_stats"):
        if group in idata.groups():
            delattr(idata, group)
    return idata


@dataclass
class Diagnostics:
    """Sampler health of one fit; ``ok`` when every threshold of science.md section 5 holds."""

    table: pd.DataFrame               # per parameter: r_hat, ess_bulk, ess_tail, ok
    divergences: int
    bfmi: list[float]
    n_draws: int
    messages: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.messages

    def to_dict(self) -> dict:
        t = self.table
        return {
            "ok": self.ok, "divergences": self.divergences, "bfmi": self.bfmi, "n_draws": self.n_draws,
            "max_r_hat": _f(t["r_hat"].max()), "min_ess_bulk": _f(t["ess_bulk"].min()),
            "min_ess_tail": _f(t["ess_tail"].min()), "messages": self.messages,
            "table": {k: {c: _f(v) for c, v in row.items()} for k, row in t.drop(columns="ok").iterrows()},
        }

    @classmethod
    def from_dict(cls, d: dict) -> Diagnostics:
        table = pd.DataFrame(d["table"]).T
        table["ok"] = (table["r_hat"] <= RHAT_MAX) & (table[["ess_bulk", "ess_tail"]].min(axis=1) >= ESS_MIN)
        return cls(table, int(d["divergences"]), list(d["bfmi"]), int(d["n_draws"]), list(d["messages"]))

    def __repr__(self) -> str:
        state = "ok" if self.ok else "PROBLEMS: " + "; ".join(self.messages)
        t = self.table
        return (f"Diagnostics({state}; max R-hat {t['r_hat'].max():.3f}, min bulk ESS {t['ess_bulk'].min():.0f}, "
                f"min tail ESS {t['ess_tail'].min():.0f}, {self.divergences} divergences, "
                f"min BFMI {min(self.bfmi) if self.bfmi else float('nan'):.2f})")


def _f(v) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None


def diagnose(idata, var_names, extra=None) -> Diagnostics:
    """R-hat, bulk/tail ESS (Vehtari et al. 2021) of ``var_names`` (scalars and vectors, flattened),
    divergences and per-chain E-BFMI, with advice for every miss."""
    import arviz as az

    post = idata.posterior[[v for v in var_names if v in idata.posterior]]
    if extra is not None:
        post = post.merge(extra[[v for v in extra.data_vars if extra[v].ndim == 2]])
    rhat = az.rhat(post)
    bulk = az.ess(post, method="bulk")
    tail = az.ess(post, method="tail")
    rows = {}
    for name in post.data_vars:
        r, b, t = rhat[name].values.ravel(), bulk[name].values.ravel(), tail[name].values.ravel()
        if r.size == 1:
            rows[name] = (r[0], b[0], t[0])
        else:
            labels = post[name].coords[post[name].dims[-1]].values
            for i, lab in enumerate(labels):
                rows[f"{name}[{lab}]"] = (r[i], b[i], t[i])
    table = pd.DataFrame.from_dict(rows, orient="index", columns=["r_hat", "ess_bulk", "ess_tail"])
    # a quantity constant over draws (e.g. an infinite SNR) has no R-hat: not a failure
    table = table.fillna({"r_hat": 1.0}).fillna(np.inf)
    table["ok"] = (table["r_hat"] <= RHAT_MAX) & (table[["ess_bulk", "ess_tail"]].min(axis=1) >= ESS_MIN)
    stats = idata.sample_stats
    div = int(stats["diverging"].sum()) if "diverging" in stats else 0
    bfmi = [float(x) for x in np.atleast_1d(az.bfmi(idata))] if "energy" in stats else []
    n_draws = int(idata.posterior.sizes["chain"] * idata.posterior.sizes["draw"])
    return Diagnostics(table, div, bfmi, n_draws, _advice(table, div, bfmi, n_draws))


def _advice(table: pd.DataFrame, div: int, bfmi: list[float], n_draws: int) -> list[str]:
    msgs = []
    bad_r = table[table["r_hat"] > RHAT_MAX]
    if len(bad_r):
        msgs.append(f"R-hat above {RHAT_MAX} for {len(bad_r)} quantities (worst {bad_r['r_hat'].idxmax()}: "
                    f"{bad_r['r_hat'].max():.3f}): chains disagree; raise tune= (e.g. 2000) and draws=, and check "
                    "for a component the data barely inform (drop it with components=)")
    low = table[table[["ess_bulk", "ess_tail"]].min(axis=1) < ESS_MIN]
    if len(low):
        worst = low[["ess_bulk", "ess_tail"]].min(axis=1)
        advice = ("more draws (draws=, chains=) would reach it" if n_draws < 4 * ESS_MIN else
                  "the chains mix slowly: raise tune=, or reparameterise (drop a weakly identified component)")
        msgs.append(f"effective sample size below {ESS_MIN} for {len(low)} quantities (worst {worst.idxmin()}: "
                    f"{worst.min():.0f} of {n_draws} draws); {advice}")
    if div:
        msgs.append(f"{div} divergent transitions: the sampler missed part of the posterior; raise target_accept= "
                    "(e.g. 0.95), drop a component the data cannot inform (components=), or try another "
                    "likelihood (likelihood='binomial' keeps checkpoint effects as parameters)")
    if bfmi and min(bfmi) < BFMI_MIN:
        msgs.append(f"E-BFMI {min(bfmi):.2f} < {BFMI_MIN} in some chain: heavy-tailed energy, the sampler explores "
                    "the variance parameters poorly; raise tune=, or drop the component whose sigma is pinned at 0")
    return msgs
