"""Prune stage: structured pruning of a multitask network under a per-task accuracy tolerance."""

from .api import PruneOptions, PruneResult, expected_macs, prune, prune_separately, reference_scores, save_pruned
from .importance import CRITERIA, membership_importance
from .state import Checkpoint, Checkpoints, PruneState

__all__ = [
    "CRITERIA",
    "Checkpoint",
    "Checkpoints",
    "PruneOptions",
    "PruneResult",
    "PruneState",
    "expected_macs",
    "membership_importance",
    "prune",
    "prune_separately",
    "reference_scores",
    "save_pruned",
]
