"""The multitask network: one dense op per neuron group, so a task combination runs only its groups.

Weights move between methods and stages in a *dense* form: per op, one tensor over the flat
channel order of its spaces (groups concatenated in order), zero where the connectivity rule
forbids a connection. ``MultitaskNet.build`` slices it into per-group layers; ``to_dense``
gathers them back. Merging, pruning surgery and ``extract`` all go through these two.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import PamkitError
from .architecture import PARAMETRIC, Op
from .structure import Group, Structure, sort_groups

Label = tuple[int, ...]

_FUNCTIONS = {
    "relu": F.relu,
    "relu6": F.relu6,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "hardswish": F.hardswish,
    "silu": F.silu,
    "identity": lambda x: x,
    "max_pool2d": F.max_pool2d,
    "avg_pool2d": F.avg_pool2d,
    "adaptive_avg_pool2d": F.adaptive_avg_pool2d,
}
_BN_KEYS = ("weight", "bias", "running_mean", "running_var")


class MultitaskNet(nn.Module):
    """Neurons grouped per channel space by the tasks that use them; ``forward(x, tasks)`` runs only those."""

    def __init__(self, structure: Structure) -> None:
        super().__init__()
        self.structure = structure
        self.layers = nn.ModuleDict()
        for op in structure.ops:
            if op.kind in PARAMETRIC or op.kind in ("dwconv", "bn"):
                self.layers[op.name] = nn.ModuleList(
                    _group_layer(structure, op, i) for i in range(len(structure.groups[op.space]))
                )
        self._reads = {op.name: structure.reads(op) for op in structure.ops if op.kind in PARAMETRIC}
        self._head_reads = {t: structure.head_reads(t) for t in structure.heads}
        head = structure.ops[-1]
        self.heads = nn.ModuleDict({structure.task_names[t]: _head_layer(structure, head, t) for t in structure.heads})

    # -- running ----------------------------------------------------------------------------------
    @property
    def task_names(self) -> tuple[str, ...]:
        """Tasks this network has heads for, in declared order."""
        return tuple(self.structure.task_names[t] for t in self.structure.heads)

    def forward(self, x: Tensor, tasks: Iterable[str] | None = None) -> dict[str, Tensor]:
        """Outputs of the given tasks (default: all with heads), computing only the groups they use."""
        return self._run(x, self._task_indices(tasks))[0]

    def intermediates(
        self, x: Tensor, names: Iterable[str], tasks: Iterable[str] | None = None
    ) -> dict[str, dict[int, Tensor]]:
        """Per-group values of the named ops' outputs (group index -> tensor), e.g. to fit a layer to its inputs."""
        values = self._run(x, self._task_indices(tasks))[1]
        return {name: values[name] for name in names}

    def _run(self, x: Tensor, wanted: list[int]) -> tuple[dict[str, Tensor], dict[str, dict[int, Tensor]]]:
        s = self.structure
        self._check_input(x)
        values: dict[str, dict[int, Tensor]] = {}
        for op in s.ops[:-1]:
            active = s.active(op.space, set(wanted))
            if op.kind == "input":
                values[op.name] = {0: x}
            elif op.kind in PARAMETRIC:
                source, reads = values[op.inputs[0]], self._reads[op.name]
                layers = self.group_layers(op.name)
                values[op.name] = {i: layers[i](_cat(source, reads[i])) for i in active}
            elif op.kind in ("dwconv", "bn"):
                layers = self.group_layers(op.name)
                values[op.name] = {i: layers[i](values[op.inputs[0]][i]) for i in active}
            elif op.kind == "fn":
                fn, kwargs = _function(op, self.training)
                values[op.name] = {i: fn(values[op.inputs[0]][i], **kwargs) for i in active}
            elif op.kind == "flatten":
                values[op.name] = {i: torch.flatten(values[op.inputs[0]][i], 1) for i in active}
            elif op.kind == "add":
                a, b = (values[name] for name in op.inputs)
                values[op.name] = {i: a[i] + b[i] for i in active}
        features = values[s.ops[-1].inputs[0]]
        outputs = {s.task_names[t]: self.head(s.task_names[t])(_cat(features, self._head_reads[t])) for t in wanted}
        return outputs, values

    def group_layers(self, op_name: str) -> list[Any]:
        """One op's per-group modules (conv, linear, depthwise conv or batch norm), in group order."""
        return list(cast(nn.ModuleList, self.layers[op_name]))

    def head(self, task: str) -> nn.Linear:
        """A task's head."""
        return cast(nn.Linear, self.heads[task])

    def _check_input(self, x: Tensor) -> None:
        """The input must be a batch of the images the network was built for (a clear error, not torch's)."""
        expected = self.structure.input_spec.shape
        if not isinstance(x, Tensor) or x.dim() != 4 or tuple(x.shape[1:]) != expected:
            got = f"shape {list(x.shape)}" if isinstance(x, Tensor) else type(x).__name__
            raise PamkitError(
                f"this network takes a batch of images of shape [N, {', '.join(map(str, expected))}] "
                f"(channels, height, width of {self.structure.input_spec.dataset}), got {got}; "
                "resize the input to the network's input spec"
            )

    def _task_indices(self, tasks: Iterable[str] | None) -> list[int]:
        if tasks is None:
            return list(self.structure.heads)
        names = list(tasks)
        if isinstance(tasks, str) or not names:
            raise PamkitError(
                f"tasks must be a non-empty list of task names (got {tasks!r}); "
                f"this network's tasks are: {', '.join(self.task_names)}"
            )
        unknown = [n for n in names if n not in self.task_names]
        if unknown:
            raise PamkitError(f"unknown tasks {unknown}; this network's tasks are: {', '.join(self.task_names)}")
        return [t for t in self.structure.heads if self.structure.task_names[t] in names]

    # -- dense form and surgery -----------------------------------------------------------------
    @classmethod
    def build(cls, structure: Structure, dense: dict[str, Tensor]) -> MultitaskNet:
        """A network from a structure and dense weights; groups that cannot be computed are dropped first."""
        structure, dense = normalize(structure, dense)
        net = cls(structure)
        missing = net.load_state_dict(_slice_dense(structure, dense), strict=False).missing_keys
        if any(not key.endswith("num_batches_tracked") for key in missing):
            raise PamkitError(f"dense weights lack entries for {missing[:5]}; they do not match the structure")
        return net

    def to_dense(self) -> dict[str, Tensor]:
        """Dense weights over the flat channel order, zero where the connectivity rule forbids."""
        s, dense = self.structure, {}
        for op in s.ops:
            layers = self.group_layers(op.name) if op.name in self.layers else []
            if op.kind in PARAMETRIC:
                spans_in, spans_out = _spans(s, s.space_of(op.inputs[0]), op), _spans(s, op.space)
                reads = s.reads(op)
                weight = layers[0].weight
                shape = (spans_out[-1][1], spans_in[-1][1], *weight.shape[2:])
                full = weight.new_zeros(shape)
                for i, layer in enumerate(layers):
                    columns = group_columns(spans_in, reads[i])
                    full[slice(*spans_out[i])][:, columns] = layer.weight.detach()
                dense[f"{op.name}.weight"] = full
                if layers[0].bias is not None:
                    dense[f"{op.name}.bias"] = torch.cat([layer.bias.detach() for layer in layers])
            elif op.kind in ("dwconv", "bn"):
                for key in ("weight", "bias") if op.kind == "dwconv" else _BN_KEYS:
                    if getattr(layers[0], key) is not None:
                        dense[f"{op.name}.{key}"] = torch.cat([getattr(layer, key).detach() for layer in layers])
            elif op.kind == "head":
                spans_in = _spans(s, s.space_of(op.inputs[0]), op)
                for t in s.heads:
                    head = self.head(s.task_names[t])
                    full = head.weight.new_zeros(head.weight.shape[0], spans_in[-1][1])
                    columns = group_columns(spans_in, s.head_reads(t))
                    full[:, columns] = head.weight.detach()
                    dense[f"{op.name}.{s.task_names[t]}.weight"] = full
                    dense[f"{op.name}.{s.task_names[t]}.bias"] = head.bias.detach().clone()
        return dense

    def select(self, keep: dict[int, list[int]] | None = None, tasks: Iterable[str] | None = None) -> MultitaskNet:
        """A new network keeping, per space, the channels at ``keep[space]`` (flat indices) and ``tasks``' heads."""
        s = self.structure
        keep = {space: sorted(set(channels)) for space, channels in (keep or {}).items()}
        heads = tuple(self._task_indices(tasks)) if tasks is not None else s.heads
        groups = {space: _keep_groups(groups, keep.get(space)) for space, groups in s.groups.items()}
        index = {space: torch.tensor(keep[space], dtype=torch.long) for space in keep}
        dense = {
            key: tensor
            for key, tensor in reindex_dense(s.op, self.to_dense(), index).items()
            if not _is_head_of_other(s, key, heads)
        }
        net = type(self).build(s.with_groups(groups, heads), dense)
        return net.train(self.training)

    def relabel(self, labels: dict[int, list[Label]]) -> MultitaskNet:
        """A new network whose channels in the given spaces carry new task labels (flat order; () removes one).

        Weights a new label no longer permits (reads from groups lacking one of its tasks) are dropped.
        """
        origins = {space: [o for g in self.structure.groups[space] for o in g.origins] for space in labels}
        return assemble(self.structure, self.to_dense(), labels, origins).train(self.training)

    def extract(self, tasks: Iterable[str]) -> MultitaskNet:
        """A standalone network for one combination: only its groups and heads, same outputs, static shapes."""
        wanted = set(self._task_indices(tasks))
        s = self.structure
        keep = {}
        for space in s.groups:
            spans = _spans(s, space)
            keep[space] = [c for i in s.active(space, wanted) for c in range(*spans[i])]
        return self.select(keep, tasks).eval()


