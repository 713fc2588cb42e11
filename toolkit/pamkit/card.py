"""A saved model's card: what it is and what made it, read from its sidecar as one typed, read-only value.

Every pamkit model file already records these facts in its sidecar (the single-task record, the
multitask structure and provenance, the pruning settings, the versions); the card gathers them
under one schema for people (``pamkit inspect``) and for reuse checks (``compare`` reuses a stage
only when the card's options are the ones asked for). It reads both stages' files, so it sits above
``network`` and ``train``, beside the stages that use it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .data import InputSpec
from .errors import CheckpointError
from .io import read_sidecar
from .network import Structure, model_file
from .network.storage import KIND
from .tasks import Task
from .train.checkpoint import KIND as SINGLE_TASK
from .train.checkpoint import record_from_sidecar

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


def _single_task_card(path: Path, meta: dict[str, Any]) -> ModelCard:
    record = record_from_sidecar(meta, path)
    train = {"arch": record.arch, "arch_kwargs": record.arch_kwargs, **record.provenance.get("train", {})}
    reference = {record.task.name: record.metrics["val"]} if "val" in record.metrics else {}
    return ModelCard(
        path,
        "trained",
        record.arch,
        None,
        (record.task,),
        record.input_spec,
        _frozen(reference),
        _frozen({"train": train}),
        _frozen(meta.get("versions", {})),
    )


def check_reusable(folder: Path, stage: str, options: Mapping[str, Any], ignored: Collection[str] = ()) -> None:
    """Refuse to reuse the model in ``folder`` unless its ``stage`` was made with exactly ``options``, apart from
    the ``ignored`` settings (ones that cannot change what this stage made)."""
    made, wanted = (
        {key: value for key, value in _plain(dict(given)).items() if key not in ignored}
        for given in (read_card(folder).options.get(stage, {}), options)
    )
    if options_digest(made) != options_digest(wanted):
        changed = sorted(k for k in set(made) | set(wanted) if made.get(k) != wanted.get(k))
        raise CheckpointError(
            f"{folder} holds a model whose {stage} options differ from the ones asked for ({', '.join(changed)}); "
            "it is not reused: delete that folder, or start the run again with --overwrite"
        )
