"""Networks pamkit has never seen, written as a user would: the tests import them by path (mynets:SmallNet).

Only importable with this folder on PYTHONPATH, like any user's module.
"""

import torch
import torchvision
from torch import nn


class SmallNet(nn.Module):
    """A user's own CNN: its constructor takes num_classes; its head is called ``classifier``."""

    def __init__(self, num_classes: int = 10, width: int = 8) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, width, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.squeeze = nn.AdaptiveAvgPool2d(2)
        self.fc1 = nn.Linear(2 * width * 4, 32)
        self.classifier = nn.Linear(32, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(torch.relu(self.bn1(self.conv1(x))))
        x = self.squeeze(torch.relu(self.conv2(x)))
        return self.classifier(torch.relu(self.fc1(torch.flatten(x, 1))))


class SoftmaxNet(SmallNet):
    """Returns probabilities: pamkit refuses it (the head's raw outputs must be the network's output)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(super().forward(x), dim=1)


class IgnoresNumClasses(SmallNet):
    """Takes num_classes but builds a 3-output head whatever it is told."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__(num_classes=3)


def gray_mobilenet_v2(width_mult: float = 0.25) -> nn.Module:
    """torchvision's MobileNetV2 for small grayscale images: a 1-channel, stride-1 first conv.

    It takes no num_classes: pamkit replaces its head (``classifier.1``) for each task.
    """
    net = torchvision.models.mobilenet_v2(width_mult=width_mult)
    first = net.features[0][0]
    net.features[0][0] = nn.Conv2d(1, first.out_channels, 3, stride=1, padding=1, bias=False)
    return net