def assemble(
    template: Structure, dense: dict[str, Tensor], labels: dict[int, list[Label]], origins: dict[int, list[str]]
) -> MultitaskNet:
    """Regroup the spaces in ``labels`` by label (empty label: dropped) and build the network.

    Merges use it on their candidate neurons, pruning on relabelled channels.

    ``dense`` orders those spaces' channels as candidates (the order of ``labels[space]``) and
    every other space as in ``template``. Candidates are permuted into group order so that each
    group's channels are contiguous.
    """
    groups = dict(template.groups)
    order: dict[int, Tensor] = {}
    for space, space_labels in labels.items():
        by_label: dict[Label, list[int]] = {}
        for candidate, label in enumerate(space_labels):
            if label:
                by_label.setdefault(tuple(sorted(label)), []).append(candidate)
        ordered = sort_groups(
            [Group(label, tuple(origins[space][c] for c in members)) for label, members in by_label.items()]
        )
        groups[space] = tuple(ordered)
        index = {origin: c for c, origin in enumerate(origins[space])}
        order[space] = torch.tensor([index[o] for g in ordered for o in g.origins], dtype=torch.long)
    structure = template.with_groups(groups)
    return MultitaskNet.build(structure, reindex_dense(structure.op, dense, order))


# -- building helpers ----------------------------------------------------------------------------
def _group_layer(s: Structure, op: Op, i: int) -> nn.Module:
    size = s.groups[op.space][i].size
    a = op.attrs
    if op.kind == "bn":
        return (nn.BatchNorm2d if len(op.out_shape) == 3 else nn.BatchNorm1d)(
            size, eps=a["eps"], momentum=a["momentum"]
        )
    if op.kind == "dwconv":
        return nn.Conv2d(
            size, size, a["kernel_size"], a["stride"], a["padding"], a["dilation"], groups=size, bias=a["bias"]
        )
    inputs = s.groups[s.space_of(op.inputs[0])]
    width = sum(inputs[h].size for h in s.reads(op)[i])
    if op.kind == "conv":
        return nn.Conv2d(width, size, a["kernel_size"], a["stride"], a["padding"], a["dilation"], bias=a["bias"])
    return nn.Linear(width * a["expansion"], size, bias=a["bias"])


