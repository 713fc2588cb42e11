"""Single-task checkpoints: safetensors weights + a JSON sidecar with everything needed to rebuild them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from ..data import InputSpec
from ..errors import CheckpointError, PamkitError
from ..io import load_artifact, read_sidecar, save_artifact
from ..models import build_single_task
from ..tasks import Task

KIND = "single-task"


@dataclass(frozen=True)
class SingleTaskRecord:
    """What a single-task network is: architecture, task, input, and how it was obtained."""

    arch: str
    arch_kwargs: dict[str, Any]
    task: Task
    input_spec: InputSpec
    metrics: dict[str, float] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)  # seed, training settings, data source, command

    def build(self) -> nn.Module:
        """A freshly initialised network of this record's architecture (built-in or import path) and task."""
        return build_single_task(
            self.arch, self.input_spec.channels, self.input_spec.size, self.task.num_outputs, **self.arch_kwargs
        )


def save_single_task(stem: str | Path, net: nn.Module, record: SingleTaskRecord) -> Path:
    """Write ``stem.safetensors`` + ``stem.json``; returns the sidecar's path."""
    meta = {
        "arch": record.arch,
        "arch_kwargs": record.arch_kwargs,
        "task": record.task.to_dict(),
        "input": record.input_spec.to_dict(),
        "metrics": record.metrics,
        "provenance": record.provenance,
    }
    return save_artifact(stem, net.state_dict(), KIND, meta)


def read_single_task_record(path: str | Path) -> SingleTaskRecord:
    """What a checkpoint's sidecar says, without its weights and without building its network.

    Enough to load its data the same way (``data_like``), and it needs no import of a user's class.
    """
    sidecar, meta = read_sidecar(path, KIND)
    return record_from_sidecar(meta, sidecar)


def record_from_sidecar(meta: dict[str, Any], sidecar: str | Path) -> SingleTaskRecord:
    """The record a single-task sidecar's content ``meta`` describes (``sidecar`` names it in errors)."""
    try:
        return SingleTaskRecord(
            str(meta["arch"]),
            dict(meta["arch_kwargs"]),
            Task.from_dict(meta["task"]),
            InputSpec.from_dict(meta["input"]),
            dict(meta.get("metrics", {})),
            dict(meta.get("provenance", {})),
        )
    except KeyError as exc:
        raise CheckpointError(f"{sidecar}: the sidecar lacks {exc}; re-create the checkpoint with pamkit") from None


def load_single_task(path: str | Path) -> tuple[nn.Module, SingleTaskRecord]:
    """Load a checkpoint written by ``save_single_task``, validating the sidecar against the weights."""
    tensors, meta = load_artifact(path, KIND)
    record = record_from_sidecar(meta, path)
    try:
        net = record.build()
    except PamkitError as exc:
        raise CheckpointError(f"{path}: the sidecar describes a network pamkit cannot build: {exc}") from None
    detail = state_dict_differences(net.state_dict(), tensors, record.arch)
    if detail:
        raise CheckpointError(
            f"{path}: the weights do not fit the sidecar's architecture {record.arch} "
            f"{record.arch_kwargs} with {record.task.num_outputs} outputs ({detail}); "
            "the sidecar and weights belong to different networks"
        )
    net.load_state_dict(tensors)
    net.eval()
    return net, record


def state_dict_differences(expected: dict[str, Tensor], tensors: dict[str, Tensor], arch: str) -> str:
    """How ``tensors`` differ from the state dict ``expected`` of an ``arch``: missing, unexpected and
    wrongly shaped entries (a few of each), or "" when they fit."""
    missing, unexpected = sorted(set(expected) - set(tensors)), sorted(set(tensors) - set(expected))
    wrong = [
        f"{k} is {tuple(tensors[k].shape)}, {arch} has {tuple(expected[k].shape)}"
        for k in expected
        if k in tensors and tensors[k].shape != expected[k].shape
    ]
    parts = [f"missing {missing[:4]}" if missing else "", f"unexpected {unexpected[:4]}" if unexpected else ""]
    return "; ".join(part for part in [*parts, *wrong[:4]] if part)
