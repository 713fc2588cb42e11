"""``manifest.json``: what an app reads to pick an entry point, versioned and checked against a JSON Schema."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from ..errors import PamkitError
from ..io import contained, read_json
from ..schemas import check_schema, packaged_schema

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
        f"{c['entry']:<24}{'+'.join(c['tasks']):<20}{c['macs']:>12,}{c['params']:>10,}{c.get('fused_spaces', 0):>14}"
        for c in manifest["combinations"]
    ]
    return lines
