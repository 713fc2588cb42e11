"""``merge``: the four ways to combine single-task networks into one multitask network."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch

from ..data import DatasetSplits
from ..errors import PamkitError
from ..network.multitask import MultitaskNet
from ..train import TrainConfig, TrainedTask, fit
from .assemble import assemble, source_origins, source_template
from .mtz import merge_mtz
from .pam import GROUPINGS, merge_pam
from .sources import Sources, candidate_weights, load_sources

METHODS = ("pam", "mtz", "shared", "none")


@dataclass(frozen=True)
class MergeOptions:
    """Settings of every method (each uses its own); recorded in the merged network's provenance."""

    samples: int = 128                   # held-out inputs PAM measures relevance on, and MTZ its Hessians
    grouping: str = "paper"              # PAM: "paper" (shared + one private group per task) or "lattice"
    alpha: float | None = None           # PAM: absolute MI threshold (None: calibrated per layer and task)
    relative_alpha: float | None = None  # PAM: calibration factor (None: the relevance module's default)
    zip_fraction: float = 1.0            # MTZ: share of each layer's neurons to pair (1 = full zip)
    finetune_epochs: int = 1             # MTZ: after each layer; shared: joint training of the trunk
    lr: float = 1e-3
    seed: int = 0

    def __post_init__(self) -> None:
        if self.grouping not in GROUPINGS:
            raise PamkitError(f"unknown grouping {self.grouping!r}; use one of {', '.join(GROUPINGS)}")
        if self.samples < 2:
            raise PamkitError(f"samples={self.samples}: PAM needs at least 2 held-out inputs (default 128)")
        if self.finetune_epochs < 0:
            raise PamkitError(f"finetune_epochs={self.finetune_epochs} must be 0 or more")


def merge(nets: list[TrainedTask], method: str, data: DatasetSplits | None,
          options: MergeOptions = MergeOptions(), progress: bool = True) -> tuple[MultitaskNet, dict[str, Any]]:
    """Merge single-task networks (one per task, same architecture) with ``method``; returns network and report."""
    if method not in METHODS:
        raise PamkitError(f"unknown merge method {method!r}; use one of {', '.join(METHODS)}")
    sources = load_sources(nets)
    if method != "none" and data is None:
        raise PamkitError(f"merge method {method!r} needs data (held-out inputs and, for mtz/shared, training "
                          "data); pass the dataset the networks were trained on")
    provenance = {"method": method, "options": asdict(options), "sources": [str(item.path) for item in nets]}
    if method == "none":
        net = side_by_side(sources, provenance)
        return net, {}
    images, labels = _held_out(sources, data, options)
    if method == "pam":
        net, report = merge_pam(sources, images, labels, options.grouping, options.alpha, options.relative_alpha,
                                progress)
        net.structure.provenance.update(provenance)
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
    labels = {space: [(k,) for k in range(sources.n) for _ in range(size)]
              for space, size in sources.arch.space_sizes.items()}
    return assemble(source_template(sources, provenance), candidate_weights(sources), labels, source_origins(sources))


def shared_trunk(sources: Sources, provenance: dict[str, Any]) -> MultitaskNet:
    """The classic multitask baseline: the first network's trunk shared by all tasks, each task's own head.

    The heads start from their own networks' weights over a trunk they were not trained with, so
    the trunk and heads must then be trained jointly (``merge`` does it).
    """
    everyone = tuple(range(sources.n))
    labels = {space: [everyone if k == 0 else () for k in range(sources.n) for _ in range(size)]
              for space, size in sources.arch.space_sizes.items()}
    dense = candidate_weights(sources)
    final = sources.arch.op(sources.arch.head_input).space
    width = sources.arch.space_sizes[final] * sources.arch.ops[-1].attrs["expansion"]
    for task in sources.tasks:  # move each head's weights onto the shared trunk's features
        weight = dense[f"{sources.arch.ops[-1].name}.{task.name}.weight"]
        k = sources.tasks.index(task)
        weight[:, :width] = weight[:, k * width:(k + 1) * width].clone()
    return assemble(source_template(sources, provenance), dense, labels, source_origins(sources))


def _held_out(sources: Sources, data: DatasetSplits, options: MergeOptions) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """``samples`` seeded validation inputs and each task's discrete labels on them."""
    if data.input_spec != sources.input_spec:
        raise PamkitError(f"the data's input {data.input_spec.to_dict()} differs from the networks' "
                          f"{sources.input_spec.to_dict()}; load the dataset the networks were trained on")
    if len(data.val) < options.samples:
        raise PamkitError(f"the validation split has {len(data.val)} samples, fewer than samples={options.samples}; "
                          "lower --samples or load more data")
    pick = torch.randperm(len(data.val), generator=torch.Generator().manual_seed(options.seed))[:options.samples]
    return data.val.images[pick], [task.discrete_labels(data.val.labels[pick]) for task in sources.tasks]


def _finetuner(sources: Sources, data: DatasetSplits, options: MergeOptions):
    """Joint fine-tuning on the sum of the tasks' losses, for MTZ's per-layer retraining and the shared trunk."""
    config = TrainConfig(epochs=options.finetune_epochs, lr=options.lr, seed=options.seed,
                         patience=options.finetune_epochs)

    def finetune(net: MultitaskNet, layer: str) -> None:
        fit(net, list(sources.tasks), data.train, data.val, config, label=f"fine-tune after {layer}")
    return finetune
