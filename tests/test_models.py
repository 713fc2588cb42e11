"""Tests for pamkit.models: shapes, feature widths, fx tracing, export, parameter counts and input errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pamkit.errors import ModelError, PamkitError
from pamkit.models import (
    ARCHITECTURES,
    ArchSpec,
    SingleTaskNet,
    arch_names,
    build_backbone,
    build_single_task,
    get_arch,
)

NUM_OUTPUTS = 10
FEATURE_DIMS = {"lenet5": 84, "vgg": 256, "resnet18": 512, "resnet34": 512, "mobilenet_v2": 1280}
# resnet/mobilenet are slow enough on a CPU that 28 px alone is checked; the full-width ResNets are marked slow
# (seconds each on a loaded machine), so `make test-fast` leaves them out.
SLOW = pytest.mark.slow
CASES = [("lenet5", 28), ("lenet5", 32), ("vgg", 28), ("vgg", 32),
         pytest.param("resnet18", 28, marks=SLOW), pytest.param("resnet34", 28, marks=SLOW), ("mobilenet_v2", 28)]


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def make(arch: str, size: int, **kwargs: object) -> SingleTaskNet:
    torch.manual_seed(0)
    return build_single_task(arch, 1, size, NUM_OUTPUTS, **kwargs).eval()


def test_registry_lists_every_architecture() -> None:
    assert arch_names() == sorted(FEATURE_DIMS)
    for name in arch_names():
        spec = get_arch(name)
        assert isinstance(spec, ArchSpec) and spec is ARCHITECTURES[name] and spec.name == name


@pytest.mark.parametrize("arch,size", CASES)
def test_output_shape_feature_dim_and_fx_trace(arch: str, size: int) -> None:
    net = make(arch, size)
    x = torch.randn(2, 1, size, size)
    with torch.no_grad():
        features = net.backbone(x)
        out = net(x)
    assert net.backbone.feature_dim == FEATURE_DIMS[arch]
    assert features.shape == (2, FEATURE_DIMS[arch])
    assert out.shape == (2, NUM_OUTPUTS)
    traced = torch.fx.symbolic_trace(net)
    with torch.no_grad():
        assert torch.equal(traced(x), out)


@pytest.mark.parametrize("arch", ["lenet5", "vgg"])
def test_torch_export(arch: str) -> None:
    net = make(arch, 28)
    x = torch.randn(2, 1, 28, 28)
    exported = torch.export.export(net, (x,))
    with torch.no_grad():
        torch.testing.assert_close(exported.module()(x), net(x))


def test_lenet5_parameter_count_is_the_classic_one() -> None:
    # 28 px: conv1 (pad 2) 28 -> pool 14 -> conv2 10 -> pool 5, so fc1 takes 16*5*5 = 400.
    conv1 = 1 * 6 * 5 * 5 + 6          # 156
    conv2 = 6 * 16 * 5 * 5 + 16        # 2416
    fc1 = 400 * 120 + 120              # 48120
    fc2 = 120 * 84 + 84                # 10164
    head = 84 * NUM_OUTPUTS + NUM_OUTPUTS  # 850
    assert n_params(make("lenet5", 28)) == conv1 + conv2 + fc1 + fc2 + head == 61706
    # 32 px: 32 -> 16 -> 12 -> 6, so fc1 takes 16*6*6 = 576 inputs.
    assert n_params(make("lenet5", 32)) == 61706 + (576 - 400) * 120


def test_lenet5_activation_option() -> None:
    relu = build_backbone("lenet5", 1, 28)
    tanh = build_backbone("lenet5", 1, 28, activation="tanh")
    assert sum(isinstance(m, nn.ReLU) for m in relu.modules()) == 4
    assert sum(isinstance(m, nn.Tanh) for m in tanh.modules()) == 4
    assert not any(isinstance(m, nn.ReLU) for m in tanh.modules())


def test_vgg_topology() -> None:
    net = build_backbone("vgg", 1, 28)
    convs = [m for m in net.features if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [16] * 2 + [32] * 2 + [64] * 3 + [128] * 3 + [128] * 3
    assert sum(isinstance(m, nn.BatchNorm2d) for m in net.features) == 13
    assert net.fc.in_features == 128 and net.fc.out_features == 256
    # Pools are kept only while the side stays >= 2: 28 -> 14 -> 7 -> 3 (3 pools), 32 -> 16 -> 8 -> 4 -> 2 (4 pools).
    assert sum(isinstance(m, nn.MaxPool2d) for m in net.features) == 3
    assert sum(isinstance(m, nn.MaxPool2d) for m in build_backbone("vgg", 1, 32).features) == 4
    plain = build_backbone("vgg", 1, 28, batch_norm=False, fc_width=64)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in plain.modules())
    assert plain.feature_dim == 64


@SLOW
def test_width_multipliers_change_parameter_counts() -> None:
    assert n_params(make("vgg", 28, width=0.25)) < n_params(make("vgg", 28, width=0.5))
    assert n_params(make("mobilenet_v2", 28, width=0.5)) < n_params(make("mobilenet_v2", 28, width=1.0))
    assert n_params(make("resnet18", 28)) < n_params(make("resnet34", 28))


@SLOW
def test_resnet_keeps_torchvision_structure_with_small_image_stem() -> None:
    net = build_backbone("resnet18", 1, 28)
    assert (net.conv1.in_channels, net.conv1.kernel_size, net.conv1.stride) == (1, (3, 3), (1, 1))
    assert isinstance(net.maxpool, nn.Identity) and isinstance(net.fc, nn.Identity)
    assert type(net.layer1[0]).__name__ == "BasicBlock"
    assert net.layer2[0].downsample is not None
    # torchvision resnet18 has 11,689,512 params; the 3x3x1 stem replaces the 7x7x3 one and fc (512*1000+1000) goes.
    assert n_params(net) == 11_689_512 - 64 * 3 * 7 * 7 + 64 * 1 * 3 * 3 - (512 * 1000 + 1000)


def test_reduced_resnet_scales_every_stage() -> None:
    net = build_backbone("resnet18", 1, 28, width=0.125)
    assert [net.layer1[0].conv1.out_channels, net.layer4[1].conv2.out_channels, net.feature_dim] == [8, 64, 64]
    assert net.conv1.out_channels == net.bn1.num_features == 8
    assert net(torch.randn(2, 1, 28, 28)).shape == (2, 64)
    assert n_params(net) < n_params(build_backbone("resnet18", 1, 28)) / 50
    with pytest.raises(ModelError, match="resnet width must be a finite number > 0"):
        build_backbone("resnet18", 1, 28, width=0)


def test_mobilenet_stem_and_no_classifier() -> None:
    net = build_backbone("mobilenet_v2", 3, 28)
    stem = net.features[0][0]
    assert (stem.in_channels, stem.stride) == (3, (1, 1))
    assert isinstance(net.classifier, nn.Identity)
    assert not any(isinstance(m, nn.Dropout) for m in net.modules())


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")
def test_lenet5_min_size_is_tight() -> None:
    assert get_arch("lenet5").min_size == 12
    assert make("lenet5", 12)(torch.randn(2, 1, 12, 12)).shape == (2, NUM_OUTPUTS)
    # One pixel less and conv2 leaves a 1x1 map that the second max-pool cannot halve.
    below = get_arch("lenet5").build(1, 11)
    with pytest.raises(RuntimeError):
        below(torch.randn(2, 1, 11, 11))


@pytest.mark.parametrize("arch", ["vgg", pytest.param("resnet18", marks=SLOW), "mobilenet_v2"])
def test_min_size_runs(arch: str) -> None:
    side = get_arch(arch).min_size
    assert make(arch, side)(torch.randn(2, 1, side, side)).shape == (2, NUM_OUTPUTS)


def test_unknown_arch_lists_known_names() -> None:
    with pytest.raises(ModelError, match="unknown architecture 'alexnet'.*lenet5.*vgg"):
        build_single_task("alexnet", 1, 28, NUM_OUTPUTS)
    assert issubclass(ModelError, PamkitError)


def test_too_small_size_names_minimum_and_fix() -> None:
    with pytest.raises(ModelError, match=r"lenet5 needs inputs of at least 12x12.*got size 11.*--size 12"):
        build_backbone("lenet5", 1, 11)
    with pytest.raises(ModelError, match="size must be an integer >= 1"):
        build_backbone("vgg", 1, 0)


def test_unknown_kwarg_lists_accepted_ones() -> None:
    with pytest.raises(ModelError, match=r"does not take the option\(s\) depth.*width=0.25.*batch_norm"):
        build_backbone("vgg", 1, 28, depth=19)
    with pytest.raises(ModelError, match="accepted options.*width=1.0"):
        build_backbone("resnet18", 1, 28, depth=50)
    with pytest.raises(ModelError, match="lenet5 does not take the option.*width.*activation="):
        build_backbone("lenet5", 1, 28, width=0.5)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"in_channels": 0}, "in_channels must be an integer >= 1"),
        ({"num_outputs": 0}, "num_outputs must be an integer >= 1"),
        ({"activation": "sigmoid"}, "activation 'sigmoid' is not supported; use one of: relu, tanh"),
    ],
)
def test_bad_values_are_rejected(kwargs: dict, match: str) -> None:
    args = {"arch": "lenet5", "in_channels": 1, "size": 28, "num_outputs": NUM_OUTPUTS, **kwargs}
    with pytest.raises(ModelError, match=match):
        build_single_task(**args)


@pytest.mark.parametrize("width", [0, -0.5, float("inf"), float("nan")])
def test_bad_vgg_options_are_rejected(width: float) -> None:
    with pytest.raises(ModelError, match="vgg width must be a finite number > 0"):
        build_backbone("vgg", 1, 28, width=width)
    with pytest.raises(ModelError, match="batch_norm must be True or False"):
        build_backbone("vgg", 1, 28, batch_norm="no")


def test_head_must_match_backbone() -> None:
    with pytest.raises(ModelError, match=r"nn.Linear\(84, num_outputs\)"):
        SingleTaskNet(build_backbone("lenet5", 1, 28), nn.Linear(10, 2))
