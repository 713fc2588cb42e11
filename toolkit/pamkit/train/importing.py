"""Importing a network trained elsewhere: its weights into a pamkit single-task checkpoint, checked on its task.

What ``pamkit import`` writes is a one-task run folder, the same as ``pamkit train`` writes, so
every later stage takes it unchanged (``pamkit merge imported/a imported/b``).
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import Tensor, nn

from ..data import DatasetSplits
from ..errors import CheckpointError
from ..io import file_sha256
from ..network import task_head
from ..tasks import Task, TaskSuite
from .checkpoint import SingleTaskRecord, save_single_task, state_dict_differences
from .loop import evaluate
from .run import TrainedTask, current_command, write_run_summary

_WRAPPERS = ("state_dict", "model_state_dict", "model")  # keys training scripts commonly nest a state dict under


def read_state_dict(path: str | Path) -> dict[str, Tensor]:
    """The tensors of a safetensors file, or of a ``torch.save``d state dict loaded with ``weights_only=True``.

    A state dict nested under one of the usual keys (``state_dict``, ``model``...) and the
    ``module.`` prefix ``DataParallel`` adds are taken off. Nothing is ever unpickled freely.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"--weights {path} does not exist; give the file holding the network's state dict")
    with open(path, "rb") as f:
        is_safetensors = path.suffix == ".safetensors" or f.read(9)[8:9] == b"{"
    try:
        loaded: Any = load_file(path) if is_safetensors else torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError(
            f"--weights {path} holds Python objects beyond tensors (a whole model object, say), which "
            "pamkit does not unpickle; save the network's model.state_dict() instead"
        ) from None
    except (SafetensorError, OSError, RuntimeError, ValueError, EOFError) as exc:  # what torch.load / safetensors raise
        raise CheckpointError(
            f"--weights {path} cannot be read as safetensors or as a torch.save state dict with weights_only=True "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); save the network's "
            "state_dict() with safetensors.torch.save_file or torch.save"
        ) from None
    for key in _WRAPPERS:
        if isinstance(loaded, Mapping) and isinstance(loaded.get(key), Mapping):
            loaded = loaded[key]
            break
    if not isinstance(loaded, Mapping) or not loaded or not all(isinstance(v, Tensor) for v in loaded.values()):
        raise CheckpointError(
            f"--weights {path} holds a {type(loaded).__name__}, not a state dict of tensors; save "
            "model.state_dict(), not the model object"
        )
    if all(str(key).startswith("module.") for key in loaded):
        loaded = {str(key)[len("module.") :]: value for key, value in loaded.items()}
    return {str(key): value for key, value in loaded.items()}


def fit_weights(net: nn.Module, tensors: dict[str, Tensor], arch: str, task: Task, path: str | Path) -> None:
    """Load ``tensors`` into ``net`` exactly; a head that does not fit the task's outputs gets its own message."""
    head = task_head(net)
    expected = net.state_dict()
    head_weight = tensors.get(f"{head}.weight")
    if head_weight is not None and head_weight.ndim == 2 and head_weight.shape[0] != task.num_outputs:
        raise CheckpointError(
            f"--weights {path}: the task head {head!r} has {head_weight.shape[0]} outputs but task {task.name!r} "
            f"has {task.num_outputs} ({task.kind}); import it for a task of {head_weight.shape[0]} outputs, or "
            "retrain its head for this task"
        )
    detail = state_dict_differences(expected, tensors, arch)
    if detail:
        raise CheckpointError(
            f"--weights {path} does not fit {arch} as built for task {task.name!r} ({detail}); pass the "
            "constructor arguments the weights were trained with (--arch-arg KEY=VALUE)"
        )
    net.load_state_dict(tensors)
    net.eval()


def import_network(
    record: SingleTaskRecord, weights: str | Path, suite: TaskSuite, data: DatasetSplits, out: Path
) -> TrainedTask:
    """Build ``record``'s network, load ``weights`` into it, score it on ``data`` and save it as a run in ``out``."""
    net = record.build()
    fit_weights(net, read_state_dict(weights), record.arch, record.task, weights)
    metrics = {
        "val": evaluate(net, record.task, data.val),
        "test": evaluate(net, record.task, data.test),
        "trivial_val": record.task.trivial_score(data.val.labels),
        "params": sum(p.numel() for p in net.parameters()),
    }
    provenance = {
        **record.provenance,
        "imported": {"weights": Path(weights).name, "weights_sha256": file_sha256(weights)},
        "command": current_command(),
    }
    record = SingleTaskRecord(record.arch, record.arch_kwargs, record.task, record.input_spec, metrics, provenance)
    trained = TrainedTask(net, record, save_single_task(out / record.task.name, net, record))
    write_run_summary(out, suite, [trained])
    return trained
