"""Bad input through the real CLI: exit 2, one line naming the problem and the fix, no traceback, and
nothing new or changed on disk (the case's own folder and the shared workspace are both snapshotted)."""

from __future__ import annotations

import importlib
import os
import pkgutil
import string
from pathlib import Path

import pytest

import bad_inputs
from bad_inputs.case import Case
from bad_inputs.workspace import Workspace
from pamkit.cli import main

CASES: list[Case] = [case for info in sorted(pkgutil.iter_modules(bad_inputs.__path__), key=lambda i: i.name)
                     if info.name.startswith("cases_")
                     for case in importlib.import_module(f"bad_inputs.{info.name}").CASES]


def test_the_table_is_large_and_ids_are_unique():
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    assert len(CASES) >= 100


@pytest.fixture(scope="session")
def workspace(tmp_path_factory) -> Workspace:
    return Workspace(tmp_path_factory.mktemp("workspace"))


def snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every path under ``root`` (hidden ones included) with its size, mtime and mode."""
    state = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder, name)
            info = path.lstat()
            state[str(path.relative_to(root))] = (info.st_size, info.st_mtime_ns, info.st_mode)
    return state


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, workspace: Workspace, tmp_path: Path, capsys, monkeypatch):
    names = {field for item in case.argv for _, field, _, _ in string.Formatter().parse(item) if field}
    values = workspace.placeholders(names - {"case"})
    case_dir = tmp_path / "case"
    case_dir.mkdir()
    if case.setup:
        case.setup(case_dir, workspace)
    argv = [item.format(case=case_dir, **values) for item in case.argv]
    monkeypatch.chdir(case_dir)
    before = snapshot(workspace.root), snapshot(case_dir)
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse
        code = exc.code
    out, err = capsys.readouterr()
    assert code == case.exit_code, f"exit {code}; stderr: {err!r}"
    assert "Traceback" not in out + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("pamkit: error: "), err
    assert case.expect.lower() in lines[0].lower(), lines[0]
    assert len(lines[0]) <= 420
    assert (snapshot(workspace.root), snapshot(case_dir)) == before, "the command changed files on disk"
