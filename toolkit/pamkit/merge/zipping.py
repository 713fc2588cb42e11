"""Per-layer math of Multi-Task Zipping (He, Zhou, Thiele, NeurIPS 2018): layer Hessians, pair costs, merged weights.

Every neuron is handled as its incoming vector ``[weights..., bias]``, in the order of ``weight.reshape(out, -1)``
followed by the bias, which is also the order of the layer input ``x`` (with a constant 1 appended) used for
``H = E[x xᵀ]``. The Hessian algebra runs in float64; results come back in the inputs' floating dtype.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from pamkit.errors import PamkitError

IntPair = int | tuple[int, int]


def layer_hessian(
    inputs: Tensor,
    kernel_size: IntPair | None = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
) -> Tensor:
    """Return ``E[x xᵀ]`` of a layer's inputs with a bias 1 appended, the Hessian MTZ's costs are measured in.

    Linear layer (``kernel_size`` None): ``inputs`` is ``[B, n_in]`` and the result ``[n_in+1, n_in+1]``.
    Conv layer: ``inputs`` is ``[B, C, H, W]``; each output position's receptive patch (zero padding included) is
    one sample, averaged over batch and positions, giving ``[C*kh*kw + 1, C*kh*kw + 1]``.
    """
    samples = _layer_samples(inputs, kernel_size, stride, padding, dilation)
    ones = torch.ones(samples.shape[0], 1, dtype=samples.dtype, device=samples.device)
    x = torch.cat([samples, ones], dim=1)
    return (x.T @ x / x.shape[0]).to(_float_dtype(inputs))


def _layer_samples(
    inputs: Tensor, kernel_size: IntPair | None, stride: IntPair, padding: IntPair, dilation: IntPair
) -> Tensor:
    """Return the layer's input samples as float64 ``[N, n_in_flat]``: rows for linear, unfolded patches for conv."""
    if kernel_size is None:
        if inputs.dim() != 2:
            raise PamkitError(
                f"layer_hessian of a linear layer needs inputs [batch, features], got shape {tuple(inputs.shape)}; "
                "flatten the input, or pass kernel_size for a conv layer"
            )
        samples = inputs.double()
    else:
        if inputs.dim() != 4:
            raise PamkitError(
                f"layer_hessian of a conv layer needs inputs [batch, channels, height, width], got shape "
                f"{tuple(inputs.shape)}; pass the conv's 4-D input, or kernel_size=None for a linear layer"
            )
        patches = F.unfold(inputs.double(), kernel_size, dilation=dilation, padding=padding, stride=stride)
        samples = patches.transpose(1, 2).reshape(-1, patches.shape[1])
    if samples.shape[0] == 0:
        raise PamkitError("layer_hessian got no samples (empty batch or no output positions); pass a non-empty batch")
    return samples


def flatten_neurons(weight: Tensor, bias: Tensor | None) -> Tensor:
    """Return ``[out, n_in_flat + 1]`` incoming vectors (bias last, zeros if None) in the Hessian's order."""
    if weight.dim() < 2:
        raise PamkitError(
            f"flatten_neurons needs a weight [out, ...] with at least 2 dims, got shape {tuple(weight.shape)}; "
            "pass a linear or conv weight"
        )
    out = weight.shape[0]
    if bias is None:
        bias = torch.zeros(out, dtype=weight.dtype, device=weight.device)
    elif bias.shape != (out,):
        raise PamkitError(
            f"flatten_neurons got bias shape {tuple(bias.shape)} for {out} neurons; pass the same layer's bias [{out}]"
        )
    return torch.cat([weight.reshape(out, -1), bias.to(weight.dtype).unsqueeze(1)], dim=1)


def unflatten_neurons(vectors: Tensor, weight_shape: torch.Size, has_bias: bool) -> tuple[Tensor, Tensor | None]:
    """Split ``[k, n_in_flat + 1]`` vectors back into a weight ``[k, *weight_shape[1:]]`` and a bias (or None).

    The row count ``k`` may differ from ``weight_shape[0]`` (a zipped layer keeps only some neurons). With
    ``has_bias`` False the bias column is dropped as is.
    """
    per_neuron = tuple(weight_shape[1:])
    n_in = math.prod(per_neuron)
    if vectors.dim() != 2 or vectors.shape[1] != n_in + 1:
        raise PamkitError(
            f"unflatten_neurons got vectors of shape {tuple(vectors.shape)} for weight shape {tuple(weight_shape)}; "
            f"expected [k, {n_in + 1}] (flattened weights plus the bias column), as flatten_neurons makes"
        )
    weight = vectors[:, :-1].reshape(vectors.shape[0], *per_neuron)
    return weight, (vectors[:, -1].clone() if has_bias else None)


