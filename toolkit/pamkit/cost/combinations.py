"""What every task combination costs in a multitask network: MACs, parameters, activation memory.

Counted from the structure alone (no execution), op by op over the groups a combination runs,
each with only its permitted inputs (method.md section 2). MACs count convolutions and linear
layers (as ``torch.utils.flop_counter`` does, which reports FLOPs = 2 x MACs); batch norm,
activations, pooling and additions are not counted. Parameters are the learnable tensors the
combination's subnetwork holds (batch-norm running statistics are buffers, not parameters).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor

from ..errors import PamkitError
from ..network.architecture import INPUT_SPACE, PARAMETRIC
from ..network.multitask import MultitaskNet
from ..network.structure import Group, Structure
from ..tasks import Combination, combination_label
from ..values import check_number

BYTES_PER_VALUE = 4  # float32


@dataclass(frozen=True)
class CombinationCost:
    """Cost of running one task combination."""

    tasks: tuple[str, ...]
    macs: int
    params: int
    activation_bytes: int  # estimate: the largest input + output of any one op (what a buffer planner must hold)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {**asdict(self), "tasks": list(self.tasks)}


def all_combinations(tasks: tuple[str, ...]) -> list[Combination]:
    """Every non-empty subset, smallest first, each in declared task order."""
    return Combination.every(tasks)


def combination_cost(net: MultitaskNet | Structure, tasks: tuple[str, ...]) -> CombinationCost:
    """MACs, parameters and activation memory of one combination (of a network, or of a bare structure)."""
    return _as_cost(tasks, _count(net.structure if isinstance(net, MultitaskNet) else net, tasks))


def _as_cost(tasks: tuple[str, ...], counted: tuple[dict[str, int], int, int]) -> CombinationCost:
    """The ``CombinationCost`` of what ``_count`` counted for ``tasks``."""
    layers, params, peak = counted
    return CombinationCost(tuple(tasks), sum(layers.values()), params, peak * BYTES_PER_VALUE)


def layer_macs(net: MultitaskNet | Structure, tasks: tuple[str, ...]) -> dict[str, int]:
    """One combination's MACs layer by layer: every conv and linear layer by name, then ``"task heads"``.

    They add up to ``combination_cost(net, tasks).macs``; a layer the combination does not run counts 0.
    This is what says where one model's combination costs more than another's of the same architecture.
    """
    return _count(net.structure if isinstance(net, MultitaskNet) else net, tasks)[0]


def _count(s: Structure, tasks: tuple[str, ...]) -> tuple[dict[str, int], int, int]:
    """MACs per layer (and ``"task heads"``), parameters, and the peak activation elements of one combination."""
    wanted = {s.task_names.index(t) for t in tasks}
    layers: dict[str, int] = {}
    params = peak = 0
    elements: dict[str, int] = {}
    for op in s.ops:
        if op.kind == "head":
            continue
        active = s.active(op.space, wanted)
        sizes = [s.groups[op.space][i].size for i in active]
        elements[op.name] = sum(sizes) * math.prod(op.out_shape[1:])
        if op.inputs:
            peak = max(peak, elements[op.name] + sum(elements[name] for name in op.inputs))
        a = op.attrs
        if op.kind in PARAMETRIC:
            inputs = s.groups[s.space_of(op.inputs[0])]
            reads = s.reads(op)
            layers[op.name] = 0
            for i, size in zip(active, sizes, strict=True):
                width = sum(inputs[h].size for h in reads[i]) * a.get("expansion", 1)
                per_output = width * math.prod(a.get("kernel_size", [1]))
                layers[op.name] += per_output * size * math.prod(op.out_shape[1:])
                params += per_output * size + (size if a["bias"] else 0)
        elif op.kind == "dwconv":
            kernel = math.prod(a["kernel_size"])
            layers[op.name] = kernel * sum(sizes) * math.prod(op.out_shape[1:])
            params += (kernel + (1 if a["bias"] else 0)) * sum(sizes)
        elif op.kind == "bn":
            params += 2 * sum(sizes)
    head = s.ops[-1]
    final = s.groups[s.space_of(head.inputs[0])]
    layers["task heads"] = 0
    for t in sorted(wanted):
        width = sum(final[h].size for h in s.head_reads(t)) * head.attrs["expansion"]
        outputs = s.tasks[t].num_outputs
        layers["task heads"] += width * outputs
        params += (width + 1) * outputs
    return layers, params, peak


def combination_costs(net: MultitaskNet) -> list[CombinationCost]:
    """The cost of each of the 2^n - 1 combinations of the network's tasks."""
    return [combination_cost(net, combo) for combo in all_combinations(net.task_names)]


