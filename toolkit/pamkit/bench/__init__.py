"""Bench stage: latency and energy of every task combination of exported artifacts, on the host and on devices."""

from .api import TARGETS, BenchOptions, bench, load_results, make_target, save_results, validate_results
from .report import latency_table, markdown, plot, ratio_rows
from .stats import spread_warning, summarize
from .targets import Settings

__all__ = [
    "TARGETS",
    "BenchOptions",
    "Settings",
    "bench",
    "latency_table",
    "load_results",
    "make_target",
    "markdown",
    "plot",
    "ratio_rows",
    "save_results",
    "spread_warning",
    "summarize",
    "validate_results",
]
