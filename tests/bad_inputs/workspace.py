"""The artifacts bad inputs are aimed at, each built once per session on first use, through the real CLI."""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path

from pamkit.cli import main


class Workspace:
    """A folder of real pamkit outputs: a digits run, merges, a pruned model, an export, bench results."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _run(self, *argv: str) -> None:
        code = main(list(argv))
        assert code == 0, f"workspace step failed: pamkit {' '.join(argv)}"

    @cached_property
    def run(self) -> Path:
        """Two LeNet-5 digits networks (odd, high), six epochs on 400 samples (fewer leave PAM a task without
        relevant neurons)."""
        out = self.root / "run"
        self._run("train", "--suite", "digits", "--arch", "lenet5", "--tasks", "odd,high", "--epochs", "6",
                  "--limit", "400", "--size", "16", "--out", str(out))
        return out

    @cached_property
    def none_model(self) -> Path:
        out = self.root / "none"
        self._run("merge", str(self.run), "--method", "none", "--out", str(out))
        return out / "model.json"

    @cached_property
    def pam_model(self) -> Path:
        out = self.root / "pam"
        self._run("merge", str(self.run), "--method", "pam", "--samples", "64", "--limit", "400", "--out", str(out))
        return out / "model.json"

    @cached_property
    def mtz_model(self) -> Path:
        out = self.root / "mtz"
        self._run("merge", str(self.run), "--method", "mtz", "--samples", "64", "--limit", "400",
                  "--finetune-epochs", "0", "--out", str(out))
        return out / "model.json"

    @cached_property
    def export(self) -> Path:
        """The none model exported to ExecuTorch and TFLite, all three combinations."""
        out = self.root / "export"
        self._run("export", str(self.none_model), "--formats", "executorch,tflite", "--parity-samples", "2",
                  "--out", str(out))
        return out

    @cached_property
    def results(self) -> Path:
        out = self.root / "results.json"
        self._run("bench", str(self.export), "--runs", "2", "--warmup", "0", "--no-energy", "--out", str(out))
        return out

    @cached_property
    def user_file(self) -> Path:
        """A file pamkit did not write (it must never be deleted or changed)."""
        path = self.root / "notes.txt"
        path.write_text("the user's own notes\n")
        return path

    @cached_property
    def user_dir(self) -> Path:
        """A folder pamkit did not write, holding a user's file."""
        path = self.root / "mine"
        path.mkdir()
        (path / "keep.txt").write_text("keep me\n")
        return path

    @cached_property
    def manifest(self) -> dict:
        return json.loads((self.export / "manifest.json").read_text())

    def placeholders(self, names: set[str]) -> dict[str, str]:
        """Values for the placeholders a case uses (building only those artifacts)."""
        return {name: str(getattr(self, name)) for name in names}
