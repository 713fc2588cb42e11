"""What is measured: one case per (artifact, entry point), filled by a target."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Case:
    """One entry point of one exported artifact, and what the target measured of it."""

    artifact: str  # the artifact's label (e.g. "pam", "none")
    entry: str
    tasks: tuple[str, ...]
    outputs: tuple[str, ...]
    macs: int
    params: int
    file: Path  # the artifact file on this machine
    input_shape: tuple[int, ...]
    activation_bytes: int = 0
    load_ms: float | None = None
    first_ms: float | None = None
    samples_ms: list[float] = field(default_factory=list)
    reported: dict[str, Any] | None = None  # statistics a tool printed instead of raw samples (benchmark_model)
    energy: dict[str, Any] | None = None

    @property
    def key(self) -> str:
        """Unique name within a run."""
        return f"{self.artifact}/{self.entry}"
