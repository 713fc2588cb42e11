"""Saving and loading multitask networks safely: per-group safetensors weights + the JSON structure.

A model names the single-task checkpoints it was merged from (``provenance["sources"]``). On disk
each source is a path *relative to the model file's folder* (``"../run/odd.json"``), so a model
folder can be moved together with its run and used from any working directory; absolute paths
and anything that is not a list of relative paths are refused when the model is loaded. In
memory the sources are absolute paths; ``save_multitask`` writes them relative again. A source is
only ever read as a pamkit single-task checkpoint (``load_single_task`` checks format, kind and
checksum), never as anything else.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import CheckpointError
from ..io import load_artifact, save_artifact
from .multitask import MultitaskNet
from .structure import Structure

KIND = "multitask"
MODEL_STEM = "model"  # a stage directory holds its network as model.safetensors + model.json
_RUN_FILE = "run.json"  # what a training run folder holds instead (train.run.RUN_FILE)


def model_file(path: str | Path) -> Path:
    """The model file a path names: a folder written by ``merge``/``prune`` stands for its ``model.json``."""
    path = Path(path)
    if not path.is_dir():
        return path
    if (path / f"{MODEL_STEM}.json").is_file():
        return path / f"{MODEL_STEM}.json"
    if (path / _RUN_FILE).is_file():
        raise CheckpointError(
            f"{path} is a training run (single-task networks), not a multitask model; merge it "
            f"first with `pamkit merge {path} --out DIR`"
        )
    raise CheckpointError(
        f"{path} is a folder without {MODEL_STEM}.json; pass a folder written by `pamkit merge` "
        "or `pamkit prune`, or its model.json"
    )


def save_multitask(stem: str | Path, net: MultitaskNet, meta: dict | None = None) -> Path:
    """Write ``stem.safetensors`` (only the groups' real weights, no zero blocks) and ``stem.json``."""
    structure = net.structure.to_dict()
    provenance = structure["provenance"]
    if "sources" in provenance:
        folder = Path(stem).parent.resolve()
        structure["provenance"] = {
            **provenance,
            "sources": [os.path.relpath(Path(p).resolve(), folder) for p in provenance["sources"]],
        }
    return save_artifact(stem, net.state_dict(), KIND, {"structure": structure, **(meta or {})})


def load_multitask(path: str | Path) -> tuple[MultitaskNet, dict]:
    """Load a network saved by ``save_multitask`` (or the model of a stage folder); weights must fit exactly."""
    path = model_file(path)
    tensors, record = load_artifact(path, KIND)
    if "structure" not in record:
        raise CheckpointError(f"{path}: the sidecar has no 'structure'; re-create it with pamkit merge")
    structure = Structure.from_dict(record["structure"])
    if "sources" in structure.provenance:
        structure.provenance["sources"] = resolve_sources(path, structure.provenance["sources"])
    net = MultitaskNet(structure)
    expected = net.state_dict()
    problems = sorted(set(expected) ^ set(tensors)) + [
        k for k in expected if k in tensors and expected[k].shape != tensors[k].shape
    ]
    if problems:
        raise CheckpointError(
            f"{path}: the weights do not fit the structure in the sidecar (first differences: "
            f"{problems[:5]}); the two files belong to different networks"
        )
    net.load_state_dict(tensors)
    return net.eval(), record


def resolve_sources(model: Path, sources: Any) -> list[str]:
    """The recorded source checkpoints as absolute paths, each relative to the model file's folder on disk."""
    if not isinstance(sources, list) or not all(isinstance(p, str) and p for p in sources):
        raise CheckpointError(
            f"{model}: 'sources' must be a list of checkpoint paths, got {sources!r}; the file was "
            "edited or corrupted: re-create it with pamkit merge"
        )
    folder = model.parent.resolve()
    for source in sources:
        if Path(source).is_absolute():
            raise CheckpointError(
                f"{model} names the source checkpoint {source!r} by an absolute path; pamkit "
                "records sources relative to the model file (e.g. ../run/odd.json): re-create it "
                "with pamkit merge"
            )
    return [str((folder / source).resolve()) for source in sources]
