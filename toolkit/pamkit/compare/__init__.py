"""Compare stage: every merging method pruned under one rule, cost of every combination side by side."""

from .api import CompareOptions, compare
from .report import combination_rows, goals, markdown, plot, write_report

__all__ = ["CompareOptions", "combination_rows", "compare", "goals", "markdown", "plot", "write_report"]
