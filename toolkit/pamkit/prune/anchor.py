"""The anchor pruner: Torch-Pruning on one single-task network, under pamkit's own budget and tolerance rule.

What pamkit's pruner is measured against (issue 12). Torch-Pruning (``torch_pruning`` 1.6.1, the
``anchor`` extra) ranks channel groups globally with group Taylor or magnitude importance and removes
them in small iterative steps, as its own benchmarks do (``pruning_ratio=1`` over many
``iterative_steps``, stepped until a cost is reached); the task head's outputs are never pruned.
Everything else is pamkit's, so that only the choice of channels differs: each step takes ``step``
of the current MACs, then the same short fine-tune (the same recipe: ``distill`` from the unpruned
network and the labels by default); the tolerance search goes ``explore_past`` beyond the boundary
keeping every point, then fully fine-tunes candidates (the cheapest first, then bisection) and keeps
the cheapest within the tolerance; ``target_macs`` prunes to a cost instead. MACs are pamkit's cost
model, applied to the traced module.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from importlib import metadata
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from ..cost import combination_cost
from ..data import DatasetSplits, InputSpec
from ..errors import PamkitError
from ..network.architecture import INPUT_SPACE, task_head, trace_architecture
from ..network.structure import Group, Structure, input_group
from ..tasks import Task
from ..train import evaluate_all
from ..values import check_number
from .api import PruneOptions
from .recipes import teacher_outputs
from .search import cheapest_within, round_seed, shortfall, within_limits

IMPORTANCES = ("taylor", "magnitude")  # Torch-Pruning's GroupTaylorImportance, GroupMagnitudeImportance


@dataclass(frozen=True)
class AnchorConfig:
    """Torch-Pruning's own settings (the budget, recipe and tolerance come from ``PruneOptions``)."""

    importance: str = "taylor"  # one of IMPORTANCES
    norm: int = 2  # magnitude importance: the norm's degree
    group_reduction: str = "mean"  # how a group's layers' scores combine (Torch-Pruning's default)
    normalizer: str = "mean"  # per-group normalisation before global ranking (Torch-Pruning's default)
    global_pruning: bool = True  # rank all layers' channels together
    iterative_steps: int = 400  # Torch-Pruning's schedule: each of its steps removes 1/iterative_steps of the channels
    max_pruning_ratio: float = 1.0  # no layer loses more than this share of its channels (and none its last one)

    name: ClassVar[str] = "torch-pruning"

    def __post_init__(self) -> None:
        if self.importance not in IMPORTANCES:
            raise PamkitError(
                f"unknown Torch-Pruning importance {self.importance!r}; use one of {', '.join(IMPORTANCES)}"
            )
        for name in ("group_reduction", "normalizer"):
            if not isinstance(getattr(self, name), str):
                raise PamkitError(f"Torch-Pruning {name} must be a name such as 'mean', got {getattr(self, name)!r}")
        check_number("Torch-Pruning norm", self.norm, low=1, integer=True)
        check_number("Torch-Pruning iterative_steps", self.iterative_steps, low=1, integer=True)
        check_number("Torch-Pruning max_pruning_ratio", self.max_pruning_ratio, low=0, low_open=True, high=1)
        if not isinstance(self.global_pruning, bool):
            raise PamkitError(f"Torch-Pruning global_pruning must be True or False, got {self.global_pruning!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings, with the installed Torch-Pruning's version (its ``__version__`` lags the release)."""
        return {"pruner": self.name, "version": metadata.version("torch-pruning"), **asdict(self)}


@dataclass
class AnchorResult:
    """The pruned network, its cost and scores, and every point of the path (as pamkit's trajectory)."""

    net: nn.Module
    reference: dict[str, float]  # the unpruned network's validation score
    val: dict[str, float]
    test: dict[str, float]
    macs: int
    start_macs: int
    stop_reason: str
    trajectory: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (without the network)."""
        return {k: v for k, v in asdict(self).items() if k != "net"}


def module_macs(net: nn.Module, task: Task, spec: InputSpec) -> int:
    """pamkit's cost model for a plain single-task network (ending in its task head) at its current widths.

    The module is traced as the merger traces sources and counted as a one-task structure, so the
    count is the one every pamkit network gets (conv and linear MACs, biases and the rest not counted).
    """
    was_training = net.training
    net.eval()  # tracing runs the module once: batch-norm statistics must not move
    try:
        arch = trace_architecture(net, spec.shape)
    finally:
        net.train(was_training)
    groups = {
        space: (Group((0,), tuple(f"{task.name}:{c}" for c in range(size))),)
        for space, size in arch.space_sizes.items()
    }
    structure = Structure((task,), spec, tuple(arch.ops), {INPUT_SPACE: input_group(spec, 1), **groups}, (0,))
    return combination_cost(structure, (task.name,)).macs


def torch_pruning_macs(net: nn.Module, example: Tensor) -> dict[str, int]:
    """Torch-Pruning's own counts: ``conv_linear`` (its conv and linear MACs without bias terms, pamkit's
    scope, for cross-checking ``module_macs``) and ``all`` (its total: biases, norms, activations, pools)."""
    tp = _tp()
    total = tp.utils.count_ops_and_params(net, example)[0]
    bare = copy.deepcopy(net)
    layers = [m for m in bare.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    for layer in layers:
        layer.bias = None
    flops = tp.utils.count_ops_and_params(bare, example, layer_wise=True)[2]
    return {"conv_linear": int(sum(flops[layer] or 0 for layer in layers)), "all": int(total)}


class _Named(nn.Module):
    """A single-task network answering as a multitask one, ``{task: outputs}``: what ``finetune`` trains."""

    def __init__(self, net: nn.Module, name: str) -> None:
        super().__init__()
        self.net, self.name = net, name

    def forward(self, x: Tensor, tasks: Any = None) -> dict[str, Tensor]:
        return {self.name: self.net(x)}


@dataclass
class _Run:
    """One anchor prune: the live network and its Torch-Pruning pruner, the limits, every kept point."""

    task: Task
    data: DatasetSplits
    options: PruneOptions
    config: AnchorConfig
    net: nn.Module
    pruner: Any
    limit: dict[str, float]
    teachers: dict[str, Tensor] | None
    bar: Any
    points: list[nn.Module] = field(default_factory=list)  # the live network after each step's short fine-tune
    trajectory: list[dict[str, Any]] = field(default_factory=list)
    tried: dict[int, dict[str, Any]] = field(default_factory=dict)  # point -> its trajectory entry after final
    finals: dict[int, nn.Module] = field(default_factory=dict)  # point -> the network after its final fine-tune
    macs: int = 0

    def finetune(self, net: nn.Module, epochs: int, samples: int | None, seed: int) -> None:
        self.options.finetune(
            _Named(net, self.task.name),
            [self.task],
            self.data.train,
            self.teachers,
            epochs=epochs,
            samples=samples,
            seed=seed,
        )

    def point(self, net: nn.Module, phase: str, index: int) -> dict[str, Any]:
        """Record point ``index`` of the path: phase, MACs, validation and test scores."""
        batch = self.options.batch_size * 4
        point: dict[str, Any] = {
            "phase": phase,
            "point": index,
            "macs": module_macs(net, self.task, self.data.input_spec),
            "val": evaluate_all(net, [self.task], self.data.val, batch),
            "test": evaluate_all(net, [self.task], self.data.test, batch),
        }
        self.trajectory.append(point)
        start = self.trajectory[0]["macs"]
        self.bar.set_postfix_str(
            f"{phase}, MACs {point['macs'] / start:.3f}x of start, {self.task.name} {point['val'][self.task.name]:.4f}"
        )
        return point

    def gradients(self, seed: int) -> None:
        """The summed task loss's gradients over ``importance_batches`` seeded training batches (for Taylor)."""
        o, train = self.options, self.data.train
        self.net.zero_grad(set_to_none=True)
        self.net.eval()  # batch statistics and dropout stay fixed while scoring, as pamkit's criteria do
        picks = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))
        for batch in picks[: o.importance_batches * o.batch_size].split(o.batch_size):
            self.task.loss(self.net(train.images[batch]), self.task.targets(train.labels[batch])).backward()

    def step(self, goal: float, index: int) -> bool:
        """Torch-Pruning's steps until the MACs are at most ``goal``; False when it removes nothing more."""
        while self.macs > goal:
            if self.config.importance == "taylor":
                self.gradients(round_seed(self.options.seed, 0, index * 10_000 + self.pruner.current_step))
            with torch.no_grad():
                before = self.pruner.current_step
                self.pruner.step()
            self.net.zero_grad(set_to_none=True)
            macs = module_macs(self.net, self.task, self.data.input_spec)
            if macs == self.macs and before >= self.config.iterative_steps:
                return False
            self.macs = macs
        return True


