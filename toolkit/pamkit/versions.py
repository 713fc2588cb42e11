"""Versions of pamkit and the packages whose behaviour affects results, recorded with every artifact."""

from __future__ import annotations

import platform
import subprocess
import sys
from functools import cache
from importlib import metadata
from pathlib import Path

_PACKAGES = (
    "pamkit",
    "torch",
    "torchvision",
    "executorch",
    "coremltools",
    "litert-torch",
    "ai-edge-litert",
    "numpy",
    "safetensors",
    "scikit-learn",
    "torch-pruning",
)


def package_versions() -> dict[str, str]:
    """Installed versions (without importing the packages), plus Python, the platform and, when pamkit runs
    from a git checkout, the commit of its code (``+dirty`` if the package's files differ from it)."""
    versions = {"python": sys.version.split()[0], "platform": platform.platform(), "pamkit-commit": _code_commit()}
    for name in _PACKAGES:
        versions[name] = _installed(name)
    return versions


def pamkit_version() -> str:
    """pamkit's installed version alone (no git call): for ``--version`` and output markers."""
    return _installed("pamkit")


def _installed(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


@cache
def _code_commit() -> str:
    """The commit of the code this process loaded: asked of git once, not at every record written."""
    return source_commit(Path(__file__).parent, only_here=True)


def source_commit(folder: str | Path, only_here: bool = False) -> str:
    """The git commit of the checkout holding ``folder``, with ``+dirty`` when its working tree differs from it
    (``only_here``: when the files under ``folder`` do), "unknown" outside a checkout: which code made a result."""

    def git(*args: str) -> str:
        try:
            done = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, check=False)
        except OSError:  # no git installed
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "HEAD")
    changes = git("status", "--porcelain", *(["--", "."] if only_here else []))
    return (commit + ("+dirty" if changes else "")) if commit else "unknown"
