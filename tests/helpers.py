"""Small builders shared by tests: untrained source networks and random groupings."""

from __future__ import annotations

import random

import torch

from pamkit.data import InputSpec
from pamkit.merge import load_sources
from pamkit.merge.assemble import assemble, source_origins, source_template
from pamkit.merge.sources import candidate_weights
from pamkit.models import build_single_task
from pamkit.tasks import get_suite
from pamkit.train import SingleTaskRecord, TrainedTask


def randomize_batch_norm(net: torch.nn.Module) -> None:
    """Give batch norms non-trivial statistics so that tests notice when they are mixed up."""
    for module in net.modules():
        if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            module.running_mean.normal_()
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.normal_()
            module.bias.data.normal_()


def source_nets(arch: str, size: int, suite: str = "digits", **kwargs) -> list[TrainedTask]:
    """One untrained network per task of a suite (seeded), as if loaded from checkpoints."""
    tasks = get_suite(suite).tasks
    spec = InputSpec("digits", 1, size, None, None)
    nets = []
    for k, task in enumerate(tasks):
        torch.manual_seed(k)
        net = build_single_task(arch, 1, size, task.num_outputs, **kwargs)
        randomize_batch_norm(net)
        nets.append(TrainedTask(net.eval(), SingleTaskRecord(arch, kwargs, task, spec), f"{task.name}.json"))
    return nets


def random_lattice(nets: list[TrainedTask], seed: int = 0):
    """A multitask network whose neurons get random task subsets (including none: dropped)."""
    sources = load_sources(nets)
    rng = random.Random(seed)
    subsets = [tuple(t for t in range(sources.n) if mask >> t & 1) for mask in range(2 ** sources.n)]
    labels = {space: [rng.choice(subsets) for _ in range(sources.n * size)]
              for space, size in sources.arch.space_sizes.items()}
    return assemble(source_template(sources, {"method": "random"}), candidate_weights(sources), labels,
                    source_origins(sources)).eval()


def poisoned_outside(net, combo):
    """A copy of ``net`` whose groups that ``combo``'s tasks do not use hold NaN (what must never reach them)."""
    import copy

    s = net.structure
    wanted = {s.task_names.index(t) for t in combo}
    poisoned = copy.deepcopy(net)
    with torch.no_grad():
        for op in s.ops:
            if op.name in poisoned.layers:
                for i, group in enumerate(s.groups[op.space]):
                    if not wanted & set(group.label):
                        for p in poisoned.layers[op.name][i].parameters():
                            p.fill_(float("nan"))
    return poisoned
