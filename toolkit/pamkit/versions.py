"""Versions of pamkit and the packages whose behaviour affects results, recorded with every artifact."""

from __future__ import annotations

import platform
import sys
from importlib import metadata

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
    """Installed versions (without importing the packages), plus Python and the platform."""
    versions = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
