"""How much each task needs each channel: the pruning criteria, scored per (channel, task) membership.

A channel labelled with tasks L is a member of each task in L; pruning takes memberships off
(a shared channel can become private to the tasks that still need it) or removes the channel.
Scores are ``[channels, tasks + 1]`` per space, in the space's flat channel order (like the
dense form): column t for taking task t off (NaN where the channel is not t's), the last column
for removing the whole channel. The input space is never scored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, cast

import torch
from torch import Tensor, nn

from ..data import Split
from ..errors import PamkitError
from ..network.architecture import INPUT_SPACE, PARAMETRIC
from ..network.multitask import MultitaskNet, group_columns
from ..registry import Registry
from ..tasks import Task


@dataclass(frozen=True)
class Criterion:
    """A pruning criterion: per space, how much the network needs each move kept undone (higher = keep)."""

    name: ClassVar[str]
    needs_data: ClassVar[bool] = False

    def scores(
        self, net: MultitaskNet, tasks: Sequence[Task], data: Split | None, batches: int, batch_size: int, seed: int
    ) -> dict[int, Tensor]:
        """``[channels, tasks + 1]`` per space, NaN where no move exists."""
        raise NotImplementedError


CRITERIA: Registry[Criterion] = Registry("pruning criterion")


register_criterion = CRITERIA.register  # a class decorator: make a criterion available by its name (--criterion)


def get_criterion(name: str) -> Criterion:
    """The registered criterion called ``name``; PamkitError naming the known ones otherwise."""
    return CRITERIA.create(name)


@register_criterion
@dataclass(frozen=True)
class Magnitude(Criterion):
    """The L``norm`` norm of the channel's incoming filters (all layers writing the space), the same for each move."""

    name: ClassVar[str] = "magnitude"
    norm: int = 2

    def scores(
        self, net: MultitaskNet, tasks: Sequence[Task], data: Split | None, batches: int, batch_size: int, seed: int
    ) -> dict[int, Tensor]:
        n = len(net.structure.tasks)
        norm = self.norm
        values = {
            space: _per_channel(net, ops, lambda p: p.detach().abs() ** norm) ** (1 / norm)
            for space, ops in _writers(net).items()
        }
        return {
            space: _members(net, space, value[:, None].expand(-1, n + 1).clone()) for space, value in values.items()
        }


@register_criterion
@dataclass(frozen=True)
class Taylor(Criterion):
    """First-order Taylor (Molchanov et al. 2019) of the sum of the tasks' losses over the reads a move cuts."""

    name: ClassVar[str] = "taylor"
    needs_data: ClassVar[bool] = True

    def scores(
        self, net: MultitaskNet, tasks: Sequence[Task], data: Split | None, batches: int, batch_size: int, seed: int
    ) -> dict[int, Tensor]:
        if data is None or not tasks:
            raise PamkitError(
                "the taylor criterion needs training data and the tasks to score channels by their "
                "effect on the loss; pass data (or use --criterion magnitude)"
            )
        n = len(net.structure.tasks)
        scores = {space: torch.zeros(_width(net, space), n + 1, dtype=torch.float64) for space in _writers(net)}
        was_training = net.training
        net.eval()  # batch statistics and dropout stay fixed while scoring
        picks = scoring_batches(data, batches, batch_size, seed)
        for batch in picks:
            net.zero_grad(set_to_none=True)
            summed_loss(net, tasks, data, batch).backward()
            for space, cut in _cut_effects(net).items():
                scores[space] += cut**2
        net.zero_grad(set_to_none=True)
        net.train(was_training)
        return {space: _members(net, space, (score / max(1, len(picks))).float()) for space, score in scores.items()}


def scoring_batches(data: Split, batches: int, batch_size: int, seed: int) -> list[Tensor]:
    """The seeded training batches (sample indices) a prune scores on: the same seed, the same batches."""
    generator = torch.Generator().manual_seed(seed)
    return list(torch.randperm(len(data), generator=generator)[: batches * batch_size].split(batch_size))


def summed_loss(net: MultitaskNet, tasks: Sequence[Task], data: Split, batch: Tensor) -> Tensor:
    """The sum of the tasks' losses on one batch of ``data``: what the criteria and the back-off measure."""
    outputs = net(data.images[batch], [task.name for task in tasks])
    return cast(Tensor, sum(task.loss(outputs[task.name], task.targets(data.labels[batch])) for task in tasks))


