"""The source networks of a merge: checked to share one architecture, traced once, read as candidates."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..errors import PamkitError
from ..network.architecture import INPUT_SPACE, PARAMETRIC, Architecture, trace_architecture
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
            raise PamkitError(f"{item.path} is a {r.arch} {r.arch_kwargs} but {nets[0].path} is a {first.arch} "
                              f"{first.arch_kwargs}: all source networks must share one architecture")
        if r.input_spec != first.input_spec:
            raise PamkitError(f"{item.path} expects input {r.input_spec.to_dict()} but {nets[0].path} expects "
                              f"{first.input_spec.to_dict()}: retrain them on the same data and size")
    names = [item.record.task.name for item in nets]
    if len(set(names)) != len(names):
        raise PamkitError(f"task names repeat among the source networks ({names}); each network must be for "
                          "a different task")
    arch = trace_architecture(nets[0].net, first.input_spec.shape)
    for item in nets[1:]:  # a user's own modules could differ in ways the sidecar does not record
        other = trace_architecture(item.net, first.input_spec.shape)
        if [(o.kind, o.out_shape) for o in other.ops[:-1]] != [(o.kind, o.out_shape) for o in arch.ops[:-1]]:
            raise PamkitError(f"{item.path} traces to a different layer structure than {nets[0].path}; "
                              "all source networks must share one architecture")
    return Sources(tuple(nets), arch)


def candidate_weights(sources: Sources) -> dict[str, Tensor]:
    """Dense weights over all candidates (every neuron of every source, source-major), block-diagonal.

    A candidate keeps its incoming weights from its own network; weights between neurons of
    different source networks are zero (method.md 3.4). Every source reads the same input.
    """
    dense: dict[str, Tensor] = {}
    states = [sources.state(k) for k in range(sources.n)]
    for op in sources.arch.ops:
        if op.kind in PARAMETRIC:
            weights = [state[f"{op.source}.weight"] for state in states]
            reads_input = sources.arch.op(op.inputs[0]).space == INPUT_SPACE
            dense[f"{op.name}.weight"] = torch.cat(weights) if reads_input else _block_diagonal(weights)
            if op.attrs["bias"]:
                dense[f"{op.name}.bias"] = torch.cat([state[f"{op.source}.bias"] for state in states])
        elif op.kind in ("dwconv", "bn"):
            for key in ("weight", "bias", "running_mean", "running_var"):
                if f"{op.source}.{key}" in states[0]:
                    dense[f"{op.name}.{key}"] = torch.cat([state[f"{op.source}.{key}"] for state in states])
        elif op.kind == "head":
            width = states[0][f"{op.source}.weight"].shape[1]
            for k, task in enumerate(sources.tasks):
                weight = states[k][f"{op.source}.weight"]
                full = weight.new_zeros(weight.shape[0], width * sources.n)
                full[:, k * width:(k + 1) * width] = weight
                dense[f"{op.name}.{task.name}.weight"] = full
                dense[f"{op.name}.{task.name}.bias"] = states[k][f"{op.source}.bias"].clone()
    return dense


def _block_diagonal(weights: list[Tensor]) -> Tensor:
    """Stack [out_k, in_k, ...] weights on the diagonal of one [sum out, sum in, ...] tensor."""
    rows, cols = sum(w.shape[0] for w in weights), sum(w.shape[1] for w in weights)
    full = weights[0].new_zeros(rows, cols, *weights[0].shape[2:])
    r = c = 0
    for w in weights:
        full[r:r + w.shape[0], c:c + w.shape[1]] = w
        r, c = r + w.shape[0], c + w.shape[1]
    return full
