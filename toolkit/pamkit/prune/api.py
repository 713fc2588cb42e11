"""``prune``: iterative structured pruning of a multitask network under a per-task accuracy tolerance.

Each iteration scores every (channel, task) membership (``importance``): how much the task
needs the channel. It takes the lowest-ranked memberships off their channels
(``MultitaskNet.relabel``): a shared channel one task no longer needs becomes private to the
others, a channel no task needs is removed. Then it fine-tunes on the sum of the tasks' losses and
keeps the result only while every task stays within the tolerance of its single-task network. A
rejected step is retried at half the size (a rejected single move is banned and the next one
tried), an accepted one lets the step grow back; a final fine-tune at decreasing learning rates
follows. Cost never rises: labels only shrink.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import torch
from torch import Tensor
from tqdm.auto import tqdm

from ..cost import all_combinations, combination_cost, combination_weights, membership_costs
from ..data import DatasetSplits, Split
from ..errors import PamkitError
from ..io import write_json
from ..network import INPUT_SPACE, MODEL_STEM, MultitaskNet, save_multitask, stack
from ..tasks import Task
from ..train import TrainConfig, TrainedTask, evaluate_all, fit
from ..values import check_number
from .importance import CRITERIA, membership_importance
from .state import Checkpoint, Checkpoints, Move, PruneState

Combination = tuple[str, ...]
REPORT_FILE = "pruning.json"


@dataclass(frozen=True)
class PruneOptions:
    """How to prune; recorded beside the pruned model."""

    criterion: str = "taylor"  # taylor | magnitude
    tolerance: float = 0.01  # largest allowed drop of any task's validation score (0.01 = 1 point)
    step: float = 0.09  # per iteration: share of the expected MACs (cost-aware) or channels removed
    max_iterations: int = 200
    cost_aware: bool = True  # rank by importance per expected MAC (method.md 4, extension)
    combination_weights: dict[Combination, float] | None = None  # how often each combination runs (None: uniform)
    finetune_samples: int | None = 16384  # training samples per fine-tuning round (None: the whole split)
    lr: float = 1e-3
    final_lr_factors: tuple[float, ...] = (0.1, 0.01)  # the closing fine-tune, one epoch at each lr x factor
    patience: int = 6  # stop after this many rejected steps in a row
    retries: int = 1  # extra fine-tuning rounds a step gets before it is rejected
    recovery_epochs: int = 3  # fine-tuning before pruning when a merge starts outside the tolerance
    batch_size: int = 128
    importance_batches: int = 8
    seed: int = 0

    def __post_init__(self) -> None:
        if self.criterion not in CRITERIA:
            raise PamkitError(f"unknown pruning criterion {self.criterion!r}; use one of {', '.join(CRITERIA)}")
        check_number("tolerance (the allowed accuracy drop, a fraction: 0.01 = 1 point)", self.tolerance, low=0, high=1)
        check_number(
            "step (a share of the channels or MACs per iteration, e.g. 0.09)", self.step, low=0, low_open=True, high=1
        )
        for name in ("max_iterations", "patience", "batch_size", "importance_batches"):
            check_number(name, getattr(self, name), low=1, integer=True)
        for name in ("retries", "recovery_epochs", "seed"):
            check_number(name, getattr(self, name), low=0, integer=True)
        check_number("finetune_samples", self.finetune_samples, low=1, integer=True, optional=True)
        if self.finetune_samples is not None and self.finetune_samples < self.batch_size:
            raise PamkitError(
                f"finetune_samples={self.finetune_samples} is below one batch ({self.batch_size}); "
                "give at least one batch of samples"
            )
        check_number("lr (learning rate)", self.lr, low=0, low_open=True)
        for factor in self.final_lr_factors:
            check_number("final_lr_factors", factor, low=0, low_open=True)
        for combination, weight in (self.combination_weights or {}).items():
            check_number(f"the weight of combination {'+'.join(combination)}", weight, low=0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings (combinations joined with '+')."""
        out = asdict(self)
        if self.combination_weights:
            out["combination_weights"] = {"+".join(c): w for c, w in self.combination_weights.items()}
        return out


