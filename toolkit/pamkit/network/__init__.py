"""The one multitask network representation every stage after training works on."""

from .architecture import INPUT_SPACE, Architecture, Op, task_head, trace_architecture
from .multitask import MultitaskNet, reindex_dense
from .stack import stack
from .storage import MODEL_STEM, load_multitask, model_file, save_multitask
from .structure import Group, Structure

__all__ = [
    "INPUT_SPACE",
    "MODEL_STEM",
    "Architecture",
    "Group",
    "MultitaskNet",
    "Op",
    "Structure",
    "load_multitask",
    "model_file",
    "reindex_dense",
    "save_multitask",
    "stack",
    "task_head",
    "trace_architecture",
]
