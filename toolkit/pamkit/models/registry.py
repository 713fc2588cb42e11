"""The architecture registry: which backbones exist, their limits and defaults, and the checked way to build one."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

import yaml
from torch import nn

from pamkit.errors import ModelError
from pamkit.models._checks import check_positive_int
from pamkit.models.lenet import LENET5_MIN_SIZE, build_lenet5
from pamkit.models.mobilenet import MOBILENET_MIN_SIZE, build_mobilenet_v2
from pamkit.models.resnet import RESNET_MIN_SIZE, build_resnet18, build_resnet34
from pamkit.models.user import is_import_path
from pamkit.models.vgg import VGG_MIN_SIZE, build_vgg


@dataclass(frozen=True)
class ArchSpec:
    """One architecture: its name, what it is, the smallest input side it accepts and its builder.

    ``build(in_channels, size, **kwargs)`` is the raw builder; use ``build_backbone`` to
    get the input checks (size, channels, unknown keyword arguments) first.
    """

    name: str
    description: str
    min_size: int
    defaults: dict
    build: Callable[..., nn.Module]


def _spec(name: str, description: str, min_size: int, build: Callable[..., nn.Module]) -> ArchSpec:
    """Make an ArchSpec whose ``defaults`` are read from the builder's keyword-only parameters (one source of truth)."""
    params = inspect.signature(build).parameters.values()
    defaults = {p.name: p.default for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}
    return ArchSpec(name, description, min_size, defaults, build)


ARCHITECTURES: dict[str, ArchSpec] = {
    spec.name: spec
    for spec in (
        _spec(
            "lenet5",
            "LeNet-5: 2 conv + 2 fc layers, 84-wide features (the paper's Fashion-MNIST net)",
            LENET5_MIN_SIZE,
            build_lenet5,
        ),
        _spec("vgg", "VGG-16 topology (13 conv3x3+BN, width-scaled) + 1 fc layer", VGG_MIN_SIZE, build_vgg),
        _spec(
            "resnet18",
            "torchvision ResNet-18 with a CIFAR-style 3x3 stride-1 stem, 512-wide features",
            RESNET_MIN_SIZE,
            build_resnet18,
        ),
        _spec(
            "resnet34",
            "torchvision ResNet-34 with a CIFAR-style 3x3 stride-1 stem, 512-wide features",
            RESNET_MIN_SIZE,
            build_resnet34,
        ),
        _spec(
            "mobilenet_v2",
            "torchvision MobileNetV2 (width-scaled) with a stride-1 stem",
            MOBILENET_MIN_SIZE,
            build_mobilenet_v2,
        ),
    )
}


def arch_names() -> list[str]:
    """Names of the known architectures, sorted, for help texts and error messages."""
    return sorted(ARCHITECTURES)


def get_arch(name: str) -> ArchSpec:
    """Look up an architecture by name; unknown names raise ModelError listing the known ones."""
    try:
        return ARCHITECTURES[name]
    except (KeyError, TypeError):
        raise ModelError(
            f"unknown architecture {name!r}; use one of: {', '.join(arch_names())}, or your own network's "
            "import path, package.module:Class"
        ) from None


def min_input_size(arch: str) -> int:
    """The smallest input side ``arch`` accepts: a built-in's limit; 1 for a user's own (its forward is checked)."""
    return 1 if is_import_path(arch) else get_arch(arch).min_size


def build_backbone(arch: str, in_channels: int, size: int, **kwargs: object) -> nn.Module:
    """Check the input against the architecture's limits and keyword arguments, then build its backbone."""
    spec = get_arch(arch)
    check_positive_int(in_channels, f"{arch} in_channels", "pass the number of image channels (1 for grayscale)")
    check_positive_int(size, f"{arch} size", "pass the square input side in pixels")
    if size < spec.min_size:
        raise ModelError(
            f"{arch} needs inputs of at least {spec.min_size}x{spec.min_size} pixels, got size {size}; "
            f"resize the data with --size {spec.min_size} or larger"
        )
    unknown = sorted(set(kwargs) - set(spec.defaults))
    if unknown:
        accepted = ", ".join(f"{k}={v!r}" for k, v in spec.defaults.items()) or "none"
        raise ModelError(
            f"{arch} does not take the option(s) {', '.join(unknown)}; accepted options (with defaults): {accepted}"
        )
    return spec.build(in_channels, size, **kwargs)


def parse_arch_args(pairs: list[str]) -> dict:
    """``["width=0.5", "batch_norm=false"]`` -> ``{"width": 0.5, "batch_norm": False}`` (YAML scalars)."""
    kwargs = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ModelError(f"--arch-arg {pair!r} is not KEY=VALUE; write e.g. --arch-arg width=0.5")
        kwargs[key] = yaml.safe_load(value)
    return kwargs
