"""Output folders: every verb that writes a directory owns it, and never deletes what it did not write.

A folder pamkit writes carries a marker file (``.pamkit-output.json``) naming the verb that wrote it
and whether that verb finished. Rules, the same for every verb:

- ``--out`` may be new or an empty directory. A non-empty one is replaced only with ``overwrite`` and
  only when the same verb wrote it (an export is also recognised by its manifest); a folder holding
  anything else, the input's own folder or an ancestor of an input is refused.
- The path is checked, and made, before long work starts: a file in the way, a parent that is a
  file or an unwritable place fail at once, with nothing written.
- ``staged_output``: the result is built in a hidden sibling folder and moved into place only when
  complete; a failure or an interrupt (SIGINT, SIGTERM) removes it. The final move refuses a
  destination that appeared meanwhile (two runs into one new ``--out``) unless ``overwrite``.
- ``resumable_output``: long verbs (train) write in place, each file atomically, and mark the folder
  finished at the end; an unfinished folder of theirs is continued with ``resume`` or replaced with
  ``overwrite``, and refused otherwise.

A symlinked ``--out`` is followed: the link keeps pointing at the (new) folder.
"""

from __future__ import annotations

import argparse
import ctypes
import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import PamkitError
from .io import current_umask, write_json

MARKER = ".pamkit-output.json"
_LEGACY_SIGNS = {"export": ("manifest.json", "pamkit-export-manifest")}  # folders from before the marker existed


class OutputError(PamkitError):
    """An output path that cannot or must not be written."""


@dataclass(frozen=True)
class Ownership:
    """What the marker of an existing folder says (``writer`` None: not pamkit's)."""

    writer: str | None
    complete: bool


def ownership(folder: Path) -> Ownership:
    """Who wrote ``folder``, read from its marker (or, for exports from before markers, its manifest)."""
    marker = folder / MARKER
    try:
        record = json.loads(marker.read_text())
        if isinstance(record, dict) and isinstance(record.get("writer"), str):
            return Ownership(record["writer"], bool(record.get("complete")))
    except (OSError, ValueError):
        pass
    for writer, (name, schema) in _LEGACY_SIGNS.items():
        try:
            if json.loads((folder / name).read_text()).get("schema") == schema:
                return Ownership(writer, True)
        except (OSError, ValueError, AttributeError):
            continue
    return Ownership(None, False)


def add_resumable_output_arguments(
    parser: argparse.ArgumentParser, out_help: str, resume_help: str, overwrite_help: str, **out_options: Any
) -> None:
    """``--out`` with the ``--resume`` / ``--overwrite`` pair every in-place writer offers (``resumable_output``)."""
    parser.add_argument("--out", help=out_help, **out_options)
    again = parser.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help=resume_help)
    again.add_argument("--overwrite", action="store_true", help=overwrite_help)


def check_output_dir(
    out: str | Path,
    writer: str,
    *,
    inputs: Iterable[str | Path] = (),
    overwrite: bool = False,
    resume: bool = False,
    resumable: bool = False,
    extendable: bool = False,
    flag: str = "--out",
    meta: dict[str, Any] | None = None,
) -> Path:
    """Check that ``writer`` may write the folder ``out``; returns its resolved path. Writes nothing.

    ``resumable``: the writer can continue its own unfinished folder (``resume``), and only with the
    ``meta`` (settings) it was started with, so that old and new results never mix. ``extendable``:
    ``resume`` also reopens a finished folder (a comparison given more methods or seeds).
    """
    target = _resolved(out, flag)
    _refuse_input_folders(target, inputs, flag)
    if target.exists() and not target.is_dir():
        raise OutputError(f"{flag} {out} is a file, not a folder; choose a folder path")
    if target.is_dir() and any(target.iterdir()):
        owner = ownership(target)
        if owner.writer != writer:
            what = f"`pamkit {owner.writer}` output" if owner.writer else "files pamkit did not write"
            raise OutputError(
                f"{flag} {out} already holds {what}; pamkit never replaces it: choose a new or empty folder"
            )
        if not (overwrite or (resume and (extendable or not owner.complete))):
            if resumable and not owner.complete:
                hint = "pass --resume to continue it or --overwrite to start again"
            elif extendable:
                hint = "pass --resume to extend it (its finished stages are reused) or --overwrite to replace it"
            else:
                hint = "pass --overwrite to replace it"
            state = "an unfinished" if not owner.complete else "a finished"
            raise OutputError(
                f"{flag} {out} already holds {state} `pamkit {writer}` output; {hint}, or choose another folder"
            )
        if resume and not overwrite and meta is not None:
            _check_same_settings(target, meta, out, flag)
    _check_writable_parent(target, out, flag)
    return target


