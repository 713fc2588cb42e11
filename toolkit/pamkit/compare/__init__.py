"""Compare stage: every merging method pruned under one rule, cost of every combination side by side."""

from .api import CompareOptions, compare, merged_network, single_task_networks
from .report import combination_rows, goals, markdown, plot, unlearned, write_report

__all__ = [
    "CompareOptions",
    "combination_rows",
    "compare",
    "goals",
    "markdown",
    "merged_network",
    "plot",
    "single_task_networks",
    "unlearned",
    "write_report",
]