def membership_importance(
    net: MultitaskNet,
    criterion: str,
    tasks: Sequence[Task] = (),
    data: Split | None = None,
    batches: int = 8,
    batch_size: int = 128,
    seed: int = 0,
) -> dict[int, Tensor]:
    """Per space, how much the network needs each move kept undone (higher = keep), NaN where no move exists.

    ``criterion`` names a registered criterion (``CRITERIA``):

    - ``taylor`` (Molchanov et al. 2019, first order): a move cuts a set of weights, the columns
      through which consumers read the channel (taking task t off cuts the reads of every consumer
      group whose label contains t, including shared ones, and t's head; removing the channel cuts
      them all). Its score is (sum w * dL/dw over those weights)^2 for the sum L of the tasks'
      losses, averaged over ``batches`` seeded training batches. For a channel with one task this
      is the classic gate criterion: the squared gradient of a gate on the channel's output.
    - ``magnitude``: the L2 norm of the channel's incoming filters (all layers writing the
      space), the same for each of its tasks and for the whole channel.
    """
    return get_criterion(criterion).scores(net, tasks, data, batches, batch_size, seed)


def _cut_effects(net: MultitaskNet) -> dict[int, Tensor]:
    """Per space, ``[channels, tasks + 1]``: sum of w * grad over the reads each move would cut (after a backward)."""
    s = net.structure
    n = len(s.tasks)
    effects = {space: torch.zeros(_width(net, space), n + 1, dtype=torch.float64) for space in _writers(net)}

    def add(space: int, columns: Tensor, expansion: int, value: Tensor, label: tuple[int, ...]) -> None:
        per_channel = torch.zeros(len(effects[space]), dtype=torch.float64).index_add_(
            0, columns // expansion, value.double()
        )
        effects[space][:, list(label)] += per_channel[:, None]
        effects[space][:, n] += per_channel

    for op in s.ops:
        source = s.space_of(op.inputs[0]) if op.inputs else None
        if source not in effects:
            continue
        expansion = op.attrs.get("expansion", 1)
        spans = s.spans(source, expansion)
        if op.kind in PARAMETRIC:
            for group, reads, layer in zip(s.groups[op.space], s.reads(op), net.group_layers(op.name), strict=True):
                if layer.weight.grad is not None:
                    value = (layer.weight.detach() * layer.weight.grad).transpose(0, 1)
                    value = value.reshape(layer.weight.shape[1], -1)
                    add(source, group_columns(spans, reads), expansion, value.sum(dim=1), group.label)
        elif op.kind == "head":
            for t in s.heads:
                head = net.head(s.task_names[t])
                if head.weight.grad is not None:
                    add(
                        source,
                        group_columns(spans, s.head_reads(t)),
                        expansion,
                        (head.weight.detach() * head.weight.grad).sum(dim=0),
                        (t,),
                    )
    return effects


def _members(net: MultitaskNet, space: int, scores: Tensor) -> Tensor:
    """NaN out the (channel, task) columns where the channel is not the task's (the last column: whole channel)."""
    labels = [g.label for g in net.structure.groups[space] for _ in range(g.size)]
    member = torch.zeros_like(scores, dtype=torch.bool)
    member[:, -1] = True
    for c, label in enumerate(labels):
        member[c, list(label)] = True
    return scores.masked_fill(~member, float("nan"))


def _writers(net: MultitaskNet) -> dict[int, list[str]]:
    """Per prunable space, the ops whose parameters are its channels' filters (conv/linear and depthwise)."""
    spaces: dict[int, list[str]] = {}
    for op in net.structure.ops:
        if op.space != INPUT_SPACE and (op.kind in PARAMETRIC or op.kind == "dwconv"):
            spaces.setdefault(op.space, []).append(op.name)
    return spaces


def _per_channel(net: MultitaskNet, ops: list[str], value: Callable[[Tensor], Tensor]) -> Tensor:
    """Sum of ``value(parameter)`` over each channel's parameters in ``ops``, in flat channel order."""

    def channel_sums(layer: nn.Module) -> Tensor:
        return cast(Tensor, sum(value(p).reshape(len(p), -1).sum(dim=1) for p in layer.parameters()))

    columns = [torch.cat([channel_sums(layer) for layer in net.group_layers(name)]) for name in ops]
    return sum(columns[1:], columns[0])


def _width(net: MultitaskNet, space: int) -> int:
    return sum(g.size for g in net.structure.groups[space])
