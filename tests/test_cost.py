"""Cost of every combination, cross-checked against torch's FLOP counter and the extracted modules."""

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from helpers import random_lattice, source_nets
from pamkit.cost import all_combinations, baseline_ratios, combination_costs, cost_report, format_table
from pamkit.errors import PamkitError
from pamkit.merge import load_sources, side_by_side


def test_all_combinations_in_order():
    assert all_combinations(("a", "b", "c")) == [("a",), ("b",), ("c",), ("a", "b"), ("a", "c"), ("b", "c"),
                                                 ("a", "b", "c")]


@pytest.mark.parametrize("arch, size, kwargs", [
    ("lenet5", 12, {}), pytest.param("resnet18", 8, {}, marks=pytest.mark.slow), ("mobilenet_v2", 8, {"width": 0.25}),
    ("vgg", 16, {"width": 0.125})])
def test_costs_match_flop_counter_and_parameters(arch, size, kwargs):
    net = random_lattice(source_nets(arch, size, **kwargs), seed=2)
    x = torch.randn(1, 1, size, size)
    costs = combination_costs(net)
    assert len(costs) == 7
    for cost in costs:
        sub = net.extract(cost.tasks)
        with FlopCounterMode(display=False) as counter:
            sub(x)
        assert cost.macs * 2 == counter.get_total_flops(), cost.tasks
        assert cost.params == sum(p.numel() for p in sub.parameters()), cost.tasks


def test_side_by_side_costs_add_up():
    net = side_by_side(load_sources(source_nets("lenet5", 12)), {})
    by_combo = {c["tasks"] and tuple(c["tasks"]): c for c in cost_report(net)["combinations"]}
    for combo, cost in by_combo.items():
        assert cost["macs"] == sum(by_combo[(t,)]["macs"] for t in combo)
        assert cost["params"] == sum(by_combo[(t,)]["params"] for t in combo)


def test_baseline_of_other_tasks_is_refused():
    net = side_by_side(load_sources(source_nets("lenet5", 12)), {})
    with pytest.raises(PamkitError, match="differ from the model's"):
        format_table(cost_report(net), cost_report(net.extract(["odd"])))
    ratios = baseline_ratios(cost_report(net), cost_report(net))
    assert ratios == [1.0] * 7
