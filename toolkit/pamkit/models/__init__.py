"""Backbone architectures and single-task networks (same architecture per task) for the merger to trace."""

from pamkit.models.registry import (
    ARCHITECTURES,
    ArchSpec,
    arch_names,
    build_backbone,
    get_arch,
    min_input_size,
    parse_arch_args,
)
from pamkit.models.single_task import SingleTaskNet, build_single_task
from pamkit.models.user import is_import_path

__all__ = [
    "ARCHITECTURES",
    "ArchSpec",
    "SingleTaskNet",
    "arch_names",
    "build_backbone",
    "build_single_task",
    "get_arch",
    "is_import_path",
    "min_input_size",
    "parse_arch_args",
]
