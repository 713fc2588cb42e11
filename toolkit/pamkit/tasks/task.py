"""A task: a name, a kind, and how its targets derive from the dataset's labels (classes or attributes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from ..data.spec import LABEL_KINDS
from ..errors import TaskError
from .names import check_task_name

KINDS = ("multiclass", "binary", "multilabel")
ENCODINGS = {"multiclass": ("index",), "binary": ("pm1", "01"), "multilabel": ("pm1", "01")}


@dataclass(frozen=True)
class Task:
    """One prediction task over a dataset's images.

    ``outputs`` maps each output to the dataset classes that turn it on: for ``multiclass``
    the outputs are the target classes (each dataset class in exactly one); for ``binary``
    there is one output, on for its classes; for ``multilabel`` each output is an attribute.
    ``encoding`` says how binary targets are written: ``pm1`` (±1, tanh + squared error, as
    in the PAM paper) or ``01`` (0/1, binary cross-entropy).
    ``label_kind`` is the dataset's (``LABEL_KINDS``): over ``attributes`` the indices in
    ``outputs`` name attribute columns and ``num_classes`` counts them; an output is on when any
    of its attributes is, just as over ``classes`` it is on when the image's class is one of its.
    """

    name: str
    kind: str
    outputs: tuple[tuple[str, tuple[int, ...]], ...]
    num_classes: int
    encoding: str = "index"
    label_kind: str = "classes"

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def num_outputs(self) -> int:
        """Width of the task's head."""
        return len(self.outputs)

    @property
    def output_names(self) -> tuple[str, ...]:
        """The name of each head output (class names, the positive label, or attribute names)."""
        return tuple(name for name, _ in self.outputs)

    def target_table(self) -> torch.Tensor:
        """Per dataset class (or attribute alone), the task's target: int class index, or a row of ±1 / 0-1 values."""
        if self.kind == "multiclass":
            table = torch.empty(self.num_classes, dtype=torch.long)
            for index, (_, classes) in enumerate(self.outputs):
                table[list(classes)] = index
            return table
        return self._encode(self._members())

    def targets(self, labels: torch.Tensor) -> torch.Tensor:
        """The task's targets for a batch of dataset labels: class indices [N], or 0/1 attribute rows [N, A]."""
        self._check_labels(labels)
        if self.label_kind == "classes":
            return self.target_table()[labels]
        return self._encode((labels.float() @ self._members() > 0).float())

    def _members(self) -> torch.Tensor:
        """[num_classes, num_outputs] 0/1: which dataset classes (or attributes) turn each output on."""
        on = torch.zeros(self.num_classes, self.num_outputs)
        for index, (_, classes) in enumerate(self.outputs):
            on[list(classes), index] = 1.0
        return on

    def _encode(self, on: torch.Tensor) -> torch.Tensor:
        """0/1 values as this task's binary targets: ±1 for pm1, unchanged for 01."""
        return on * 2 - 1 if self.encoding == "pm1" else on

    def _check_labels(self, labels: torch.Tensor) -> None:
        """Refuse labels of the other kind (a class index read as an attribute row would give wrong targets)."""
        expected = (len(labels),) if self.label_kind == "classes" else (len(labels), self.num_classes)
        if tuple(labels.shape) != expected:
            shape = "[N] class indices" if self.label_kind == "classes" else f"[N, {self.num_classes}] 0/1 attributes"
            raise TaskError(
                f"task {self.name!r} is over {self.label_kind} and needs labels {shape}, got shape "
                f"{list(labels.shape)}; score it on the dataset it was defined on"
            )

    def discrete_labels(self, labels: torch.Tensor) -> torch.Tensor:
        """Integer label columns [N, k]: the class for multiclass, one 0/1 column per attribute otherwise."""
        targets = self.targets(labels)
        if self.kind == "multiclass":
            return targets[:, None]
        return (targets > 0).long()

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Training loss of raw head outputs against this task's targets (mean over the batch)."""
        if self.kind == "multiclass":
            return F.cross_entropy(outputs, targets)
        if self.encoding == "pm1":
            return F.mse_loss(torch.tanh(outputs), targets)
        return F.binary_cross_entropy_with_logits(outputs, targets)

    def predict(self, outputs: torch.Tensor) -> torch.Tensor:
        """Hard predictions in the same encoding as the targets."""
        if self.kind == "multiclass":
            return outputs.argmax(dim=1)
        on = outputs > 0
        return on.float() * 2 - 1 if self.encoding == "pm1" else on.float()

    def correct(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Per-sample score in [0, 1]: 1/0 for multiclass, the fraction of agreeing attributes otherwise."""
        agree = self.predict(outputs) == targets
        return agree.float() if self.kind == "multiclass" else agree.float().mean(dim=1)

    def trivial_score(self, labels: torch.Tensor) -> float:
        """The score of always giving the most frequent answer in ``labels``: what a network must beat.

        Multiclass: the share of the majority class. Binary and multilabel: per output the share of its
        majority value (mostly "no"), averaged over the outputs as ``correct`` averages attributes.
        """
        if not len(labels):
            raise TaskError(f"task {self.name!r}: no labels to measure the trivial baseline on")
        columns = self.discrete_labels(labels)
        if self.kind == "multiclass":
            return columns[:, 0].bincount().max().item() / len(labels)
        on = columns.float().mean(dim=0)
        return torch.maximum(on, 1 - on).mean().item()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description from which ``from_dict`` rebuilds the same task."""
        data = {
            "name": self.name,
            "kind": self.kind,
            "encoding": self.encoding,
            "num_classes": self.num_classes,
            "outputs": [{"name": name, "classes": list(classes)} for name, classes in self.outputs],
        }
        if self.label_kind != "classes":  # absent means classes: records of class tasks stay as they were
            data["label_kind"] = self.label_kind
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Task:
        """Rebuild a task written by ``to_dict``; TaskError on anything malformed."""
        try:
            outputs = tuple((str(o["name"]), tuple(int(c) for c in o["classes"])) for o in data["outputs"])
            return cls(
                str(data["name"]),
                str(data["kind"]),
                outputs,
                int(data["num_classes"]),
                str(data.get("encoding", "index")),
                str(data.get("label_kind", "classes")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise TaskError(
                f"malformed task description ({exc!r}): expected keys name, kind, encoding, "
                "num_classes, outputs=[{name, classes}] and optionally label_kind; re-create it with pamkit"
            ) from None


def _validate(task: Task) -> None:
    where = f"task {check_task_name(task.name)!r}"
    if task.kind not in KINDS:
        raise TaskError(f"{where}: unknown kind {task.kind!r}; use one of {', '.join(KINDS)}")
    if task.label_kind not in LABEL_KINDS:
        raise TaskError(f"{where}: unknown label kind {task.label_kind!r}; use one of {', '.join(LABEL_KINDS)}")
    if task.kind == "multiclass" and task.label_kind == "attributes":
        raise TaskError(
            f"{where}: a multiclass task needs one class per image, but its dataset labels attributes; "
            "use kind binary or multilabel"
        )
    if task.encoding not in ENCODINGS[task.kind]:
        raise TaskError(
            f"{where}: encoding {task.encoding!r} does not fit kind {task.kind!r}; "
            f"use one of {', '.join(ENCODINGS[task.kind])}"
        )
    if not task.outputs:
        raise TaskError(f"{where} is empty: give it at least one output with its classes")
    names = [name for name, _ in task.outputs]
    if len(set(names)) != len(names):
        raise TaskError(f"{where}: output names repeat ({names}); give each output its own name")
    for name, classes in task.outputs:
        if not classes:
            raise TaskError(
                f"{where}: output {name!r} has no {task.label_kind}; list the dataset {task.label_kind} that turn it on"
            )
        bad = [c for c in classes if not 0 <= c < task.num_classes]
        if bad:
            raise TaskError(
                f"{where}: output {name!r} refers to {task.label_kind} {bad} outside the dataset's "
                f"0..{task.num_classes - 1}"
            )
    if task.kind == "binary" and len(task.outputs) != 1:
        raise TaskError(
            f"{where}: a binary task has exactly one output (its positive classes); use kind multilabel for several"
        )
    # (over attributes, positive for all is not constant: an image may have none of them)
    if task.kind == "binary" and task.label_kind == "classes" and len(set(task.outputs[0][1])) == task.num_classes:
        raise TaskError(f"{where}: every class is positive, so the task is constant; leave some classes out")
    if task.kind == "multiclass":
        seen = sorted(c for _, classes in task.outputs for c in classes)
        if seen != list(range(task.num_classes)):
            missing = sorted(set(range(task.num_classes)) - set(seen))
            twice = sorted({c for c in seen if seen.count(c) > 1})
            raise TaskError(
                f"{where}: a multiclass task must put every dataset class in exactly one "
                f"output (missing: {missing}, repeated: {twice})"
            )
        if len(task.outputs) < 2:
            raise TaskError(f"{where}: a multiclass task needs at least two outputs")
