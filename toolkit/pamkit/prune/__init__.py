"""Prune stage: structured pruning of a multitask network under a per-task accuracy tolerance."""

from .api import PruneOptions, PruneResult, expected_macs, prune, prune_separately, reference_scores, save_pruned
from .importance import CRITERIA, membership_importance

__all__ = ["CRITERIA", "PruneOptions", "PruneResult", "membership_importance", "expected_macs", "prune",
           "prune_separately", "reference_scores", "save_pruned"]
