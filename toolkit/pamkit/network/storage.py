"""Saving and loading multitask networks safely: per-group safetensors weights + the JSON structure."""

from __future__ import annotations

from pathlib import Path

from ..errors import CheckpointError
from ..io import load_artifact, save_artifact
from .multitask import MultitaskNet
from .structure import Structure

KIND = "multitask"
MODEL_STEM = "model"  # a stage directory holds its network as model.safetensors + model.json


def save_multitask(stem: str | Path, net: MultitaskNet, meta: dict | None = None) -> Path:
    """Write ``stem.safetensors`` (only the groups' real weights, no zero blocks) and ``stem.json``."""
    return save_artifact(stem, net.state_dict(), KIND, {"structure": net.structure.to_dict(), **(meta or {})})


def load_multitask(path: str | Path) -> tuple[MultitaskNet, dict]:
    """Load a network saved by ``save_multitask``; the weights must fit the structure exactly."""
    tensors, record = load_artifact(path, KIND)
    if "structure" not in record:
        raise CheckpointError(f"{path}: the sidecar has no 'structure'; re-create it with pamkit merge")
    net = MultitaskNet(Structure.from_dict(record["structure"]))
    expected = net.state_dict()
    problems = sorted(set(expected) ^ set(tensors)) + [k for k in expected if k in tensors
                                                        and expected[k].shape != tensors[k].shape]
    if problems:
        raise CheckpointError(f"{path}: the weights do not fit the structure in the sidecar (first differences: "
                              f"{problems[:5]}); the two files belong to different networks")
    net.load_state_dict(tensors)
    return net.eval(), record
