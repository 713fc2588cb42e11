"""Safe artifact files: tensors in safetensors, a JSON sidecar describing them; never pickle."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .errors import CheckpointError, PamkitError
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
        record = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "kind": kind,
            "weights": weights.name,
            "weights_sha256": file_sha256(tmp_weights),
            "versions": package_versions(),
            **meta,
        }
        with _temporary_beside(sidecar) as tmp_sidecar:
            Path(tmp_sidecar).write_text(json.dumps(record, indent=2) + "\n")
            os.replace(tmp_weights, weights)
            os.replace(tmp_sidecar, sidecar)
    return sidecar


def load_artifact(path: str | Path, kind: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read an artifact saved by ``save_artifact`` (given its .json, .safetensors or stem), checking it fully."""
    sidecar, record = read_sidecar(path, kind)
    weights = contained(sidecar, record.get("weights"), "weights", CheckpointError)
    if not weights.is_file():
        raise CheckpointError(f"{sidecar} names weights {weights.name!r}, which are missing beside it")
    refuse_pickle(weights)
    if file_sha256(weights) != record.get("weights_sha256"):
        raise CheckpointError(
            f"{weights} does not match the checksum in {sidecar.name}: the weights were "
            "changed or belong to another checkpoint; re-create or re-copy both files together"
        )
    try:
        tensors = load_file(weights)
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{weights} is not a readable safetensors file ({exc})") from None
    return tensors, record


def read_sidecar(path: str | Path, kind: str | tuple[str, ...]) -> tuple[Path, dict[str, Any]]:
    """The JSON sidecar of an artifact of ``kind`` (or of one of several kinds): its path and content, checked,
    without its weights."""
    path = Path(path)
    refuse_pickle(path)
    sidecar = path.with_suffix(".json")
    if not sidecar.is_file():
        raise CheckpointError(
            f"{sidecar} not found: a pamkit checkpoint is a .safetensors file with a .json "
            "sidecar of the same name; pass either one"
        )
    record = read_json(sidecar, "the sidecar is corrupt, re-create the checkpoint", CheckpointError)
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise CheckpointError(f'{sidecar} is not a pamkit sidecar (no "format": "pamkit")')
    if record.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{sidecar} has format version {record.get('format_version')!r}; this pamkit reads "
            f"version {FORMAT_VERSION}: re-create it with this version of pamkit"
        )
    kinds = (kind,) if isinstance(kind, str) else kind
    if record.get("kind") not in kinds:
        wanted = " or ".join(map(repr, kinds))
        raise CheckpointError(f"{sidecar} holds a {record.get('kind')!r}, not a {wanted}; pass the right file")
    return sidecar, record


def read_json(path: str | Path, fix: str, error: type[PamkitError] = PamkitError) -> Any:
    """Parse a JSON file strictly: NaN/Infinity (which strict parsers in apps reject) are refused too.

    ``fix`` ends the message when the file cannot be read, e.g. "re-run `pamkit export`".
    """
    path = Path(path)

    def refuse_constant(name: str) -> None:
        raise ValueError(f"non-finite number {name}")

    try:
        return json.loads(path.read_text(), parse_constant=refuse_constant)
    except IsADirectoryError:
        raise error(f"{path} is a folder, not a JSON file; {fix}") from None
    except FileNotFoundError:
        raise error(f"{path} not found; {fix}") from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise error(f"{path} is not valid JSON ({str(exc)[:120]}); {fix}") from None


def contained(owner_file: str | Path, relative: Any, what: str, error: type[PamkitError] = PamkitError) -> Path:
    """A path read from inside ``owner_file``: relative to its folder and resolving inside it, else refused.

    pamkit writes plain names (``model.safetensors``, ``coreml-ios15/a.mlpackage``); an absolute path,
    ``..`` or a symlink out of the folder means the file was edited to point elsewhere.
    """
    owner = Path(owner_file)
    folder = owner.parent.resolve()
    if not isinstance(relative, str) or not relative or Path(relative).is_absolute():
        raise error(
            f"{owner} names {what} {relative!r}, which is not a path relative to its folder; the file was "
            "edited or corrupted: re-create it with pamkit"
        )
    target = (folder / relative).resolve()
    if target != folder and folder not in target.parents:
        raise error(
            f"{owner} names {what} {relative!r}, which lies outside its folder {folder}; pamkit only reads "
            "files beside the file naming them: re-create it with pamkit"
        )
    return target


def write_json(path: str | Path, document: Any, indent: int = 1) -> Path:
    """Write strict JSON atomically: NaN or Infinity anywhere is a bug upstream and raises, never reaches a file."""
    path = Path(path)
    try:
        text = json.dumps(document, indent=indent, allow_nan=False) + "\n"
    except ValueError as exc:
        raise PamkitError(
            f"refusing to write {path.name}: it would hold a non-finite number ({exc}); an input or "
            "a measurement was NaN or infinite"
        ) from None
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def refuse_pickle(path: Path) -> None:
    """Refuse pickle-based files (torch.save, .pkl): unpickling can run arbitrary code."""
    head, size = b"", 0
    if path.is_file():
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(9)
    # safetensors: an 8-byte little-endian header length, then the JSON header; its first byte may be 0x80
    safetensors = len(head) == 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") + 8 <= size
    is_pickle = not safetensors and (
        head[:1] == b"\x80" or head[:2] == b"PK" or path.suffix.lower() in _PICKLE_SUFFIXES
    )
    if is_pickle:
        raise CheckpointError(
            f"{path} looks like a pickle/torch.save file, which pamkit refuses to load: unpickling can execute "
            "arbitrary code. If you trust its origin, convert it once: "
            "sd = torch.load(path, weights_only=True); safetensors.torch.save_file(sd, 'model.safetensors'), "
            "and save it with pamkit.train.save_single_task, or retrain with `pamkit train`."
        )


def file_sha256(path: str | Path) -> str:
    """The hex sha256 of a file's bytes, read in 1 MiB chunks."""
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


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
