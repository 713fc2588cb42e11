"""torchvision ResNet-18/34 as backbones, adapted CIFAR-style to small images."""

from __future__ import annotations

from torch import nn

from pamkit._compat import import_torchvision

# conv1 now has stride 1 and the max-pool is gone; each stride-2 3x3 conv (and 1x1
# downsample) maps a side s to ceil(s / 2) >= 1, so any side >= 1 runs.
RESNET_MIN_SIZE = 1


def _adapt_resnet(model: nn.Module, in_channels: int) -> nn.Module:
    """Swap the ImageNet stem for a 3x3 stride-1 conv, drop the max-pool and fc, and record ``feature_dim``."""
    feature_dim = model.fc.in_features
    model.conv1 = nn.Conv2d(in_channels, model.conv1.out_channels, 3, stride=1, padding=1, bias=False)
    nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")  # as torchvision inits convs
    model.maxpool = nn.Identity()
    model.fc = nn.Identity()
    model.feature_dim = feature_dim
    return model


def build_resnet18(in_channels: int, size: int) -> nn.Module:
    """Build torchvision's resnet18 (random init) with a 3x3 stride-1 stem, no max-pool and no fc."""
    return _adapt_resnet(import_torchvision().models.resnet18(weights=None), in_channels)


def build_resnet34(in_channels: int, size: int) -> nn.Module:
    """Build torchvision's resnet34 (random init) with a 3x3 stride-1 stem, no max-pool and no fc."""
    return _adapt_resnet(import_torchvision().models.resnet34(weights=None), in_channels)