@dataclass
class PruneResult:
    """The pruned network, the scores it was held to, and what every iteration did."""

    net: MultitaskNet
    reference: dict[str, float]  # the single-task networks' validation scores
    val: dict[str, float]  # the pruned network's validation scores
    stop_reason: str
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {"reference": self.reference, "val": self.val, "stop_reason": self.stop_reason, "history": self.history}


def prune(
    net: MultitaskNet,
    data: DatasetSplits,
    reference: dict[str, float],
    options: PruneOptions = PruneOptions(),
    progress: bool = True,
    label: str = "prune",
    checkpoint: Checkpoint | None = None,
) -> PruneResult:
    """Prune ``net`` (a copy) as far as every task stays within ``options.tolerance`` of ``reference``.

    ``checkpoint``: where the state is saved after every accepted step and at the end; when it holds
    a state saved by an interrupted run (same settings), pruning continues from there. Every seed
    derives from the iteration, so a resumed prune ends where an uninterrupted one would.
    """
    tasks = _check_inputs(net, data, reference)
    limits = {task.name: reference[task.name] - options.tolerance for task in tasks}
    weights = combination_weights(all_combinations(net.task_names), _weights_for(net, options.combination_weights))
    loop = checkpoint.load(label) if checkpoint else None
    if loop is None or loop.stop_reason is None:
        if loop is None:
            loop = _start(copy.deepcopy(net), tasks, data, limits, weights, options)
        if _within(loop.val, limits):
            loop.stop_reason = _iterate(loop, tasks, data, limits, weights, options, progress, label, checkpoint)
            _final_finetune(loop, tasks, data, limits, weights, options)
        else:
            loop.stop_reason = "outside the tolerance before pruning: " + _gap(loop.val, limits)
        if checkpoint:
            checkpoint.save(loop)
    return PruneResult(loop.net.eval(), reference, loop.val, loop.stop_reason, loop.history)


def _start(
    net: MultitaskNet,
    tasks: list[Task],
    data: DatasetSplits,
    limits: dict[str, float],
    weights: dict[Combination, float],
    options: PruneOptions,
) -> PruneState:
    """The starting scores, after a recovery fine-tune when the merge starts outside the tolerance."""
    val = evaluate_all(net, tasks, data.val, options.batch_size * 4)
    history = [_entry(0, net, weights, val, "start", 0)]
    if not _within(val, limits) and options.recovery_epochs:
        val = _finetune(net, tasks, data, options, options.lr, options.recovery_epochs, None, options.seed)
        history.append(_entry(0, net, weights, val, "recovery fine-tune", 0))
    return PruneState(net, val, history, options.step)


