"""A saved model's card: what it is and what made it, read from its sidecar as one typed, read-only value.

Every pamkit model file already records these facts in its sidecar (the single-task record, the
multitask structure and provenance, the pruning settings, the versions); the card gathers them
under one schema for people (``pamkit inspect``) and for reuse checks (``compare`` reuses a stage
only when the card's options are the ones asked for).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..data import InputSpec
from ..errors import CheckpointError
from ..io import read_sidecar
from ..tasks import Task
from .storage import KIND, model_file
from .structure import Structure

SINGLE_TASK = "single-task"  # the sidecar kind of a trained network (train.checkpoint.KIND)
STAGES = ("trained", "merged", "pruned")


def options_digest(options: Mapping[str, Any]) -> str:
    """sha256 of the options as canonical JSON (sorted keys; tuples and lists alike), to compare settings."""
    return hashlib.sha256(json.dumps(_plain(options), sort_keys=True).encode()).hexdigest()


def _plain(value: Any) -> Any:
    """Mappings as dicts and sequences as lists, as JSON holds them (what a saved model's options read back as)."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _frozen(value: Any) -> Any:
    """A read-only copy: mappings become MappingProxyType, lists tuples, all the way down."""
    if isinstance(value, Mapping):
        return MappingProxyType({key: _frozen(item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_frozen(item) for item in value)
    return value


@dataclass(frozen=True)
class ModelCard:
    """One saved model: its stage, tasks, input, the scores its tolerance is measured from, what made it."""

    path: Path
    stage: str  # one of STAGES
    architecture: str
    method: str | None  # the merge method (None for a trained network)
    tasks: tuple[Task, ...]
    input_spec: InputSpec
    reference: Mapping[str, float]  # validation scores: a trained network's own; a pruned model's sources'
    options: Mapping[str, Any]  # per stage that made it ("train", "merge", "pruning"), its settings
    versions: Mapping[str, Any]

    @property
    def options_sha256(self) -> str:
        """A digest of ``options``: two models made with the same settings have the same one."""
        return options_digest(self.options)

    def lines(self) -> list[str]:
        """The card for people, one fact per line."""
        made = ", ".join(f"{stage} {options_digest(options)[:12]}" for stage, options in self.options.items())
        return [
            f"{self.path}: {self.stage} {self.architecture}" + (f" ({self.method} merge)" if self.method else ""),
            "tasks: " + ", ".join(f"{t.name} ({t.kind}, {t.num_outputs} out)" for t in self.tasks),
            f"input: {self.input_spec.dataset}, {'x'.join(map(str, self.input_spec.shape))} (C x H x W)",
            "reference (val): " + (", ".join(f"{k} {v:.4f}" for k, v in self.reference.items()) or "none recorded"),
            f"made by: {made} (options sha256)",
            "versions: " + ", ".join(f"{k} {v}" for k, v in self.versions.items() if k in ("pamkit", "torch")),
        ]


def read_card(path: str | Path) -> ModelCard:
    """The card of a single-task checkpoint, or of a multitask model (its folder or model.json)."""
    path = model_file(path)
    _, record = read_sidecar(path, (KIND, SINGLE_TASK))
    if record["kind"] == SINGLE_TASK:
        return _single_task_card(path, record)
    if "structure" not in record:
        raise CheckpointError(f"{path}: the sidecar has no 'structure'; re-create it with pamkit merge")
    structure = Structure.from_dict(record["structure"])
    provenance = structure.provenance
    pruning = record.get("pruning")
    options: dict[str, Any] = {"merge": provenance.get("options", {})}
    if isinstance(pruning, dict):
        options["pruning"] = pruning.get("options", {})
    return ModelCard(
        path,
        "pruned" if isinstance(pruning, dict) else "merged",
        str(provenance.get("arch", {}).get("name", "?")),
        provenance.get("method"),
        tuple(structure.tasks[t] for t in structure.heads),
        structure.input_spec,
        _frozen(pruning.get("reference", {}) if isinstance(pruning, dict) else {}),
        _frozen(options),
        _frozen(record.get("versions", {})),
    )


def _single_task_card(path: Path, record: dict[str, Any]) -> ModelCard:
    try:
        task, spec = Task.from_dict(record["task"]), InputSpec.from_dict(record["input"])
        metrics, provenance = record.get("metrics", {}), record.get("provenance", {})
        train = {"arch": record["arch"], "arch_kwargs": record["arch_kwargs"], **provenance.get("train", {})}
    except KeyError as exc:
        raise CheckpointError(f"{path}: the sidecar lacks {exc}; re-create the checkpoint with pamkit") from None
    reference = {task.name: metrics["val"]} if "val" in metrics else {}
    return ModelCard(
        path,
        "trained",
        str(record["arch"]),
        None,
        (task,),
        spec,
        _frozen(reference),
        _frozen({"train": train}),
        _frozen(record.get("versions", {})),
    )


def check_reusable(folder: Path, stage: str, options: Mapping[str, Any]) -> None:
    """Refuse to reuse the model in ``folder`` unless its ``stage`` was made with exactly ``options``."""
    card = read_card(folder)
    if options_digest(card.options.get(stage, {})) != options_digest(options):
        made = _plain(card.options.get(stage, {}))
        changed = sorted(k for k in set(made) | set(_plain(options)) if made.get(k) != _plain(options).get(k))
        raise CheckpointError(
            f"{folder} holds a model whose {stage} options differ from the ones asked for ({', '.join(changed)}); "
            "it is not reused: delete that folder, or start the run again with --overwrite"
        )
