"""Pruning-aware merging (method.md section 3): group every neuron by the tasks it is relevant to."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, fx
from tqdm.auto import tqdm

from ..network.multitask import MultitaskNet
from ..network.structure import Structure, source_networks
from .assemble import Label, assemble, source_origins, source_template
from .mtz import zip_layers, zip_rows
from .relevance import DEFAULT_RELATIVE_ALPHA, Relevance, regroup
from .sources import Sources, candidate_weights

GROUPINGS = ("paper", "lattice")


def probe_activations(sources: Sources, images: Tensor) -> dict[int, Tensor]:
    """Per space, every candidate's activations on ``images``: [N, n*d, f] (f = h*w per channel, summed probes)."""
    per_source = []
    channels = {name: sources.arch.space_sizes[space] for space, names in sources.arch.probes.items() for name in names}
    for item in sources.nets:
        recorder = _Recorder(fx.symbolic_trace(item.net.eval()), channels)
        with torch.no_grad():
            recorder.run(images)
        recorded = recorder.recorded
        per_source.append(
            {
                space: torch.cat([recorded[name] for name in names], dim=2)
                for space, names in sources.arch.probes.items()
            }
        )
    return {space: torch.cat([acts[space] for acts in per_source], dim=1) for space in sources.arch.probes}


class _Recorder(fx.Interpreter):
    """Runs a traced network, keeping the outputs of the probed nodes as [N, C, f] (f: features per channel)."""

    def __init__(self, graph_module: fx.GraphModule, channels: dict[str, int]) -> None:
        super().__init__(graph_module)
        self.channels = channels
        self.recorded: dict[str, Tensor] = {}

    def run_node(self, node: fx.Node) -> Any:
        value = super().run_node(node)
        if node.name in self.channels:  # [N, C, H, W], or [N, C*H*W] after a flatten: channel-major either way
            self.recorded[node.name] = value.detach().reshape(value.shape[0], self.channels[node.name], -1)
        return value


def labels_from_relevance(relevance: Relevance, n_tasks: int, grouping: str) -> list[Label]:
    """rel(j) per candidate: empty = dropped; one task = private; several = shared (paper) or that subset (lattice).

    A task none of whose candidates is relevant in this layer (its network learned too little for the layer to
    pass the threshold) keeps its most informative candidate: without a neuron in every layer its head would
    read nothing, and the merge would fail. Where every task has a relevant candidate nothing changes.
    """
    everyone = tuple(range(n_tasks))
    relevant = relevance.relevant.clone()
    for t in range(n_tasks):
        if not relevant[:, t].any():
            relevant[int(relevance.mi[:, t].argmax()), t] = True
    labels = []
    for row in relevant.tolist():
        label = tuple(t for t, relevant in enumerate(row) if relevant)
        labels.append(everyone if grouping == "paper" and len(label) > 1 else label)
    return labels


def merge_pam(
    sources: Sources,
    images: Tensor,
    labels: list[Tensor],
    grouping: str = "paper",
    alpha: float | None = None,
    relative_alpha: float | None = None,
    progress: bool = True,
) -> tuple[MultitaskNet, dict[str, Any]]:
    """PAM: regroup each space's candidates by task relevance on held-out ``images`` and build the network.

    ``labels`` holds, per task, integer label columns [N, k] (``Task.discrete_labels``). Returns the
    network and the regrouping report (per neuron: its group and its MI with each task).
    """
    activations = probe_activations(sources, images)
    origins = source_origins(sources)
    options = {} if relative_alpha is None else {"relative_alpha": relative_alpha}
    calibration = DEFAULT_RELATIVE_ALPHA if relative_alpha is None else relative_alpha
    candidate_labels, report = {}, {}
    for space in tqdm(sources.arch.spaces, desc="PAM regrouping", unit="layer", disable=None if progress else True):
        relevance = regroup(activations[space], labels, alpha=alpha, relative_alpha=calibration)
        candidate_labels[space] = labels_from_relevance(relevance, sources.n, grouping)
        report[str(space)] = _space_report(sources, space, relevance, candidate_labels[space], origins[space])
    provenance = {"method": "pam", "grouping": grouping, "samples": len(images), "alpha": alpha, **options}
    net = assemble(source_template(sources, provenance), candidate_weights(sources), candidate_labels, origins)
    return net, report


def _space_report(
    sources: Sources, space: int, relevance: Relevance, labels: list[Label], origins: list[str]
) -> dict[str, Any]:
    names = [task.name for task in sources.tasks]
    probes = sources.arch.probes[space]
    return {
        "layer": probes[0],
        "probes": probes,
        "alpha": relevance.alpha,
        "layer_mi": relevance.layer_mi,
        "neurons": [
            {"origin": origin, "tasks": [names[t] for t in label], "mi": [round(float(v), 5) for v in mi]}
            for origin, label, mi in zip(origins, labels, relevance.mi.tolist(), strict=True)
        ],
    }


def zip_label_groups(
    net: MultitaskNet,
    images: Tensor,
    fraction: float = 1.0,
    finetune: Callable[[MultitaskNet, str], None] | None = None,
    progress: bool = True,
) -> tuple[MultitaskNet, dict[str, dict[str, Any]]]:
    """Inside each label group, zip the channels of different source networks (method.md 3.5, extension).

    The relevance labels stay: a channel keeps the tasks it serves. What goes is the redundancy between
    source networks within a group, which the plain construction keeps (a group serving n tasks holds
    every network's copy of a feature: about n times one network's width, n² its MACs). Space by space,
    bottom-up, the group's channels from the first k networks are paired with those of network k by
    MTZ's pair cost and merged with MTZ's weights (``mtz.zip_rows``), so the layer above reads merged
    inputs and its own pairs are compared on them; ``finetune(net, layer)`` runs after each space, as
    MTZ's does (the same budget as the baseline; ``mtz.zip_layers`` runs both). Returns the network and,
    per space, its first layer and each group's total pair cost (``{"layer", "zip_costs"}``).
    """
    names = net.structure.task_names

    def zip_groups(net: MultitaskNet, space: int) -> tuple[MultitaskNet, list[float]]:
        costs = []
        for label in [g.label for g in net.structure.groups[space]]:
            for k in range(1, len(names)):  # the group's channels of the networks so far with network k's
                rows_x, rows_y = _source_rows(net.structure, space, label, names[:k], names[k])
                net, cost = zip_rows(net, space, rows_x, rows_y, label, images, fraction)
                costs.append(cost)
        return net, costs

    net, report = zip_layers(net, zip_groups, finetune, "PAM zipping label groups", progress)
    net.structure.provenance.update({"zip_groups": True, "zip_fraction": fraction})
    return net, report


def _source_rows(s: Structure, space: int, label: Label, earlier: tuple[str, ...], task: str) -> tuple[Tensor, Tensor]:
    """Channels of the group ``label`` in ``space`` that come from the networks ``earlier`` (merged or not), and
    those that come from network ``task`` alone."""
    rows_x, rows_y = [], []
    for group, (start, _) in zip(s.groups[space], s.spans(space), strict=True):
        if group.label != label:
            continue
        for c, origin in enumerate(group.origins, start):
            came_from = source_networks(origin)
            if came_from <= set(earlier):
                rows_x.append(c)
            elif came_from == {task}:
                rows_y.append(c)
    return torch.tensor(rows_x, dtype=torch.long), torch.tensor(rows_y, dtype=torch.long)
