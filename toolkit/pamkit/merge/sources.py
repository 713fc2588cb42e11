"""The source networks of a merge: checked to share one architecture, traced once, read as candidates."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from ..errors import PamkitError
from ..network.architecture import PARAMETRIC, Architecture, trace_architecture
from ..network.stack import stack_dense
from ..train import TrainedTask


@dataclass(frozen=True)
class Sources:
    """n single-task networks of one architecture, and that architecture's traced op list."""

    nets: tuple[TrainedTask, ...]
    arch: Architecture

    @property
    def n(self) -> int:
        """Number of source networks (= tasks)."""
        return len(self.nets)

    @property
    def tasks(self):
        """The tasks, one per source network, in the given order."""
        return tuple(item.record.task for item in self.nets)

    @property
    def arch_name(self) -> dict:
        """The architecture and its arguments, as recorded in the sources' checkpoints."""
        record = self.nets[0].record
        return {"name": record.arch, "kwargs": record.arch_kwargs}

    @property
    def input_spec(self):
        """The input all sources share."""
        return self.nets[0].record.input_spec

    def state(self, k: int) -> dict[str, Tensor]:
        """Source k's weights."""
        return self.nets[k].net.state_dict()


def load_sources(nets: list[TrainedTask]) -> Sources:
    """Check that the networks can be merged (same architecture and input, distinct tasks) and trace them."""
    if len(nets) < 2:
        raise PamkitError(f"merging needs at least two single-task networks, got {len(nets)}; pass one per task")
    first = nets[0].record
    for item in nets[1:]:
        r = item.record
        if (r.arch, r.arch_kwargs) != (first.arch, first.arch_kwargs):
            raise PamkitError(
                f"{item.path} is a {r.arch} {r.arch_kwargs} but {nets[0].path} is a {first.arch} "
                f"{first.arch_kwargs}: all source networks must share one architecture"
            )
        if r.input_spec != first.input_spec:
            raise PamkitError(
                f"{item.path} expects input {r.input_spec.to_dict()} but {nets[0].path} expects "
                f"{first.input_spec.to_dict()}: retrain them on the same data and size"
            )
    names = [item.record.task.name for item in nets]
    if len(set(names)) != len(names):
        raise PamkitError(
            f"task names repeat among the source networks ({names}); each network must be for a different task"
        )
    arch = trace_architecture(nets[0].net, first.input_spec.shape)
    for item in nets[1:]:  # a user's own modules could differ in ways the sidecar does not record
        other = trace_architecture(item.net, first.input_spec.shape)
        if [(o.kind, o.out_shape) for o in other.ops[:-1]] != [(o.kind, o.out_shape) for o in arch.ops[:-1]]:
            raise PamkitError(
                f"{item.path} traces to a different layer structure than {nets[0].path}; "
                "all source networks must share one architecture"
            )
    return Sources(tuple(nets), arch)


def candidate_weights(sources: Sources) -> dict[str, Tensor]:
    """Dense weights over all candidates (every neuron of every source, source-major), block-diagonal.

    A candidate keeps its incoming weights from its own network; weights between neurons of
    different source networks are zero (method.md 3.4). Every source reads the same input.
    """
    return stack_dense(sources.arch.ops, [_source_dense(sources, k) for k in range(sources.n)])


def _source_dense(sources: Sources, k: int) -> dict[str, Tensor]:
    """Source k's weights in the dense form (keys by op name; its head under its task's name)."""
    state, dense = sources.state(k), {}
    for op in sources.arch.ops:
        if op.kind in PARAMETRIC or op.kind in ("dwconv", "bn"):
            for key in ("weight", "bias", "running_mean", "running_var"):
                if f"{op.source}.{key}" in state:
                    dense[f"{op.name}.{key}"] = state[f"{op.source}.{key}"]
        elif op.kind == "head":
            for key in ("weight", "bias"):
                dense[f"{op.name}.{sources.tasks[k].name}.{key}"] = state[f"{op.source}.{key}"]
    return dense
