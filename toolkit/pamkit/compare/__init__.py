"""Compare stage: every merging method pruned under one rule, cost of every combination side by side."""

from .api import (
    CompareOptions,
    DataRequest,
    compare,
    compare_seeds,
    compare_through,
    merged_network,
    plan,
    seed_jobs,
    single_task_networks,
)
from .curves import at_tolerance, curve_lines, curve_points, plot_curves
from .report import (
    aggregate,
    combination_rows,
    differences,
    goals,
    markdown,
    plot,
    stat,
    unlearned,
    write_report,
    write_seed_report,
)

__all__ = [
    "CompareOptions",
    "DataRequest",
    "aggregate",
    "at_tolerance",
    "combination_rows",
    "compare",
    "compare_seeds",
    "compare_through",
    "curve_lines",
    "curve_points",
    "differences",
    "goals",
    "markdown",
    "merged_network",
    "plan",
    "plot",
    "plot_curves",
    "seed_jobs",
    "single_task_networks",
    "stat",
    "unlearned",
    "write_report",
    "write_seed_report",
]
