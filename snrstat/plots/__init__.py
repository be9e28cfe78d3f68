"""Figures for the report and notebooks, in one namespace.

Each analysis draws its own figures (:mod:`snrstat.inference.plots`: ArviZ rank and energy
plots of any fit; :mod:`snrstat.variance.plots`: variance components, posterior SNR, intervals,
subtask selection; :mod:`snrstat.scaling.plots`: fan charts), so imports point one way, from
the presentation layer to the analyses and never back.
"""

from snrstat.inference.plots import plot_energy, plot_fit_diagnostics, plot_rank
from snrstat.scaling.plots import plot_fan
from snrstat.variance.plots import plot_components, plot_intervals, plot_selection, plot_snr

__all__ = ["plot_components", "plot_energy", "plot_fan", "plot_fit_diagnostics", "plot_intervals", "plot_rank",
           "plot_selection", "plot_snr"]
