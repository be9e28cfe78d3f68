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

from snrstat.report.items_section import items
from snrstat.report.judge_section import judges

#: Sections in build order (``overview`` reads the others' results and is placed first).
SECTIONS = (point_estimates, variance, decisions, scaling, subtasks, diagnostics, overview)
#: Item-level data (one row per model and item) and judgment tables have sections of their own.
ITEM_SECTIONS = (items,)
JUDGE_SECTIONS = (judges,)


def sections_for(frame) -> tuple:
    """The sections that apply to ``frame``: judgments, item-level records, or scores per checkpoint."""
    if "judge" in frame.columns:
        return JUDGE_SECTIONS
    if "item" in frame.columns and frame["item"].notna().any():
        return ITEM_SECTIONS
    return SECTIONS


__all__ = ["ITEM_SECTIONS", "JUDGE_SECTIONS", "SECTIONS", "Settings", "build_report", "sections_for"]
