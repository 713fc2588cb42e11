"""``manifest.json``: what an app reads to pick an entry point, versioned and checked against a JSON Schema."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..data import DatasetInfo, InputSpec
from ..errors import PamkitError
from ..io import contained, read_json
from ..schemas import check_schema, packaged_schema
from ..tasks import Task, combination_label, output_name
from .entries import INPUT_NAME

MANIFEST = "manifest.json"
SCHEMA_FILE = "manifest.schema.json"


def schema() -> dict[str, Any]:
    """The manifest's JSON Schema (shipped with the package)."""
    return packaged_schema(__package__, SCHEMA_FILE)


def validate_manifest(manifest: dict[str, Any]) -> None:
    """Raise PamkitError naming the first place where ``manifest`` breaks the schema."""
    check_schema(manifest, schema(), "manifest")


def load_manifest(directory: str | Path, verify_files: bool = True) -> dict[str, Any]:
    """Read and validate ``DIR/manifest.json``; with ``verify_files`` also check every file's size and sha256.

    Strict JSON (NaN/Infinity refused, as apps' parsers do), and every file it names must lie inside ``DIR``.
    """
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise PamkitError(f"{path} not found: pass a directory written by `pamkit export`")
    manifest = read_json(path, "re-run `pamkit export`")
    validate_manifest(manifest)
    for item in manifest["files"]:
        file = artifact_path(directory, item)
        if verify_files and (not file.exists() or checksum(file) != item["sha256"]):
            raise PamkitError(
                f"{file} is missing or differs from its checksum in {path}: the export directory "
                "was changed; re-run `pamkit export`"
            )
    return manifest


def artifact_path(directory: str | Path, item: dict[str, Any]) -> Path:
    """Where a ``files`` item of the manifest in ``directory`` lies; refused unless inside that directory."""
    return contained(Path(directory) / MANIFEST, item["path"], "the file")


def checksum(path: Path) -> str:
    """sha256 of a file, or of a directory (``.mlpackage``): its files' relative paths and bytes, sorted."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(f"{file.relative_to(path).as_posix()}\0{file.stat().st_size}\0".encode())
        with open(file, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def size_of(path: Path) -> int:
    """Bytes of a file, or of every file under a directory."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def summary(manifest: dict[str, Any]) -> list[str]:
    """Human-readable lines: files, then one line per combination."""
    lines = [
        f"{item['format']:<16}{item['path']:<24}{item['size']:>12,} bytes  {len(item['entries'])} entry points, "
        f"exported in {item['export_seconds']:.1f} s, validation: "
        f"{manifest['validation']['results'][item['format']]['status']}"
        for item in manifest["files"]
    ]
    lines.append(f"{'entry point':<24}{'tasks':<20}{'MACs':>12}{'params':>10}{'fused layers':>14}")
    lines += [
        f"{c['entry']:<24}{combination_label(c['tasks']):<20}{c['macs']:>12,}{c['params']:>10,}"
        f"{c.get('fused_spaces', 0):>14}"
        for c in manifest["combinations"]
    ]
    return lines


def task_section(task: Task, info: DatasetInfo, accuracy: dict[str, Any] | None) -> dict[str, Any]:
    """A manifest ``tasks`` item: the task's output, labels, what turns each on, and how to decide."""
    return {
        "name": task.name,
        "output": output_name(task.name),
        "kind": task.kind,
        "encoding": task.encoding,
        "labels": list(task.output_names),
        "covers": [[info.class_names[c] for c in classes] for _, classes in task.outputs],
        "output_kind": "logits",
        "decision": decision_rule(task),
        "accuracy": accuracy,
    }


def decision_rule(task: Task) -> dict[str, Any]:
    """How an app turns a task's raw outputs (logits) into answers, as ``Task.predict`` does."""
    if task.kind == "multiclass":
        return {"rule": "argmax", "description": "the answer is the label of the largest output"}
    meaning = "sigmoid(output) > 0.5" if task.encoding == "01" else "tanh(output) > 0"
    return {
        "rule": "threshold",
        "threshold": 0.0,
        "description": f"each output > 0 (that is, {meaning}) means its label is present",
    }


def input_section(spec: InputSpec, info: DatasetInfo) -> dict[str, Any]:
    """The manifest's ``input``: the tensor an entry point takes, and how to make it from a source image."""
    top = f"{info.max_value:g}"
    normalization = (
        None
        if spec.mean is None
        else {
            "mean": spec.mean,
            "std": spec.std,
            "formula": f"x = (pixel / {top} - mean) / std, pixel in 0..{top}, after any resize",
        }
    )
    return {
        "name": INPUT_NAME,
        "shape": [1, *spec.shape],
        "dtype": "float32",
        "layout": "NCHW",
        "dataset": spec.dataset,
        "normalization": normalization,
        "preprocessing": preprocessing(spec, info),
    }


def preprocessing(spec: InputSpec, info: DatasetInfo) -> dict[str, Any]:
    """From a source image's pixels to the input tensor, step by step, as ``pamkit.data`` prepares images."""
    steps: list[dict[str, Any]] = [{"op": "scale", "divide_by": info.max_value, "to_range": [0.0, 1.0]}]
    if spec.size != info.native_size:
        steps.append(
            {
                "op": "resize",
                "size": [spec.size, spec.size],
                "method": "bilinear",
                "align_corners": False,
                "antialias": spec.size < info.native_size,  # only when shrinking, as torch's interpolate does
            }
        )
    if spec.mean is not None:
        steps.append({"op": "normalize", "mean": spec.mean, "std": spec.std})
    return {
        "source": {
            "size": [info.native_size, info.native_size],
            "channels": info.channels,
            "channel_order": "gray" if info.channels == 1 else "RGB",
            "pixel_range": [0, info.max_value],
        },
        "steps": steps,
    }


def select_entry(manifest: dict[str, Any], tasks: Iterable[str]) -> dict[str, Any]:
    """The combination (entry point) to run for ``tasks``: the exact one, else the cheapest that covers them.

    The rule every app side follows (Android, iOS, and ``tests/selection_cases.json`` pins it): an
    entry point whose tasks are exactly the requested ones; otherwise the one with the fewest MACs
    among those running all of them (ties: fewer tasks, then the entry name). Unknown or no tasks,
    or tasks no entry point covers, are errors.
    """
    wanted = list(tasks)
    known = [task["name"] for task in manifest["tasks"]]
    unknown = [name for name in wanted if name not in known]
    if not wanted or unknown:
        problem = f"unknown task(s) {', '.join(map(repr, unknown))}" if unknown else "no tasks requested"
        raise PamkitError(f"{problem}; the model's tasks are: {', '.join(known)}")
    exact = [c for c in manifest["combinations"] if set(c["tasks"]) == set(wanted)]
    covering = [c for c in manifest["combinations"] if set(wanted) <= set(c["tasks"])]
    if not exact and not covering:
        raise PamkitError(f"no entry point runs all of {', '.join(wanted)}; export that combination (--combinations)")
    return exact[0] if exact else min(covering, key=lambda c: (c["macs"], len(c["tasks"]), c["entry"]))
