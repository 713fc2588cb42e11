"""``merge``: the four ways to combine single-task networks into one multitask network."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from ..data import DatasetSplits
from ..errors import PamkitError
from ..network.architecture import task_head
from ..network.multitask import MultitaskNet
from ..tasks import TaskSuite
from ..train import SingleTaskRecord, TrainConfig, TrainedTask, fit
from ..train.run import source_digests
from ..values import check_number
from .assemble import Label, assemble, source_origins, source_template
from .mtz import merge_mtz
from .pam import GROUPINGS, merge_pam, zip_label_groups
from .sources import Sources, candidate_weights, load_sources

METHODS = ("pam", "mtz", "shared", "none")
REGROUPING_FILE = "regrouping.json"  # beside a PAM merge: each neuron's group and its MI with each task


@dataclass(frozen=True)
class MergeOptions:
    """Settings of every method (each uses its own); recorded in the merged network's provenance."""

    samples: int = 128  # held-out inputs PAM measures relevance on, and MTZ its Hessians
    grouping: str = "paper"  # PAM: "paper" (shared + one private group per task) or "lattice"
    alpha: float | None = None  # PAM: absolute MI threshold (None: calibrated per layer and task)
    relative_alpha: float | None = None  # PAM: calibration factor (None: the relevance module's default)
    zip_groups: bool = True  # PAM: zip the source networks' channels inside each label group (False: the paper's)
    zip_fraction: float = 1.0  # MTZ, zipped PAM: share of each layer's (group's) neurons to pair (1 = full zip)
    finetune_epochs: int = 1  # MTZ and zipped PAM: after each layer; shared: joint training
    lr: float = 1e-3
    seed: int = 0

    def __post_init__(self) -> None:
        if self.grouping not in GROUPINGS:
            raise PamkitError(f"unknown grouping {self.grouping!r}; use one of {', '.join(GROUPINGS)}")
        check_number("samples (held-out inputs)", self.samples, low=2, integer=True)
        check_number("alpha (PAM's mutual-information threshold)", self.alpha, low=0, optional=True)
        check_number("relative_alpha", self.relative_alpha, low=0, optional=True)
        if self.alpha is not None and self.relative_alpha is not None:
            raise PamkitError(
                "alpha and relative_alpha exclude each other: alpha is the threshold itself, "
                "relative_alpha calibrates it per layer; give one of them"
            )
        check_number("zip_fraction", self.zip_fraction, low=0, low_open=True, high=1)
        check_number("finetune_epochs", self.finetune_epochs, low=0, integer=True)
        check_number("lr (learning rate)", self.lr, low=0, low_open=True)
        check_number("seed", self.seed, low=0, integer=True)


# Which methods use each option (those not listed here apply to all but none: seed, lr)
METHOD_OPTIONS: dict[str, tuple[str, ...]] = {
    "samples": ("pam", "mtz"),
    "grouping": ("pam",),
    "alpha": ("pam",),
    "relative_alpha": ("pam",),
    "zip_groups": ("pam",),
    "zip_fraction": ("mtz", "pam"),
    "finetune_epochs": ("mtz", "shared", "pam"),
    "lr": ("mtz", "shared", "pam"),
    "seed": ("pam", "mtz", "shared"),
}


def options_for(method: str, given: dict[str, Any], flag: Callable[[str], str] = str) -> MergeOptions:
    """MergeOptions from the settings ``given`` explicitly; one that ``method`` does not use is refused, not ignored.

    ``flag`` names a setting in the error (the CLI passes ``--relative-alpha`` for ``relative_alpha``).
    """
    if method not in METHODS:
        raise PamkitError(f"unknown merge method {method!r}; use one of {', '.join(METHODS)}")
    for name in given:
        if method not in METHOD_OPTIONS[name]:
            raise PamkitError(
                f"{flag(name)} does not apply to --method {method}: it is used by "
                f"{', '.join(METHOD_OPTIONS[name])} only; leave it out"
            )
    if method == "pam" and given.get("zip_groups") is False:
        for name in ("zip_fraction", "finetune_epochs", "lr"):
            if name in given:
                raise PamkitError(
                    f"{flag(name)} applies to PAM only when it zips its label groups, which "
                    f"{flag('no_zip_groups')} turns off; leave one of them out"
                )
    return MergeOptions(**given)


def merge_modules(
    modules: Mapping[str, nn.Module],
    suite: TaskSuite,
    data: DatasetSplits,
    method: str = "pam",
    options: MergeOptions = MergeOptions(),
    progress: bool = True,
) -> MultitaskNet:
    """Merge networks held in memory, ``{task name: module}`` for tasks of ``suite``, trained on ``data``.

    The Python way in for modules already in hand (no checkpoints): each module is one task's
    network of one architecture, ending in its task head (``pamkit.network.task_head``) with the
    task's outputs. Returned in eval mode; it names no source checkpoints; save it with ``save_multitask``.
    """
    tasks = [suite.task(name) for name in modules]
    nets = []
    for task, (name, module) in zip(tasks, modules.items(), strict=True):
        head = cast(nn.Linear, module.get_submodule(task_head(module)))
        if head.out_features != task.num_outputs:
            raise PamkitError(
                f"the network for task {name!r} has {head.out_features} outputs but the task has "
                f"{task.num_outputs}; pass each task's own network"
            )
        kind = type(module)
        record = SingleTaskRecord(f"{kind.__module__}:{kind.__qualname__}", {}, task, data.input_spec)
        nets.append(TrainedTask(module.eval(), record, Path(f"<{name} in memory>")))
    net, _ = merge(nets, method, data, options, progress)
    del net.structure.provenance["sources"], net.structure.provenance["sources_sha256"]  # nothing on disk to name
    return net.eval()


