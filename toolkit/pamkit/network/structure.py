"""The multitask network's structure: per channel space, groups of neurons labelled by task sets."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from ..data import InputSpec
from ..errors import CheckpointError
from ..tasks import Task
from .architecture import INPUT_SPACE, Op


@dataclass(frozen=True)
class Group:
    """Neurons used by exactly the tasks in ``label``; ``origins`` says where each neuron came from.

    An origin is ``"<task>:<channel>"`` for a neuron copied from that task's network, ``"a:3+b:7"``
    for one zipped from two networks (MTZ), ``"input:<c>"`` for an input channel.
    """

    label: tuple[int, ...]
    origins: tuple[str, ...]

    @property
    def size(self) -> int:
        """Number of neurons (channels) in the group."""
        return len(self.origins)

    def reads(self, other: Group) -> bool:
        """The connectivity rule: a group may read a group whose label is a superset of its own."""
        return set(self.label) <= set(other.label)


def source_networks(origin: str) -> frozenset[str]:
    """The networks a neuron came from, by its origin (``Group``): one, or every network zipped into it."""
    return frozenset(part.rsplit(":", 1)[0] for part in origin.split("+"))


def sort_groups(groups: list[Group]) -> list[Group]:
    """Canonical order: widest labels (most shared) first, then by label."""
    return sorted(groups, key=lambda g: (-len(g.label), g.label))


@dataclass(frozen=True)
class Structure:
    """Everything but the weights: tasks, input, the op list, and the groups of every channel space."""

    tasks: tuple[Task, ...]
    input_spec: InputSpec
    ops: tuple[Op, ...]
    groups: dict[int, tuple[Group, ...]]  # per space (the input space has one group of every task)
    heads: tuple[int, ...]  # indices of the tasks whose heads this network has
    provenance: dict[str, Any] = field(default_factory=dict)  # architecture, merge method and settings

    @property
    def task_names(self) -> tuple[str, ...]:
        """All task names, in declared order (labels index into this)."""
        return tuple(t.name for t in self.tasks)

    @cached_property
    def _ops_by_name(self) -> dict[str, Op]:
        return {op.name: op for op in self.ops}

    def op(self, name: str) -> Op:
        """The op called ``name``."""
        return self._ops_by_name[name]

    def space_of(self, op_name: str) -> int:
        """The channel space of an op's output."""
        return self.op(op_name).space

    def reads(self, op: Op) -> list[list[int]]:
        """For a conv/linear op: per output group, the indices of the input groups it may read."""
        inputs = self.groups[self.space_of(op.inputs[0])]
        return [[i for i, h in enumerate(inputs) if g.reads(h)] for g in self.groups[op.space]]

    def head_reads(self, task: int) -> list[int]:
        """Indices of the final space's groups a task's head reads: those whose label contains the task."""
        head = self.ops[-1]
        return [i for i, g in enumerate(self.groups[self.space_of(head.inputs[0])]) if task in g.label]

    def active(self, space: int, tasks: set[int]) -> list[int]:
        """Indices of a space's groups that a combination runs: label and combination intersect."""
        return [i for i, g in enumerate(self.groups[space]) if tasks & set(g.label)]

    def spans(self, space: int, per_channel: int = 1) -> list[tuple[int, int]]:
        """Each group's [start, end) in the space's flat order, each channel spanning ``per_channel`` features."""
        spans, start = [], 0
        for g in self.groups[space]:
            spans.append((start, start + g.size * per_channel))
            start += g.size * per_channel
        return spans

    def with_groups(self, groups: dict[int, tuple[Group, ...]], heads: tuple[int, ...] | None = None) -> Structure:
        """The same structure with other groups (and optionally fewer heads), with its own copy of the provenance.

        A derived network (extracted, pruned) never shares the record of the one it came from: editing
        one's provenance leaves the other's as it was.
        """
        heads = self.heads if heads is None else heads
        return replace(self, groups=groups, heads=heads, provenance=copy.deepcopy(self.provenance))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (group labels as task names, for readability)."""
        names = self.task_names
        return {
            "tasks": [t.to_dict() for t in self.tasks],
            "input": self.input_spec.to_dict(),
            "ops": [op.to_dict() for op in self.ops],
            "groups": {
                str(space): [{"tasks": [names[t] for t in g.label], "origins": list(g.origins)} for g in groups]
                for space, groups in self.groups.items()
            },
            "heads": [names[t] for t in self.heads],
            "provenance": self.provenance,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Structure:
        """Rebuild from ``to_dict``; CheckpointError on anything malformed."""
        try:
            tasks = tuple(Task.from_dict(t) for t in data["tasks"])
            index = {t.name: i for i, t in enumerate(tasks)}
            groups = {
                int(space): tuple(
                    Group(tuple(sorted(index[n] for n in g["tasks"])), tuple(g["origins"])) for g in entries
                )
                for space, entries in data["groups"].items()
            }
            ops = tuple(Op(**op) for op in data["ops"])
            return cls(
                tasks,
                InputSpec.from_dict(data["input"]),
                ops,
                groups,
                tuple(index[n] for n in data["heads"]),
                dict(data.get("provenance", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"malformed multitask structure ({exc!r}); re-create it with pamkit") from None


def input_group(input_spec: InputSpec, n_tasks: int) -> tuple[Group, ...]:
    """The input space: one group, read by every task."""
    return (Group(tuple(range(n_tasks)), tuple(f"input:{c}" for c in range(input_spec.channels))),)


__all__ = ["INPUT_SPACE", "Group", "Structure", "input_group", "sort_groups"]
