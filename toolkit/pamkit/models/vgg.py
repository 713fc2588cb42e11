"""VGG-16 as a backbone, width-scaled so it trains on small images on a CPU."""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from pamkit.models._checks import check_bool, check_positive_int, check_positive_number
from pamkit.models.backbone import SequentialBackbone

VGG16_STAGES: tuple[tuple[int, int], ...] = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))
"""(conv layers, full-width channels) per stage: 13 conv layers in stages of 2, 2, 3, 3, 3."""

# 3x3 convs with padding 1 keep the side and pools are only kept while the side stays
# >= 2, so any side >= 1 runs.
VGG_MIN_SIZE = 1


def scaled_width(channels: int, width: float) -> int:
    """Channels of a layer after the width multiplier: rounded, never below 1."""
    return max(1, round(channels * width))


def build_vgg(
    in_channels: int,
    size: int,
    *,
    width: float = 0.25,
    batch_norm: bool = True,
    fc_width: int | None = None,
) -> SequentialBackbone:
    """Build VGG-16's 13 conv layers (+BN) and one fc layer; ``fc_width`` defaults to twice the last conv width.

    A stage's max-pool is kept only if the side after it stays >= 2 (decided here from
    ``size``), so 28 and 32 px inputs keep a spatial map; the map is then averaged to 1x1.
    """
    width = check_positive_number(width, "vgg width", "pass a multiplier such as 0.25 or 0.5")
    batch_norm = check_bool(batch_norm, "vgg batch_norm")
    features: list[nn.Module] = []
    channels, side = in_channels, size
    for convs, full_width in VGG16_STAGES:
        out = scaled_width(full_width, width)
        for _ in range(convs):
            features.append(nn.Conv2d(channels, out, 3, padding=1, bias=not batch_norm))
            if batch_norm:
                features.append(nn.BatchNorm2d(out))
            features.append(nn.ReLU())
            channels = out
        if side // 2 >= 2:
            features.append(nn.MaxPool2d(2))
            side //= 2
    if fc_width is None:
        fc_width = 2 * channels
    fc_width = check_positive_int(fc_width, "vgg fc_width", "pass a positive layer width or leave it unset")
    layers = OrderedDict(
        [
            ("features", nn.Sequential(*features)),
            ("avgpool", nn.AdaptiveAvgPool2d(1)),
            ("flatten", nn.Flatten()),
            ("fc", nn.Linear(channels, fc_width)),
            ("act", nn.ReLU()),
        ]
    )
    return SequentialBackbone(layers, feature_dim=fc_width)
