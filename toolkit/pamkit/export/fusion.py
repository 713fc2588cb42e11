"""Group fusion: one operator per layer for an entry point, where that costs few extra MACs.

An entry point runs one convolution per active group of a layer, each reading the concatenation of
the groups below it may read. On small models a fixed cost per operator (dispatch, tensor set-up,
the concatenation's copy) is a large share of the latency, so several small convolutions can take
longer than one that computes their zero blocks too. Fusing relabels every channel of a space with
every task: the space becomes one group that reads everything below and that every group above may
read, and the weights the connectivity rule forbade stay zero in the dense form, so the outputs are
unchanged.

Fusion goes bottom-up over the spaces in the order the network writes them: a fused space may only be
written by ops whose inputs are fused too (otherwise its one group would lose reads from the partial
groups below), while an unfused space above a fused one still reads exactly what it read before.
"""

from __future__ import annotations

from ..cost import combination_cost
from ..network import MultitaskNet, Structure
from ..network.architecture import INPUT_SPACE, PARAMETRIC
from ..network.structure import Group


def fuse_groups(net: MultitaskNet, max_extra_macs: float) -> tuple[MultitaskNet, int]:
    """``net`` (one combination's extracted network) with its lowest spaces fused, and how many were fused.

    The longest bottom-up run of spaces is fused whose fused network computes at most
    ``max_extra_macs`` (a fraction) more MACs than the grouped one; 0 spaces when none qualifies.
    """
    s = net.structure
    tasks = net.task_names
    label = tuple(range(len(s.tasks)))
    budget = combination_cost(s, tasks).macs * (1 + max_extra_macs)
    best: set[int] = set()
    order = _spaces_in_write_order(s)
    for end in range(1, len(order) + 1):
        spaces = set(order[:end])
        if _can_fuse(s, spaces) and combination_cost(_fused(s, spaces, label), tasks).macs <= budget:
            best = spaces
    if not any(len(s.groups[space]) > 1 for space in best):
        return net, 0
    labels = {space: [label] * sum(g.size for g in s.groups[space]) for space in best}
    return net.relabel(labels).eval(), len(best)


def _spaces_in_write_order(s: Structure) -> list[int]:
    order: list[int] = []
    for op in s.ops:
        if op.kind not in ("input", "head") and op.space != INPUT_SPACE and op.space not in order:
            order.append(op.space)
    return order


def _can_fuse(s: Structure, spaces: set[int]) -> bool:
    """Whether every parametric op writing a fused space reads a fused space (or the input)."""
    return all(
        s.space_of(op.inputs[0]) in spaces | {INPUT_SPACE}
        for op in s.ops
        if op.kind in PARAMETRIC and op.space in spaces
    )


def _fused(s: Structure, spaces: set[int], label: tuple[int, ...]) -> Structure:
    groups = dict(s.groups)
    for space in spaces:
        groups[space] = (Group(label, tuple(o for g in s.groups[space] for o in g.origins)),)
    return s.with_groups(groups)
