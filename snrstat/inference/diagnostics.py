"""Sampler health, one type and one set of thresholds for every fit (Vehtari et al. 2021):
R-hat <= 1.01, bulk and tail ESS >= 400, no divergent transitions, E-BFMI > 0.3 in every chain.

Model checks (posterior predictive checks, likelihood comparisons) are reported beside the
sampler's health in ``checks``: green sampler diagnostics do not mean the model fits.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

RHAT_MAX = 1.01
ESS_MIN = 400
BFMI_MIN = 0.3


class SamplerWarning(UserWarning):
    """A fit whose sampler diagnostics miss the thresholds: its intervals may be wrong."""


@dataclass
class Diagnostics:
    """Sampler health of one fit; ``ok`` when every threshold holds.

    ``table`` has one row per checked quantity (vector quantities one row per element) with
    columns ``r_hat, ess_bulk, ess_tail, ok``. ``messages`` say what failed and what to do;
    ``checks`` hold findings of model checks (misfit the sampler cannot see).
    """

    table: pd.DataFrame
    divergences: int
    bfmi: list[float]
    n_draws: int
    messages: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.messages

    @property
    def max_r_hat(self) -> float:
        return float(self.table["r_hat"].max()) if len(self.table) else float("nan")

    @property
    def min_ess_bulk(self) -> float:
        return float(self.table["ess_bulk"].min()) if len(self.table) else float("nan")

    @property
    def min_ess_tail(self) -> float:
        return float(self.table["ess_tail"].min()) if len(self.table) else float("nan")

    def to_dict(self) -> dict:
        t = self.table
        return {
            "ok": self.ok, "divergences": self.divergences, "bfmi": [_f(b) for b in self.bfmi],
            "n_draws": self.n_draws, "max_r_hat": _f(self.max_r_hat), "min_ess_bulk": _f(self.min_ess_bulk),
            "min_ess_tail": _f(self.min_ess_tail), "messages": list(self.messages), "checks": list(self.checks),
            "table": {str(k): {c: _f(v) for c, v in row.items()} for k, row in t.drop(columns="ok").iterrows()},
        }

    @classmethod
    def from_dict(cls, d: dict) -> Diagnostics:
        table = pd.DataFrame.from_dict(d["table"], orient="index", columns=["r_hat", "ess_bulk", "ess_tail"],
                                       dtype=float)
        table = table.fillna({"r_hat": 1.0}).fillna(np.inf)
        table["ok"] = _row_ok(table)
        return cls(table, int(d["divergences"]), [float("nan") if b is None else float(b) for b in d["bfmi"]],
                   int(d["n_draws"]), list(d["messages"]), list(d.get("checks", [])))

    def __repr__(self) -> str:
        state = "ok" if self.ok else "PROBLEMS: " + "; ".join(self.messages)
        bfmi = min(self.bfmi) if self.bfmi else float("nan")
        checks = "" if not self.checks else "; model checks: " + "; ".join(self.checks)
        return (f"Diagnostics({state}; max R-hat {self.max_r_hat:.3f}, min bulk ESS {self.min_ess_bulk:.0f}, "
                f"min tail ESS {self.min_ess_tail:.0f}, {self.divergences} divergences, min BFMI {bfmi:.2f}"
                f"{checks})")


def _f(v) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None


def _row_ok(table: pd.DataFrame) -> pd.Series:
    return (table["r_hat"] <= RHAT_MAX) & (table[["ess_bulk", "ess_tail"]].min(axis=1) >= ESS_MIN)


def diagnose(idata, var_names=None, *, extra=None, advice: dict | None = None) -> Diagnostics:
    """R-hat, bulk and tail ESS (Vehtari et al. 2021) of ``var_names`` (default: every posterior
    variable; vectors one row per element), divergences and per-chain E-BFMI, with advice for
    every miss. ``extra`` is a Dataset of further (chain, draw) quantities to check. ``advice``
    may replace the default advice per problem (keys ``r_hat``, ``ess``, ``divergences``, ``bfmi``)
    with words that name the fit's own options.
    """
    import arviz as az

    post = idata.posterior
    names = list(post.data_vars) if var_names is None else [v for v in var_names if v in post]
    post = post[names]
    if extra is not None:
        post = post.merge(extra[[v for v in extra.data_vars if {"chain", "draw"} <= set(extra[v].dims)]])
    rows = {}
    if post.data_vars:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # one chain or constant draws: NaN, handled below
            rhat = az.rhat(post)
            bulk = az.ess(post, method="bulk")
            tail = az.ess(post, method="tail")
        for name in post.data_vars:
            r, b, t = (np.asarray(x[name].values, dtype=float).ravel() for x in (rhat, bulk, tail))
            if r.size == 1:
                rows[name] = (r[0], b[0], t[0])
                continue
            labels = _element_labels(post[name])
            for i, lab in enumerate(labels):
                rows[f"{name}[{lab}]"] = (r[i], b[i], t[i])
    table = pd.DataFrame.from_dict(rows, orient="index", columns=["r_hat", "ess_bulk", "ess_tail"], dtype=float)
    # a quantity constant over draws (e.g. an infinite SNR) has no R-hat: not a failure
    table = table.fillna({"r_hat": 1.0}).fillna(np.inf)
    table["ok"] = _row_ok(table)
    stats = getattr(idata, "sample_stats", None)
    div = int(stats["diverging"].sum()) if stats is not None and "diverging" in stats else 0
    bfmi = []
    if stats is not None and "energy" in stats:
        bfmi = [float(x) for x in np.atleast_1d(az.bfmi(idata))]
    n_draws = int(idata.posterior.sizes["chain"] * idata.posterior.sizes["draw"])
    msgs = _advice(table, div, bfmi, n_draws, idata.posterior.sizes["chain"], advice or {})
    return Diagnostics(table, div, bfmi, n_draws, msgs)


def _element_labels(da) -> list[str]:
    """'a' for a 1-d element, 'a,b' for a 2-d one (the non-sample dims' coordinates)."""
    dims = [d for d in da.dims if d not in ("chain", "draw")]
    grids = np.meshgrid(*[np.asarray(da.coords[d].values if d in da.coords else np.arange(da.sizes[d]))
                          for d in dims], indexing="ij")
    return [",".join(str(g.ravel()[i]) for g in grids) for i in range(int(np.prod([da.sizes[d] for d in dims])))]


def _advice(table, div, bfmi, n_draws, n_chains, advice) -> list[str]:
    msgs = []
    if n_chains < 2:
        msgs.append("R-hat needs at least 2 chains (chains=4)")
    bad_r = table[table["r_hat"] > RHAT_MAX]
    if len(bad_r):
        msgs.append(f"R-hat above {RHAT_MAX} for {len(bad_r)} quantities (worst {bad_r['r_hat'].idxmax()}: "
                    f"{bad_r['r_hat'].max():.3f}): chains disagree; "
                    + advice.get("r_hat", "raise tune= and draws=, and check for a parameter the data barely inform"))
    low = table[table[["ess_bulk", "ess_tail"]].min(axis=1) < ESS_MIN]
    if len(low):
        worst = low[["ess_bulk", "ess_tail"]].min(axis=1)
        default = ("more draws (draws=, chains=) would reach it" if n_draws < 4 * ESS_MIN else
                   "the chains mix slowly: raise tune=, or reparameterise")
        msgs.append(f"effective sample size below {ESS_MIN} for {len(low)} quantities (worst {worst.idxmin()}: "
                    f"{worst.min():.0f} of {n_draws} draws); " + advice.get("ess", default))
    if div:
        msgs.append(f"{div} divergent transitions: the sampler missed part of the posterior; "
                    + advice.get("divergences", "raise target_accept= (e.g. 0.99)"))
    if bfmi and min(bfmi) < BFMI_MIN:
        msgs.append(f"E-BFMI {min(bfmi):.2f} < {BFMI_MIN} in some chain: the sampler explores the scale "
                    "parameters poorly; " + advice.get("bfmi", "raise tune="))
    return msgs
