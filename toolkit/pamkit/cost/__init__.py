"""Cost stage: MACs, parameters and activation memory of every task combination."""

from .combinations import (
    CombinationCost,
    all_combinations,
    baseline_ratios,
    combination_cost,
    combination_costs,
    combination_weights,
    cost_report,
    format_layers,
    format_table,
    layer_macs,
    membership_costs,
    space_layers,
    structure_summary,
)

__all__ = [
    "CombinationCost",
    "all_combinations",
    "baseline_ratios",
    "combination_cost",
    "combination_costs",
    "combination_weights",
    "cost_report",
    "format_layers",
    "format_table",
    "layer_macs",
    "membership_costs",
    "space_layers",
    "structure_summary",
]