def check_output_file(
    out: str | Path, *, inputs: Iterable[str | Path] = (), replaceable: Any = None, flag: str = "--out"
) -> Path:
    """Check that a single output file may be written at ``out``; returns its resolved path. Writes nothing.

    An existing file is replaced only when ``replaceable(path)`` says pamkit wrote it.
    """
    target = _resolved(out, flag)
    if any(target == _resolved(p, flag) for p in inputs):
        raise OutputError(f"{flag} {out} is also an input; write the output elsewhere")
    if target.is_dir():
        raise OutputError(f"{flag} {out} is a folder; give a file path, e.g. {Path(out) / 'results.json'}")
    if target.exists() and not (replaceable and replaceable(target)):
        raise OutputError(
            f"{flag} {out} exists and was not written by pamkit; pamkit never replaces it: choose another file name"
        )
    _check_writable_parent(target, out, flag)
    return target


@contextmanager
def staged_output(
    out: str | Path,
    writer: str,
    *,
    inputs: Iterable[str | Path] = (),
    overwrite: bool = False,
    flag: str = "--out",
    meta: dict[str, Any] | None = None,
) -> Iterator[Path]:
    """Yield a hidden temporary folder to write into; on success it becomes ``out``, on any failure it is removed."""
    target = check_output_dir(out, writer, inputs=inputs, overwrite=overwrite, flag=flag)
    with _made_parents(target.parent):
        try:
            tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
        except OSError as exc:  # the parent refuses new entries (e.g. /proc, a read-only mount)
            raise OutputError(
                f"{flag} {out} cannot be written ({exc.strerror}); choose a folder you can write to"
            ) from None
        try:
            yield tmp
            write_marker(tmp, writer, complete=True, meta=meta)
            _publish(tmp, target, writer, overwrite, out, flag)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


@contextmanager
def resumable_output(
    out: str | Path,
    writer: str,
    *,
    inputs: Iterable[str | Path] = (),
    overwrite: bool = False,
    resume: bool = False,
    extendable: bool = False,
    flag: str = "--out",
    meta: dict[str, Any] | None = None,
) -> Iterator[tuple[Path, bool]]:
    """Yield (folder, resuming) to write into in place; the folder is marked finished when the block completes.

    With ``overwrite`` a finished or unfinished folder of this writer is emptied first (its own files only);
    ``extendable``: ``resume`` reopens a finished one too.
    """
    target = check_output_dir(
        out,
        writer,
        inputs=inputs,
        overwrite=overwrite,
        resume=resume,
        resumable=True,
        extendable=extendable,
        flag=flag,
        meta=meta,
    )
    owner = ownership(target) if target.is_dir() else Ownership(None, False)
    resuming = resume and owner.writer == writer and (extendable or not owner.complete) and not overwrite
    if owner.writer == writer and not resuming and target.is_dir() and any(target.iterdir()):
        _empty_own_folder(target)
    created = not target.exists()
    with _made_parents(target.parent):
        target.mkdir(exist_ok=True)
        try:
            write_marker(target, writer, complete=False, meta=meta)
            yield target, resuming
        except BaseException:
            if created and _only_marker(target):
                shutil.rmtree(target, ignore_errors=True)
            raise
    write_marker(target, writer, complete=True, meta=meta)


def write_marker(folder: Path, writer: str, complete: bool, meta: dict[str, Any] | None = None) -> None:
    """Record (atomically) that ``writer`` wrote ``folder`` and whether it finished."""
    from .versions import pamkit_version

    record = {"writer": writer, "complete": complete, "pamkit": pamkit_version(), **(meta or {})}
    write_json(folder / MARKER, record)


def _check_same_settings(folder: Path, meta: dict[str, Any], out: str | Path, flag: str) -> None:
    """The settings recorded in an unfinished folder's marker must be those of the run continuing it."""
    try:
        recorded = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        recorded = {}
    wanted = json.loads(json.dumps(meta))  # tuples become lists, as in the marker
    differ = [name for key in wanted for name in _differences(recorded.get(key), wanted[key], key)]
    if differ:
        shown = ", ".join(differ[:3]) + (f" and {len(differ) - 3} more" if len(differ) > 3 else "")
        raise OutputError(
            f"{flag} {out} holds an unfinished run started with other settings ({shown}); "
            "--resume continues it only with the same options: repeat them, or pass --overwrite to "
            "start again"
        )


