"""Merge methods as registered plug-ins: each a ``Merger`` class with its name, the options it reads and its merge.

``MERGERS`` maps a method's name to its class; ``register_merger`` adds one (a user's own method
too), and every stage that offers methods (``pamkit merge``, ``compare``, the demo) and the
contract test in ``tests/test_merge_contract.py`` take them from there.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import torch

from ..data import DatasetSplits
from ..errors import PamkitError
from ..network.multitask import MultitaskNet
from ..registry import Registry
from ..train import TrainConfig, fit
from .assemble import Label, assemble, source_origins, source_template
from .mtz import merge_mtz
from .options import MergeOptions
from .pam import merge_pam, zip_label_groups
from .sources import Sources, candidate_weights

Report = dict[str, Any]  # per layer, what the method decided and measured (PAM's regrouping, MTZ's pair costs)


class Merger(ABC):
    """One way to merge source networks. Subclasses set ``name`` and ``uses`` and implement ``merge``."""

    name: ClassVar[str]
    uses: ClassVar[tuple[str, ...]] = ()  # the MergeOptions fields this method reads; any other given is refused
    needs_data: ClassVar[bool] = True  # held-out inputs (and training data for fine-tuning)

    @abstractmethod
    def merge(
        self, sources: Sources, data: DatasetSplits, options: MergeOptions, provenance: dict[str, Any], progress: bool
    ) -> tuple[MultitaskNet, Report]:
        """The merged network (its provenance set to ``provenance``) and the method's report."""


MERGERS: Registry[Merger] = Registry("merge method")
register_merger = MERGERS.register  # a class decorator: @register_merger class MyMerger(Merger): ...


def get_merger(name: str) -> Merger:
    """The registered method called ``name``; PamkitError naming the registered ones otherwise."""
    return MERGERS.create(name)


@register_merger
class PamMerger(Merger):
    """Pruning-aware merging: neurons regrouped by the tasks they are relevant to, then zipped inside each group."""

    name = "pam"
    uses = (
        "samples",
        "grouping",
        "alpha",
        "relative_alpha",
        "zip_groups",
        "zip_fraction",
        "finetune_epochs",
        "lr",
        "seed",
    )

    def merge(
        self, sources: Sources, data: DatasetSplits, options: MergeOptions, provenance: dict[str, Any], progress: bool
    ) -> tuple[MultitaskNet, Report]:
        images, labels = _held_out(sources, data, options)
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


@register_merger
class MtzMerger(Merger):
    """Multi-Task Zipping: every layer's neurons of the networks paired and merged, cheapest pairs first."""

    name = "mtz"
    uses = ("samples", "zip_fraction", "finetune_epochs", "lr", "seed")

    def merge(
        self, sources: Sources, data: DatasetSplits, options: MergeOptions, provenance: dict[str, Any], progress: bool
    ) -> tuple[MultitaskNet, Report]:
        images, _ = _held_out(sources, data, options)
        tuner = _finetuner(sources, data, options) if options.finetune_epochs else None
        return merge_mtz(side_by_side(sources, provenance), images, options.zip_fraction, tuner, progress)


@register_merger
class SharedMerger(Merger):
    """The shared trunk: the first network's trunk for every task, each task its own head, trained jointly."""

    name = "shared"
    uses = ("finetune_epochs", "lr", "seed")

    def merge(
        self, sources: Sources, data: DatasetSplits, options: MergeOptions, provenance: dict[str, Any], progress: bool
    ) -> tuple[MultitaskNet, Report]:
        net = shared_trunk(sources, provenance)
        if options.finetune_epochs:
            _finetuner(sources, data, options)(net, "trunk")
        return net, {}


@register_merger
class NoMerger(Merger):
    """No merging: the networks side by side, every neuron private to its own task (exact)."""

    name = "none"
    needs_data = False

    def merge(
        self, sources: Sources, data: DatasetSplits, options: MergeOptions, provenance: dict[str, Any], progress: bool
    ) -> tuple[MultitaskNet, Report]:
        return side_by_side(sources, provenance), {}


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
