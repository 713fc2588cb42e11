"""Training stage: one network per task, seeded, early-stopped, saved as safe checkpoints."""

from .checkpoint import SingleTaskRecord, load_single_task, read_single_task_record, save_single_task
from .importing import import_network, read_state_dict
from .loop import FitResult, TrainConfig, evaluate, evaluate_all, fit
from .run import TrainedTask, data_like, load_run, model_data, recorded_sources, suite_data, train_suite, train_task

__all__ = [
    "FitResult",
    "SingleTaskRecord",
    "TrainConfig",
    "TrainedTask",
    "data_like",
    "evaluate",
    "evaluate_all",
    "fit",
    "import_network",
    "load_run",
    "load_single_task",
    "model_data",
    "read_single_task_record",
    "read_state_dict",
    "recorded_sources",
    "save_single_task",
    "suite_data",
    "train_suite",
    "train_task",
]
