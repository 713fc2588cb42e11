"""A user's own architecture, named by import path (``package.module:Class``) and built for a task's outputs.

A checkpoint has to rebuild its network in every later process (``merge``, ``prune``, ``eval``...),
so it records where the builder lives, not an object: the module is imported again there and must
be importable in each of them (installed, or its folder on ``PYTHONPATH``). Anything callable that
returns an ``nn.Module`` is a builder: a class, or a factory such as ``torchvision.models:resnet18``.

How a task's output size reaches the network: a builder taking ``num_classes`` or ``num_outputs``
is given it; otherwise the network is built as it comes and its task head (the ``nn.Linear``
producing the output, see ``pamkit.network.task_head``) is replaced by a fresh ``nn.Linear`` with
the task's outputs and the same input width and bias.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from pamkit._compat import import_torchvision
from pamkit.errors import ModelError
from pamkit.network.architecture import task_head

OUTPUT_ARGUMENTS = ("num_classes", "num_outputs")  # builder arguments that receive the task's output size


def is_import_path(arch: str) -> bool:
    """Whether ``arch`` names a builder by import path (``package.module:Class``) rather than a built-in."""
    return ":" in arch


def import_builder(path: str) -> Callable[..., Any]:
    """The callable ``path`` (``package.module:Name``, ``Name`` may be dotted) names; clear errors otherwise."""
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute or ":" in attribute:
        raise ModelError(
            f"architecture {path!r} is not an import path of the form package.module:Class "
            "(e.g. mynets:SmallNet or torchvision.models:resnet18)"
        )
    if importlib.util.find_spec("torchvision") is not None:
        import_torchvision()  # a user module importing torchvision needs pamkit's CPU-build fix first
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelError(
            f"cannot import module {module_name!r} of architecture {path!r} ({exc}); {_importable_hint(module_name)}"
        ) from None
    except Exception as exc:  # the user's module failed while it was imported
        raise ModelError(
            f"importing module {module_name!r} of architecture {path!r} failed: {type(exc).__name__}: {exc}"
        ) from None
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ModelError(f"module {module_name!r} has no {attribute!r}; check the name after ':' in {path!r}")
        target = getattr(target, part)
    if not callable(target):
        raise ModelError(f"{path!r} is a {type(target).__name__}, not a class or function that builds a network")
    return target


def _importable_hint(module_name: str) -> str:
    """How to make a module importable from every process, naming the working directory when it is there."""
    top = module_name.split(".")[0]
    if Path(f"{top}.py").is_file() or Path(top, "__init__.py").is_file():
        return (
            f"{top} is in the working directory, which Python does not search when pamkit runs as a "
            f"command: run with PYTHONPATH={Path.cwd()} (every later pamkit command needs it too)"
        )
    return "make it importable for every pamkit command: pip install its package, or add its folder to PYTHONPATH"


def build_user_network(path: str, in_channels: int, size: int, num_outputs: int, **kwargs: Any) -> nn.Module:
    """Build ``path``'s network with ``kwargs`` for a task of ``num_outputs`` and check it on one input."""
    builder = import_builder(path)
    kwargs = dict(kwargs)
    for name in OUTPUT_ARGUMENTS:
        if name in kwargs and kwargs[name] != num_outputs:
            raise ModelError(
                f"--arch-arg {name}={kwargs[name]!r} contradicts the task's {num_outputs} outputs; leave it out: "
                "pamkit passes each task its own"
            )
    given_outputs = next((name for name in OUTPUT_ARGUMENTS if name in _parameters(builder)), None)
    if given_outputs is not None:
        kwargs.setdefault(given_outputs, num_outputs)
    arguments = ", ".join(f"{key}={value!r}" for key, value in kwargs.items())
    try:
        net = builder(**kwargs)
    except Exception as exc:  # the user's constructor: any error, reported with the call that made it
        raise ModelError(
            f"{path}({arguments}) failed: {type(exc).__name__}: {exc}; pass its arguments with --arch-arg KEY=VALUE"
        ) from None
    if not isinstance(net, nn.Module):
        raise ModelError(f"{path}({arguments}) returned a {type(net).__name__}, not a torch.nn.Module")
    head_path = task_head(net)
    head = cast(nn.Linear, net.get_submodule(head_path))  # task_head found an nn.Linear
    if head.out_features != num_outputs:
        if given_outputs is not None:
            raise ModelError(
                f"{path}({arguments}) has a task head {head_path!r} with {head.out_features} outputs, not the "
                f"{kwargs[given_outputs]} asked for by {given_outputs}; build the head from {given_outputs}"
            )
        net.set_submodule(head_path, nn.Linear(head.in_features, num_outputs, bias=head.bias is not None))
    _check_forward(net, path, in_channels, size, num_outputs)
    return net


def _parameters(builder: Callable[..., Any]) -> set[str]:
    try:
        return set(inspect.signature(builder).parameters)
    except (TypeError, ValueError):  # builtins and some C extensions have no signature
        return set()


def _check_forward(net: nn.Module, path: str, in_channels: int, size: int, num_outputs: int) -> None:
    """Run two blank images through ``net`` (in eval mode, so nothing it holds moves): the shapes must fit."""
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            out = net(torch.zeros(2, in_channels, size, size))
    except Exception as exc:  # whatever the user's forward raises on this input
        raise ModelError(
            f"{path} fails on {in_channels}-channel {size}x{size} images ({type(exc).__name__}: {exc}); build it "
            "for the data's channels and size (--size resizes the data)"
        ) from None
    finally:
        net.train(was_training)
    if tuple(out.shape) != (2, num_outputs):
        raise ModelError(
            f"{path} returns outputs of shape {list(out.shape)} for 2 images, not [2, {num_outputs}]; "
            "its forward must end in its task head"
        )
