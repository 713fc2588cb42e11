"""torchvision MobileNetV2 as a backbone, adapted to small images."""

from __future__ import annotations

from torch import nn

from pamkit._compat import import_torchvision
from pamkit.models._checks import check_positive_number

# The stem now has stride 1; each stride-2 depthwise 3x3 conv maps a side s to
# ceil(s / 2) >= 1, so any side >= 1 runs.
MOBILENET_MIN_SIZE = 1


def build_mobilenet_v2(in_channels: int, size: int, *, width: float = 0.5) -> nn.Module:
    """Build torchvision's mobilenet_v2 (random init, ``width_mult=width``) with a stride-1 stem and no classifier.

    torchvision's forward average-pools and flattens before ``classifier``, so with the
    classifier (dropout + linear) replaced by Identity the output is the pooled features.
    """
    width = check_positive_number(width, "mobilenet_v2 width", "pass a multiplier such as 0.5 or 1.0")
    tv = import_torchvision()
    model = tv.models.mobilenet_v2(weights=None, width_mult=width)
    stem = model.features[0][0]
    model.features[0][0] = nn.Conv2d(in_channels, stem.out_channels, 3, stride=1, padding=1, bias=False)
    nn.init.kaiming_normal_(model.features[0][0].weight, mode="fan_out")  # as torchvision inits convs
    model.classifier = nn.Identity()
    model.feature_dim = model.last_channel
    return model
