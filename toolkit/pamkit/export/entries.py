"""Entry points: one per task combination, each a standalone module built from ``MultitaskNet.extract``.

Names are stable and derived from the task names in the model's declared order: a task's output
is called by its name with ``-`` turned into ``_`` (``age-group`` -> ``age_group``), and the entry
point for a combination joins its tasks' output names with ``__`` (``a__b``). Every format uses
these names: ExecuTorch methods, Core ML functions and TFLite signatures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch import Tensor, nn

from ..errors import PamkitError, TaskError
from ..network import MultitaskNet
from ..tasks import Combination, output_name
from ..tasks.names import check_task_names
from .fusion import fuse_groups

INPUT_NAME = "image"


class EntryModule(nn.Module):
    """One combination's subnetwork; returns its tasks' outputs in declared order (a dict when ``named``)."""

    def __init__(self, net: MultitaskNet, tasks: Combination, named: bool = False) -> None:
        super().__init__()
        self.net, self.tasks, self.named = net, tasks, named

    def forward(self, image: Tensor) -> tuple[Tensor, ...] | dict[str, Tensor]:
        outputs = self.net(image)
        if self.named:
            return {output_name(task): outputs[task] for task in self.tasks}
        return tuple(outputs[task] for task in self.tasks)


@dataclass(frozen=True)
class EntryPoint:
    """A task combination, its entry-point name, and the subnetwork computing only its groups."""

    tasks: Combination
    name: str
    net: MultitaskNet
    fused_spaces: int = 0  # lowest channel spaces computed as one operator per layer (``fusion``)

    @property
    def output_names(self) -> tuple[str, ...]:
        """Names of the outputs, in output order (the tasks' declared order)."""
        return tuple(output_name(task) for task in self.tasks)

    def module(self, named: bool = False) -> EntryModule:
        """The module to export: outputs as a tuple, or a dict keyed by output name."""
        return EntryModule(self.net, self.tasks, named).eval()


def parse_combinations(names: tuple[str, ...], spec: str | Sequence[Sequence[str]] | None) -> list[Combination]:
    """``"all"`` / None (every non-empty subset), ``"a+b,a"``, or task tuples -> combinations of the tasks ``names``.

    Each combination is put in the declared task order of ``names``; duplicates are dropped.
    """
    if spec is None or isinstance(spec, str):
        combos = Combination.parse_list(spec, names)
    else:
        combos = list(dict.fromkeys(Combination(tasks, names) for tasks in spec))
    _check_names(names, combos)
    return combos


def entry_points(
    net: MultitaskNet, combinations: list[Combination], fuse_extra_macs: float | None = None
) -> list[EntryPoint]:
    """One entry point per combination, in the given order; with ``fuse_extra_macs``, its groups fused where
    that adds at most that share of its MACs (``fusion.fuse_groups``)."""
    net = net.eval()
    entries = []
    for combo in combinations:
        sub, fused = net.extract(combo), 0
        if fuse_extra_macs is not None:
            sub, fused = fuse_groups(sub, fuse_extra_macs)
        entries.append(EntryPoint(combo, combo.entry, sub, fused))
    return entries


def _check_names(tasks: tuple[str, ...], combos: list[Combination]) -> None:
    try:
        check_task_names(tasks)
    except TaskError as exc:
        raise PamkitError(f"this model's tasks cannot name exported outputs: {exc}, then retrain") from None