def pair_costs(a: Tensor, b: Tensor, h_a: Tensor, h_b: Tensor, damping: float = 1e-4) -> Tensor:
    """Return ``[da, db]`` MTZ costs ``½ (a_i − b_j)ᵀ Ĥ (a_i − b_j)``, ``Ĥ = (H_A⁻¹ + H_B⁻¹)⁻¹``, to rank pairs.

    ``Ĥ`` is computed as ``H_A (H_A + H_B)⁻¹ H_B`` (the same matrix), so only the sum is factorised; each Hessian
    first gets ``damping * mean(diag) * I`` so rank-deficient activations (dead units, zero channels) stay finite.
    """
    _check_vectors(a, b, h_a, h_b, same_rows=False)
    ha, hb = _damped(h_a, damping), _damped(h_b, damping)
    h_hat = ha @ torch.cholesky_solve(hb, _cholesky(ha + hb))
    h_hat = (h_hat + h_hat.T) / 2
    a64, b64 = a.double(), b.double()
    quad_a = ((a64 @ h_hat) * a64).sum(dim=1)
    quad_b = ((b64 @ h_hat) * b64).sum(dim=1)
    costs = 0.5 * (quad_a[:, None] + quad_b[None, :] - 2 * a64 @ h_hat @ b64.T)
    return costs.clamp_min(0).to(_float_dtype(a))


def merged_weights(a: Tensor, b: Tensor, h_a: Tensor, h_b: Tensor, damping: float = 1e-4) -> Tensor:
    """Return ``[k, p]`` rows ``(H_A + H_B)⁻¹ (H_A a_k + H_B b_k)``: the shared neuron closest to both in output."""
    _check_vectors(a, b, h_a, h_b, same_rows=True)
    ha, hb = _damped(h_a, damping), _damped(h_b, damping)
    rhs = ha @ a.double().T + hb @ b.double().T
    return torch.cholesky_solve(rhs, _cholesky(ha + hb)).T.to(_float_dtype(a))


def greedy_pairs(costs: Tensor, k: int | None = None) -> list[tuple[int, int, float]]:
    """Return ``k`` pairs ``(i, j, cost)`` taken by increasing cost, each ``i`` and ``j`` at most once (MTZ's zip)."""
    if costs.dim() != 2:
        raise PamkitError(
            f"greedy_pairs needs a [da, db] cost matrix, got shape {tuple(costs.shape)}; pass pair_costs' output"
        )
    if not torch.isfinite(costs).all():
        raise PamkitError("greedy_pairs got NaN or inf costs; check the Hessians and weights (or raise damping)")
    k = _pair_count(k, min(costs.shape))
    db = costs.shape[1]
    used_i: set[int] = set()
    used_j: set[int] = set()
    pairs: list[tuple[int, int, float]] = []
    for flat in torch.argsort(costs.flatten(), stable=True).tolist():
        if len(pairs) == k:
            break
        i, j = divmod(flat, db)
        if i not in used_i and j not in used_j:
            used_i.add(i)
            used_j.add(j)
            pairs.append((i, j, float(costs[i, j])))
    return pairs


def _pair_count(k: int | None, most: int) -> int:
    """Return the number of pairs to take: ``k``, or ``most`` (a full zip) when None; refuse impossible counts."""
    if k is None:
        return most
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= most:
        raise PamkitError(
            f"greedy_pairs k must be an integer in [0, {most}] (the smaller layer's width), got {k!r}; "
            "lower k, or pass None for a full zip"
        )
    return k


def _check_vectors(a: Tensor, b: Tensor, h_a: Tensor, h_b: Tensor, *, same_rows: bool) -> None:
    """Refuse incoming vectors and Hessians whose shapes do not describe the same layer input of size p."""
    if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[1]:
        raise PamkitError(
            f"neuron vectors must be [n, p] with the same p, got a {tuple(a.shape)} and b {tuple(b.shape)}; "
            "flatten both layers with flatten_neurons"
        )
    if same_rows and a.shape[0] != b.shape[0]:
        raise PamkitError(
            f"merged_weights needs paired rows, got {a.shape[0]} rows in a and {b.shape[0]} in b; "
            "index a and b with the pairs from greedy_pairs"
        )
    p = a.shape[1]
    for name, h in (("h_a", h_a), ("h_b", h_b)):
        if h.shape != (p, p):
            raise PamkitError(
                f"{name} must be a square [{p}, {p}] Hessian matching the vectors' length p={p}, "
                f"got shape {tuple(h.shape)}; compute it with layer_hessian on the same layer's inputs"
            )


def _damped(h: Tensor, damping: float) -> Tensor:
    """Return the symmetric part of ``h`` in float64 plus ``damping * mean(diag) * I``, so it can be factorised."""
    if isinstance(damping, bool) or not isinstance(damping, (int, float)) or not 0 <= damping < math.inf:
        raise PamkitError(f"damping must be a finite number >= 0, got {damping!r}; use e.g. 1e-4")
    h64 = h.double()
    h64 = (h64 + h64.T) / 2
    eye = torch.eye(h64.shape[0], dtype=h64.dtype, device=h64.device)
    return h64 + damping * h64.diagonal().mean() * eye


def _cholesky(s: Tensor) -> Tensor:
    """Return the Cholesky factor of ``H_A + H_B``, or explain why the Hessians cannot be combined."""
    factor, info = torch.linalg.cholesky_ex(s)
    if info.item() != 0 or not torch.isfinite(factor).all():
        raise PamkitError(
            "H_A + H_B is not positive definite (a direction no input of either network reaches, or non-finite "
            "Hessians); pass damping > 0 and Hessians from layer_hessian"
        )
    return factor


def _float_dtype(t: Tensor) -> torch.dtype:
    """Return ``t``'s dtype if floating, else the default float dtype, for the results handed back."""
    return t.dtype if t.is_floating_point() else torch.get_default_dtype()
