"""LeNet-5 (LeCun et al., 1998) as a backbone: the paper's Fashion-MNIST architecture."""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from pamkit.models._checks import check_choice
from pamkit.models.backbone import SequentialBackbone

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh}

# conv1 (5x5, padding 2) keeps the side s; pool1 gives s//2; conv2 (5x5, no padding)
# gives s//2 - 4; pool2 needs that to be >= 2 to leave >= 1 pixel: s//2 >= 6, so s >= 12.
LENET5_MIN_SIZE = 12


def lenet5_flat_side(size: int) -> int:
    """Spatial side of the feature map entering the first fully connected layer, for a ``size`` input."""
    return (size // 2 - 4) // 2


def build_lenet5(in_channels: int, size: int, *, activation: str = "relu") -> SequentialBackbone:
    """Build LeNet-5 up to its 84-wide layer: conv-act-pool x2, then fc 120 and fc 84, each with the activation."""
    act = ACTIVATIONS[check_choice(activation, "lenet5 activation", ACTIVATIONS)]
    side = lenet5_flat_side(size)
    layers = OrderedDict(
        [
            ("conv1", nn.Conv2d(in_channels, 6, 5, padding=2)),
            ("act1", act()),
            ("pool1", nn.MaxPool2d(2)),
            ("conv2", nn.Conv2d(6, 16, 5)),
            ("act2", act()),
            ("pool2", nn.MaxPool2d(2)),
            ("flatten", nn.Flatten()),
            ("fc1", nn.Linear(16 * side * side, 120)),
            ("act3", act()),
            ("fc2", nn.Linear(120, 84)),
            ("act4", act()),
        ]
    )
    return SequentialBackbone(layers, feature_dim=84)