def anchor_prune(
    net: nn.Module,
    task: Task,
    data: DatasetSplits,
    options: PruneOptions | None = None,
    config: AnchorConfig | None = None,
    progress: bool = True,
    label: str = "torch-pruning",
) -> AnchorResult:
    """Prune a copy of the single-task ``net`` (ending in its task head) with Torch-Pruning under pamkit's rule.

    The tolerance is measured from ``net``'s own validation score, and ``net`` is the teacher of a
    distilling recipe. ``options`` gives everything pamkit's pruner would use (tolerance or
    ``target_macs``, step, explore_past, fine-tuning budget, recipe, seed; default: pamkit's
    defaults); its criterion and cost-aware ranking are pamkit's own and do not apply here.
    """
    tp = _tp()
    o, config = options or PruneOptions(), config or AnchorConfig()
    head = task_head(net)  # its outputs are the task's: never pruned
    if data.input_spec.shape != tuple(data.train.images.shape[1:]):
        raise PamkitError(f"the data's images {list(data.train.images.shape[1:])} differ from its input spec")
    teachers = None
    if o.finetuning.needs_teachers:
        teachers = teacher_outputs({task.name: net}, [task], data.train, o.batch_size * 4)
    live = copy.deepcopy(net).eval()
    if config.importance == "taylor":
        importance = tp.importance.GroupTaylorImportance(config.group_reduction, config.normalizer)
    else:
        importance = tp.importance.GroupMagnitudeImportance(config.norm, config.group_reduction, config.normalizer)
    pruner = tp.pruner.BasePruner(
        live,
        data.train.images[:1],
        importance,
        global_pruning=config.global_pruning,
        pruning_ratio=1.0,
        max_pruning_ratio=config.max_pruning_ratio,
        iterative_steps=config.iterative_steps,
        ignored_layers=[live.get_submodule(head)],
    )
    with tqdm(desc=label, unit="step", disable=not progress or None, leave=True) as bar:
        run = _Run(task, data, o, config, live, pruner, {}, teachers, bar)
        start = run.point(live, "start", 0)
        run.limit = {task.name: start["val"][task.name] - o.tolerance}
        run.macs = start["macs"]
        run.points.append(copy.deepcopy(live))
        if o.target_macs is not None:
            best, reason = _to_target(run, o.target_macs * start["macs"] if o.target_macs <= 1 else o.target_macs)
        else:
            best, reason = _search(run, _explore(run))
    final = start if best not in run.finals else run.tried[best]
    run.trajectory.append({**final, "phase": "final"})
    return AnchorResult(
        run.finals.get(best, run.points[0]).eval(),
        start["val"],
        final["val"],
        final["test"],
        final["macs"],
        start["macs"],
        reason,
        run.trajectory,
    )


