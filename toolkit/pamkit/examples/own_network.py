"""A network written as any PyTorch user writes one, with nothing pamkit-specific in it.

pamkit names it by import path, ``pamkit.examples.own_network:TinyCNN``, exactly as it names yours
(``mypackage.nets:MyNet``, importable in every pamkit command). Its constructor takes ``num_classes``,
so pamkit builds it for each task's outputs; the ``nn.Linear`` producing the output (here
``classifier.1``) is the task head kept per task when networks are merged.
"""

from __future__ import annotations

from torch import Tensor, nn


class TinyCNN(nn.Module):
    """Two conv blocks, global average pooling and a dropout + linear classifier, for grayscale images."""

    def __init__(self, num_classes: int = 10, width: int = 16) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.classifier = nn.Sequential(nn.Dropout(0.1), nn.Linear(2 * width, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))