def membership_costs(s: Structure, weights: dict[tuple[str, ...], float] | None = None) -> dict[int, Tensor]:
    """Expected MACs saved by taking tasks off one channel, per space: ``[channels, tasks + 1]``.

    Column t: taking task t off (NaN where the channel is not t's); the last column: removing the
    channel. ``weights`` maps combinations to relative frequencies (default: all equally often).
    Taking t off a channel labelled L moves it to the group labelled L - {t} (off the network when
    that is empty): combinations that ran it only for t stop paying for it and for its consumers'
    reads of it. MACs are linear in each group's size, so one channel's move measures them exactly.
    """
    combos = all_combinations(tuple(s.task_names[t] for t in s.heads))
    weights = combination_weights(combos, weights)
    base = {combo: combination_cost(s, combo).macs for combo in combos if weights[combo]}
    costs = {}
    for space, groups in s.groups.items():
        if space == INPUT_SPACE:
            continue
        rows = []
        for i, g in enumerate(groups):
            row = torch.full((len(s.tasks) + 1,), float("nan"))
            for t in (*g.label, -1):
                moved = _move_one(groups, i, tuple(x for x in g.label if x != t) if t >= 0 else ())
                fewer = s.with_groups({**s.groups, space: moved})
                row[t] = sum(
                    weights[combo] * (macs - combination_cost(fewer, combo).macs) for combo, macs in base.items()
                )
            rows.append(row.expand(g.size, -1))
        costs[space] = torch.cat(rows) if rows else torch.zeros(0, len(s.tasks) + 1)
    return costs


def _move_one(groups: tuple[Group, ...], i: int, label: tuple[int, ...]) -> tuple[Group, ...]:
    """The groups with one channel of group i moved to the group labelled ``label`` (created if missing)."""
    g = groups[i]
    moved = list(groups)
    moved[i] = Group(g.label, g.origins[1:])
    if label:
        target = next((k for k, h in enumerate(moved) if h.label == label), None)
        if target is None:
            moved.append(Group(label, g.origins[:1]))
        else:
            moved[target] = Group(label, moved[target].origins + g.origins[:1])
    return tuple(moved)


def combination_weights(
    combos: list[Combination], weights: dict[tuple[str, ...], float] | None
) -> dict[tuple[str, ...], float]:
    """Normalised frequencies per combination; unknown combinations or bad values are errors."""
    if not weights:
        return {combo: 1 / len(combos) for combo in combos}
    resolved: dict[tuple[str, ...], float] = {}
    for tasks, weight in weights.items():
        combo = Combination(tasks, combos[-1])  # the last is every task
        if combo in resolved:
            raise PamkitError(f"combination {combo} is given two weights; give each combination once")
        check_number(f"the weight of combination {combo}", weight, low=0)
        resolved[combo] = float(weight)
    resolved = {combo: resolved.get(combo, 0.0) for combo in combos}
    total = sum(resolved.values())
    if total <= 0:
        raise PamkitError("every combination weight is zero; give at least one combination a positive weight")
    return {combo: w / total for combo, w in resolved.items()}


def cost_report(net: MultitaskNet, layers: bool = False) -> dict[str, Any]:
    """``{"tasks": [...], "combinations": [{"tasks", "macs", "params", "activation_bytes"}, ...]}``.

    With ``layers``, each combination also holds ``"layers"``: its MACs layer by layer (``layer_macs``).
    """
    combinations = []
    for combo in all_combinations(net.task_names):
        counted = _count(net.structure, combo)  # once per combination: the totals and the layers alike
        combinations.append(_as_cost(combo, counted).to_dict() | ({"layers": counted[0]} if layers else {}))
    return {"tasks": list(net.task_names), "combinations": combinations}


