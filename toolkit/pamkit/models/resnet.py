"""torchvision ResNet-18/34 as backbones, adapted CIFAR-style to small images."""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import nn

from pamkit._compat import import_torchvision

from ._checks import check_positive_number

if TYPE_CHECKING:
    from torchvision.models import ResNet

# conv1 now has stride 1 and the max-pool is gone; each stride-2 3x3 conv (and 1x1
# downsample) maps a side s to ceil(s / 2) >= 1, so any side >= 1 runs.
RESNET_MIN_SIZE = 1


def _basic_block():
    return import_torchvision().models.resnet.BasicBlock


def _adapt_resnet(model: ResNet, in_channels: int, width: float, blocks: list[int]) -> nn.Module:
    """Swap the ImageNet stem for a 3x3 stride-1 conv, drop the max-pool and fc, and record ``feature_dim``.

    ``width`` scales every stage (1.0: torchvision's 64-128-256-512 channels); the stages are
    rebuilt with torchvision's own block builder so the topology stays torchvision's.
    """
    check_positive_number(width, "resnet width", "pass a channel multiplier such as 0.25")
    base = max(1, round(64 * width))
    if base != 64:
        model.inplanes = base
        model.bn1 = nn.BatchNorm2d(base)
        for stage, count in enumerate(blocks):
            setattr(
                model,
                f"layer{stage + 1}",
                model._make_layer(_basic_block(), base * 2**stage, count, stride=1 if stage == 0 else 2),
            )
        for module in model.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
    feature_dim = base * 8
    model.conv1 = nn.Conv2d(in_channels, base, 3, stride=1, padding=1, bias=False)
    nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")  # as torchvision inits convs
    model.maxpool = nn.Identity()
    model.fc = nn.Identity()
    model.feature_dim = feature_dim
    return model


def build_resnet18(in_channels: int, size: int, *, width: float = 1.0) -> nn.Module:
    """Build torchvision's resnet18 (random init, ``width`` x its channels), 3x3 stride-1 stem, no max-pool/fc."""
    return _adapt_resnet(import_torchvision().models.resnet18(weights=None), in_channels, width, [2, 2, 2, 2])


def build_resnet34(in_channels: int, size: int, *, width: float = 1.0) -> nn.Module:
    """Build torchvision's resnet34 (random init, ``width`` x its channels), 3x3 stride-1 stem, no max-pool/fc."""
    return _adapt_resnet(import_torchvision().models.resnet34(weights=None), in_channels, width, [3, 4, 6, 3])
