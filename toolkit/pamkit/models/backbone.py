"""The backbone container for the hand-written architectures."""

from __future__ import annotations

from collections import OrderedDict

from torch import nn


class SequentialBackbone(nn.Sequential):
    """An nn.Sequential of named layers ending in a flat feature vector, with its width as ``feature_dim``.

    Plain Sequential keeps the traced graph a simple chain with readable layer names,
    which is what the merger walks.
    """

    def __init__(self, layers: OrderedDict[str, nn.Module], feature_dim: int) -> None:
        super().__init__(layers)
        self.feature_dim: int = feature_dim
