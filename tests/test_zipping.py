"""Tests for pamkit.merge.zipping: MTZ layer Hessians, neuron vectors, pair costs, merged weights and greedy pairing."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from pamkit.errors import PamkitError
from pamkit.merge.zipping import (
    flatten_neurons,
    greedy_pairs,
    layer_hessian,
    merged_weights,
    pair_costs,
    unflatten_neurons,
)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def with_ones(x: torch.Tensor) -> torch.Tensor:
    return torch.cat([x, torch.ones(x.shape[0], 1, dtype=x.dtype)], dim=1)


def spd(p: int, seed: int) -> torch.Tensor:
    """A well-conditioned symmetric positive definite matrix."""
    m = torch.randn(p, p, generator=gen(seed), dtype=torch.float64)
    return m @ m.T / p + torch.eye(p, dtype=torch.float64)


def loop_patches(x: torch.Tensor, k: tuple[int, int], stride: int, padding: int, dilation: int) -> torch.Tensor:
    """Every conv receptive patch, flattened as [C, kh, kw], by an explicit loop: [B, out_h, out_w, C*kh*kw]."""
    xp = F.pad(x, (padding, padding, padding, padding))
    span_h, span_w = dilation * (k[0] - 1) + 1, dilation * (k[1] - 1) + 1
    out_h = (xp.shape[2] - span_h) // stride + 1
    out_w = (xp.shape[3] - span_w) // stride + 1
    rows = []
    for i in range(out_h):
        cols = []
        for j in range(out_w):
            r, c = i * stride, j * stride
            patch = xp[:, :, r : r + span_h : dilation, c : c + span_w : dilation]
            cols.append(patch.reshape(x.shape[0], -1))
        rows.append(torch.stack(cols, dim=1))
    return torch.stack(rows, dim=1)


CONV_CASES = [((3, 3), 1, 0, 1), ((3, 2), 2, 1, 1), ((2, 2), 1, 2, 2)]


@pytest.mark.parametrize("k,stride,padding,dilation", CONV_CASES)
def test_conv_hessian_equals_loop_over_positions(k, stride, padding, dilation) -> None:
    x = torch.randn(2, 3, 6, 5, generator=gen(0), dtype=torch.float64)
    patches = loop_patches(x, k, stride, padding, dilation)
    samples = with_ones(patches.reshape(-1, patches.shape[-1]))
    expected = sum(torch.outer(s, s) for s in samples) / samples.shape[0]
    h = layer_hessian(x, k, stride=stride, padding=padding, dilation=dilation)
    assert h.shape == (3 * k[0] * k[1] + 1,) * 2 and h.dtype == torch.float64
    torch.testing.assert_close(h, expected)


@pytest.mark.parametrize("k,stride,padding,dilation", CONV_CASES)
def test_flattened_conv_neurons_follow_patch_order(k, stride, padding, dilation) -> None:
    x = torch.randn(2, 3, 6, 5, generator=gen(1), dtype=torch.float64)
    w = torch.randn(4, 3, *k, generator=gen(2), dtype=torch.float64)
    b = torch.randn(4, generator=gen(3), dtype=torch.float64)
    patches = loop_patches(x, k, stride, padding, dilation)
    out = with_ones(patches.reshape(-1, patches.shape[-1])) @ flatten_neurons(w, b).T
    conv = F.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation)
    torch.testing.assert_close(out.reshape(*patches.shape[:3], 4).permute(0, 3, 1, 2), conv)


def test_linear_hessian_is_mean_outer_product_with_bias_one() -> None:
    x = torch.randn(7, 4, generator=gen(4))
    xs = with_ones(x.double())
    h = layer_hessian(x)
    assert h.shape == (5, 5) and h.dtype == torch.float32
    torch.testing.assert_close(h, (xs.T @ xs / 7).float())
    assert h[-1, -1].item() == pytest.approx(1.0)


def test_flatten_unflatten_round_trip() -> None:
    w = torch.randn(5, 2, 3, 3, generator=gen(5))
    b = torch.randn(5, generator=gen(6))
    v = flatten_neurons(w, b)
    assert v.shape == (5, 19)
    w2, b2 = unflatten_neurons(v, w.shape, has_bias=True)
    assert torch.equal(w2, w) and torch.equal(b2, b)
    v0 = flatten_neurons(w, None)
    assert torch.equal(v0[:, -1], torch.zeros(5))
    w3, b3 = unflatten_neurons(v0[:2], w.shape, has_bias=False)
    assert torch.equal(w3, w[:2]) and b3 is None


def test_pair_costs_zero_for_identical_neurons_and_symmetric() -> None:
    a = torch.randn(4, 6, generator=gen(7), dtype=torch.float64)
    b = torch.cat([a[2:3], torch.randn(2, 6, generator=gen(8), dtype=torch.float64)])
    h_a, h_b = spd(6, 9), spd(6, 10)
    costs = pair_costs(a, b, h_a, h_b)
    assert costs.shape == (4, 3)
    assert costs[2, 0].item() == pytest.approx(0.0, abs=1e-12)
    assert (costs >= 0).all()
    torch.testing.assert_close(pair_costs(b, a, h_b, h_a), costs.T)


def test_pair_costs_match_naive_formula() -> None:
    a = torch.randn(3, 5, generator=gen(11), dtype=torch.float64)
    b = torch.randn(4, 5, generator=gen(12), dtype=torch.float64)
    h_a, h_b = spd(5, 13), spd(5, 14)
    h_hat = torch.linalg.inv(torch.linalg.inv(h_a) + torch.linalg.inv(h_b))
    naive = torch.tensor([[0.5 * (ai - bj) @ h_hat @ (ai - bj) for bj in b] for ai in a], dtype=torch.float64)
    torch.testing.assert_close(pair_costs(a, b, h_a, h_b, damping=0.0), naive)


def test_pair_costs_with_equal_hessians_is_quarter_quadratic() -> None:
    a = torch.randn(3, 5, generator=gen(15), dtype=torch.float64)
    b = torch.randn(2, 5, generator=gen(16), dtype=torch.float64)
    h = spd(5, 17)
    expected = torch.tensor([[0.25 * (ai - bj) @ h @ (ai - bj) for bj in b] for ai in a], dtype=torch.float64)
    torch.testing.assert_close(pair_costs(a, b, h, h, damping=0.0), expected)


def test_pair_costs_keep_float32_dtype() -> None:
    a, b = torch.randn(2, 3, generator=gen(18)), torch.randn(2, 3, generator=gen(19))
    assert pair_costs(a, b, torch.eye(3), torch.eye(3)).dtype == torch.float32


def test_merged_weights_average_for_equal_hessians() -> None:
    a = torch.randn(3, 5, generator=gen(20), dtype=torch.float64)
    b = torch.randn(3, 5, generator=gen(21), dtype=torch.float64)
    h = spd(5, 22)
    torch.testing.assert_close(merged_weights(a, b, h, h), (a + b) / 2)


def test_merged_weights_follow_the_dominant_hessian() -> None:
    a = torch.randn(3, 5, generator=gen(23), dtype=torch.float64)
    b = torch.randn(3, 5, generator=gen(24), dtype=torch.float64)
    h_a = spd(5, 25)
    w = merged_weights(a, b, h_a, 1e-8 * spd(5, 26))
    torch.testing.assert_close(w, a, atol=1e-6, rtol=0)


def test_merged_weights_minimise_expected_output_error() -> None:
    x_a = torch.randn(40, 4, generator=gen(27), dtype=torch.float64)
    x_b = 2 * torch.randn(40, 4, generator=gen(28), dtype=torch.float64) + 1
    a = torch.randn(1, 5, generator=gen(29), dtype=torch.float64)
    b = torch.randn(1, 5, generator=gen(30), dtype=torch.float64)
    w = merged_weights(a, b, layer_hessian(x_a), layer_hessian(x_b), damping=0.0)

    def error(v: torch.Tensor) -> float:
        err_a = ((with_ones(x_a) @ (v - a).T) ** 2).mean()
        err_b = ((with_ones(x_b) @ (v - b).T) ** 2).mean()
        return float(err_a + err_b)

    best = error(w)
    for seed in range(20):
        delta = 1e-3 * torch.randn(1, 5, generator=gen(100 + seed), dtype=torch.float64)
        assert error(w + delta) > best
    assert best < min(error(a), error(b), error((a + b) / 2))


def test_greedy_pairs_known_answer() -> None:
    costs = torch.tensor([[0.5, 0.1, 0.9], [0.2, 0.3, 0.8], [0.4, 0.05, 0.7]])
    # 0.05 takes (2,1); 0.1 at (0,1) is blocked by j=1; 0.2 takes (1,0); everything below 0.9 is then blocked.
    pairs = greedy_pairs(costs)
    assert [(i, j) for i, j, _ in pairs] == [(2, 1), (1, 0), (0, 2)]
    assert [c for _, _, c in pairs] == pytest.approx([0.05, 0.2, 0.9])
    assert [(i, j) for i, j, _ in greedy_pairs(costs, k=2)] == [(2, 1), (1, 0)]
    assert greedy_pairs(costs, k=0) == []


def test_greedy_pairs_use_each_index_once() -> None:
    costs = torch.rand(6, 9, generator=gen(31))
    pairs = greedy_pairs(costs)
    assert len(pairs) == 6
    assert len({i for i, _, _ in pairs}) == 6 and len({j for _, j, _ in pairs}) == 6
    assert [c for _, _, c in pairs] == sorted(c for _, _, c in pairs)
    assert len(greedy_pairs(costs, k=4)) == 4


def test_rank_deficient_hessians_stay_finite() -> None:
    x_a = torch.randn(8, 3, 5, 5, generator=gen(32))
    x_a[:, 1] = 0  # a dead input channel in network A only
    x_b = torch.randn(8, 3, 5, 5, generator=gen(33))
    x_b[:, 1] = 0  # ... and in B too: H_A + H_B is singular without damping
    w_a = torch.randn(4, 3, 3, 3, generator=gen(34))
    w_b = torch.randn(4, 3, 3, 3, generator=gen(35))
    a, b = flatten_neurons(w_a, None), flatten_neurons(w_b, None)
    for h_b in (layer_hessian(torch.randn(8, 3, 5, 5, generator=gen(36)), (3, 3)), layer_hessian(x_b, (3, 3))):
        h_a = layer_hessian(x_a, (3, 3))
        assert torch.isfinite(pair_costs(a, b, h_a, h_b)).all()
        assert torch.isfinite(merged_weights(a, b, h_a, h_b)).all()
    dead = torch.relu(-torch.rand(10, 4, generator=gen(37)))  # every unit dead: x is zero but the bias entry
    assert torch.isfinite(pair_costs(a[:, :5], b[:, :5], layer_hessian(dead), layer_hessian(dead))).all()


def test_singular_hessians_without_damping_raise() -> None:
    h = layer_hessian(torch.zeros(4, 3))
    with pytest.raises(PamkitError, match="damping"):
        pair_costs(torch.ones(1, 4), torch.ones(1, 4), h, h, damping=0.0)


@pytest.mark.parametrize(
    "call",
    [
        lambda: pair_costs(torch.ones(2, 4), torch.ones(2, 5), torch.eye(4), torch.eye(4)),
        lambda: pair_costs(torch.ones(2, 4), torch.ones(2, 4), torch.eye(5), torch.eye(4)),
        lambda: pair_costs(torch.ones(2, 4), torch.ones(2, 4), torch.eye(4), torch.ones(4, 3)),
        lambda: pair_costs(torch.ones(2, 4), torch.ones(2, 4), torch.eye(4), torch.eye(4), damping=-1.0),
        lambda: merged_weights(torch.ones(2, 4), torch.ones(3, 4), torch.eye(4), torch.eye(4)),
        lambda: merged_weights(torch.ones(2, 4), torch.ones(2, 4), torch.ones(4, 5), torch.eye(4)),
        lambda: greedy_pairs(torch.rand(3, 4), k=4),
        lambda: greedy_pairs(torch.rand(3, 4), k=-1),
        lambda: greedy_pairs(torch.rand(12)),
        lambda: greedy_pairs(torch.tensor([[float("nan")]])),
        lambda: layer_hessian(torch.ones(2, 3, 4)),
        lambda: layer_hessian(torch.ones(2, 3), (3, 3)),
        lambda: layer_hessian(torch.ones(0, 3)),
        lambda: flatten_neurons(torch.ones(3, 4), torch.ones(4)),
        lambda: unflatten_neurons(torch.ones(3, 4), torch.Size([3, 4]), True),
    ],
)
def test_bad_input_raises_pamkit_error(call) -> None:
    with pytest.raises(PamkitError):
        call()
