"""The one multitask network representation every stage after training works on."""

from .architecture import INPUT_SPACE, Architecture, Op, task_head, trace_architecture
from .card import ModelCard, check_reusable, read_card
from .multitask import MultitaskNet, reindex_dense
from .stack import stack
from .storage import MODEL_STEM, load_multitask, model_file, save_multitask
from .structure import Group, Structure

__all__ = [
    "INPUT_SPACE",
    "MODEL_STEM",
    "Architecture",
    "Group",
    "ModelCard",
    "MultitaskNet",
    "Op",
    "Structure",
    "check_reusable",
    "load_multitask",
    "model_file",
    "read_card",
    "reindex_dense",
    "save_multitask",
    "stack",
    "task_head",
    "trace_architecture",
]