def _head_layer(s: Structure, head: Op, t: int) -> nn.Linear:
    inputs = s.groups[s.space_of(head.inputs[0])]
    width = sum(inputs[h].size for h in s.head_reads(t))
    return nn.Linear(width * head.attrs["expansion"], s.tasks[t].num_outputs)


def _function(op: Op, training: bool) -> tuple[Any, dict[str, Any]]:
    name, kwargs = op.attrs["fn"], op.attrs["kwargs"]
    if name == "dropout":
        return F.dropout, {"p": kwargs["p"], "training": training}
    return _FUNCTIONS[name], kwargs


def _cat(values: dict[int, Tensor], indices: list[int]) -> Tensor:
    parts = [values[i] for i in indices]
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)


def _spans(s: Structure, space: int, reader: Op | None = None) -> list[tuple[int, int]]:
    """Group spans of a space as ``reader`` sees them (a linear layer after a flatten: H*W features per channel)."""
    return s.spans(space, reader.attrs.get("expansion", 1) if reader is not None else 1)


def reindex_dense(op: Callable[[str], Op], dense: dict[str, Tensor], index: dict[int, Tensor]) -> dict[str, Tensor]:
    """Pick (and reorder) channels of dense weights: rows by the op's space, input columns by its input's space.

    ``index[space]`` lists the flat channel indices to keep in that order; spaces not in ``index``
    are left whole. ``op`` looks an op up by name.
    """
    out = {}
    for key, tensor in dense.items():
        layer = op(key.split(".")[0])
        if layer.kind != "head" and layer.space in index:
            tensor = tensor[index[layer.space]]
        if (layer.kind in PARAMETRIC or layer.kind == "head") and key.endswith("weight"):
            source = op(layer.inputs[0]).space
            if source in index:
                tensor = tensor[:, expand_channels(index[source], layer.attrs.get("expansion", 1))]
        out[key] = tensor
    return out


