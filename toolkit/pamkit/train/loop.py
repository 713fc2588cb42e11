"""Training one network on one task: seeded, with progress bars and validation-based early stopping."""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, cast

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from ..data import Split
from ..tasks import Task
from ..values import check_number


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings; recorded in every checkpoint so a run can be repeated exactly."""

    epochs: int = 20
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    patience: int = 3
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "patience"):
            check_number(f"training setting {name}", getattr(self, name), low=1, integer=True)
        check_number("training setting lr (learning rate)", self.lr, low=0, low_open=True)
        check_number("training setting weight_decay", self.weight_decay, low=0)
        check_number("training setting seed", self.seed, low=0, integer=True)

    def to_dict(self) -> dict:
        """JSON-ready settings."""
        return asdict(self)


@dataclass(frozen=True)
class FitResult:
    """What training achieved: the best validation score, when it was reached, and how long it took."""

    val_score: float
    best_epoch: int
    epochs_run: int
    seconds: float
    history: tuple[dict, ...]


def fit(
    net: nn.Module,
    tasks: Task | Sequence[Task],
    train: Split,
    val: Split,
    config: TrainConfig,
    label: str = "",
    log: bool = True,
) -> FitResult:
    """Train ``net`` with Adam on the sum of its tasks' losses; keep the best epoch by mean validation score.

    ``net`` returns either one tensor (a single-task network) or a dict of outputs per task name.
    ``log=False`` drops the per-epoch summary lines (for callers that report progress themselves).
    """
    tasks = _as_list(tasks)
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    targets = {task.name: task.targets(train.labels) for task in tasks}
    best_score, best_epoch, history = -1.0, 0, []
    best_state: dict[str, Any] = {}  # set after the first epoch: every score beats -1
    started = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        net.train()
        order = torch.randperm(len(train), generator=generator)
        total = 0.0
        with tqdm(
            order.split(config.batch_size),
            desc=f"{label} epoch {epoch}/{config.epochs}",
            unit="batch",
            leave=False,
            disable=None,
        ) as bar:
            for batch in bar:
                outputs = _outputs(net, train.images[batch], tasks)
                loss = cast(Tensor, sum(task.loss(outputs[task.name], targets[task.name][batch]) for task in tasks))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += loss.item() * len(batch)
                bar.set_postfix(loss=f"{loss.item():.4f}")
        scores = evaluate_all(net, tasks, val, config.batch_size * 4)
        score = sum(scores.values()) / len(scores)
        history.append({"epoch": epoch, "train_loss": total / len(train), "val_score": score, "val_scores": scores})
        if log:
            tqdm.write(f"{label} epoch {epoch}: train loss {total / len(train):.4f}, val score {score:.4f}")
        if score > best_score:
            best_score, best_epoch, best_state = score, epoch, copy.deepcopy(net.state_dict())
        elif epoch - best_epoch >= config.patience:
            break
    net.load_state_dict(best_state)
    return FitResult(best_score, best_epoch, len(history), time.perf_counter() - started, tuple(history))


@torch.no_grad()
def evaluate_all(net: nn.Module, tasks: Task | Sequence[Task], split: Split, batch_size: int = 512) -> dict[str, float]:
    """Each task's score on a split: accuracy, or mean attribute agreement for multilabel tasks."""
    tasks = _as_list(tasks)
    net.eval()
    correct = dict.fromkeys((task.name for task in tasks), 0.0)
    for start in range(0, len(split), batch_size):
        outputs = _outputs(net, split.images[start : start + batch_size], tasks)
        labels = split.labels[start : start + batch_size]
        for task in tasks:
            correct[task.name] += task.correct(outputs[task.name], task.targets(labels)).sum().item()
    return {name: value / max(len(split), 1) for name, value in correct.items()}


def evaluate(net: nn.Module, task: Task, split: Split, batch_size: int = 512) -> float:
    """One task's score on a split."""
    return evaluate_all(net, [task], split, batch_size)[task.name]


def _as_list(tasks: Task | Sequence[Task]) -> list[Task]:
    return [tasks] if isinstance(tasks, Task) else list(tasks)


def _outputs(net: nn.Module, x: torch.Tensor, tasks: list[Task]) -> dict[str, torch.Tensor]:
    """The network's outputs by task name, whether it returns one tensor or a dict."""
    out = net(x)
    return out if isinstance(out, dict) else {tasks[0].name: out}
