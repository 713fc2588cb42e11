"""Fine-tuning recipes for pruning, registered by name, each a frozen dataclass holding its config.

A recipe says what a pruned network learns from while it recovers: ``labels`` (the sum of the
tasks' losses, method.md 4) or ``distill`` (default): each task's head also learns from its own
single-task network's outputs (logit distillation, as in Minitron / Torch-Pruning's examples).
``finetune`` runs any recipe with Adam and a cosine learning-rate schedule over the round.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data import Split
from ..errors import PamkitError
from ..registry import Registry
from ..tasks import Task
from ..values import check_number


@dataclass(frozen=True)
class Recipe:
    """A fine-tuning loss; ``needs_teachers``: it reads the single-task networks' outputs."""

    name: ClassVar[str]
    needs_teachers: ClassVar[bool] = False

    def loss(self, task: Task, outputs: Tensor, targets: Tensor, teacher: Tensor | None) -> Tensor:
        """The loss of one task's raw head outputs for one batch (``teacher``: its source network's raw outputs)."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the name and the config."""
        return {"name": self.name, **asdict(self)}


RECIPES: Registry[Recipe] = Registry("fine-tuning recipe")


register_recipe = RECIPES.register  # a class decorator: make a recipe available by its name (--recipe NAME)


def get_recipe(name: str, **config: Any) -> Recipe:
    """The registered recipe called ``name`` with ``config``; PamkitError naming the known ones otherwise."""
    return RECIPES.create(name, **config)


def recipe_from_dict(record: dict[str, Any]) -> Recipe:
    """The recipe ``Recipe.to_dict`` wrote."""
    config = dict(record)
    return get_recipe(str(config.pop("name", "")), **config)


@register_recipe
@dataclass(frozen=True)
class Labels(Recipe):
    """The sum of the tasks' losses against the labels (the paper's fine-tuning)."""

    name: ClassVar[str] = "labels"

    def loss(self, task: Task, outputs: Tensor, targets: Tensor, teacher: Tensor | None) -> Tensor:
        return task.loss(outputs, targets)


@register_recipe
@dataclass(frozen=True)
class Distill(Recipe):
    """``(1 - weight) * label loss + weight * distillation loss`` per task, against its own source network.

    Multiclass: KL(teacher || student) of the softmaxes at ``temperature``, times temperature² (Hinton
    et al. 2015). Binary and multilabel: ±1 targets (tanh outputs) match the teacher's tanh outputs
    with squared error; 0/1 targets match its sigmoid outputs with binary cross-entropy.
    """

    name: ClassVar[str] = "distill"
    needs_teachers: ClassVar[bool] = True
    weight: float = 0.5
    temperature: float = 2.0

    def __post_init__(self) -> None:
        check_number("distill weight (the share of the distillation term, 0..1)", self.weight, low=0, high=1)
        check_number("distill temperature", self.temperature, low=0, low_open=True)

    def loss(self, task: Task, outputs: Tensor, targets: Tensor, teacher: Tensor | None) -> Tensor:
        if teacher is None:
            raise PamkitError(f"the distill recipe needs task {task.name!r}'s single-task network; pass the teachers")
        if task.kind == "multiclass":
            t = self.temperature
            soft = F.kl_div(
                F.log_softmax(outputs / t, dim=1),
                F.log_softmax(teacher / t, dim=1),
                log_target=True,
                reduction="batchmean",
            ) * (t * t)
        elif task.encoding == "pm1":
            soft = F.mse_loss(torch.tanh(outputs), torch.tanh(teacher))
        else:
            soft = F.binary_cross_entropy_with_logits(outputs, torch.sigmoid(teacher))
        hard = task.loss(outputs, targets)
        return (1 - self.weight) * hard + self.weight * soft


@torch.no_grad()
def teacher_outputs(
    teachers: Mapping[str, nn.Module], tasks: Sequence[Task], split: Split, batch_size: int = 512
) -> dict[str, Tensor]:
    """Each task's single-task network's raw outputs on every image of ``split`` (computed once per prune)."""
    missing = [task.name for task in tasks if task.name not in teachers]
    if missing:
        raise PamkitError(
            f"no single-task network for tasks {missing} to distil from; keep the training run the model was "
            "merged from where it was, or use --recipe labels"
        )
    out = {}
    for task in tasks:
        net = teachers[task.name]
        was_training = net.training
        net.eval()
        chunks = []
        for start in range(0, len(split), batch_size):
            result = net(split.images[start : start + batch_size])
            chunks.append(result[task.name] if isinstance(result, dict) else result)
        out[task.name] = torch.cat(chunks).detach()
        net.train(was_training)
    return out


def finetune(
    net: nn.Module,
    tasks: Sequence[Task],
    train: Split,
    recipe: Recipe,
    teachers: dict[str, Tensor] | None,
    *,
    lr: float,
    epochs: int,
    batch_size: int,
    seed: int,
    samples: int | None = None,
) -> None:
    """Train ``net`` in place: Adam, learning rate from ``lr`` down to 0 on a cosine over the whole round.

    ``samples``: train on a seeded subset of that many images (None: the whole split) for ``epochs``.
    ``teachers``: per task, the teacher's outputs on every image of ``train`` (for ``recipe.needs_teachers``).
    """
    generator = torch.Generator().manual_seed(seed)
    pool = torch.arange(len(train))
    if samples is not None and samples < len(train):
        pool = torch.randperm(len(train), generator=generator)[:samples]
    steps = max(1, epochs * math.ceil(len(pool) / batch_size))
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda k: 0.5 * (1 + math.cos(math.pi * k / steps)))
    targets = {task.name: task.targets(train.labels) for task in tasks}
    names = [task.name for task in tasks]
    torch.manual_seed(seed)  # dropout, if any
    net.train()
    for _ in range(epochs):
        for batch in pool[torch.randperm(len(pool), generator=generator)].split(batch_size):
            outputs = net(train.images[batch], names)
            loss = cast(
                Tensor,
                sum(
                    recipe.loss(
                        task,
                        outputs[task.name],
                        targets[task.name][batch],
                        teachers[task.name][batch] if teachers is not None else None,
                    )
                    for task in tasks
                ),
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    net.eval()
