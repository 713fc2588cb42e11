"""Tasks and task suites: what each network predicts, derived from a dataset's class labels."""

from .combination import Combination, combination_label, output_name
from .suite import TaskSuite, builtin_suite_names, builtin_suite_text, get_suite, load_suite_file, suite_from_spec
from .task import KINDS, Task

__all__ = [
    "KINDS",
    "Combination",
    "Task",
    "TaskSuite",
    "builtin_suite_names",
    "builtin_suite_text",
    "combination_label",
    "get_suite",
    "load_suite_file",
    "output_name",
    "suite_from_spec",
]
