"""``prune``: gradual structured pruning of a multitask network, to a cost or to the cheapest point within a tolerance.

Each step scores every (channel, task) membership (``importance``): how much the task needs the
channel. It takes the lowest-ranked memberships off their channels (``MultitaskNet.relabel``): a
shared channel one task no longer needs becomes private to the others, a channel no task needs is
removed. Then a short fine-tune (a recipe: ``distill`` from the single-task networks by default,
with a cosine learning rate) lets the network recover before the next step. Labels only shrink,
so the expected cost falls step by step; one combination's cost can rise a little, since a channel
that loses a task may read more groups of the layer below (the connectivity rule).

- ``target_macs``: steps of ``step`` of the expected MACs until the target, then the full final
  fine-tune; the result reports the scores reached.
- tolerance (no target): the schedule goes past the accuracy boundary (until a task is
  ``explore_past`` below its limit after its short fine-tune), keeping the network of every point;
  once a step ends outside the tolerance, steps shrink to ``fine_step`` (finer points
  and more recovery where the result will be). A step from the boundary (every task at most
  ``backoff_drop`` below its limit) that falls off a cliff (a task ends more than ``backoff_drop``
  below both the point before and its limit) is undone: each of its moves is tried alone on a few
  training batches, the one that raises the loss most is banned, and the step is planned again
  without it, with no layer losing more than its share of channels (at most ``max_backoffs`` times
  a step). A point past ``explore_past`` first gets the full final fine-tune (``confirmations`` times a
  prune): when that brings it back, the exploration goes on from it rather than ending on a step the
  short fine-tune could not undo. Otherwise one move the network cannot relearn (a wide early channel, a residual
  stream's), or a step filled with dozens of a cheap layer's channels, decides where a run ends,
  and where it ends differs from seed to seed. ``hold`` (off by default: on three settings over 3
  seeds it moved results within their seed noise): a task that ended the last step outside its
  limit is held while another task is still within; the step takes none of its channels, so the
  others go on towards their own boundaries (pruned together, the first task at its limit would
  otherwise stop every task where it stands). ``retire`` (off by default): a task past ``explore_past`` while
  another is not does not end the exploration; the search below picks the cheapest point since the last
  retirement that is within the tolerance after its final fine-tune, the exploration goes back to that
  fine-tuned network and prunes the other tasks on from it, holding the retired task (with its own
  ``confirmations``), so that each task ends at its own boundary, as each network pruned alone does.
  ``sequential`` (off by default): the steps prune one task at a time, in task order, while the others are held
  (they keep every membership; a task pruned may still leave a channel it shares with them), and retire it when
  its exploration ends; each task then goes to its own boundary with every other channel still there, as when
  pruned alone, rather than racing the others to the first boundary.
  Then the candidates get the full final fine-tune, the cheapest first, then by bisection over the
  points, then the ``search_window`` points past the first failure (validation noise makes one
  "outside" unreliable), at most ``max_candidates`` in all; the result is the cheapest one found
  within the tolerance after its final fine-tune.

Every point (start, each step, each fully fine-tuned candidate, final) is recorded in the
trajectory with its expected MACs, every combination's MACs and every task's validation and test
score. Every seed derives from the options' seed and the point, so a resumed prune ends where an
uninterrupted one would.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from ..cost import all_combinations, combination_cost, combination_weights, membership_costs
from ..data import DatasetSplits, Split
from ..errors import PamkitError
from ..io import write_json
from ..network import INPUT_SPACE, MODEL_STEM, MultitaskNet, save_multitask, stack
from ..tasks import Task, combination_label
from ..train import TrainedTask, evaluate_all, recorded_sources
from ..values import check_number
from .importance import get_criterion, membership_importance, scoring_batches, summed_loss
from .recipes import Recipe, finetune, get_recipe, teacher_outputs
from .search import MAX_CANDIDATES, SEARCH_WINDOW, cheapest_within, round_seed, shortfall, within_limits
from .state import Checkpoint, Checkpoints, Move, PruneState

REPORT_FILE = "pruning.json"
# switches added after prunes were recorded: recorded only when on, so a record made before one existed still
# matches the same settings (``compare --resume`` reuses it)
_RECORDED_WHEN_ON = ("retire", "sequential")
# settings of the joint search that a prune of one task alone (no merging, ``prune_separately``) never uses
JOINT_SEARCH_ONLY = ("hold", "retire", "sequential")
RETIRED = "retired"  # the history event and trajectory phase of a retirement


@dataclass(frozen=True)
class PruneOptions:
    """How to prune; recorded beside the pruned model."""

    criterion: str = "taylor"  # a registered criterion (importance.CRITERIA)
    recipe: Recipe | str = "distill"  # a fine-tuning recipe (recipes.RECIPES), or its name with its default config
    tolerance: float = 0.01  # largest allowed drop of any task's validation score (0.01 = 1 point)
    target_macs: float | None = None  # prune to this expected cost: MACs, or a fraction of the start's when <= 1
    step: float = 0.09  # per step: share of the expected MACs (cost-aware) or of the channels removed
    max_iterations: int = 200  # at most this many pruning steps
    explore_past: float = 0.05  # tolerance search: steps go on until a task is this far below its limit
    fine_step: float = 0.03  # tolerance search: the step once one was outside (finer points near the boundary)
    search_window: int = SEARCH_WINDOW  # tolerance search: points also fine-tuned past the first failure
    backoff_drop: float = 0.01  # tolerance search: a cliff leaves a task this far below its limit and the point before
    max_backoffs: int = 2  # tolerance search: at most this many back-offs per step (0: never)
    confirmations: int = 2  # tolerance search: full fine-tunes of a point past explore_past before it ends the run
    hold: bool = False  # tolerance search: a task outside its limit gives up no channel while another is within
    retire: bool = False  # tolerance search: a task past explore_past stops at its best point, the others go on
    sequential: bool = False  # tolerance search: one task at a time, in task order, the others held (retires each)
    max_candidates: int = MAX_CANDIDATES  # tolerance search: at most this many full final fine-tunes
    cost_aware: bool = True  # rank by importance per expected MAC (method.md 4, extension)
    combination_weights: dict[tuple[str, ...], float] | None = None  # how often each combination runs (None: uniform)
    finetune_samples: int | None = 16384  # training samples per step's short fine-tune (None: the whole split)
    finetune_epochs: int = 1  # passes over those samples per step
    final_epochs: int = 4  # the full final fine-tune: epochs over the whole training split (0: none)
    lr: float = 1e-3  # the fine-tunes' starting learning rate (cosine down to 0 over each round)
    recovery_epochs: int = 3  # fine-tuning before pruning when a merge starts outside the tolerance
    batch_size: int = 128
    importance_batches: int = 8
    seed: int = 0

    def __post_init__(self) -> None:
        get_criterion(self.criterion)  # a known criterion?
        if isinstance(self.recipe, str):
            object.__setattr__(self, "recipe", get_recipe(self.recipe))
        elif not isinstance(self.recipe, Recipe):
            raise PamkitError(f"recipe must be a fine-tuning recipe or its name, got {self.recipe!r}")
        check_number("tolerance (the allowed accuracy drop, a fraction: 0.01 = 1 point)", self.tolerance, low=0, high=1)
        check_number(
            "target_macs (MACs, or a fraction of the start's when at most 1)",
            self.target_macs,
            low=0,
            low_open=True,
            optional=True,
        )
        check_number(
            "step (a share of the channels or MACs per step, e.g. 0.09)", self.step, low=0, low_open=True, high=1
        )
        check_number("explore_past (a fraction: 0.05 = 5 points)", self.explore_past, low=0, high=1)
        check_number("backoff_drop (a fraction: 0.01 = 1 point)", self.backoff_drop, low=0, low_open=True, high=1)
        check_number(
            "fine_step (a share of the MACs per step near the boundary, e.g. 0.03)",
            self.fine_step,
            low=0,
            low_open=True,
            high=1,
        )
        for name in ("max_iterations", "batch_size", "importance_batches", "finetune_epochs", "max_candidates"):
            check_number(name, getattr(self, name), low=1, integer=True)
        for name in ("final_epochs", "recovery_epochs", "seed", "search_window", "max_backoffs", "confirmations"):
            check_number(name, getattr(self, name), low=0, integer=True)
        check_number("finetune_samples", self.finetune_samples, low=1, integer=True, optional=True)
        if self.finetune_samples is not None and self.finetune_samples < self.batch_size:
            raise PamkitError(
                f"finetune_samples={self.finetune_samples} is below one batch ({self.batch_size}); "
                "give at least one batch of samples"
            )
        check_number("lr (learning rate)", self.lr, low=0, low_open=True)
        for combination, weight in (self.combination_weights or {}).items():
            check_number(f"the weight of combination {combination_label(combination)}", weight, low=0)

    @property
    def retires(self) -> bool:
        """Whether a task whose exploration ends is retired while another's goes on (``retire``, or ``sequential``)."""
        return self.retire or self.sequential

    @property
    def finetuning(self) -> Recipe:
        """The recipe (always a ``Recipe`` after construction)."""
        assert isinstance(self.recipe, Recipe)
        return self.recipe

    def finetune(
        self,
        net: nn.Module,
        tasks: Sequence[Task],
        train: Split,
        teachers: dict[str, Tensor] | None,
        *,
        epochs: int,
        samples: int | None,
        seed: int,
    ) -> None:
        """One fine-tuning round of ``net`` in place with these options' recipe, learning rate and batch size
        (``samples``: a seeded subset of ``train``, None for all of it)."""
        finetune(
            net,
            tasks,
            train,
            self.finetuning,
            teachers,
            lr=self.lr,
            epochs=epochs,
            batch_size=self.batch_size,
            seed=seed,
            samples=samples,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings (combinations joined with '+', the recipe as its name and config)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["recipe"] = self.finetuning.to_dict()
        for name in _RECORDED_WHEN_ON:
            if not out[name]:
                del out[name]
        if self.combination_weights:
            out["combination_weights"] = {combination_label(c): w for c, w in self.combination_weights.items()}
        return out


@dataclass
class PruneResult:
    """The pruned network, the scores it was held to, and the path that led there."""

    net: MultitaskNet
    reference: dict[str, float]  # the single-task networks' validation scores
    val: dict[str, float]  # the pruned network's validation scores
    stop_reason: str
    history: list[dict[str, Any]] = field(default_factory=list)  # what every step did
    trajectory: list[dict[str, Any]] = field(default_factory=list)  # every point: phase, MACs, val and test scores

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "reference": self.reference,
            "val": self.val,
            "stop_reason": self.stop_reason,
            "round_to_round": round_to_round(self.trajectory),
            "history": self.history,
            "trajectory": self.trajectory,
        }