def _iterate(
    loop: PruneState,
    tasks: list[Task],
    data: DatasetSplits,
    limits: dict[str, float],
    weights: dict[Combination, float],
    options: PruneOptions,
    progress: bool,
    label: str,
    checkpoint: Checkpoint | None,
) -> str:
    """Prune step by step until the tolerance stops it; returns why it stopped."""
    ranking, rejections = None, 0
    reason = "max_iterations reached"
    bar = tqdm(desc=label, unit="step", disable=not progress or None, leave=True)
    while loop.iteration < options.max_iterations:
        loop.iteration += 1
        seed = options.seed + loop.iteration
        if ranking is None:
            ranking = _ranking(loop.net, tasks, data.train, options, weights, seed)
        labels, removed = _plan(loop.net, ranking, loop.step, loop.banned)
        if not removed:
            reason = "nothing left to try (each layer keeps one channel per task; the rest broke the tolerance)"
            break
        candidate = _relabelled(loop.net, labels)
        accepted, scores = False, loop.val
        for attempt in range(1 + options.retries if candidate is not None else 0):  # a step may need more rounds
            scores = _finetune(
                cast(MultitaskNet, candidate),
                tasks,
                data,
                options,
                options.lr,
                1,
                options.finetune_samples,
                seed + 1000 * attempt,
            )
            accepted = _within(scores, limits)
            if accepted:
                break
        event = "accepted" if accepted else "rejected" if candidate is not None else "rejected: cuts a task off"
        tried = loop.net if candidate is None else candidate
        loop.history.append(_entry(loop.iteration, tried, weights, scores, event, len(removed), loop.step))
        if accepted:
            loop.net, loop.val, ranking, rejections = tried, scores, None, 0
            loop.step = min(options.step, loop.step * 2)  # grow back after a success
            if checkpoint:
                checkpoint.save(loop)
        else:
            rejections += 1
            if len(removed) == 1:
                loop.banned |= removed  # this task needs this channel: try the next one
            else:
                loop.step /= 2
            if rejections >= options.patience:
                reason = f"{rejections} steps in a row broke the tolerance (last: {_gap(scores, limits)})"
                break
        bar.update()
        bar.set_postfix_str(
            f"MACs {loop.history[-1]['expected_macs'] / loop.history[0]['expected_macs']:.3f}x of "
            "start, " + ", ".join(f"{name} {score:.4f}" for name, score in scores.items()) + f", step {loop.step:.3f}"
        )
    bar.close()
    return reason


def _final_finetune(
    loop: PruneState,
    tasks: list[Task],
    data: DatasetSplits,
    limits: dict[str, float],
    weights: dict[Combination, float],
    options: PruneOptions,
) -> None:
    """One epoch at each decreasing learning rate, kept when it helps and stays within the tolerance."""
    for factor in options.final_lr_factors:
        tuned = copy.deepcopy(loop.net)
        scores = _finetune(tuned, tasks, data, options, options.lr * factor, 1, None, options.seed)
        accepted = _within(scores, limits) and sum(scores.values()) >= sum(loop.val.values())
        loop.history.append(
            _entry(
                loop.iteration,
                tuned,
                weights,
                scores,
                f"final fine-tune lr x{factor}: " + ("kept" if accepted else "discarded"),
                0,
            )
        )
        if accepted:
            loop.net, loop.val = tuned, scores


def prune_separately(
    net: MultitaskNet,
    data: DatasetSplits,
    reference: dict[str, float],
    options: PruneOptions = PruneOptions(),
    progress: bool = True,
    checkpoints: Checkpoints | None = None,
) -> PruneResult:
    """The no-merging baseline: prune each task's own subnetwork alone, then stack them side by side.

    ``checkpoints``: each task's prune keeps its own checkpoint there, so a resumed run skips the
    tasks that finished and continues the one that was interrupted.
    """
    results = [
        prune(
            net.extract([name]),
            data,
            reference,
            options,
            progress,
            label=f"prune {name}",
            checkpoint=checkpoints.named(f"task{t}") if checkpoints else None,
        )
        for t, name in enumerate(net.task_names)
    ]
    val = {name: score for r in results for name, score in r.val.items()}
    history = [{**entry, "task": r.net.task_names[0]} for r in results for entry in r.history]
    reason = "; ".join(f"{r.net.task_names[0]}: {r.stop_reason}" for r in results)
    return PruneResult(stack([r.net for r in results]), reference, val, reason, history)


def save_pruned(out: Path, result: PruneResult, options: PruneOptions) -> Path:
    """The pruned model plus ``pruning.json`` (settings, reference scores and every iteration)."""
    path = save_multitask(
        out / MODEL_STEM,
        result.net,
        {"pruning": {"options": options.to_dict(), "val": result.val, "reference": result.reference}},
    )
    write_json(out / REPORT_FILE, {"options": options.to_dict(), **result.to_dict()})
    return path


def reference_scores(sources: list[TrainedTask], split: Split) -> dict[str, float]:
    """Each single-task network's score on a split (on validation: what the tolerance is measured from)."""
    return {
        item.record.task.name: evaluate_all(item.net, [item.record.task], split)[item.record.task.name]
        for item in sources
    }


