"""A training run: one network per task of a suite, saved side by side with a run.json summary."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..data import DatasetSplits, InputSpec, dataset_info, load_dataset
from ..errors import CheckpointError
from ..io import contained, read_json, read_sidecar, write_json
from ..models import min_input_size
from ..outputs import ownership
from ..tasks import TaskSuite
from ..versions import package_versions
from .checkpoint import KIND as SINGLE_TASK
from .checkpoint import SingleTaskRecord, load_single_task, read_single_task_record, save_single_task
from .loop import TrainConfig, evaluate, fit

RUN_FILE = "run.json"


@dataclass(frozen=True)
class TrainedTask:
    """One trained network of a run and where its checkpoint lies."""

    net: nn.Module
    record: SingleTaskRecord
    path: Path


def train_suite(
    suite: TaskSuite,
    arch: str,
    data: DatasetSplits,
    out: str | Path,
    config: TrainConfig,
    arch_kwargs: dict[str, Any] | None = None,
    data_options: dict[str, Any] | None = None,
    resume: bool = False,
) -> list[TrainedTask]:
    """Train one ``arch`` network per task of ``suite`` on ``data`` and save each into ``out``.

    ``resume``: a task whose checkpoint is already in ``out`` (saved atomically, so it is complete)
    is loaded instead of trained again; each network has its own seed, so the result is the same.
    """
    trained = [
        train_task(suite, index, arch, data, out, config, arch_kwargs, data_options, resume)
        for index in range(len(suite.tasks))
    ]
    write_run_summary(Path(out), suite, trained)
    return trained


def train_task(
    suite: TaskSuite,
    index: int,
    arch: str,
    data: DatasetSplits,
    out: str | Path,
    config: TrainConfig,
    arch_kwargs: dict[str, Any] | None = None,
    data_options: dict[str, Any] | None = None,
    resume: bool = False,
) -> TrainedTask:
    """Train (or, with ``resume``, reuse) the network of the suite's task ``index``, saved as ``out/<task>``:
    ``train_suite``'s work for one task, so that each task can be its own job."""
    task = suite.tasks[index]
    seed = config.seed + index  # each network starts from its own initialisation, as independent training does
    provenance = {
        "suite": suite.name,
        "dataset_source": data.source,
        "data_options": data_options or {},
        "train": config.to_dict(),
        "command": current_command(),
        "seed": seed,
    }
    record = SingleTaskRecord(arch, dict(arch_kwargs or {}), task, data.input_spec, provenance=provenance)
    stem = Path(out) / task.name
    finished = _finished(stem, record) if resume else None
    return finished or _train_one(stem, record, data, replace(config, seed=seed))


def _train_one(stem: Path, record: SingleTaskRecord, data: DatasetSplits, config: TrainConfig) -> TrainedTask:
    """Train and save one task's network (seeded with ``config.seed``)."""
    torch.manual_seed(config.seed)
    net = record.build()
    result = fit(net, record.task, data.train, data.val, config, label=record.task.name)
    metrics = {
        "val": result.val_score,
        "test": evaluate(net, record.task, data.test),
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run,
        "train_seconds": round(result.seconds, 2),
        "params": sum(p.numel() for p in net.parameters()),
    }
    record = replace(record, metrics=metrics, provenance={**record.provenance, "history": list(result.history)})
    return TrainedTask(net, record, save_single_task(stem, net, record))


def _finished(stem: Path, wanted: SingleTaskRecord) -> TrainedTask | None:
    """The checkpoint a resumed run already holds for this task, or None when it must be trained (again)."""
    path = stem.with_suffix(".json")
    if not path.is_file():
        return None
    try:
        net, record = load_single_task(path)
    except CheckpointError as exc:  # interrupted between writing the weights and the sidecar
        print(f"note: {path} is unreadable ({exc}); training {wanted.task.name} again")
        return None
    if (record.arch, record.arch_kwargs, record.task, record.input_spec) != (
        wanted.arch,
        wanted.arch_kwargs,
        wanted.task,
        wanted.input_spec,
    ):
        raise CheckpointError(
            f"{path} is not a checkpoint of this run ({record.arch} for task {record.task.name} "
            f"on {record.input_spec.to_dict()}); pass --overwrite to start the run again"
        )
    print(f"resuming: {wanted.task.name} was trained already ({path.name}), skipped")
    return TrainedTask(net, record, path)


def suite_data(suite: TaskSuite, arch: str, *, size: int | None = None, **options: Any) -> DatasetSplits:
    """Load the suite's dataset at ``size``, by default the native size raised to the architecture's minimum."""
    if size is None:
        native, minimum = dataset_info(suite.dataset).native_size, min_input_size(arch)
        size = max(native, minimum)
        if size != native:
            print(
                f"note: {arch} needs inputs of at least {minimum} px; upsampling {suite.dataset} from "
                f"{native} to {size} px (choose with --size)"
            )
    return load_dataset(suite.dataset, size=size, **options)


def data_like(record: SingleTaskRecord, path: str | Path | None = None, limit: int | None = None) -> DatasetSplits:
    """The dataset a network was trained on, at its input size and normalisation, with the same splits."""
    return _split_as_recorded(record.input_spec, record.provenance.get("data_options", {}), path, limit)