def round_to_round(trajectory: list[dict[str, Any]]) -> dict[str, float]:
    """Per task, the mean absolute change of the validation score between consecutive pruning steps.

    How much one short fine-tune's result can be trusted: steps remove a little each, so large
    moves are noise of the fine-tuning, not of the pruning.
    """
    out: dict[str, float] = {}
    by_task: dict[str, list[dict[str, Any]]] = {}
    for point in trajectory:
        if point["phase"] in ("start", "recovery", "prune"):
            by_task.setdefault(point.get("task", ""), []).append(point)
    for points in by_task.values():
        for name in points[0]["val"]:
            moves = [abs(b["val"][name] - a["val"][name]) for a, b in itertools.pairwise(points)]
            if moves:
                out[name] = sum(moves) / len(moves)
    return out


@dataclass(frozen=True)
class _Run:
    """What stays fixed through one prune."""

    tasks: list[Task]
    data: DatasetSplits
    limits: dict[str, float]
    weights: dict[tuple[str, ...], float]
    options: PruneOptions
    teachers: dict[str, Tensor] | None
    checkpoint: Checkpoint | None
    bar: Any
    lines: str | None = None  # the prune's label when progress goes out as a line per point (a log, a pipe)

    def finetune(self, net: MultitaskNet, epochs: int, samples: int | None, seed: int) -> None:
        self.options.finetune(
            net, self.tasks, self.data.train, self.teachers, epochs=epochs, samples=samples, seed=seed
        )

    def point(self, net: MultitaskNet, phase: str, val: dict[str, float] | None = None) -> dict[str, Any]:
        """A trajectory point: phase, expected and per-combination MACs, validation and test scores."""
        val = val or evaluate_all(net, self.tasks, self.data.val, self.options.batch_size * 4)
        test = evaluate_all(net, self.tasks, self.data.test, self.options.batch_size * 4)
        return {
            "phase": phase,
            "expected_macs": expected_macs(net, self.weights),
            "macs": {combination_label(c): combination_cost(net, c).macs for c in all_combinations(net.task_names)},
            "val": dict(val),
            "test": test,
        }

    def save(self, loop: PruneState) -> None:
        if self.checkpoint:
            self.checkpoint.save(loop)

    def show(self, loop: PruneState, point: dict[str, Any]) -> None:
        start = loop.trajectory[0]["expected_macs"]
        text = f"{point['phase']}, MACs {point['expected_macs'] / start:.3f}x of start, " + ", ".join(
            f"{name} {score:.4f}" for name, score in point["val"].items()
        )
        if self.lines:
            print(f"{self.lines}: step {loop.iteration}, {text}", flush=True)
        else:
            self.bar.set_postfix_str(text)