def expected_macs(net: MultitaskNet, weights: dict[Combination, float]) -> float:
    """MACs averaged over the combinations, each weighted by how often it runs."""
    return sum(w * combination_cost(net, combo).macs for combo, w in weights.items() if w)


# -- one iteration -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ranking:
    """Per space ``[channels, tasks + 1]`` move scores (lower goes first) and sizes, and what a step is a share of."""

    scores: dict[int, Tensor]
    sizes: dict[int, Tensor]
    total: float


def _ranking(
    net: MultitaskNet,
    tasks: list[Task],
    train: Split,
    options: PruneOptions,
    weights: dict[Combination, float],
    seed: int,
) -> Ranking:
    """Per space, the rank score and budget size of each move (a task off a channel, or the whole channel).

    The score is the importance normalised per space; cost-aware, it is divided by the MACs the
    move saves (normalised likewise) and the step budget is a share of the expected MACs,
    otherwise of the channels.
    """
    importance = membership_importance(
        net, options.criterion, tasks, train, options.importance_batches, options.batch_size, seed
    )
    scores = {space: _normalised(value) for space, value in importance.items()}
    if not options.cost_aware:
        channels = sum(len(value) for value in scores.values())
        return Ranking(scores, {space: torch.ones_like(value) for space, value in scores.items()}, channels)
    costs = membership_costs(net.structure, weights)
    mean = torch.cat([c.reshape(-1) for c in costs.values()]).nanmean()
    return Ranking(
        {space: value / (costs[space] / mean).clamp_min(1e-6) for space, value in scores.items()},
        costs,
        expected_macs(net, weights),
    )


def _normalised(value: Tensor) -> Tensor:
    """Scores divided by their mean over members (all 1 when they are all zero), NaN kept for non-members."""
    mean = value.nanmean()
    return value / mean if mean > 0 else torch.where(value.isnan(), value, torch.ones_like(value))


def _plan(
    net: MultitaskNet, ranking: Ranking, step: float, banned: set[Move]
) -> tuple[dict[int, list[tuple[int, ...]]], set[Move]]:
    """New labels after the lowest-ranked moves worth ``step`` of the budget, and the moves made.

    A move takes one task off a channel or removes the channel; at most one move per channel, and
    moves on at most ``step`` of a layer's channels, per step (cheap layers are not gutted at
    once while the budget is spent). Moves bigger than what is left of the budget are skipped; when no move fits, the
    lowest-ranked one is made alone. Banned moves (found to break the tolerance) and moves taking
    a task's last channel in a space (its head would lose its input) are never made.
    """
    scores, sizes = ranking.scores, ranking.sizes
    s = net.structure
    labels = {space: [set(g.label) for g in s.groups[space] for _ in range(g.size)] for space in scores}
    origins = {space: [o for g in s.groups[space] for o in g.origins] for space in scores}
    left = {space: {t: sum(1 for label in labels[space] if t in label) for t in s.heads} for space in scores}
    whole = len(s.tasks)
    ranked = sorted(
        (value, space, c, t if t < whole else -1)
        for space, values in scores.items()
        for c, row in enumerate(values.tolist())
        for t, value in enumerate(row)
        if value == value
    )
    budget = step * ranking.total
    moves: set[Move] = set()
    touched: set[tuple[int, int]] = set()
    room = {space: max(1, math.floor(step * len(labels[space]))) for space in scores}  # moves per layer
    spent = 0.0
    for within_budget in (True, False):  # moves that fit the budget; if none does, the lowest-ranked one alone
        for _, space, c, t in ranked:
            size = float(sizes[space][c, t])
            move, off = (space, origins[space][c], t), labels[space][c] if t < 0 else {t}
            if (
                move in banned
                or (space, c) in touched
                or (t < 0 and len(off) < 2)
                or not room[space]
                or any(u not in left[space] or left[space][u] <= 1 for u in off)
                or (within_budget and spent + size > budget)
            ):
                continue
            room[space] -= 1
            for u in off:
                left[space][u] -= 1
            labels[space][c] = labels[space][c] - off
            moves.add(move)
            touched.add((space, c))
            spent += size
            if not within_budget:
                break
        if moves:
            break
    return {space: [tuple(sorted(label)) for label in space_labels] for space, space_labels in labels.items()}, moves


