"""Merge stage: combine single-task networks into one multitask network (PAM, MTZ, shared trunk, none)."""

from .api import METHODS, REGROUPING_FILE, merge, merge_modules
from .methods import MERGERS, Merger, get_merger, register_merger, shared_trunk, side_by_side
from .options import MergeOptions
from .sources import Sources, load_sources

__all__ = [
    "MERGERS",
    "METHODS",
    "REGROUPING_FILE",
    "MergeOptions",
    "Merger",
    "Sources",
    "get_merger",
    "load_sources",
    "merge",
    "merge_modules",
    "register_merger",
    "shared_trunk",
    "side_by_side",
]
