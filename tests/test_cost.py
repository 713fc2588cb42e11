"""Cost of every combination, cross-checked against torch's FLOP counter and the extracted modules."""

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from helpers import random_lattice, source_nets
from pamkit.cost import (
    all_combinations,
    baseline_ratios,
    combination_costs,
    cost_report,
    format_layers,
    format_table,
    layer_macs,
)
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


@pytest.mark.parametrize("arch, size, kwargs", [("lenet5", 12, {}), ("vgg", 16, {"width": 0.125})])
def test_layer_macs_add_up_and_grow_with_the_tasks_run(arch, size, kwargs):
    net = random_lattice(source_nets(arch, size, **kwargs), seed=3)
    layers = {cost.tasks: layer_macs(net, cost.tasks) for cost in combination_costs(net)}
    for cost in combination_costs(net):
        assert sum(layers[cost.tasks].values()) == cost.macs, cost.tasks
    for smaller, larger in [(("digit",), ("digit", "odd")), (("odd",), ("digit", "odd", "high"))]:
        assert all(layers[smaller][name] <= layers[larger][name] for name in layers[larger])
    assert any(layers[("digit",)][name] < layers[("digit", "odd")][name] for name in layers[("digit",)])
    every = layers[net.task_names]
    assert list(every)[-1] == "task heads" and all(macs > 0 for macs in every.values())


def test_layer_macs_of_side_by_side_networks_add_up_layer_by_layer():
    net = side_by_side(load_sources(source_nets("lenet5", 12)), {})
    alone = [layer_macs(net, (task,)) for task in net.task_names]
    together = layer_macs(net, net.task_names)
    assert together == {name: sum(layers[name] for layers in alone) for name in together}


def test_layer_table_shows_where_a_model_gains_against_its_baseline():
    sources = load_sources(source_nets("lenet5", 12))
    none = cost_report(side_by_side(sources, {}), layers=True)
    half = cost_report(side_by_side(sources, {}).extract(["digit", "odd"]), layers=True)
    with pytest.raises(PamkitError, match="differ from the model's"):
        format_layers(half, none)
    table = format_layers(none, none, [("odd",), ("digit", "odd", "high")])
    blocks = table.split("\n\n")
    assert [block.split()[0] for block in blocks] == ["odd", "digit+odd+high"]
    total = next(c for c in none["combinations"] if c["tasks"] == ["odd"])["macs"]
    assert blocks[0].splitlines()[-1].split() == ["total", f"{total:,}", f"{total:,}", "+0"]
    assert "baseline" not in format_layers(none)