def merge(
    nets: list[TrainedTask] | Sources,
    method: str,
    data: DatasetSplits | None,
    options: MergeOptions = MergeOptions(),
    progress: bool = True,
) -> tuple[MultitaskNet, dict[str, Any]]:
    """Merge single-task networks (one per task, same architecture) with ``method``; returns network and report.

    ``nets`` may be already checked by ``load_sources``. The model records its sources' checkpoints
    (absolute here; ``save_multitask`` writes them relative to the model file).
    """
    if method not in METHODS:
        raise PamkitError(f"unknown merge method {method!r}; use one of {', '.join(METHODS)}")
    sources = nets if isinstance(nets, Sources) else load_sources(nets)
    if method != "none" and data is None:
        raise PamkitError(
            f"merge method {method!r} needs data (held-out inputs and, for mtz/shared, training "
            "data); pass the dataset the networks were trained on"
        )
    provenance = {
        "method": method,
        "options": asdict(options),
        "sources": [str(Path(item.path).resolve()) for item in sources.nets],
        "sources_sha256": source_digests(sources.nets) if all(Path(i.path).is_file() for i in sources.nets) else None,
        "data_options": sources.nets[0].record.provenance.get("data_options", {}),  # the split, for every stage
    }
    if method == "none" or data is None:
        return side_by_side(sources, provenance), {}
    images, labels = _held_out(sources, data, options)
    if method == "pam":
        net, report = merge_pam(
            sources, images, labels, options.grouping, options.alpha, options.relative_alpha, progress
        )
        net.structure.provenance.update(provenance)
        if options.zip_groups:
            tuner = _finetuner(sources, data, options) if options.finetune_epochs else None
            net, zipped = zip_label_groups(net, images, options.zip_fraction, tuner, progress)
            for space, entry in zipped.items():
                report.setdefault(space, {})["zip_costs"] = entry["zip_costs"]
        return net, report
    if method == "mtz":
        tuner = _finetuner(sources, data, options) if options.finetune_epochs else None
        net, report = merge_mtz(side_by_side(sources, provenance), images, options.zip_fraction, tuner, progress)
        return net, report
    net = shared_trunk(sources, provenance)
    if options.finetune_epochs:
        _finetuner(sources, data, options)(net, "trunk")
    return net, {}


def side_by_side(sources: Sources, provenance: dict[str, Any]) -> MultitaskNet:
    """The no-merging baseline: every neuron private to its own task; outputs equal the sources' exactly."""
    labels: dict[int, list[Label]] = {
        space: [(k,) for k in range(sources.n) for _ in range(size)] for space, size in sources.arch.space_sizes.items()
    }
    return assemble(source_template(sources, provenance), candidate_weights(sources), labels, source_origins(sources))


def shared_trunk(sources: Sources, provenance: dict[str, Any]) -> MultitaskNet:
    """The classic multitask baseline: the first network's trunk shared by all tasks, each task's own head.

    The heads start from their own networks' weights over a trunk they were not trained with, so
    the trunk and heads must then be trained jointly (``merge`` does it).
    """
    everyone = tuple(range(sources.n))
    labels = {
        space: [everyone if k == 0 else () for k in range(sources.n) for _ in range(size)]
        for space, size in sources.arch.space_sizes.items()
    }
    dense = candidate_weights(sources)
    final = sources.arch.op(sources.arch.head_input).space
    width = sources.arch.space_sizes[final] * sources.arch.ops[-1].attrs["expansion"]
    for task in sources.tasks:  # move each head's weights onto the shared trunk's features
        weight = dense[f"{sources.arch.ops[-1].name}.{task.name}.weight"]
        k = sources.tasks.index(task)
        weight[:, :width] = weight[:, k * width : (k + 1) * width].clone()
    return assemble(source_template(sources, provenance), dense, labels, source_origins(sources))


def _held_out(sources: Sources, data: DatasetSplits, options: MergeOptions) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """``samples`` seeded validation inputs and each task's discrete labels on them."""
    if data.input_spec != sources.input_spec:
        raise PamkitError(
            f"the data's input {data.input_spec.to_dict()} differs from the networks' "
            f"{sources.input_spec.to_dict()}; load the dataset the networks were trained on"
        )
    if len(data.val) < options.samples:
        raise PamkitError(
            f"the validation split has {len(data.val)} samples, fewer than samples={options.samples}; "
            "lower --samples or load more data"
        )
    pick = torch.randperm(len(data.val), generator=torch.Generator().manual_seed(options.seed))[: options.samples]
    return data.val.images[pick], [task.discrete_labels(data.val.labels[pick]) for task in sources.tasks]


def _finetuner(sources: Sources, data: DatasetSplits, options: MergeOptions):
    """Joint fine-tuning on the sum of the tasks' losses, for MTZ's per-layer retraining and the shared trunk."""
    config = TrainConfig(
        epochs=options.finetune_epochs, lr=options.lr, seed=options.seed, patience=options.finetune_epochs
    )

    def finetune(net: MultitaskNet, layer: str) -> None:
        fit(net, list(sources.tasks), data.train, data.val, config, label=f"fine-tune after {layer}")

    return finetune
