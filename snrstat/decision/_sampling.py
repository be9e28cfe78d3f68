"""Sampling a PyMC model: nutpie by default, PyMC's NUTS as the fallback; health in words."""

from __future__ import annotations

import warnings

from snrstat.schema import DataError

SAMPLERS = ("nutpie", "pymc")


def sample(model, *, draws: int, tune: int, chains: int, seed: int, sampler: str = "nutpie"):
    """Posterior draws of ``model`` as InferenceData (transformed variables dropped)."""
    if sampler not in SAMPLERS:
        raise DataError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
    if sampler == "nutpie":
        try:
            import nutpie
        except ImportError:  # pragma: no cover - nutpie is a dependency
            sampler = "pymc"
    if sampler == "nutpie":
        compiled = nutpie.compile_pymc_model(model)
        idata = nutpie.sample(compiled, draws=draws, tune=tune, chains=chains, seed=seed,
                              progress_bar=False, cores=min(chains, 2))
    else:
        import pymc as pm

        with model, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            idata = pm.sample(draws=draws, tune=tune, chains=chains, cores=1, random_seed=seed,
                              progressbar=False, compute_convergence_checks=False)
    drop = [v for v in idata.posterior.data_vars if v.endswith("__")]
    idata.posterior = idata.posterior.drop_vars(drop)
    return idata


def health(idata, var_names) -> list[str]:
    """Warnings (empty when healthy) against R-hat <= 1.01, ESS >= 400, no divergences."""
    from snrstat.plots.diagnostics import diagnostics_table, sampler_health

    out = []
    table = diagnostics_table(idata, var_names=var_names)
    bad = table[~table["ok"]]
    if len(bad):
        worst = bad.iloc[0]
        out.append(
            f"{len(bad)} parameter(s) miss R-hat <= 1.01 or ESS >= 400 (e.g. {bad.index[0]}: "
            f"R-hat {worst['r_hat']:.3f}, bulk ESS {worst['ess_bulk']:.0f}); draw more (draws=, tune=, chains=)"
        )
    stats = sampler_health(idata)
    if stats.get("divergences", 0):
        out.append(f"{stats['divergences']} divergent transition(s): the interval may be unreliable")
    if stats.get("bfmi_min", 1.0) < 0.3:
        out.append(f"low BFMI {stats['bfmi_min']:.2f}: the sampler explored the tails poorly")
    return out
