"""Networks side by side: the no-merging layout, for source networks and for separately pruned ones."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ..errors import PamkitError
from .architecture import INPUT_SPACE, PARAMETRIC, Op
from .multitask import MultitaskNet


def stack_dense(ops: Sequence[Op], denses: list[dict[str, Tensor]]) -> dict[str, Tensor]:
    """Dense weights of networks side by side: channels concatenated per space, block-diagonal connections.

    Each network's channels read only its own network's channels (zero elsewhere) and all read the
    same input; each head reads its own network's last features. ``denses`` are in the dense form
    of ``MultitaskNet.to_dense`` over the same op list.
    """
    by_name = {op.name: op for op in ops}
    out: dict[str, Tensor] = {}
    for op in ops:
        if op.kind in PARAMETRIC:
            weights = [d[f"{op.name}.weight"] for d in denses]
            reads_input = by_name[op.inputs[0]].space == INPUT_SPACE
            out[f"{op.name}.weight"] = torch.cat(weights) if reads_input else _block_diagonal(weights)
            if op.attrs["bias"]:
                out[f"{op.name}.bias"] = torch.cat([d[f"{op.name}.bias"] for d in denses])
        elif op.kind in ("dwconv", "bn"):
            for key in ("weight", "bias", "running_mean", "running_var"):
                if f"{op.name}.{key}" in denses[0]:
                    out[f"{op.name}.{key}"] = torch.cat([d[f"{op.name}.{key}"] for d in denses])
        elif op.kind == "head":
            heads = [
                sorted(k.rsplit(".", 1)[0] for k in d if k.startswith(f"{op.name}.") and k.endswith(".weight"))
                for d in denses
            ]
            widths = [d[f"{names[0]}.weight"].shape[1] for d, names in zip(denses, heads, strict=True)]
            start = 0
            for d, names, width in zip(denses, heads, widths, strict=True):
                for name in names:
                    weight = d[f"{name}.weight"]
                    full = weight.new_zeros(weight.shape[0], sum(widths))
                    full[:, start : start + width] = weight
                    out[f"{name}.weight"], out[f"{name}.bias"] = full, d[f"{name}.bias"].clone()
                start += width
    return out


def stack(nets: Sequence[MultitaskNet]) -> MultitaskNet:
    """One network holding networks of disjoint tasks side by side (e.g. separately pruned single-task ones).

    A combination then runs exactly its tasks' own networks, so its cost is the sum of theirs.
    """
    first = nets[0].structure
    seen: set[int] = set()
    for net in nets:
        s = net.structure
        if [(op.kind, op.out_shape) for op in s.ops[:-1]] != [
            (op.kind, op.out_shape) for op in first.ops[:-1]
        ] or s.task_names != first.task_names:
            raise PamkitError("only networks of one architecture over the same task list can be stacked")
        heads = set(s.heads)
        if heads & seen:
            raise PamkitError(
                f"tasks {[s.task_names[t] for t in heads & seen]} appear in more than one of the "
                "stacked networks; each task must come from exactly one"
            )
        if any(not set(g.label) <= heads for space, groups in s.groups.items() if space != INPUT_SPACE for g in groups):
            raise PamkitError(
                "a stacked network has neurons labelled with tasks it has no head for; "
                "stack networks made by extract(...) of their own tasks"
            )
        seen |= heads
    groups = {
        space: groups if space == INPUT_SPACE else tuple(g for net in nets for g in net.structure.groups[space])
        for space, groups in first.groups.items()
    }
    structure = first.with_groups(groups, tuple(sorted(seen)))
    return MultitaskNet.build(structure, stack_dense(first.ops, [net.to_dense() for net in nets]))


def _block_diagonal(weights: list[Tensor]) -> Tensor:
    """Stack [out_k, in_k, ...] weights on the diagonal of one [sum out, sum in, ...] tensor."""
    rows, cols = sum(w.shape[0] for w in weights), sum(w.shape[1] for w in weights)
    full = weights[0].new_zeros(rows, cols, *weights[0].shape[2:])
    r = c = 0
    for w in weights:
        full[r : r + w.shape[0], c : c + w.shape[1]] = w
        r, c = r + w.shape[0], c + w.shape[1]
    return full
