"""Multi-Task Zipping (method.md section 5): share neuron pairs layer by layer, bottom-up, then fine-tune.

Implemented as a sequence of transformations of the multitask network, starting from the
side-by-side (``none``) network: per space, the group of tasks zipped so far is zipped with the
next task's private group. A zipped neuron reads only input groups shared by all its tasks (the
connectivity rule); with a full zip that is every input. All tasks see the same images here, so
both networks' layer Hessians are the same matrix and the merged weights are the Hessian-optimal
pair average of MTZ's closed form.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import torch
from torch import Tensor
from tqdm.auto import tqdm

from ..cost import space_layers
from ..errors import PamkitError
from ..network.architecture import PARAMETRIC
from ..network.multitask import MultitaskNet, expand_channels, group_columns, reindex_dense
from .assemble import assemble
from .zipping import flatten_neurons, greedy_pairs, layer_hessian, merged_weights, pair_costs, unflatten_neurons


def merge_mtz(
    net: MultitaskNet,
    images: Tensor,
    zip_fraction: float = 1.0,
    finetune: Callable[[MultitaskNet, str], None] | None = None,
    progress: bool = True,
) -> tuple[MultitaskNet, dict[str, Any]]:
    """Zip the side-by-side network ``net`` space by space; ``finetune(net, layer)`` runs after each space."""
    if not 0 < zip_fraction <= 1:
        raise PamkitError(f"zip fraction {zip_fraction} must be in (0, 1] (1 = full zip: every neuron paired)")
    n = len(net.structure.tasks)

    def zip_tasks(net: MultitaskNet, space: int) -> tuple[MultitaskNet, list[float]]:
        costs = []
        for k in range(1, n):  # the tasks zipped so far with the next one
            net, cost = zip_space(net, space, tuple(range(k)), (k,), images, zip_fraction)
            costs.append(cost)
        return net, costs

    net, report = zip_layers(net, zip_tasks, finetune, "MTZ zipping", progress)
    net.structure.provenance.update(
        {
            "method": "mtz",
            "zip_fraction": zip_fraction,
            "samples": len(images),
            "order": "pairwise in declared task order" if n > 2 else "pair",
        }
    )
    return net, report


def zip_layers(
    net: MultitaskNet,
    zip_one: Callable[[MultitaskNet, int], tuple[MultitaskNet, list[float]]],
    finetune: Callable[[MultitaskNet, str], None] | None,
    desc: str,
    progress: bool = True,
) -> tuple[MultitaskNet, dict[str, dict[str, Any]]]:
    """Zip ``net`` space by space, bottom-up: ``zip_one(net, space)`` zips one space and returns its pair costs,
    then ``finetune(net, layer)`` runs (MTZ's schedule, which zipped PAM shares). Returns the network and, per
    space, ``{"layer", "zip_costs"}``."""
    report: dict[str, dict[str, Any]] = {}
    layers = space_layers(net.structure)  # zipping merges channels; it neither adds nor removes spaces
    for space, layer in tqdm(layers.items(), desc=desc, unit="layer", disable=None if progress else True):
        net, costs = zip_one(net, space)
        report[str(space)] = {"layer": layer, "zip_costs": costs}
        if finetune is not None:
            finetune(net, layer)
    return net, report


def zip_space(
    net: MultitaskNet, space: int, zipped: tuple[int, ...], task: tuple[int, ...], images: Tensor, fraction: float
) -> tuple[MultitaskNet, float]:
    """Zip the group labelled ``zipped`` with the group labelled ``task`` in one space; returns the total pair cost."""
    s = net.structure
    labels = [g.label for g in s.groups[space]]
    if zipped not in labels or task not in labels:
        return net, 0.0
    spans = s.spans(space)
    rows_x, rows_y = (torch.arange(*spans[labels.index(lab)]) for lab in (zipped, task))
    return zip_rows(net, space, rows_x, rows_y, tuple(sorted(zipped + task)), images, fraction)


def zip_rows(
    net: MultitaskNet,
    space: int,
    rows_x: Tensor,
    rows_y: Tensor,
    merged_label: tuple[int, ...],
    images: Tensor,
    fraction: float,
) -> tuple[MultitaskNet, float]:
    """Pair channels ``rows_x`` with channels ``rows_y`` of one space by MTZ's cost and merge each pair into one
    channel labelled ``merged_label`` (reading only inputs shared by all its tasks); returns the network and the
    total pair cost. ``fraction`` of the smaller side is paired (1: all of it); unpaired channels stay as they are.
    """
    if not len(rows_x) or not len(rows_y):
        return net, 0.0
    s = net.structure
    producers = [op for op in s.ops if op.kind in PARAMETRIC and op.space == space]
    dense = net.to_dense()
    found = [_producer_fit(net, dense, op, merged_label, rows_x, rows_y, images) for op in producers]
    fits = [fit for fit in found if fit is not None]
    if len(fits) < len(found):
        return net, 0.0  # some producer has no input shared by all the tasks: nothing can be zipped here
    costs = cast(Tensor, sum(pair_costs(fit["a"], fit["b"], fit["h"], fit["h"]) for fit in fits))
    pairs = greedy_pairs(costs, round(fraction * min(len(rows_x), len(rows_y))))
    if not pairs:
        return net, 0.0
    px = torch.tensor([i for i, _, _ in pairs], dtype=torch.long)
    py = torch.tensor([j for _, j, _ in pairs], dtype=torch.long)
    for op, fit in zip(producers, fits, strict=True):
        _write_merged_rows(dense, op, fit, rows_x[px], px, py)
    _average_channelwise(s, dense, space, rows_x[px], rows_y[py])
    _sum_consumer_columns(s, dense, space, rows_x[px], rows_y[py])

    channel_labels = [g.label for g in s.groups[space] for _ in range(g.size)]
    origins = [o for g in s.groups[space] for o in g.origins]
    for x, y in zip(rows_x[px].tolist(), rows_y[py].tolist(), strict=True):
        channel_labels[x], origins[x] = merged_label, f"{origins[x]}+{origins[y]}"
    gone = set(rows_y[py].tolist())
    keep = torch.tensor([c for c in range(len(origins)) if c not in gone], dtype=torch.long)
    dense = reindex_dense(s.op, dense, {space: keep})
    return assemble(
        s, dense, {space: [channel_labels[c] for c in keep.tolist()]}, {space: [origins[c] for c in keep.tolist()]}
    ), float(sum(c for _, _, c in pairs))


def _producer_fit(
    net: MultitaskNet,
    dense: dict[str, Tensor],
    op,
    merged_label: tuple[int, ...],
    rows_x: Tensor,
    rows_y: Tensor,
    images: Tensor,
) -> dict[str, Any] | None:
    """A producer's Hessian over the inputs shared by all merged tasks, and both groups' incoming vectors."""
    s = net.structure
    in_space = s.space_of(op.inputs[0])
    readable = [h for h, g in enumerate(s.groups[in_space]) if set(merged_label) <= set(g.label)]
    if not readable:
        return None
    names = [s.task_names[t] for t in merged_label if t in s.heads]
    with torch.no_grad():
        values = net.eval().intermediates(images, [op.inputs[0]], names)[op.inputs[0]]
    x = torch.cat([values[h] for h in readable], dim=1)
    a = op.attrs
    conv = op.kind == "conv"
    h = (
        layer_hessian(x, *(tuple(a[k]) for k in ("kernel_size", "stride", "padding", "dilation")))
        if conv
        else layer_hessian(x)
    )
    spans = s.spans(in_space, a.get("expansion", 1))
    columns = group_columns(spans, readable)
    weight, bias = dense[f"{op.name}.weight"], dense.get(f"{op.name}.bias")
    vectors = [
        flatten_neurons(weight[rows][:, columns], None if bias is None else bias[rows]) for rows in (rows_x, rows_y)
    ]
    return {"a": vectors[0], "b": vectors[1], "h": h, "columns": columns, "shape": weight[:, columns].shape}


def _write_merged_rows(dense: dict[str, Tensor], op, fit: dict[str, Any], rows: Tensor, px: Tensor, py: Tensor) -> None:
    """Put MTZ's merged weights into the paired rows (reading only the shared inputs)."""
    merged = merged_weights(fit["a"][px], fit["b"][py], fit["h"], fit["h"])
    has_bias = f"{op.name}.bias" in dense
    weight, bias = unflatten_neurons(merged, fit["shape"], has_bias)
    full = dense[f"{op.name}.weight"]
    full[rows] = 0
    full[rows[:, None], fit["columns"][None, :]] = weight
    if bias is not None:
        dense[f"{op.name}.bias"][rows] = bias


def _average_channelwise(s, dense: dict[str, Tensor], space: int, rows_x: Tensor, rows_y: Tensor) -> None:
    """Batch-norm and depthwise parameters of a zipped channel: the mean of the pair's."""
    for key, tensor in dense.items():
        op = s.op(key.split(".")[0])
        if op.space == space and op.kind in ("bn", "dwconv"):
            tensor[rows_x] = (tensor[rows_x] + tensor[rows_y]) / 2


def _sum_consumer_columns(s, dense: dict[str, Tensor], space: int, rows_x: Tensor, rows_y: Tensor) -> None:
    """Layers reading the space read the zipped channel where each task read its own (block-diagonal, so a sum)."""
    for key, tensor in dense.items():
        op = s.op(key.split(".")[0])
        if (
            (op.kind in PARAMETRIC or op.kind == "head")
            and key.endswith("weight")
            and s.space_of(op.inputs[0]) == space
        ):
            e = op.attrs.get("expansion", 1)
            tensor[:, expand_channels(rows_x, e)] += tensor[:, expand_channels(rows_y, e)]
