"""A prune's state between steps, and its checkpoints: what ``pamkit prune --resume`` continues from.

A checkpoint is the state (JSON) with the network of every point of the schedule beside it,
saved after every pruning step, every candidate's final fine-tune and when a prune finishes. They
live in the output folder's ``progress/`` until the pruned model is written, and are read only when
resuming that folder (whose settings ``resumable_output`` has checked to be the same).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CheckpointError
from ..io import read_json, write_json
from ..network import MultitaskNet, load_multitask, save_multitask

Move = tuple[int, str, int]  # (space, channel origin, task taken off or -1: the whole channel)
PROGRESS_DIR = "progress"


@dataclass
class PruneState:
    """Where a prune stands: the network at every point of its schedule, and the search over them.

    ``points[0]`` is the start (after any recovery fine-tune), ``points[k]`` the network after step k
    and its short fine-tune. ``tried``: point index -> its scores after the full final fine-tune
    (``{"val", "test", "within"}``); ``best`` is the fine-tuned network of the cheapest point found
    within the tolerance so far (``best_index``). ``stop_reason`` is set once the prune is finished.
    """

    points: list[MultitaskNet]
    val: dict[str, float]  # the current result's validation scores
    history: list[dict[str, Any]]
    trajectory: list[dict[str, Any]]
    iteration: int = 0
    banned: set[Move] = field(default_factory=set)
    explored: str | None = None  # why the schedule stopped (then the search or final fine-tune runs)
    tried: dict[int, dict[str, Any]] = field(default_factory=dict)
    best: MultitaskNet | None = None
    best_index: int = 0
    stop_reason: str | None = None
    retired: list[str] = field(default_factory=list)  # tasks retired (``retire``), in order
    base: int = 0  # the point the exploration last went on from after a retirement; earlier points are costlier

    @property
    def net(self) -> MultitaskNet:
        """The result: the best fine-tuned point once there is one, else the last point."""
        return self.best if self.best is not None else self.points[-1]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state, without the networks (saved beside it)."""
        return {
            "points": len(self.points),
            "val": self.val,
            "history": self.history,
            "trajectory": self.trajectory,
            "iteration": self.iteration,
            "banned": sorted(list(move) for move in self.banned),
            "explored": self.explored,
            "tried": {str(k): v for k, v in self.tried.items()},
            "best": self.best is not None,
            "best_index": self.best_index,
            "stop_reason": self.stop_reason,
            "retired": self.retired,
            "base": self.base,
        }

    @classmethod
    def from_dict(cls, points: list[MultitaskNet], best: MultitaskNet | None, state: dict[str, Any]) -> PruneState:
        """The state ``to_dict`` wrote, around its saved networks."""
        return cls(
            points,
            dict(state["val"]),
            list(state["history"]),
            list(state["trajectory"]),
            int(state["iteration"]),
            {(int(space), str(origin), int(task)) for space, origin, task in state["banned"]},
            state["explored"],
            {int(k): dict(v) for k, v in state["tried"].items()},
            best,
            int(state["best_index"]),
            state["stop_reason"],
            list(state.get("retired", [])),
            int(state.get("base", 0)),
        )


@dataclass(frozen=True)
class Checkpoint:
    """One prune's state: ``STEM.json``, with every point's network ``STEM.pointK`` and ``STEM.best`` beside it.

    Saved after every schedule step and every candidate's final fine-tune; networks are written
    before the state that names them (each file atomically), so a cut-off save leaves the last
    complete state readable. ``resume``: read what is there.
    """

    stem: Path
    resume: bool

    def _net(self, name: str) -> Path:
        return self.stem.parent / f"{self.stem.name}-{name}"

    def save(self, state: PruneState) -> None:
        """Write the networks not on disk yet (and the newest point: a cut-off run may leave it stale), then state."""
        self.stem.parent.mkdir(parents=True, exist_ok=True)
        for k, net in enumerate(state.points):
            if k == len(state.points) - 1 or not self._net(f"point{k}").with_suffix(".json").is_file():
                save_multitask(self._net(f"point{k}"), net)
        if state.best is not None:
            save_multitask(self._net("best"), state.best, {"point": state.best_index})
        write_json(self.stem.with_suffix(".json"), {"prune_state": state.to_dict()})

    def load(self, label: str) -> PruneState | None:
        """The saved state when resuming and one is there (saying so), else None: start afresh."""
        path = self.stem.with_suffix(".json")
        if not (self.resume and path.is_file()):
            return None
        try:
            record = read_json(path, "delete it to start again", CheckpointError)["prune_state"]
            points = [load_multitask(self._net(f"point{k}").with_suffix(".json"))[0] for k in range(record["points"])]
            best = None
            if record["best"]:
                best, meta = load_multitask(self._net("best").with_suffix(".json"))
                if meta.get("point") != record["best_index"]:
                    raise ValueError("the best network is not the one the state names")
            state = PruneState.from_dict(points, best, record)
        except (CheckpointError, KeyError, TypeError, ValueError) as exc:  # cut off between its files
            print(f"note: the checkpoint {path} is unreadable ({exc}); {label} starts again")
            return None
        where = "finished already, skipped" if state.stop_reason else f"continues after step {state.iteration}"
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