def prune(
    net: MultitaskNet,
    data: DatasetSplits,
    reference: dict[str, float],
    options: PruneOptions = PruneOptions(),
    progress: bool = True,
    label: str = "prune",
    checkpoint: Checkpoint | None = None,
    teachers: Mapping[str, nn.Module] | None = None,
) -> PruneResult:
    """Prune ``net`` (a copy): to ``options.target_macs``, or to the cheapest point within ``options.tolerance``.

    ``reference``: each task's single-task validation score (the tolerance is measured from it).
    ``teachers``: each task's single-task network, for a recipe that distils (default: the source
    networks recorded in the model). ``checkpoint``: where the state is saved after every step and
    every candidate's final fine-tune; when it holds a state saved by an interrupted run (same
    settings), pruning continues from there.
    """
    tasks = _check_inputs(net, data, reference)
    limits = {task.name: reference[task.name] - options.tolerance for task in tasks}
    weights = combination_weights(all_combinations(net.task_names), _weights_for(net, options.combination_weights))
    loop = checkpoint.load(label) if checkpoint else None
    if loop is None or loop.stop_reason is None:
        outputs = None
        if options.finetuning.needs_teachers:
            outputs = teacher_outputs(_teachers(net, teachers), tasks, data.train, options.batch_size * 4)
        with tqdm(desc=label, unit="step", disable=not progress or None, leave=True) as bar:
            lines = label if progress and bar.disable else None  # tqdm draws only on a terminal
            run = _Run(tasks, data, limits, weights, options, outputs, checkpoint, bar, lines)
            if loop is None:
                loop = _start(copy.deepcopy(net), run)
            if options.target_macs is not None:
                _to_target(loop, run)
            elif within_limits(start := _start_scores(loop), limits):
                _explore(loop, run)
                _search(loop, run)
            else:
                loop.stop_reason = "outside the tolerance before pruning: " + shortfall(start, limits)
            run.save(loop)
    assert loop.stop_reason is not None
    return PruneResult(loop.net.eval(), reference, loop.val, loop.stop_reason, loop.history, loop.trajectory)


def _start_scores(loop: PruneState) -> dict[str, float]:
    """The validation scores of ``points[0]``: the start, or its recovery fine-tune."""
    return [p for p in loop.trajectory if p["phase"] in ("start", "recovery")][-1]["val"]


