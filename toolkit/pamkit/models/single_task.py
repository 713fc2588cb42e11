"""The single-task network: one backbone plus one task's linear head, the unit the merger takes as input."""

from __future__ import annotations

from typing import Any, cast

from torch import Tensor, nn

from pamkit.errors import ModelError
from pamkit.models._checks import check_positive_int
from pamkit.models.registry import build_backbone
from pamkit.models.user import build_user_network, is_import_path


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


def build_single_task(arch: str, in_channels: int, size: int, num_outputs: int, **kwargs: Any) -> nn.Module:
    """A freshly initialised network for one task of ``num_outputs`` outputs.

    A built-in ``arch`` gives its backbone plus a linear ``head`` (a ``SingleTaskNet``); an import
    path (``package.module:Class``) gives the user's own network, its head fitted to the task.
    """
    check_positive_int(num_outputs, "num_outputs", "pass the number of outputs of the task (classes or attributes)")
    if is_import_path(arch):
        return build_user_network(arch, in_channels, size, num_outputs, **kwargs)
    backbone = build_backbone(arch, in_channels, size, **kwargs)
    return SingleTaskNet(backbone, nn.Linear(cast(int, backbone.feature_dim), num_outputs))  # every builder sets it
