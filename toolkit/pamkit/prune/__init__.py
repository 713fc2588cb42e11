"""Prune stage: structured pruning of a multitask network under a per-task accuracy tolerance."""

from .api import (
    PruneOptions,
    PruneResult,
    expected_macs,
    prune,
    prune_each,
    prune_separately,
    reference_scores,
    round_to_round,
    save_pruned,
    target_for,
)
from .importance import CRITERIA, Criterion, get_criterion, membership_importance, register_criterion
from .recipes import RECIPES, Distill, Labels, Recipe, finetune, get_recipe, register_recipe, teacher_outputs
from .state import Checkpoint, Checkpoints, PruneState

__all__ = [
    "CRITERIA",
    "RECIPES",
    "Checkpoint",
    "Checkpoints",
    "Criterion",
    "Distill",
    "Labels",
    "PruneOptions",
    "PruneResult",
    "PruneState",
    "Recipe",
    "expected_macs",
    "finetune",
    "get_criterion",
    "get_recipe",
    "membership_importance",
    "prune",
    "prune_each",
    "prune_separately",
    "reference_scores",
    "register_criterion",
    "register_recipe",
    "round_to_round",
    "save_pruned",
    "target_for",
    "teacher_outputs",
]