def _prune_step(run: _Run, index: int, goal: float) -> bool:
    """One pamkit-sized step (to ``goal`` MACs) and its short fine-tune, kept as point ``index``."""
    o = run.options
    if not run.step(goal, index):
        return False
    run.finetune(run.net, o.finetune_epochs, o.finetune_samples, round_seed(o.seed, 2, index))
    run.point(run.net, "prune", index)
    run.points.append(copy.deepcopy(run.net))
    run.bar.update()
    return True


def _explore(run: _Run) -> str:
    """Steps until the task is ``explore_past`` below its limit; why they stopped.

    As pamkit's schedule: steps of ``step`` of the MACs, ``fine_step`` once one ended outside the tolerance.
    """
    o = run.options
    past = {name: limit - o.explore_past for name, limit in run.limit.items()}
    near = False
    for index in range(1, o.max_iterations + 1):
        if not _prune_step(run, index, run.macs * (1 - (o.fine_step if near else o.step))):
            return f"{index - 1} steps, then nothing left to remove"
        if not within_limits(last := run.trajectory[-1]["val"], past):
            return f"{index} steps, the last {o.explore_past} past the tolerance ({shortfall(last, past)})"
        near = near or not within_limits(last, run.limit)
    return f"max_iterations ({o.max_iterations}) reached"


def _candidate(run: _Run, k: int) -> bool:
    """Point ``k`` after the full final fine-tune (kept in ``finals``); whether it is within the tolerance."""
    o = run.options
    if k not in run.tried:
        net = copy.deepcopy(run.points[k])
        if o.final_epochs:
            run.finetune(net, o.final_epochs, None, round_seed(o.seed, 3, k))
        run.finals[k] = net
        run.tried[k] = run.point(net, "candidate", k)
    return within_limits(run.tried[k]["val"], run.limit)


def _search(run: _Run, explored: str) -> tuple[int, str]:
    """pamkit's search (``search.cheapest_within``): cheapest point first, bisection, then a window past the failure."""
    o = run.options
    best, tuned = cheapest_within(len(run.points), lambda k: _candidate(run, k), o.search_window, o.max_candidates)
    if best == 0:
        return 0, f"{explored}; no pruned point stays within the tolerance after its final fine-tune"
    return best, (
        f"{explored}; point {best} is the cheapest within the tolerance after its final fine-tune "
        f"({tuned} candidates fine-tuned, at most {o.max_candidates})"
    )


def _to_target(run: _Run, target: float) -> tuple[int, str]:
    """Steps of ``step`` of the MACs (the last one landing on ``target``), then the full final fine-tune."""
    o = run.options
    index = 0
    while run.macs > target and index < o.max_iterations:
        index += 1
        if not _prune_step(run, index, max(target, run.macs * (1 - o.step))):
            index -= 1
            break
    within = "within" if _candidate(run, index) else "outside"
    return (
        index,
        f"{index} steps to {run.macs:,} MACs (target {target:,.0f}); after the final fine-tune {within} the tolerance",
    )


def _tp() -> Any:
    """The ``torch_pruning`` module, or a one-line PamkitError saying how to install it."""
    try:
        import torch_pruning
    except ImportError:
        raise PamkitError(
            "the anchor pruner needs Torch-Pruning; install it with `pip install 'pamkit[anchor]'` "
            "(torch-pruning==1.6.1)"
        ) from None
    return torch_pruning