def _relabelled(net: MultitaskNet, labels: dict[int, list[tuple[int, ...]]]) -> MultitaskNet | None:
    """The network with new labels, or None when a task would be left without a path to its head."""
    try:
        return net.relabel(labels)
    except PamkitError:
        return None


def _finetune(
    net: MultitaskNet,
    tasks: list[Task],
    data: DatasetSplits,
    options: PruneOptions,
    lr: float,
    epochs: int,
    samples: int | None,
    seed: int,
) -> dict[str, float]:
    """Fine-tune on the sum of the tasks' losses (a seeded subset of ``samples`` images); the validation scores."""
    train = data.train
    if samples is not None and samples < len(train):
        pick = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:samples]
        train = Split(train.images[pick], train.labels[pick])
    torch.manual_seed(seed)
    config = TrainConfig(epochs=epochs, batch_size=options.batch_size, lr=lr, patience=epochs, seed=seed)
    result = fit(net, tasks, train, data.val, config, label="fine-tune", log=False)
    return result.history[result.best_epoch - 1]["val_scores"]


# -- bookkeeping ---------------------------------------------------------------------------------
def _entry(
    iteration: int,
    net: MultitaskNet,
    weights: dict[Combination, float],
    val: dict[str, float],
    event: str,
    removed: int,
    step: float | None = None,
) -> dict[str, Any]:
    channels = sum(g.size for space, groups in net.structure.groups.items() if space != INPUT_SPACE for g in groups)
    return {
        "iteration": iteration,
        "event": event,
        "step": step,
        "removed": removed,
        "channels": channels,
        "expected_macs": expected_macs(net, weights),
        "val": dict(val),
    }


def _within(scores: dict[str, float], limits: dict[str, float]) -> bool:
    return all(scores[name] >= limit - 1e-9 for name, limit in limits.items())


def _gap(scores: dict[str, float], limits: dict[str, float]) -> str:
    return (
        ", ".join(
            f"{name} {scores[name]:.4f} < {limit:.4f}" for name, limit in limits.items() if scores[name] < limit - 1e-9
        )
        or "all within"
    )


def _weights_for(net: MultitaskNet, weights: dict[Combination, float] | None) -> dict[Combination, float] | None:
    """Combination weights restricted to the network's tasks (a single task's subnetwork keeps its own share)."""
    if not weights:
        return None
    combination_weights(all_combinations(net.structure.task_names), weights)  # names every task? (else an error)
    names = set(net.task_names)
    kept = {combo: w for combo, w in weights.items() if set(combo) <= names}
    return kept if any(kept.values()) else None


def _check_inputs(net: MultitaskNet, data: DatasetSplits | None, reference: dict[str, float]) -> list[Task]:
    if data is None:
        raise PamkitError(
            "pruning needs data: fine-tuning between pruning steps trains on the tasks' training "
            "split and the tolerance is checked on its validation split; pass the dataset"
        )
    if data.input_spec != net.structure.input_spec:
        raise PamkitError(
            f"the data's input {data.input_spec.to_dict()} differs from the network's "
            f"{net.structure.input_spec.to_dict()}; load the dataset the networks were trained on"
        )
    missing = [name for name in net.task_names if name not in reference]
    if missing:
        raise PamkitError(
            f"no reference accuracy for tasks {missing}: the tolerance is relative to each task's "
            "single-task network, so give every task's reference score"
        )
    return [net.structure.tasks[t] for t in net.structure.heads]