def _teachers(net: MultitaskNet, given: Mapping[str, nn.Module] | None) -> Mapping[str, nn.Module]:
    """The networks to distil from: ``given``, or the single-task networks recorded in the model."""
    if given is not None:
        return given
    sources: list[TrainedTask] = recorded_sources(net.structure.provenance)
    if not sources:
        raise PamkitError(
            "the distill recipe learns from each task's single-task network, and the model records none that "
            "can be found; pass teachers, keep the training run where it was, or use the labels recipe"
        )
    return {item.record.task.name: item.net for item in sources}


def _start(net: MultitaskNet, run: _Run) -> PruneState:
    """The starting point, after a recovery fine-tune when the merge starts outside the tolerance."""
    point = run.point(net, "start")
    loop = PruneState([net], point["val"], [_entry(0, net, run, point["val"], "start", 0)], [point])
    if run.options.target_macs is None and not within_limits(point["val"], run.limits) and run.options.recovery_epochs:
        run.finetune(net, run.options.recovery_epochs, None, round_seed(run.options.seed, 1, 0))
        point = run.point(net, "recovery")
        loop.trajectory.append(point)
        loop.val = point["val"]
        loop.history.append(_entry(0, net, run, point["val"], "recovery fine-tune", 0))
    run.save(loop)
    return loop


def target_for(options: PruneOptions, start: float) -> float:
    """The expected-MACs target: absolute, or a fraction (<= 1) of the start's."""
    assert options.target_macs is not None
    return options.target_macs * start if options.target_macs <= 1 else float(options.target_macs)


def _to_target(loop: PruneState, run: _Run) -> None:
    """Steps of at most ``step`` of the expected MACs down to the target, then the final fine-tune."""
    o = run.options
    target = target_for(o, loop.trajectory[0]["expected_macs"])
    if loop.explored is None:
        while True:
            current = expected_macs(loop.points[-1], run.weights)
            if current <= target:
                loop.explored = f"reached the target ({current:,.0f} <= {target:,.0f} expected MACs)"
                break
            if loop.iteration >= o.max_iterations:
                loop.explored = f"max_iterations ({o.max_iterations}) reached at {current:,.0f} expected MACs"
                break
            share = min(o.step, (current - target) / current) if o.cost_aware else o.step
            if not _step(loop, run, share):
                loop.explored = f"nothing left to remove at {current:,.0f} expected MACs"
                break
    if loop.stop_reason is None:
        net = copy.deepcopy(loop.points[-1])
        if o.final_epochs:
            run.finetune(net, o.final_epochs, None, round_seed(o.seed, 3, len(loop.points) - 1))
        point = run.point(net, "final")
        loop.trajectory.append(point)
        loop.best, loop.best_index, loop.val = net, len(loop.points) - 1, point["val"]
        loop.history.append(_entry(loop.iteration, net, run, point["val"], "final fine-tune", 0))
        run.show(loop, point)
        within = (
            "within"
            if within_limits(point["val"], run.limits)
            else "outside (" + shortfall(point["val"], run.limits) + ")"
        )
        loop.stop_reason = f"{loop.explored}; after the final fine-tune {within} the tolerance"


def _explore(loop: PruneState, run: _Run) -> None:
    """Tolerance mode: steps until a task is ``explore_past`` below its limit, keeping every point for the search.

    Steps are ``step``, then ``fine_step`` once one was outside the tolerance. With ``retire``, a task past
    ``explore_past`` while another is not is retired (``_retire``) and the others are explored on. With
    ``sequential``, the steps prune one task at a time (``_moving``), and only that task's scores end its turn: it is
    retired, and the next task's turn begins.
    """
    o = run.options
    while loop.explored is None:
        active = _active(loop, run)
        past = {name: limit - o.explore_past for name, limit in _moving(loop, run).items()}
        last = loop.trajectory[-1]
        if loop.iteration and not within_limits(last["val"], past):
            if last["phase"] != "confirm" and _confirmed(loop, run, past):
                continue
            ended = [name for name, limit in past.items() if last["val"][name] < limit - 1e-9]
            if o.retires and len(ended) < len(active):
                _retire(loop, run, ended)
                continue
            gap = shortfall(last["val"], past)
            loop.explored = f"{_steps(loop)}, the last {o.explore_past} past the tolerance ({gap})"
        elif loop.iteration >= o.max_iterations:
            loop.explored = f"{_steps(loop)}, max_iterations reached"
        elif not _step(loop, run, o.fine_step if _near_boundary(loop, run) else o.step):
            if o.sequential and len(active) > 1:  # the task pruned has nothing left to give up: the next one's turn
                _retire(loop, run, list(_moving(loop, run)))
                continue
            loop.explored = f"{_steps(loop)}, then nothing left to remove"


def _confirmed(loop: PruneState, run: _Run, past: dict[str, float]) -> bool:
    """Whether the last point, past ``explore_past`` after its short fine-tune, is back within it after the full final
    fine-tune; then the fine-tuned network replaces the point and the exploration goes on from it.

    One short fine-tune does not undo every step: on VGG (domains, 3 seeds) four of six merged networks' prunes
    ended on one step that took a task 5 to 11 points down, and that very point came back within the tolerance
    after its final fine-tune; the prune had stopped where the network could go further. At most
    ``confirmations`` a prune, and as many again after each retirement (each costs one final fine-tune); 0 ends at
    the first such point, as before.
    """
    o = run.options
    used = sum(1 for entry in _since_retirement(loop.history, "event") if entry["event"].startswith("confirm"))
    if used >= o.confirmations or not o.final_epochs:
        return False
    k = len(loop.points) - 1
    net = copy.deepcopy(loop.points[k])
    run.finetune(net, o.final_epochs, None, round_seed(o.seed, 5, k))
    point = run.point(net, "confirm")
    recovered = within_limits(point["val"], past)
    loop.trajectory.append(point)
    event = f"confirm {k}: " + ("recovered" if recovered else "still past")
    loop.history.append(_entry(loop.iteration, net, run, point["val"], event, 0))
    if recovered:
        loop.points[k] = net
        loop.val = point["val"]
    run.show(loop, point)
    run.save(loop)
    return recovered


