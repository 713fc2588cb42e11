"""A prune's state between steps, and its checkpoints: what ``pamkit prune --resume`` continues from.

A checkpoint is the network (safetensors) with the state in its sidecar, saved atomically after
every accepted step and when a prune finishes. They live in the output folder's ``progress/``
until the pruned model is written, and are read only when resuming that folder (whose settings
``resumable_output`` has checked to be the same).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CheckpointError
from ..network import MultitaskNet, load_multitask, save_multitask

Move = tuple[int, str, int]  # (space, channel origin, task taken off or -1: the whole channel)
PROGRESS_DIR = "progress"


@dataclass
class PruneState:
    """Where a prune stands after an accepted step (or at its end)."""

    net: MultitaskNet
    val: dict[str, float]
    history: list[dict[str, Any]]
    step: float
    iteration: int = 0
    banned: set[Move] = field(default_factory=set)
    stop_reason: str | None = None  # set once the prune is finished

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state, without the network (saved beside it)."""
        return {
            "val": self.val,
            "history": self.history,
            "step": self.step,
            "iteration": self.iteration,
            "banned": sorted(list(move) for move in self.banned),
            "stop_reason": self.stop_reason,
        }

    @classmethod
    def from_dict(cls, net: MultitaskNet, state: dict[str, Any]) -> PruneState:
        """The state ``to_dict`` wrote, around its saved network."""
        return cls(
            net,
            dict(state["val"]),
            list(state["history"]),
            float(state["step"]),
            int(state["iteration"]),
            {(int(space), str(origin), int(task)) for space, origin, task in state["banned"]},
            state["stop_reason"],
        )


@dataclass(frozen=True)
class Checkpoint:
    """One prune's latest state, ``STEM.safetensors`` + ``STEM.json``; ``resume``: read what is there."""

    stem: Path
    resume: bool

    def save(self, state: PruneState) -> None:
        """Replace the checkpoint with ``state`` (each file atomically)."""
        save_multitask(self.stem, state.net, {"prune_state": state.to_dict()})

    def load(self, label: str) -> PruneState | None:
        """The saved state when resuming and one is there (saying so), else None: start afresh."""
        path = self.stem.with_suffix(".json")
        if not (self.resume and path.is_file()):
            return None
        try:
            net, record = load_multitask(path)
            state = PruneState.from_dict(net, record["prune_state"])
        except (CheckpointError, KeyError, TypeError, ValueError) as exc:  # cut off between its two files
            print(f"note: the checkpoint {path} is unreadable ({exc}); {label} starts again")
            return None
        where = "finished already, skipped" if state.stop_reason else f"continues after iteration {state.iteration}"
        print(f"resuming: {label} {where}")
        return state


@dataclass(frozen=True)
class Checkpoints:
    """The checkpoints of one ``pamkit prune`` run (one per task when tasks are pruned one at a time)."""

    folder: Path
    resume: bool

    def named(self, name: str) -> Checkpoint:
        """The checkpoint called ``name`` (a plain file name)."""
        return Checkpoint(self.folder / name, self.resume)

    def clear(self) -> None:
        """Remove them all, once the pruned model is written (or the result is final)."""
        shutil.rmtree(self.folder, ignore_errors=True)
