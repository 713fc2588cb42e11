"""Safe artifact files: tensors in safetensors, a JSON sidecar describing them; never pickle."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .errors import CheckpointError
from .versions import package_versions

FORMAT = "pamkit"
FORMAT_VERSION = 1
_PICKLE_SUFFIXES = {".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin", ".tar"}


def save_artifact(stem: str | Path, tensors: dict[str, torch.Tensor], kind: str, meta: dict[str, Any]) -> Path:
    """Write ``stem.safetensors`` and ``stem.json`` (kind, checksum, versions, meta); returns the JSON path.

    Both files are written under temporary names and renamed into place, so an interrupted save
    never leaves a half-written artifact that later loads.
    """
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    weights, sidecar = stem.with_suffix(".safetensors"), stem.with_suffix(".json")
    contiguous = {name: t.detach().contiguous().cpu() for name, t in tensors.items()}
    with _temporary_beside(weights) as tmp_weights:
        save_file(contiguous, tmp_weights)
        record = {"format": FORMAT, "format_version": FORMAT_VERSION, "kind": kind, "weights": weights.name,
                  "weights_sha256": _sha256(tmp_weights), "versions": package_versions(), **meta}
        with _temporary_beside(sidecar) as tmp_sidecar:
            Path(tmp_sidecar).write_text(json.dumps(record, indent=2) + "\n")
            os.replace(tmp_weights, weights)
            os.replace(tmp_sidecar, sidecar)
    return sidecar


def load_artifact(path: str | Path, kind: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read an artifact saved by ``save_artifact`` (given its .json, .safetensors or stem), checking it fully."""
    path = Path(path)
    refuse_pickle(path)
    sidecar = path.with_suffix(".json")
    if not sidecar.is_file():
        raise CheckpointError(f"{sidecar} not found: a pamkit checkpoint is a .safetensors file with a .json "
                              "sidecar of the same name; pass either one")
    try:
        record = json.loads(sidecar.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{sidecar} is not valid JSON ({exc}); the sidecar is corrupt, re-create the "
                              "checkpoint") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise CheckpointError(f"{sidecar} is not a pamkit sidecar (no \"format\": \"pamkit\")")
    if record.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{sidecar} has format version {record.get('format_version')!r}; this pamkit reads "
                              f"version {FORMAT_VERSION}: re-create it with this version of pamkit")
    if record.get("kind") != kind:
        raise CheckpointError(f"{sidecar} holds a {record.get('kind')!r}, not a {kind!r}; pass the right file")
    weights = sidecar.parent / str(record.get("weights", ""))
    if not weights.is_file():
        raise CheckpointError(f"{sidecar} names weights {weights.name!r}, which are missing beside it")
    refuse_pickle(weights)
    if _sha256(weights) != record.get("weights_sha256"):
        raise CheckpointError(f"{weights} does not match the checksum in {sidecar.name}: the weights were "
                              "changed or belong to another checkpoint; re-create or re-copy both files together")
    try:
        tensors = load_file(weights)
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{weights} is not a readable safetensors file ({exc})") from None
    return tensors, record


def refuse_pickle(path: Path) -> None:
    """Refuse pickle-based files (torch.save, .pkl): unpickling can run arbitrary code."""
    head, size = b"", 0
    if path.is_file():
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(9)
    # safetensors: an 8-byte little-endian header length, then the JSON header; its first byte may be 0x80
    safetensors = len(head) == 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") + 8 <= size
    is_pickle = not safetensors and (head[:1] == b"\x80" or head[:2] == b"PK" or
                                     path.suffix.lower() in _PICKLE_SUFFIXES)
    if is_pickle:
        raise CheckpointError(
            f"{path} looks like a pickle/torch.save file, which pamkit refuses to load: unpickling can execute "
            "arbitrary code. If you trust its origin, convert it once: "
            "sd = torch.load(path, weights_only=True); safetensors.torch.save_file(sd, 'model.safetensors'), "
            "and save it with pamkit.train.save_single_task, or retrain with `pamkit train`.")


def _sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def _temporary_beside(target: Path) -> Iterator[str]:
    """A temporary file name next to ``target`` (same filesystem, so the final rename is atomic)."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    try:
        yield name
    finally:
        if os.path.exists(name):
            os.remove(name)