def _steps(loop: PruneState) -> str:
    """ "N steps", with how many were backed off and how many confirmed when any were."""
    backoffs = sum(1 for entry in loop.history if entry["event"].startswith("backed off"))
    recovered = sum(1 for entry in loop.history if entry["event"].endswith(": recovered"))
    notes = [f"{backoffs} backed off"] * bool(backoffs) + [f"{recovered} recovered by a fine-tune"] * bool(recovered)
    return f"{loop.iteration} steps" + (f" ({', '.join(notes)})" if notes else "")


def _near_boundary(loop: PruneState, run: _Run) -> bool:
    """Whether a step has ended outside the tolerance after its short fine-tune (the boundary is near), since the
    last retirement and for the tasks the steps prune."""
    limits = _moving(loop, run)
    return any(
        not within_limits(p["val"], limits)
        for p in _since_retirement(loop.trajectory, "phase")
        if p["phase"] == "prune"
    )


def _active(loop: PruneState, run: _Run) -> dict[str, float]:
    """The limits of the tasks still explored: all but the retired ones."""
    return {name: limit for name, limit in run.limits.items() if name not in loop.retired}


def _moving(loop: PruneState, run: _Run) -> dict[str, float]:
    """The limits of the tasks the steps prune: those still explored, or with ``sequential`` (tolerance mode) the
    first of them, the others held until it is retired."""
    active = _active(loop, run)
    if run.options.sequential and run.options.target_macs is None:
        first = next(iter(active))
        return {first: active[first]}
    return active


def _step_weights(run: _Run, moving: dict[str, float]) -> dict[tuple[str, ...], float]:
    """The combination weights (normalised) a step's budget and cost-aware ranking count: every combination's, or
    with ``sequential`` only those of the tasks pruned, so that a step is a share of that task's own cost (a share
    of every combination's would take ever larger bites of it as it shrinks beside the held tasks)."""
    if not run.options.sequential:
        return run.weights
    own = {combo: w for combo, w in run.weights.items() if w and set(combo) <= moving.keys()}
    total = sum(own.values())
    return {combo: w / total for combo, w in own.items()} if own else run.weights


