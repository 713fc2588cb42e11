"""Turn labelled candidate neurons into a multitask network: group by label, order, slice the weights."""

from __future__ import annotations

from ..network.architecture import INPUT_SPACE
from ..network.multitask import Label, assemble
from ..network.structure import Structure, input_group
from .sources import Sources

__all__ = ["Label", "assemble", "source_origins", "source_template"]


def source_template(sources: Sources, provenance: dict) -> Structure:
    """A structure over the sources' architecture with only the input space grouped (to be filled by a merge)."""
    return Structure(
        sources.tasks,
        sources.input_spec,
        tuple(sources.arch.ops),
        {INPUT_SPACE: input_group(sources.input_spec, sources.n)},
        tuple(range(sources.n)),
        {"arch": sources.arch_name, **provenance},
    )


def source_origins(sources: Sources) -> dict[int, list[str]]:
    """Candidate names per space: ``"<task>:<channel>"`` for every channel of every source, source-major."""
    return {
        space: [f"{task.name}:{c}" for task in sources.tasks for c in range(size)]
        for space, size in sources.arch.space_sizes.items()
    }
