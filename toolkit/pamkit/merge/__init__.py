"""Merge stage: combine single-task networks into one multitask network (PAM, MTZ, shared trunk, none)."""

from .api import METHODS, REGROUPING_FILE, MergeOptions, merge, merge_modules, shared_trunk, side_by_side
from .sources import Sources, load_sources

__all__ = [
    "METHODS",
    "REGROUPING_FILE",
    "MergeOptions",
    "Sources",
    "load_sources",
    "merge",
    "merge_modules",
    "shared_trunk",
    "side_by_side",
]
