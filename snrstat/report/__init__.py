"""The report: sections built from point estimates and fits, rendered as HTML and Markdown."""

from snrstat.report.build import Settings, build_report
from snrstat.report.sections import (
    decisions,
    diagnostics,
    overview,
    point_estimates,
    scaling,
    subtasks,
    variance,
)

#: Sections in build order (``overview`` reads the others' results and is placed first).
SECTIONS = (point_estimates, variance, decisions, scaling, subtasks, diagnostics, overview)

__all__ = ["SECTIONS", "Settings", "build_report"]
