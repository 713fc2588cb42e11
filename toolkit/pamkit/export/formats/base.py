"""What every export format provides: write the artifact, read its entry points' signatures, run one."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import Tensor

from ..entries import EntryPoint

TensorSpec = tuple[str | None, tuple[int, ...]]  # (name, or None where the format has no names; shape)
Runner = Callable[[str, np.ndarray, tuple[str, ...]], list[np.ndarray]]  # (entry, input, output names) -> outputs
Entry = Callable[[np.ndarray], list[np.ndarray]]  # one loaded entry point: input -> outputs in output order
Loader = Callable[[str, tuple[str, ...]], Entry]  # (entry name, output names) -> the loaded entry point


@dataclass(frozen=True)
class Signature:
    """One entry point as the artifact declares it."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]


class Format(ABC):
    """One artifact format: a file holding one entry point per task combination, weights stored once."""

    name: str  # the --formats value
    suffix: str  # file suffix of the artifact
    runtime: str  # the Python distribution that runs it here (its version goes into the manifest)
    precision = "float32"  # float32 entry points are checked against PyTorch's outputs, int8 by accuracy

    def __init__(self, calibration: Tensor | None = None) -> None:
        self.calibration = calibration  # int8: real images [N, C, H, W], run one at a time; needed to write, not run

    @abstractmethod
    def write(
        self,
        entries: list[EntryPoint],
        example: Tensor,
        path: Path,
        default: str,
        on_entry: Callable[[str], None] = lambda name: None,
    ) -> None:
        """Write the artifact (``on_entry`` after each entry point is traced); ``default``: a default entry's name."""

    @abstractmethod
    def signatures(self, path: Path) -> dict[str, Signature]:
        """Every entry point the artifact holds, by name."""

    def cannot_run(self) -> str | None:
        """Why the official runtime cannot execute the artifact on this machine (None: it can)."""
        return None

    @abstractmethod
    def open(self, path: Path, threads: int = 1) -> Loader:
        """Open the artifact on the official runtime (once); the result loads one entry point at a time."""

    def runner(self, path: Path, threads: int = 1) -> Runner:
        """A function running one entry point on the official runtime (each loaded on first use)."""
        load, loaded = self.open(path, threads), {}

        def run(name: str, x: np.ndarray, output_names: tuple[str, ...]) -> list[np.ndarray]:
            if name not in loaded:
                loaded[name] = load(name, output_names)
            return loaded[name](x)

        return run
