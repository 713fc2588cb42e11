"""Trace a single-task network into the op list the multitask network is built on.

Each op's output lives in a *channel space*: a conv or linear layer opens a new space; batch
norm, activations, pooling, flatten and depthwise convs keep their input's space (a depthwise
channel is tied to its input channel); a residual addition merges its inputs' spaces into one.
Grouping neurons by task is decided per space, so residual streams are grouped consistently.
"""

from __future__ import annotations

import math
import operator
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp

from ..errors import ModelError

INPUT_SPACE = 0
PARAMETRIC = ("conv", "linear")  # ops that open a new channel space

# Channel-wise modules: pamkit name and the constructor arguments that define them.
_MODULE_FUNCTIONS: dict[type, tuple[str, tuple[str, ...]]] = {
    nn.ReLU: ("relu", ()),
    nn.ReLU6: ("relu6", ()),
    nn.Tanh: ("tanh", ()),
    nn.Sigmoid: ("sigmoid", ()),
    nn.Hardswish: ("hardswish", ()),
    nn.SiLU: ("silu", ()),
    nn.Identity: ("identity", ()),
    nn.Dropout: ("dropout", ("p",)),
    nn.MaxPool2d: ("max_pool2d", ("kernel_size", "stride", "padding", "dilation", "ceil_mode")),
    nn.AvgPool2d: ("avg_pool2d", ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad")),
    nn.AdaptiveAvgPool2d: ("adaptive_avg_pool2d", ("output_size",)),
}
_CALL_FUNCTIONS: dict[Any, str] = {
    F.relu: "relu",
    torch.relu: "relu",
    F.relu6: "relu6",
    torch.tanh: "tanh",
    torch.sigmoid: "sigmoid",
    F.hardswish: "hardswish",
    F.silu: "silu",
    F.max_pool2d: "max_pool2d",
    F.avg_pool2d: "avg_pool2d",
    F.adaptive_avg_pool2d: "adaptive_avg_pool2d",
}
_METHOD_FUNCTIONS = {"relu": "relu", "tanh": "tanh", "sigmoid": "sigmoid"}
_ADDS = (operator.add, operator.iadd, torch.add)
_FLATTENS = (torch.flatten,)
_SUPPORTED = (
    "Conv2d (groups=1 or depthwise), Linear, BatchNorm1d/2d, ReLU/ReLU6/Tanh/Sigmoid/Hardswish/SiLU, "
    "Identity, Dropout, MaxPool2d/AvgPool2d/AdaptiveAvgPool2d, flatten(x, 1) and residual additions"
)


@dataclass
class Op:
    """One step of the network: what it does, what it reads, which channel space its output is in."""

    name: str
    kind: str  # input | conv | dwconv | linear | bn | fn | flatten | add | head
    inputs: list[str]
    space: int
    out_shape: list[int]  # per-sample output shape in the source network: [C, H, W] or [F]
    source: str | None = None  # module path in the source network holding this op's parameters
    attrs: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


@dataclass
class Architecture:
    """The traced op list of one architecture, its channel spaces, and where PAM probes activations."""

    ops: list[Op]
    space_sizes: dict[int, int]  # channels of each space in one source network
    probes: dict[int, list[str]]  # per space: op outputs read by another space's layer (what PAM measures)
    head_input: str  # the op whose output the task heads read
    head_source: str  # module path of the head in the source network

    def op(self, name: str) -> Op:
        """The op called ``name``."""
        return next(op for op in self.ops if op.name == name)

    @property
    def spaces(self) -> list[int]:
        """Regroupable spaces (every space but the input's), in the order their first layer runs."""
        return list(self.space_sizes)


def trace_architecture(net: nn.Module, input_shape: tuple[int, ...]) -> Architecture:
    """Trace ``net`` (layers ending in its task head, see ``task_head``) on an input of per-sample ``input_shape``."""
    graph_module = _symbolic_trace(net)
    head = _head_of(graph_module, type(net).__name__)
    try:
        ShapeProp(graph_module).propagate(torch.zeros(1, *input_shape))
    except Exception as exc:  # any error of the user's forward on this shape
        raise ModelError(
            f"{type(net).__name__} fails on an input of shape {list(input_shape)} ({exc}); "
            "check the input spec the networks were trained with"
        ) from None
    tracer = _Tracer(graph_module, head)
    for node in graph_module.graph.nodes:
        tracer.visit(node)
    return tracer.finish()


def task_head(net: nn.Module) -> str:
    """The module path of ``net``'s task head: the ``nn.Linear`` whose output is the network's output.

    pamkit keeps this layer per task when it merges, so any network works whose forward ends in one
    Linear layer (a pamkit ``SingleTaskNet``'s ``head``, torchvision's ``fc`` or ``classifier.1``).
    """
    return _head_of(_symbolic_trace(net), type(net).__name__)


def _symbolic_trace(net: nn.Module) -> fx.GraphModule:
    try:
        return fx.symbolic_trace(net)
    except Exception as exc:  # fx raises many types for untraceable code
        raise ModelError(
            f"cannot trace {type(net).__name__} with torch.fx ({exc}); pamkit needs a network "
            "without data-dependent Python control flow"
        ) from None


def _head_of(graph_module: fx.GraphModule, name: str) -> str:
    """The path of the ``nn.Linear`` module producing the traced network's (single tensor) output."""
    output = next(node for node in graph_module.graph.nodes if node.op == "output")
    result = output.args[0]
    if isinstance(result, fx.Node) and result.op == "call_module":
        module = graph_module.get_submodule(str(result.target))
        if isinstance(module, nn.Linear):
            return str(result.target)
        what = f"the module {result.target!r} ({type(module).__name__})"
    elif isinstance(result, fx.Node):
        what = f"{result.op} {getattr(result.target, '__name__', result.target)}"
    else:
        what = f"a {type(result).__name__} of values"
    raise ModelError(
        f"{name}'s output comes from {what}, not from an nn.Linear: pamkit needs one task head, an "
        "nn.Linear returning the raw outputs (logits), as the network's last layer; return its output "
        "directly (softmax or sigmoid belong to the loss) and one tensor, not several"
    )


class _Tracer:
    """Walks fx nodes once, classifying each and assigning channel spaces (union-find over additions)."""

    def __init__(self, graph_module: fx.GraphModule, head: str) -> None:
        self.gm, self.head = graph_module, head
        self.ops: list[Op] = []
        self.by_name: dict[str, Op] = {}
        self.parent: dict[int, int] = {INPUT_SPACE: INPUT_SPACE}
        self.head_input: str | None = None
        self.output_seen = False

    def find(self, space: int) -> int:
        while self.parent[space] != space:
            space = self.parent[space]
        return space

    def new_space(self) -> int:
        space = len(self.parent)
        self.parent[space] = space
        return space

    def add_op(self, node: fx.Node, kind: str, inputs: list[str], space: int, **kwargs: Any) -> None:
        shape = list(node.meta["tensor_meta"].shape[1:])
        op = Op(node.name, kind, inputs, space, shape, **kwargs)
        self.ops.append(op)
        self.by_name[op.name] = op

    def fail(self, node: fx.Node, what: str) -> ModelError:
        return ModelError(f"layer {node.name!r} ({what}) is not supported by the merger; supported: {_SUPPORTED}")

    def tensor_inputs(self, node: fx.Node) -> list[str]:
        names = [a.name for a in node.args if isinstance(a, fx.Node)]
        for name in names:
            if name not in self.by_name:
                raise ModelError(f"layer {node.name!r} reads {name!r}, which the merger did not understand")
        return names

    def visit(self, node: fx.Node) -> None:
        if self.output_seen:
            return
        if node.op == "placeholder":
            self.add_op(node, "input", [], INPUT_SPACE)
        elif node.op == "output":
            self.output_seen = True
        elif node.op == "call_module":
            self.visit_module(node, self.gm.get_submodule(str(node.target)))
        elif node.op == "call_function":
            self.visit_function(node)
        elif node.op == "call_method" and node.target in _METHOD_FUNCTIONS and len(node.args) == 1:
            self.add_fn(node, _METHOD_FUNCTIONS[node.target], {})
        elif node.op == "call_method" and node.target == "flatten":
            self.add_flatten(node, *node.args[1:])
        else:
            raise self.fail(node, f"{node.op} {node.target}")

    def visit_module(self, node: fx.Node, module: nn.Module) -> None:
        (source,) = self.tensor_inputs(node)
        in_space = self.by_name[source].space
        path = str(node.target)
        if path == self.head:
            self.head_input = source
            self.add_op(node, "head", [source], -1, source=path)
        elif isinstance(module, nn.Conv2d):
            if module.groups == 1:
                self.add_op(node, "conv", [source], self.new_space(), source=path, attrs=_conv_attrs(module))
            elif module.groups == module.in_channels == module.out_channels:
                self.add_op(node, "dwconv", [source], in_space, source=path, attrs=_conv_attrs(module))
            else:
                raise self.fail(
                    node, f"Conv2d with groups={module.groups}: only groups=1 or depthwise (groups = in = out channels)"
                )
        elif isinstance(module, nn.Linear):
            self.add_op(
                node, "linear", [source], self.new_space(), source=path, attrs={"bias": module.bias is not None}
            )
        elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            if not (module.affine and module.track_running_stats):
                raise self.fail(node, "BatchNorm without affine parameters or running statistics")
            self.add_op(
                node, "bn", [source], in_space, source=path, attrs={"eps": module.eps, "momentum": module.momentum}
            )
        elif isinstance(module, nn.Flatten):
            self.add_flatten(node, module.start_dim, module.end_dim)
        elif type(module) in _MODULE_FUNCTIONS:
            name, arg_names = _MODULE_FUNCTIONS[type(module)]
            self.add_fn(node, name, {arg: _jsonable(getattr(module, arg)) for arg in arg_names})
        else:
            raise self.fail(node, type(module).__name__)

    def visit_function(self, node: fx.Node) -> None:
        if node.target in _ADDS:
            inputs = self.tensor_inputs(node)
            if len(inputs) != 2 or node.kwargs:
                raise self.fail(node, "an addition that is not of two tensors")
            a, b = (self.find(self.by_name[i].space) for i in inputs)
            if INPUT_SPACE in (a, b) and a != b:
                raise self.fail(node, "an addition involving the raw input")
            self.parent[max(a, b)] = min(a, b)
            self.add_op(node, "add", inputs, min(a, b))
        elif node.target in _FLATTENS:
            self.add_flatten(node, *node.args[1:], **node.kwargs)
        elif node.target in _CALL_FUNCTIONS:
            self.add_fn(node, _CALL_FUNCTIONS[node.target], _function_kwargs(node))
        else:
            raise self.fail(node, f"function {getattr(node.target, '__name__', node.target)}")

    def add_fn(self, node: fx.Node, name: str, kwargs: dict[str, Any]) -> None:
        (source,) = self.tensor_inputs(node)
        self.add_op(node, "fn", [source], self.by_name[source].space, attrs={"fn": name, "kwargs": kwargs})

    def add_flatten(self, node: fx.Node, start_dim: Any = 0, end_dim: Any = -1) -> None:
        (source,) = self.tensor_inputs(node)
        if start_dim != 1 or end_dim != -1:
            raise self.fail(node, f"flatten(start_dim={start_dim}, end_dim={end_dim}); only flatten(x, 1)")
        self.add_op(node, "flatten", [source], self.by_name[source].space)

    def finish(self) -> Architecture:
        if self.head_input is None or self.ops[-1].kind != "head":
            raise ModelError("the task head must be the network's last operation")
        per_channel: dict[str, int] = {}  # features per channel: H*W after flattening a conv map, else 1
        for op in self.ops:
            if not op.inputs:
                per_channel[op.name] = 1
                continue
            source = self.by_name[op.inputs[0]]
            if op.kind == "flatten":
                per_channel[op.name] = math.prod(source.out_shape[1:])
            elif op.kind in ("linear", "head"):
                op.attrs["expansion"] = per_channel[source.name]
                per_channel[op.name] = 1
            else:
                per_channel[op.name] = per_channel[source.name]
        spaces: dict[int, int] = {}
        for op in self.ops:
            op.space = self.find(op.space) if op.kind != "head" else -1
            if op.kind in PARAMETRIC:
                spaces.setdefault(op.space, op.out_shape[0])
        probes: dict[int, list[str]] = {space: [] for space in spaces}
        for op in self.ops:
            if op.kind in PARAMETRIC or op.kind == "head":
                source = self.by_name[op.inputs[0]]
                if source.space in probes and source.name not in probes[source.space]:
                    probes[source.space].append(source.name)
        return Architecture(self.ops, spaces, probes, self.head_input, self.head)


def _conv_attrs(module: nn.Conv2d) -> dict[str, Any]:
    if module.padding_mode != "zeros" or isinstance(module.padding, str):
        raise ModelError(
            f"Conv2d with padding={module.padding!r}, padding_mode={module.padding_mode!r} is not "
            "supported; use integer zero padding"
        )
    return {
        "kernel_size": list(module.kernel_size),
        "stride": list(module.stride),
        "padding": list(module.padding),
        "dilation": list(module.dilation),
        "bias": module.bias is not None,
    }


def _function_kwargs(node: fx.Node) -> dict[str, Any]:
    """Non-tensor arguments of a functional call, by name (positional ones named from the signature)."""
    names = {
        "adaptive_avg_pool2d": ("output_size",),
        "max_pool2d": ("kernel_size", "stride", "padding", "dilation", "ceil_mode"),
        "avg_pool2d": ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"),
    }
    positional = names.get(_CALL_FUNCTIONS[node.target], ())
    kwargs = dict(zip(positional, node.args[1:], strict=False))
    kwargs.update(node.kwargs)
    kwargs.pop("inplace", None)
    return {k: _jsonable(v) for k, v in kwargs.items()}


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
