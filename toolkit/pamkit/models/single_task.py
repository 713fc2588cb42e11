"""The single-task network: one backbone plus one task's linear head, the unit the merger takes as input."""

from __future__ import annotations

from typing import cast

from torch import Tensor, nn

from pamkit.errors import ModelError
from pamkit.models._checks import check_positive_int
from pamkit.models.registry import build_backbone


class SingleTaskNet(nn.Module):
    """One task's network: a backbone producing a feature vector, then that task's linear head."""

    def __init__(self, backbone: nn.Module, head: nn.Linear) -> None:
        super().__init__()
        feature_dim = getattr(backbone, "feature_dim", None)
        if feature_dim is not None and head.in_features != feature_dim:
            raise ModelError(
                f"the head takes {head.in_features} inputs but the backbone yields {feature_dim} features; "
                f"build the head as nn.Linear({feature_dim}, num_outputs)"
            )
        self.backbone = backbone
        self.head = head

    def forward(self, x: Tensor) -> Tensor:
        """Raw task outputs (logits); activations such as tanh belong to the loss."""
        return self.head(self.backbone(x))


def build_single_task(arch: str, in_channels: int, size: int, num_outputs: int, **kwargs: object) -> SingleTaskNet:
    """Build a freshly initialised single-task network: ``arch``'s backbone plus a ``num_outputs``-wide head."""
    check_positive_int(num_outputs, "num_outputs", "pass the number of outputs of the task (classes or attributes)")
    backbone = build_backbone(arch, in_channels, size, **kwargs)
    return SingleTaskNet(backbone, nn.Linear(cast(int, backbone.feature_dim), num_outputs))  # every builder sets it