def _differences(old: Any, new: Any, name: str) -> list[str]:
    """Dotted names of the settings that differ between two JSON values."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [
            d for key in sorted(set(old) | set(new)) for d in _differences(old.get(key), new.get(key), f"{name}.{key}")
        ]
    return [] if old == new else [name]


def _resolved(out: str | Path, flag: str) -> Path:
    text = str(out)
    if not text.strip() or "\0" in text:
        raise OutputError(f"{flag} {text!r} is not a usable path; give a folder or file name")
    try:
        return Path(os.path.abspath(Path(out).expanduser())).resolve()
    except (OSError, RuntimeError) as exc:  # symlink loops
        raise OutputError(f"{flag} {out} cannot be resolved ({exc}); give a plain path") from None


def _refuse_input_folders(target: Path, inputs: Iterable[str | Path], flag: str) -> None:
    for item in inputs:
        source = _resolved(item, flag)
        folder = source if source.is_dir() else source.parent
        if target in (source, folder) or target in folder.parents:
            raise OutputError(
                f"{flag} {target} would replace the folder of the input {item}; write the output to a "
                "new folder elsewhere"
            )


def _check_writable_parent(target: Path, out: str | Path, flag: str) -> None:
    """The nearest existing ancestor must be a folder we can create entries in."""
    ancestor = target.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputError(f"{flag} {out} lies under {ancestor}, which is a file; choose a path under a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK) or not _can_create_in(ancestor):
        raise OutputError(
            f"{flag} {out} cannot be written: {ancestor} is not writable; choose a folder you can write to"
        )


def _can_create_in(folder: Path) -> bool:
    """Whether a file can really be made in ``folder``: ``os.access`` says yes to root even on /proc.

    Tried with an unnamed file (O_TMPFILE, which leaves no trace); where the file system lacks it, with
    a named temporary file, removed at once.
    """
    try:
        os.close(os.open(folder, getattr(os, "O_TMPFILE", 0) | os.O_WRONLY, 0o600))
        return True
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
            return False
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".pamkit-probe-"):
            return True
    except OSError:
        return False


@contextmanager
def _made_parents(parent: Path) -> Iterator[None]:
    """Create missing parent folders; remove the ones made here (if still empty) when the block fails."""
    missing = [p for p in (parent, *parent.parents) if not p.exists()]
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {parent} ({exc.strerror}); choose a folder you can write to") from None
    try:
        yield
    except BaseException:
        for folder in missing:  # deepest first
            try:
                folder.rmdir()
            except OSError:
                break
        raise


def _publish(tmp: Path, target: Path, writer: str, overwrite: bool, out: str | Path, flag: str) -> None:
    """Move the finished folder into place; an owned old one is removed only after the new one is there."""
    tmp.chmod(0o777 & ~current_umask())  # mkdtemp made it private
    if target.is_dir() and not any(target.iterdir()):
        target.rmdir()
    elif target.exists():
        if not overwrite or ownership(target).writer != writer:
            raise OutputError(
                f"{flag} {out} appeared while this run was writing (another run?); nothing was "
                "written: choose another folder or pass --overwrite"
            )
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.replace(target, old / "dir")
        os.replace(tmp, target)
        shutil.rmtree(old)
        return
    try:
        _rename_noreplace(tmp, target)
    except FileExistsError:
        raise OutputError(
            f"{flag} {out} appeared while this run was writing (another run?); nothing was "
            "written: choose another folder"
        ) from None


def _rename_noreplace(source: Path, target: Path) -> None:
    """rename(2) that fails if ``target`` exists, even as an empty folder (Linux renameat2 RENAME_NOREPLACE)."""
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:  # not Linux/glibc: a check, then a rename that cannot replace a non-empty folder
        if target.exists():
            raise FileExistsError(target)
        os.rename(source, target)
        return
    at_fdcwd, rename_noreplace = -100, 1
    if renameat2(at_fdcwd, os.fsencode(source), at_fdcwd, os.fsencode(target), rename_noreplace) != 0:
        code = ctypes.get_errno()
        if code == errno.EEXIST:
            raise FileExistsError(target)
        if code in (errno.ENOSYS, errno.EINVAL):  # filesystem without the flag
            if target.exists():
                raise FileExistsError(target)
            os.rename(source, target)
            return
        raise OSError(code, os.strerror(code), str(target))


def _empty_own_folder(folder: Path) -> None:
    """Remove a folder's contents; only called on folders whose marker says pamkit's writer made them."""
    for item in folder.iterdir():
        shutil.rmtree(item) if item.is_dir() and not item.is_symlink() else item.unlink()


def _only_marker(folder: Path) -> bool:
    return all(item.name == MARKER for item in folder.iterdir())
