"""Turn labelled candidate neurons into a multitask network: group by label, order, slice the weights."""

from __future__ import annotations

import torch
from torch import Tensor

from ..network.architecture import INPUT_SPACE
from ..network.multitask import MultitaskNet, reindex_dense
from ..network.structure import Group, Structure, input_group, sort_groups
from .sources import Sources

Label = tuple[int, ...]


def assemble(template: Structure, dense: dict[str, Tensor], labels: dict[int, list[Label]],
             origins: dict[int, list[str]]) -> MultitaskNet:
    """Regroup the spaces in ``labels`` by label (empty label: dropped) and build the network.

    ``dense`` orders those spaces' channels as candidates (the order of ``labels[space]``) and
    every other space as in ``template``. Candidates are permuted into group order so that each
    group's channels are contiguous.
    """
    groups = dict(template.groups)
    order: dict[int, Tensor] = {}
    for space, space_labels in labels.items():
        by_label: dict[Label, list[int]] = {}
        for candidate, label in enumerate(space_labels):
            if label:
                by_label.setdefault(tuple(sorted(label)), []).append(candidate)
        ordered = sort_groups([Group(label, tuple(origins[space][c] for c in members))
                               for label, members in by_label.items()])
        groups[space] = tuple(ordered)
        index = {origin: c for c, origin in enumerate(origins[space])}
        order[space] = torch.tensor([index[o] for g in ordered for o in g.origins], dtype=torch.long)
    structure = template.with_groups(groups)
    return MultitaskNet.build(structure, reindex_dense(structure.op, dense, order))


def source_template(sources: Sources, provenance: dict) -> Structure:
    """A structure over the sources' architecture with only the input space grouped (to be filled by a merge)."""
    return Structure(sources.tasks, sources.input_spec, tuple(sources.arch.ops),
                     {INPUT_SPACE: input_group(sources.input_spec, sources.n)}, tuple(range(sources.n)),
                     {"arch": sources.arch_name, **provenance})


def source_origins(sources: Sources) -> dict[int, list[str]]:
    """Candidate names per space: ``"<task>:<channel>"`` for every channel of every source, source-major."""
    return {space: [f"{task.name}:{c}" for task in sources.tasks for c in range(size)]
            for space, size in sources.arch.space_sizes.items()}
