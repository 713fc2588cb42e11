"""A training run: one network per task of a suite, saved side by side with a run.json summary."""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from ..data import DatasetSplits, InputSpec, dataset_info, load_dataset
from ..errors import CheckpointError
from ..models import SingleTaskNet, get_arch
from ..tasks import TaskSuite
from ..versions import package_versions
from .checkpoint import SingleTaskRecord, load_single_task, save_single_task
from .loop import TrainConfig, evaluate, fit

RUN_FILE = "run.json"


@dataclass(frozen=True)
class TrainedTask:
    """One trained network of a run and where its checkpoint lies."""

    net: SingleTaskNet
    record: SingleTaskRecord
    path: Path


def train_suite(suite: TaskSuite, arch: str, data: DatasetSplits, out: str | Path, config: TrainConfig,
                arch_kwargs: dict[str, Any] | None = None, data_options: dict[str, Any] | None = None
                ) -> list[TrainedTask]:
    """Train one ``arch`` network per task of ``suite`` on ``data`` and save each into ``out``."""
    out = Path(out)
    arch_kwargs = dict(arch_kwargs or {})
    provenance_base = {"suite": suite.name, "dataset_source": data.source, "data_options": data_options or {},
                       "train": config.to_dict(), "command": current_command()}
    trained = []
    for index, task in enumerate(suite.tasks):
        seed = config.seed + index  # each network starts from its own initialisation, as independent training does
        record = SingleTaskRecord(arch, arch_kwargs, task, data.input_spec, provenance={**provenance_base,
                                                                                       "seed": seed})
        torch.manual_seed(seed)
        net = record.build()
        result = fit(net, task, data.train, data.val, replace(config, seed=seed), label=task.name)
        metrics = {"val": result.val_score, "test": evaluate(net, task, data.test), "best_epoch": result.best_epoch,
                   "epochs_run": result.epochs_run, "train_seconds": round(result.seconds, 2),
                   "params": sum(p.numel() for p in net.parameters())}
        record = SingleTaskRecord(arch, arch_kwargs, task, data.input_spec, metrics,
                                  {**record.provenance, "history": list(result.history)})
        path = save_single_task(out / task.name, net, record)
        trained.append(TrainedTask(net, record, path))
    write_run_summary(out, suite, trained)
    return trained


def suite_data(suite: TaskSuite, arch: str, *, size: int | None = None, **options: Any) -> DatasetSplits:
    """Load the suite's dataset at ``size``, by default the native size raised to the architecture's minimum."""
    if size is None:
        native, minimum = dataset_info(suite.dataset).native_size, get_arch(arch).min_size
        size = max(native, minimum)
        if size != native:
            print(f"note: {arch} needs inputs of at least {minimum} px; upsampling {suite.dataset} from "
                  f"{native} to {size} px (choose with --size)")
    return load_dataset(suite.dataset, size=size, **options)


def data_like(record: SingleTaskRecord, path: str | Path | None = None, limit: int | None = None) -> DatasetSplits:
    """The dataset a network was trained on, at its input size and normalisation, with the same splits."""
    spec = record.input_spec
    recorded = record.provenance.get("data_options", {})
    options = {key: recorded[key] for key in ("val_fraction", "seed", "limit") if recorded.get(key) is not None}
    if limit is not None:
        options["limit"] = limit
    return load_dataset(spec.dataset, path=path, size=spec.size, normalize=spec.mean is not None, **options)


def recorded_sources(provenance: dict[str, Any]) -> list[TrainedTask]:
    """The single-task networks a multitask model was merged from, if their checkpoints are still where they were."""
    paths = [Path(p) for p in provenance.get("sources", [])]
    if not paths or not all(p.is_file() for p in paths):
        return []
    return load_run(paths)


def model_data(spec: InputSpec, provenance: dict[str, Any], path: str | Path | None = None,
               limit: int | None = None) -> DatasetSplits:
    """The data a multitask model works on: split like its source networks' when recorded, else from its input spec."""
    sources = recorded_sources(provenance)
    if sources:
        return data_like(sources[0].record, path, limit)
    return load_dataset(spec.dataset, path=path, size=spec.size, normalize=spec.mean is not None, limit=limit)


def write_run_summary(out: Path, suite: TaskSuite, trained: list[TrainedTask]) -> Path:
    """``run.json``: the suite, each task's checkpoint and metrics, the command and versions."""
    summary = {"suite": suite.to_dict(), "command": current_command(), "versions": package_versions(),
               "tasks": {t.record.task.name: {"checkpoint": t.path.name, "metrics": t.record.metrics}
                         for t in trained}}
    path = out / RUN_FILE
    path.write_text(json.dumps(summary, indent=2) + "\n")
    return path


def load_run(paths: str | Path | list[str | Path]) -> list[TrainedTask]:
    """Single-task networks from a run directory (all its tasks, in order) or from checkpoint files."""
    items = [Path(p) for p in (paths if isinstance(paths, list) else [paths])]
    loaded = []
    for item in items:
        if item.is_dir():
            summary_path = item / RUN_FILE
            if not summary_path.is_file():
                raise CheckpointError(f"{item} is not a pamkit run directory (no {RUN_FILE}); "
                                      "pass a directory made by `pamkit train` or the checkpoints' .json files")
            summary = json.loads(summary_path.read_text())
            checkpoints = [item / entry["checkpoint"] for entry in summary["tasks"].values()]
        else:
            checkpoints = [item]
        for checkpoint in checkpoints:
            net, record = load_single_task(checkpoint)
            loaded.append(TrainedTask(net, record, checkpoint))
    return loaded


def current_command() -> str:
    """The command line that is running, for reproducibility records."""
    return shlex.join(["pamkit", *sys.argv[1:]]) if Path(sys.argv[0]).name == "pamkit" else shlex.join(sys.argv)
