"""Hierarchical Bayesian variance decomposition of benchmark scores (the hierarchical model of snrstat.variance.spec).

- :func:`fit_variance` / :func:`fit_variance_many`: split the score variance of a task
  into model (signal), seed, data-order and checkpoint noise; posterior SNR;
- :class:`VarianceFit`: summary, draws, variance shares, P(model i beats j), diagnostics,
  REML cross-check, prior predictive check, save / :func:`load_fit`;
- :func:`simulate`: records with known components (tests, calibration, power);
- :func:`reml_components`: REML estimates from statsmodels MixedLM.

PyMC is imported only when a model is built.
"""

from snrstat.variance.api import FitCollection, fit_variance, fit_variance_many
from snrstat.variance.fit import VarianceFit, load_fit
from snrstat.variance.reml import reml_components
from snrstat.inference import Diagnostics, SamplerWarning
from snrstat.variance.simulate import simulate
from snrstat.variance.spec import ComponentDroppedWarning, Priors

__all__ = [
    "ComponentDroppedWarning", "Diagnostics", "FitCollection", "Priors", "SamplerWarning", "VarianceFit",
    "fit_variance", "fit_variance_many", "load_fit", "reml_components", "simulate",
]