def _is_head_of_other(s: Structure, key: str, heads: tuple[int, ...]) -> bool:
    """Whether a dense key is the head of a task outside ``heads``."""
    parts = key.split(".")
    return s.op(parts[0]).kind == "head" and s.task_names.index(parts[1]) not in heads


def group_columns(spans: list[tuple[int, int]], groups: list[int]) -> Tensor:
    """Flat indices covered by the given groups' spans, in that order."""
    return torch.cat([torch.arange(*spans[g]) for g in groups])


def expand_channels(channels: Tensor, per_channel: int) -> Tensor:
    """Flat feature indices of the given channels when each channel spans ``per_channel`` features."""
    return (channels[:, None] * per_channel + torch.arange(per_channel)).reshape(-1)


def _keep_groups(groups: tuple[Group, ...], keep: list[int] | None) -> tuple[Group, ...]:
    if keep is None:
        return groups
    kept, start = [], 0
    wanted = set(keep)
    for g in groups:
        origins = tuple(o for c, o in enumerate(g.origins, start) if c in wanted)
        kept.append(Group(g.label, origins))
        start += g.size
    return tuple(kept)


def _slice_dense(s: Structure, dense: dict[str, Tensor]) -> dict[str, Tensor]:
    """Per-group state dict entries cut from the dense weights."""
    state = {}
    for op in s.ops:
        if op.kind in PARAMETRIC:
            spans_in, spans_out = _spans(s, s.space_of(op.inputs[0]), op), _spans(s, op.space)
            for i, reads in enumerate(s.reads(op)):
                columns = group_columns(spans_in, reads)
                state[f"layers.{op.name}.{i}.weight"] = dense[f"{op.name}.weight"][slice(*spans_out[i])][:, columns]
                if op.attrs["bias"]:
                    state[f"layers.{op.name}.{i}.bias"] = dense[f"{op.name}.bias"][slice(*spans_out[i])]
        elif op.kind in ("dwconv", "bn"):
            for i, span in enumerate(_spans(s, op.space)):
                for key in ("weight", "bias") if op.kind == "dwconv" else _BN_KEYS:
                    if f"{op.name}.{key}" in dense:
                        state[f"layers.{op.name}.{i}.{key}"] = dense[f"{op.name}.{key}"][slice(*span)]
        elif op.kind == "head":
            spans_in = _spans(s, s.space_of(op.inputs[0]), op)
            for t in s.heads:
                name = s.task_names[t]
                columns = group_columns(spans_in, s.head_reads(t))
                state[f"heads.{name}.weight"] = dense[f"{op.name}.{name}.weight"][:, columns]
                state[f"heads.{name}.bias"] = dense[f"{op.name}.{name}.bias"]
    return {k: v.contiguous().clone() for k, v in state.items()}


def normalize(s: Structure, dense: dict[str, Tensor]) -> tuple[Structure, dict[str, Tensor]]:
    """Drop empty groups, then groups some layer cannot compute (no permitted input), until none is left.

    A group labelled g needs, for every layer writing its space, an input group whose label
    contains g; a head needs a group containing its task. Dropping is done on the dense weights.
    """
    while True:
        drop = {space: {i for i, g in enumerate(groups) if g.size == 0} for space, groups in s.groups.items()}
        for op in s.ops:
            if op.kind in PARAMETRIC:
                inputs = s.groups[s.space_of(op.inputs[0])]
                for i, reads in enumerate(s.reads(op)):
                    if not any(inputs[h].size for h in reads):
                        drop[op.space].add(i)
        for t in s.heads:
            final = s.groups[s.space_of(s.ops[-1].inputs[0])]
            if not any(final[h].size for h in s.head_reads(t)):
                raise PamkitError(
                    f"task {s.task_names[t]!r} has no neurons left in the last layer, so its head "
                    "reads nothing; the merge or pruning removed too much for this task"
                )
        if not any(drop.values()):
            return s, dense
        s, dense = _drop_groups(s, dense, drop)


def _drop_groups(
    s: Structure, dense: dict[str, Tensor], drop: dict[int, set[int]]
) -> tuple[Structure, dict[str, Tensor]]:
    keep = {
        space: torch.tensor(
            [c for i, span in enumerate(_spans(s, space)) if i not in drop[space] for c in range(*span)],
            dtype=torch.long,
        )
        for space in s.groups
    }
    new_dense = reindex_dense(s.op, dense, keep)
    groups = {
        space: tuple(g for i, g in enumerate(groups) if i not in drop[space]) for space, groups in s.groups.items()
    }
    return s.with_groups(groups), new_dense
