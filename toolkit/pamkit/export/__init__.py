"""Export stage: task-selectable artifacts (ExecuTorch, Core ML, TFLite) with one entry point per combination."""

from .api import ExportOptions, Int8Refused, export
from .entries import INPUT_NAME, EntryPoint, entry_points, parse_combinations
from .formats import DEFAULT_FORMATS, FORMATS
from .manifest import (
    MANIFEST,
    artifact_path,
    checksum,
    input_section,
    load_manifest,
    schema,
    select_entry,
    summary,
    task_section,
    validate_manifest,
)

__all__ = [
    "DEFAULT_FORMATS",
    "FORMATS",
    "INPUT_NAME",
    "MANIFEST",
    "EntryPoint",
    "ExportOptions",
    "Int8Refused",
    "artifact_path",
    "checksum",
    "entry_points",
    "export",
    "input_section",
    "load_manifest",
    "parse_combinations",
    "schema",
    "select_entry",
    "summary",
    "task_section",
    "validate_manifest",
]