def _since_retirement(entries: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """The history entries (``key`` "event") or trajectory points ("phase") after the last retirement."""
    marks = [k for k, entry in enumerate(entries) if str(entry[key]).startswith(RETIRED)]
    return entries[marks[-1] + 1 :] if marks else entries


def _retire(loop: PruneState, run: _Run, ended: list[str]) -> None:
    """Retire the tasks ``ended`` (past ``explore_past`` while another task is not): the exploration goes back to
    the cheapest point since the last retirement that is within the tolerance after its final fine-tune (the
    search every prune ends with), and goes on from that fine-tuned network, holding the retired tasks.

    Pruned together, the first task to fall off its boundary would end the search for every task, where the
    others could go further; pruned alone (no merging), each task ends at its own boundary. Retired, a task keeps
    the channels of its own best point, and the others are pruned on to theirs.
    """
    index, tuned = _cheapest(loop, run)
    del loop.points[index + 1 :]
    if loop.best is not None and loop.best_index == index:
        loop.points[index] = copy.deepcopy(loop.best)
    loop.tried = {k: v for k, v in loop.tried.items() if k <= index}
    loop.base = index
    loop.retired.extend(ended)
    point = run.point(loop.points[index], RETIRED)
    loop.trajectory.append(point)
    loop.val = point["val"]
    event = f"{RETIRED} {', '.join(ended)} at point {index} ({tuned} candidates fine-tuned)"
    loop.history.append(_entry(loop.iteration, loop.points[index], run, point["val"], event, 0))
    run.show(loop, point)
    run.save(loop)


def _step(loop: PruneState, run: _Run, share: float) -> bool:
    """One pruning step worth ``share`` of the budget and its short fine-tune; False when no move is left.

    In tolerance mode a step from the boundary (``_at_boundary``) that falls off a cliff (``_cliff``)
    is backed off: its most damaging move is banned and the step planned again from the same ranking,
    carefully (no layer loses more than its share of channels), at most ``max_backoffs`` times.
    With ``hold``, a task outside its limit while another is within is held (``_held``): the step takes none of its
    channels; when its moves would starve one (the connectivity rule), it touches none of them at all. Retired
    tasks (``retire``) and, with ``sequential``, the tasks waiting their turn are always held, and only the tasks the
    step prunes (``_moving``) decide back-offs.
    """
    o = run.options
    net = loop.points[-1]
    before = loop.trajectory[-1]["val"]
    seed = round_seed(o.seed, 0, loop.iteration + 1)
    moving = _moving(loop, run)
    ranking = _ranking(net, run.tasks, run.data.train, o, _step_weights(run, moving), seed)
    backoffs = o.max_backoffs if o.target_macs is None and _at_boundary(before, moving, o.backoff_drop) else 0
    fixed = {net.structure.task_names.index(name) for name in run.limits if name not in moving}
    held, strict = _held(net, before, _active(loop, run), o) | fixed, False
    careful = False
    while True:
        banned = loop.banned | _held_moves(net, held, strict)
        labels, removed = _plan(net, ranking, share, banned, o.target_macs is not None, careful)
        if not removed:
            if held - fixed:  # the tasks still within have nothing left to give up: every task is pruned again
                held = set(fixed)
                continue
            return False
        candidate = _relabelled(net, labels)
        if candidate is None:
            loop.banned |= removed  # these moves together cut a task off: never again
            continue
        if not strict and any(_on(candidate, t) != _on(net, t) for t in held):
            strict = True  # the moves left some of a held task's channels nothing to read: none of its are touched
            continue
        run.finetune(candidate, o.finetune_epochs, o.finetune_samples, round_seed(o.seed, 2, loop.iteration + 1))
        point = run.point(candidate, "prune")
        cliff = _cliff(before, point["val"], moving, o.backoff_drop) if backoffs else None
        if cliff is None:
            break
        backoffs -= 1
        careful = True
        culprit, damage = _most_damaging(net, removed, run, round_seed(o.seed, 4, loop.iteration + 1))
        loop.banned.add(culprit)  # never again: the step is planned anew without it
        event = f"backed off ({cliff}); banned {_move_name(net, culprit)}, which alone raises the loss by {damage:.4f}"
        entry = _entry(loop.iteration + 1, candidate, run, point["val"], event, len(removed), share)
        loop.history.append({**entry, "banned": list(culprit), "damage": damage})
    loop.iteration += 1
    loop.points.append(candidate)
    loop.trajectory.append(point)
    loop.val = point["val"]
    event = "step" + (f" (held: {', '.join(net.structure.task_names[t] for t in sorted(held))})" if held else "")
    loop.history.append(_entry(loop.iteration, candidate, run, point["val"], event, len(removed), share))
    run.bar.update()
    run.show(loop, point)
    run.save(loop)
    return True


def _held(net: MultitaskNet, before: dict[str, float], limits: dict[str, float], options: PruneOptions) -> set[int]:
    """The tasks a step holds: those outside their limits after the last step, while another task is
    still within (``hold``; tolerance mode only).

    Pruned together, the first task to reach its limit would stop the others where they stand: its
    channels, shared or not, decide where the search ends, and the tasks with room left keep
    channels they could give up. Held, it keeps every channel it is on while the others are pruned
    on towards their own boundaries, as when each network is pruned alone.
    """
    if not options.hold or options.target_macs is not None:
        return set()
    outside = [name for name, limit in limits.items() if before[name] < limit - 1e-9]
    if len(outside) == len(limits):
        return set()
    return {net.structure.task_names.index(name) for name in outside}


def _held_moves(net: MultitaskNet, held: set[int], strict: bool) -> set[Move]:
    """The moves a step may not make while ``held`` tasks are held: taking one off a channel, or removing
    a channel one is on; ``strict``: any move on such a channel (taking another task off a channel
    can leave a held task's channel below it with nothing to read, the connectivity rule)."""
    if not held:
        return set()
    labels, origins = _channels(net, net.structure.groups.keys() - {INPUT_SPACE})
    return {
        (space, origins[space][c], t)
        for space, channel_labels in labels.items()
        for c, label in enumerate(channel_labels)
        if label & held
        for t in (*sorted(label if strict else label & held), -1)
    }


def _on(net: MultitaskNet, task: int) -> set[tuple[int, str]]:
    """The channels (space, origin) a task is on."""
    labels, origins = _channels(net, net.structure.groups.keys() - {INPUT_SPACE})
    return {
        (space, origins[space][c])
        for space, channel_labels in labels.items()
        for c, label in enumerate(channel_labels)
        if task in label
    }


def _at_boundary(before: dict[str, float], limits: dict[str, float], drop: float) -> bool:
    """Whether a step starts at the boundary: every task at most ``backoff_drop`` below its limit.

    Only there is a cliff worth backing off: the result is read near the boundary, while further out
    the exploration only has to reach ``explore_past`` (backing off there made it crawl: a demo's
    first prune went from minutes to over 20).
    """
    return within_limits(before, {name: limit - drop for name, limit in limits.items()})


def _cliff(before: dict[str, float], after: dict[str, float], limits: dict[str, float], drop: float) -> str | None:
    """What makes a step a cliff, or None: a task ends more than ``backoff_drop`` below both the
    point before and its limit (a step near the boundary costs a few tenths of a point; a cliff costs
    what the fine-tune cannot give back). A step landing just outside is no cliff: the next short
    fine-tune or the full final one often brings it back within (on the domains suite, backing such a
    step off sent PAM's prune down another path that ended 38% costlier)."""
    falls = [
        f"{name} {before[name]:.4f} -> {after[name]:.4f}"
        for name, limit in limits.items()
        if before[name] - after[name] > drop and limit - after[name] > drop
    ]
    return ", ".join(falls) or None


def _most_damaging(net: MultitaskNet, moves: set[Move], run: _Run, seed: int) -> tuple[Move, float]:
    """The move that, made alone on ``net``, raises the tasks' summed loss most on a few seeded training batches.

    Measured, not estimated: the importance that ranked the step is first order, and a cliff is
    where it was wrong. Moves that cannot be made alone (they would cut a task off) count as worst.
    """
    train = run.data.train
    picks = scoring_batches(train, run.options.importance_batches, run.options.batch_size, seed)

    def loss(model: MultitaskNet) -> float:
        was_training = model.training
        model.eval()  # batch statistics and dropout stay fixed, as when scoring
        with torch.no_grad():
            value = sum(float(summed_loss(model, run.tasks, train, batch)) for batch in picks) / len(picks)
        model.train(was_training)
        return value

    base = loss(net)
    damage = {}
    for move in sorted(moves):
        alone = _relabelled(net, _labels_after(net, {move}))
        damage[move] = math.inf if alone is None else loss(alone) - base
    culprit = max(damage, key=lambda m: damage[m])
    return culprit, damage[culprit]


def _labels_after(net: MultitaskNet, moves: set[Move]) -> dict[int, list[tuple[int, ...]]]:
    """The labels of the spaces ``moves`` touch once they are made (a move: a task off a channel, or the channel)."""
    labels, origins = _channels(net, {space for space, _, _ in moves})
    where = {space: {origin: c for c, origin in enumerate(names)} for space, names in origins.items()}
    for space, origin, t in moves:
        c = where[space][origin]
        labels[space][c] = set() if t < 0 else labels[space][c] - {t}
    return _frozen(labels)


def _channels(net: MultitaskNet, spaces: Iterable[int]) -> tuple[dict[int, list[set[int]]], dict[int, list[str]]]:
    """Per space, each channel's task label (a set, to edit) and origin, in flat channel order."""
    s = net.structure
    labels = {space: [set(g.label) for g in s.groups[space] for _ in range(g.size)] for space in spaces}
    origins = {space: [o for g in s.groups[space] for o in g.origins] for space in labels}
    return labels, origins


def _frozen(labels: dict[int, list[set[int]]]) -> dict[int, list[tuple[int, ...]]]:
    """Edited labels as ``MultitaskNet.relabel`` takes them (sorted tuples)."""
    return {space: [tuple(sorted(label)) for label in space_labels] for space, space_labels in labels.items()}


def _move_name(net: MultitaskNet, move: Move) -> str:
    """A move in words: "channel ORIGIN of space S" or "task T off channel ORIGIN of space S"."""
    space, origin, t = move
    what = f"channel {origin} of space {space}"
    return what if t < 0 else f"task {net.structure.task_names[t]} off {what}"


def _search(loop: PruneState, run: _Run) -> None:
    """Fully fine-tune candidates (``search.cheapest_within``): the cheapest point first, bisection, then a window.

    The result is the cheapest point found within the tolerance after its final fine-tune; the
    window past the first failure keeps one noisy "outside" from ending the search early. Each
    candidate is saved as it finishes (a resumed search reads it back instead of fine-tuning again).
    """
    _, tuned = _cheapest(loop, run)
    explored = f"{loop.explored}, after retiring {', '.join(loop.retired)}" if loop.retired else loop.explored
    if loop.best is None:  # the start (after any recovery fine-tune) is the result
        loop.best, loop.best_index = loop.points[0], 0
        loop.val = evaluate_all(loop.best, run.tasks, run.data.val, run.options.batch_size * 4)
        loop.trajectory.append(run.point(loop.best, "final", loop.val))
        loop.stop_reason = f"{explored}; no pruned point stays within the tolerance after its final fine-tune"
        return
    loop.trajectory.append(run.point(loop.best, "final", loop.tried[loop.best_index]["val"]))
    loop.stop_reason = (
        f"{explored}; point {loop.best_index} is the cheapest within the tolerance after its final "
        f"fine-tune ({tuned} candidates fine-tuned, at most {run.options.max_candidates})"
    )


def _cheapest(loop: PruneState, run: _Run) -> tuple[int, int]:
    """The cheapest point since ``loop.base`` within the tolerance after its final fine-tune (``loop.base`` when
    none is), and how many candidates were fine-tuned; ``loop.best`` is then that point's fine-tuned network."""
    o = run.options

    def is_within(i: int) -> bool:
        k = loop.base + i
        if k not in loop.tried:
            net = copy.deepcopy(loop.points[k])
            if o.final_epochs:
                run.finetune(net, o.final_epochs, None, round_seed(o.seed, 3, k))
            point = run.point(net, "candidate")
            within = within_limits(point["val"], run.limits)
            loop.tried[k] = {"val": point["val"], "test": point["test"], "within": within}
            loop.trajectory.append(point)
            event = f"candidate {k}: {'within' if within else 'outside'}"
            loop.history.append(_entry(k, net, run, point["val"], event, 0))
            if within and k > loop.best_index:
                loop.best, loop.best_index, loop.val = net, k, point["val"]
            run.show(loop, point)
            run.save(loop)
        return bool(loop.tried[k]["within"])

    best, tuned = cheapest_within(len(loop.points) - loop.base, is_within, o.search_window, o.max_candidates)
    return loop.base + best, tuned


def prune_each(
    net: MultitaskNet,
    data: DatasetSplits,
    reference: dict[str, float],
    options: PruneOptions = PruneOptions(),
    progress: bool = True,
    checkpoints: Checkpoints | None = None,
    teachers: Mapping[str, nn.Module] | None = None,
) -> list[PruneResult]:
    """Each task's subnetwork of ``net`` (``extract``: its own channels and those it shares) pruned alone, one
    search per task, in task order.

    A fractional ``target_macs`` applies to each task's subnetwork; an absolute one is refused (it has no
    single meaning for networks pruned apart). ``checkpoints``: each task's prune keeps its own checkpoint there,
    so a resumed run skips the tasks that finished and continues the one that was interrupted.
    """
    if options.target_macs is not None and options.target_macs > 1:
        raise PamkitError(
            f"target_macs={options.target_macs:g} is an absolute cost, which has no single meaning when each task "
            "is pruned alone; give a fraction of the start (e.g. 0.3) or prune jointly"
        )
    return [
        prune(
            net.extract([name]),
            data,
            reference,
            options,
            progress,
            label=f"prune {name}",
            checkpoint=checkpoints.named(f"task{t}") if checkpoints else None,
            teachers=teachers,
        )
        for t, name in enumerate(net.task_names)
    ]


def prune_separately(
    net: MultitaskNet,
    data: DatasetSplits,
    reference: dict[str, float],
    options: PruneOptions = PruneOptions(),
    progress: bool = True,
    checkpoints: Checkpoints | None = None,
    teachers: Mapping[str, nn.Module] | None = None,
) -> PruneResult:
    """The no-merging baseline: each task's own subnetwork pruned alone (``prune_each``), then stacked side by side.

    The trajectory holds each task's points, marked with ``"task"``.
    """
    results = prune_each(net, data, reference, options, progress, checkpoints, teachers)
    val = {name: score for r in results for name, score in r.val.items()}
    history = [{**entry, "task": r.net.task_names[0]} for r in results for entry in r.history]
    trajectory = [{**point, "task": r.net.task_names[0]} for r in results for point in r.trajectory]
    reason = "; ".join(f"{r.net.task_names[0]}: {r.stop_reason}" for r in results)
    return PruneResult(stack([r.net for r in results]), reference, val, reason, history, trajectory)


def save_pruned(out: Path, result: PruneResult, options: PruneOptions) -> Path:
    """The pruned model plus ``pruning.json`` (settings, reference scores, every step and the trajectory)."""
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


def expected_macs(net: MultitaskNet, weights: dict[tuple[str, ...], float]) -> float:
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
    weights: dict[tuple[str, ...], float],
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
    net: MultitaskNet, ranking: Ranking, step: float, banned: set[Move], cross: bool = False, careful: bool = False
) -> tuple[dict[int, list[tuple[int, ...]]], set[Move]]:
    """New labels after the lowest-ranked moves worth about ``step`` of the budget, and the moves made.

    A move takes one task off a channel or removes the channel; at most one move per channel per
    step. Moves are made in rank order while they bring the spent budget closer to ``step`` of it
    (one that would overshoot by more than it falls short is left for a later step); ``cross``:
    while the budget is not spent (the last move may cross it, landing on a target within one move).
    First at most ``step`` of a layer's channels are moved (cheap layers are not gutted at once);
    when that spends less than half the budget, the cap is lifted; when still less than half is
    spent, the lowest-ranked move left is made whatever its size. So a step removes about its
    share whenever moves remain: near the boundary, where one channel of an early, wide layer costs
    more than a step, the step neither skips it for ever nor shrinks to the cheapest channels.
    ``careful`` (a step planned again after a cliff): the cap is never lifted, since lifting it
    can fill a step with dozens of a cheap layer's channels at once.
    Banned moves (found to cut a task off) and moves taking a task's last channel in a space (its
    head would lose its input) are never made.
    """
    scores, sizes = ranking.scores, ranking.sizes
    s = net.structure
    labels, origins = _channels(net, scores)
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

    def fits(size: float) -> bool:
        if cross:
            return spent < budget
        return spent + size - budget <= budget - spent  # closer to the budget after the move than before

    passes = ((True, False), (True, True)) if careful else ((True, False), (False, False), (False, True))
    for capped, any_size in passes:
        if moves and spent >= budget / 2:
            break
        for _, space, c, t in ranked:
            size = float(sizes[space][c, t])
            move, off = (space, origins[space][c], t), labels[space][c] if t < 0 else {t}
            if (
                move in banned
                or (space, c) in touched
                or (t < 0 and len(off) < 2)
                or (capped and not room[space])
                or any(u not in left[space] or left[space][u] <= 1 for u in off)
                or not (any_size or fits(size))
            ):
                continue
            room[space] -= 1
            for u in off:
                left[space][u] -= 1
            labels[space][c] = labels[space][c] - off
            moves.add(move)
            touched.add((space, c))
            spent += size
            if any_size:
                break
    return _frozen(labels), moves


def _relabelled(net: MultitaskNet, labels: dict[int, list[tuple[int, ...]]]) -> MultitaskNet | None:
    """The network with new labels, or None when a task would be left without a path to its head."""
    try:
        return net.relabel(labels)
    except PamkitError:
        return None


# -- bookkeeping ---------------------------------------------------------------------------------
def _entry(
    iteration: int,
    net: MultitaskNet,
    run: _Run,
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
        "expected_macs": expected_macs(net, run.weights),
        "val": dict(val),
    }


def _weights_for(
    net: MultitaskNet, weights: dict[tuple[str, ...], float] | None
) -> dict[tuple[str, ...], float] | None:
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
