"""Tasks and task suites: what each network predicts, derived from a dataset's class labels."""

from .suite import TaskSuite, builtin_suite_names, builtin_suite_text, get_suite, load_suite_file, suite_from_spec
from .task import KINDS, Task

__all__ = [
    "KINDS",
    "Task",
    "TaskSuite",
    "builtin_suite_names",
    "builtin_suite_text",
    "get_suite",
    "load_suite_file",
    "suite_from_spec",
]
