"""The inference core under every Bayesian analysis in snrstat.

- :class:`SamplerSettings`: random_seed, draws, tune, chains, target_accept, sampler, backend.
- :func:`sample`: nutpie (PyMC's NUTS as fallback), a bounded compile cache, one divergence
  retry, Ctrl-C raises :class:`SamplingInterrupted` instead of returning a partial trace;
  :func:`merge_chains` joins runs of one fit sampled in parts (other seeds, processes, machines).
- :class:`Diagnostics` / :func:`diagnose`: one type, one set of thresholds (Vehtari et al. 2021).
- :func:`interval`: equal-tailed intervals as DataArrays with a ``ci_bound`` dim.
- :class:`Fit`: the base every result subclasses (``idata``, ``config``, ``diagnostics``,
  ``draws``, ``summary`` with the same columns everywhere, ``save``); :func:`load_fit` through
  a registry of kinds, with an id hash that refuses edited files.
- :func:`fit_many` / :class:`FitSpec`: batches of fits, in this process or on Dask, seeds derived
  from each fit's name, resumable from a store folder (:mod:`snrstat.inference.batch`).
"""

from snrstat.inference.batch import (FIT_FUNCTIONS, BatchFailureWarning, FitBatch, FitSpec, derive_seed, fit_many,
                                     local_cluster, using_client)
from snrstat.inference.diagnostics import (BFMI_MIN, ESS_MIN, RHAT_MAX, Diagnostics, SamplerWarning,
                                           diagnose)
from snrstat.inference.fit import (SUMMARY_COLUMNS, Fit, FitIntegrityError, fit_file, fit_kinds, jsonable,
                                   load_fit_file, register_fit, write_idata)
from snrstat.inference.intervals import check_level, interval, median_interval
from snrstat.inference.sampling import (COMPILE_CACHE, CompileCache, Compiled, SamplingInterrupted,
                                        compile_model, merge_chains, resolve_backend, sample)
from snrstat.inference.settings import (BACKENDS, RETRY_TARGET_ACCEPT, SAMPLERS, SamplerSettings,
                                        SnrstatDeprecationWarning, renamed)

__all__ = [
    "FIT_FUNCTIONS", "BatchFailureWarning", "FitBatch", "FitSpec", "derive_seed", "fit_many", "local_cluster",
    "using_client",
    "BACKENDS", "BFMI_MIN", "COMPILE_CACHE", "CompileCache", "Compiled", "Diagnostics", "ESS_MIN", "Fit",
    "FitIntegrityError", "RETRY_TARGET_ACCEPT", "RHAT_MAX", "SAMPLERS", "SUMMARY_COLUMNS", "SamplerSettings",
    "SamplerWarning", "SamplingInterrupted", "SnrstatDeprecationWarning", "renamed", "check_level", "compile_model", "diagnose", "fit_file",
    "fit_kinds", "interval", "jsonable", "load_fit_file", "median_interval", "merge_chains", "register_fit",
    "resolve_backend", "sample", "write_idata",
]