def _split_as_recorded(
    spec: InputSpec, recorded: dict[str, Any], path: str | Path | None, limit: int | None
) -> DatasetSplits:
    options = {key: recorded[key] for key in ("val_fraction", "seed", "limit") if recorded.get(key) is not None}
    if limit is not None:
        options["limit"] = limit
    return load_dataset(spec.dataset, path=path, size=spec.size, normalize=spec.mean is not None, **options)


def recorded_sources(provenance: dict[str, Any]) -> list[TrainedTask]:
    """The single-task networks a multitask model was merged from, if their checkpoints are still where they were.

    A source whose weights differ from those the model was merged from (``provenance["sources_sha256"]``,
    recorded by ``merge``) is refused: pruning would measure the tolerance from another network.
    """
    paths = [Path(p) for p in provenance.get("sources", [])]
    if not paths or not all(p.is_file() for p in paths):
        return []
    recorded = provenance.get("sources_sha256") or [None] * len(paths)
    for path, now, then in zip(paths, source_digests(paths), recorded, strict=True):
        if then is not None and now != then:
            raise CheckpointError(
                f"{path} is not the network the model was merged from (its weights' sha256 differs from the one "
                "recorded at merge time); restore the original checkpoint or merge again"
            )
    return load_run(paths)


def source_digests(paths: Sequence[str | Path]) -> list[str]:
    """The sha256 of each checkpoint's weights, as its sidecar records it (what ``recorded_sources`` checks)."""
    return [str(read_sidecar(path, SINGLE_TASK)[1].get("weights_sha256")) for path in paths]


def model_data(
    spec: InputSpec, provenance: dict[str, Any], path: str | Path | None = None, limit: int | None = None
) -> DatasetSplits:
    """The data a multitask model works on, split as its source networks' was.

    The split is read from the model itself (``merge`` records its sources' data options), so a
    model moved away from its sources still gets it; older models name it through their sources'
    sidecars (no source network is built). Without either: the dataset's default split.
    """
    if isinstance(provenance.get("data_options"), dict):
        return _split_as_recorded(spec, provenance["data_options"], path, limit)
    paths = [Path(p) for p in provenance.get("sources", [])]
    if paths and paths[0].is_file():
        return data_like(read_single_task_record(paths[0]), path, limit)
    return load_dataset(spec.dataset, path=path, size=spec.size, normalize=spec.mean is not None, limit=limit)


def write_run_summary(out: Path, suite: TaskSuite, trained: list[TrainedTask]) -> Path:
    """``run.json``: the suite, each task's checkpoint (a name beside it) and metrics, the command and versions."""
    summary = {
        "suite": suite.to_dict(),
        "command": current_command(),
        "versions": package_versions(),
        "tasks": {t.record.task.name: {"checkpoint": t.path.name, "metrics": t.record.metrics} for t in trained},
    }
    return write_json(out / RUN_FILE, summary, indent=2)


def load_run(paths: str | Path | Sequence[str | Path]) -> list[TrainedTask]:
    """Single-task networks from a run directory (all its tasks, in order) or from checkpoint files."""
    items = [Path(p) for p in ([paths] if isinstance(paths, str | Path) else paths)]
    loaded = []
    for item in items:
        for checkpoint in run_checkpoints(item) if item.is_dir() else [item]:
            net, record = load_single_task(checkpoint)
            loaded.append(TrainedTask(net, record, checkpoint))
    return loaded


def run_checkpoints(folder: Path) -> list[Path]:
    """The checkpoints ``run.json`` lists, each a path inside the run folder (anything else is refused)."""
    summary_path = folder / RUN_FILE
    if not summary_path.is_file():
        owner = ownership(folder)
        if owner.writer == "train" and not owner.complete:
            raise CheckpointError(
                f"{folder} is an unfinished training run; finish it by repeating its `pamkit "
                "train` command with --resume"
            )
        raise CheckpointError(
            f"{folder} is not a pamkit run directory (no {RUN_FILE}); "
            "pass a directory made by `pamkit train` or the checkpoints' .json files"
        )
    summary = read_json(summary_path, "re-create the run with `pamkit train`", CheckpointError)
    tasks = summary.get("tasks") if isinstance(summary, dict) else None
    if not isinstance(tasks, dict) or not tasks or not all(isinstance(entry, dict) for entry in tasks.values()):
        raise CheckpointError(
            f"{summary_path} lists no checkpoints ('tasks' must map each task to its "
            "checkpoint); re-create the run with `pamkit train`"
        )
    return [contained(summary_path, entry.get("checkpoint"), "checkpoint", CheckpointError) for entry in tasks.values()]


_command_of_record: list[str] = []  # set by ``recorded_command`` while a job runs for another process's command


def current_command() -> str:
    """The command line that is running, for reproducibility records (inside ``recorded_command``: the one it
    names, so that a job run in a worker process records the command that planned it, not the worker's)."""
    if _command_of_record:
        return _command_of_record[-1]
    return shlex.join(["pamkit", *sys.argv[1:]]) if Path(sys.argv[0]).name == "pamkit" else shlex.join(sys.argv)


@contextmanager
def recorded_command(command: str) -> Iterator[None]:
    """Make ``current_command`` return ``command`` inside this block."""
    _command_of_record.append(command)
    try:
        yield
    finally:
        _command_of_record.pop()