def baseline_ratios(report: dict[str, Any], baseline: dict[str, Any]) -> list[float]:
    """Per combination of ``report``, baseline MACs / model MACs; both reports must be over the same tasks."""
    if set(report["tasks"]) != set(baseline["tasks"]):
        raise PamkitError(
            f"the baseline's tasks ({', '.join(baseline['tasks'])}) differ from the model's "
            f"({', '.join(report['tasks'])}); compare models of the same tasks"
        )
    base = {frozenset(c["tasks"]): c["macs"] for c in baseline["combinations"]}
    return [base[frozenset(c["tasks"])] / max(c["macs"], 1) for c in report["combinations"]]


def format_table(report: dict[str, Any], baseline: dict[str, Any] | None = None) -> str:
    """A plain-text table of a cost report (with ratios against a baseline report of the same tasks when given)."""
    header = f"{'combination':<28} {'MACs':>14} {'params':>12} {'act. mem':>10}"
    ratios = baseline_ratios(report, baseline) if baseline else None
    if ratios:
        header += f" {'MACs vs base':>13}"
    lines = [header, "-" * len(header)]
    for i, c in enumerate(report["combinations"]):
        kb = c["activation_bytes"] / 1024
        line = f"{combination_label(c['tasks']):<28} {c['macs']:>14,} {c['params']:>12,} {kb:>8.1f}KB"
        if ratios:
            line += f" {ratios[i]:>12.2f}x"
        lines.append(line)
    return "\n".join(lines)


def format_layers(
    report: dict[str, Any], baseline: dict[str, Any] | None = None, combinations: list[Combination] | None = None
) -> str:
    """Per combination, a table of its MACs layer by layer (reports made with ``layers=True``).

    With a baseline report of the same tasks, its MACs and the difference stand beside each layer's:
    that is where one model's combination gains or loses against the other. ``combinations`` picks
    which to show (default: all). A layer that costs nothing in a combination, in either model, is
    left out of its table.
    """
    if baseline:
        baseline_ratios(report, baseline)  # the same tasks, or a clear error
    wanted = [frozenset(c) for c in combinations] if combinations else None
    shown = [c for c in report["combinations"] if wanted is None or frozenset(c["tasks"]) in wanted]
    base = {frozenset(c["tasks"]): c["layers"] for c in baseline["combinations"]} if baseline else {}
    names = list(dict.fromkeys([*(n for c in shown for n in c["layers"]), *(n for c in base.values() for n in c)]))
    blocks = []
    for c in shown:
        other = base.get(frozenset(c["tasks"]), {})
        rows = [n for n in names if c["layers"].get(n) or other.get(n)]
        header = f"{combination_label(c['tasks']):<32} {'MACs':>12}"
        if baseline:
            header += f" {'baseline':>12} {'difference':>12}"
        lines = [header, "-" * len(header)]
        for name in [*rows, "total"]:
            mine = c["macs"] if name == "total" else c["layers"].get(name, 0)
            line = f"{name:<32} {mine:>12,}"
            if baseline:
                theirs = sum(other.values()) if name == "total" else other.get(name, 0)
                line += f" {theirs:>12,} {mine - theirs:>+12,}"
            lines.append(line)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def space_layers(s: Structure) -> dict[int, str]:
    """Each regroupable space and the name of its first layer (how tables and ``--layer`` name it)."""
    return {
        space: next(op.name for op in s.ops if op.space == space and op.kind in PARAMETRIC)
        for space in s.groups
        if space != INPUT_SPACE
    }


def structure_summary(s: Structure) -> list[str]:
    """One line per space: its first layer and its groups (label: size)."""
    return [
        f"{layer:<32} "
        + ", ".join(f"{combination_label(s.task_names[t] for t in g.label)}: {g.size}" for g in s.groups[space])
        for space, layer in space_layers(s).items()
    ]
