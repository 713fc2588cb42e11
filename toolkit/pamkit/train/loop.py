"""Training one network on one task: seeded, with progress bars and validation-based early stopping."""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass

import torch
from torch import nn
from tqdm.auto import tqdm

from ..data import Split
from ..errors import PamkitError
from ..tasks import Task


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
            if getattr(self, name) < 1:
                raise PamkitError(f"training setting {name}={getattr(self, name)} must be at least 1")
        if not self.lr > 0:
            raise PamkitError(f"learning rate {self.lr} must be positive")

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


def fit(net: nn.Module, task: Task, train: Split, val: Split, config: TrainConfig, label: str = "") -> FitResult:
    """Train ``net`` on ``task`` with Adam; keep the weights of the best validation epoch."""
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    targets = task.targets(train.labels)
    best_score, best_epoch, best_state, history = -1.0, 0, None, []
    started = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        net.train()
        order = torch.randperm(len(train), generator=generator)
        batches = order.split(config.batch_size)
        total = 0.0
        with tqdm(batches, desc=f"{label} epoch {epoch}/{config.epochs}", unit="batch", leave=False, disable=None) as bar:
            for batch in bar:
                loss = task.loss(net(train.images[batch]), targets[batch])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += loss.item() * len(batch)
                bar.set_postfix(loss=f"{loss.item():.4f}")
        score = evaluate(net, task, val, config.batch_size * 4)
        history.append({"epoch": epoch, "train_loss": total / len(train), "val_score": score})
        tqdm.write(f"{label} epoch {epoch}: train loss {total / len(train):.4f}, val score {score:.4f}")
        if score > best_score:
            best_score, best_epoch, best_state = score, epoch, copy.deepcopy(net.state_dict())
        elif epoch - best_epoch >= config.patience:
            break
    net.load_state_dict(best_state)
    return FitResult(best_score, best_epoch, len(history), time.perf_counter() - started, tuple(history))


@torch.no_grad()
def evaluate(net: nn.Module, task: Task, split: Split, batch_size: int = 512) -> float:
    """The task's score on a split: accuracy, or mean attribute agreement for multilabel tasks."""
    net.eval()
    targets = task.targets(split.labels)
    correct = sum(task.correct(net(split.images[i:i + batch_size]), targets[i:i + batch_size]).sum().item()
                  for i in range(0, len(split), batch_size))
    return correct / max(len(split), 1)
