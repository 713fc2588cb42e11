"""Bad input to `pamkit app-assets`: a folder that is no export, or one changed since, an export without the app's
formats, out-of-range options, and output folders it must never replace."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from .case import Case
from .workspace import Workspace


def assets(*options: str, export: str = "{export}", out: str = "{case}/assets") -> tuple[str, ...]:
    return ("app-assets", export, "--out", out, "--samples", "2", *options)


def changed_export(case_dir: Path, ws: Workspace) -> None:
    """A copy of the export whose .tflite was replaced after export."""
    shutil.copytree(ws.export, case_dir / "export")
    (case_dir / "export" / "model.tflite").write_bytes(b"not the exported model")


def export_without_app_formats(case_dir: Path, ws: Workspace) -> None:
    """A copy of the export whose manifest lists no .pte or .tflite (as a Core ML-only export would)."""
    shutil.copytree(ws.export, case_dir / "export")
    manifest = json.loads((case_dir / "export" / "manifest.json").read_text())
    manifest["files"] = []
    (case_dir / "export" / "manifest.json").write_text(json.dumps(manifest))


CASES = [
    Case("app-assets-export-missing", assets(export="{case}/absent"), "manifest.json not found"),
    Case("app-assets-export-is-a-model", assets(export="{none_model}"), "not found"),
    Case("app-assets-export-changed", assets(export="{case}/export"), "differs from its checksum", setup=changed_export),
    Case("app-assets-no-app-format", assets(export="{case}/export"), "has no artifact an android app runs",
         setup=export_without_app_formats),
    Case("app-assets-samples-too-many", assets("--samples", "101"), "--samples must be 0 to 100"),
    Case("app-assets-samples-negative", assets("--samples", "-1"), "--samples: -1 is out of range"),
    Case("app-assets-unknown-app", assets("--app", "symbian"), "invalid choice: 'symbian'"),
    Case("app-assets-out-is-a-file", assets(out="{user_file}"), "is a file, not a folder"),
    Case("app-assets-out-is-the-export", assets("--overwrite", out="{export}"), "would replace the folder of the input"),
    Case("app-assets-out-a-users-folder", assets("--overwrite", out="{user_dir}"), "files pamkit did not write"),
    Case("app-assets-out-another-verbs", assets("--overwrite", out="{pam_model}/.."), "already holds `pamkit merge` output"),
]
