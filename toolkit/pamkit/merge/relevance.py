"""Which tasks each candidate neuron of a layer is relevant to (PAM, method.md 3.2-3.3).

DRAFT: scale notes to be written after the experiments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor
from tqdm.auto import tqdm

from pamkit.errors import PamkitError

SIGMA2 = 0.1
DEFAULT_RELATIVE_ALPHA = 0.1
_NEURON_CHUNK = 64  # neurons per float64 Gram block in neuron_distances (64 x 128 x 128 doubles = 8 MiB)


@dataclass(frozen=True)
class Relevance:
    """The outcome of regrouping one layer: per candidate, which tasks it is relevant to, and why."""

    relevant: Tensor  # bool [m, n_tasks]: rel(j) as a mask; an all-False row means "drop j"
    mi: Tensor  # float [m, n_tasks]: each candidate's own MI with each task (for reports)
    irrelevant_order: list[list[int]]  # per task, the order in which candidates joined R_t
    alpha: list[float]  # per task, the threshold used
    layer_mi: list[float]  # per task, I(whole layer; Y_t)


@dataclass(frozen=True)
class _Labels:
    """One task's labels prepared for batched MI: one-hot classes of every column plus a ones column."""

    onehot: Tensor  # float32 [N, C + 1]: the classes of all k columns side by side, then a column of ones
    own: Tensor  # long [N, k]: for sample i and column c, the onehot column of i's class
    log_size: Tensor  # float32 [N, k]: log of the size of that class


def _describe(value: object) -> str:
    """A short description of a value for error messages: a tensor's shape, else its type."""
    return f"a tensor of shape {tuple(value.shape)}" if isinstance(value, Tensor) else type(value).__name__


def _check_activations(activations: object) -> Tensor:
    """Return activations as [N, m, f] float64, or raise naming what is wrong with them."""
    if not isinstance(activations, Tensor) or activations.dim() < 2 or activations.is_complex():
        raise PamkitError(f"activations must be a real tensor [N, m, f] (samples, candidates, features each), "
                          f"got {_describe(activations)}; stack the layer's outputs as [N, m, h*w]")
    n, m = activations.shape[:2]
    if n < 2:
        raise PamkitError(f"activations have N = {n} samples; mutual information needs N >= 2 (the method uses 128)")
    acts = activations.detach().reshape(n, m, -1).to(torch.float64)
    if acts.numel() == 0:
        raise PamkitError(f"activations {_describe(activations)} are empty; pass at least one candidate and feature")
    if not torch.isfinite(acts).all():
        raise PamkitError("activations contain NaN or infinity; check the networks' outputs on the batch")
    return acts


def _check_labels(labels: object, n: int, what: str) -> Tensor:
    """Return labels as [N, k], or raise naming what is wrong with them."""
    if not isinstance(labels, Tensor) or labels.is_floating_point() or labels.is_complex() or labels.dim() not in (1, 2):
        raise PamkitError(f"{what} must be an integer tensor [N, k] (or [N]), got "
                          f"{_describe(labels)}{'' if not isinstance(labels, Tensor) else ' ' + str(labels.dtype)}; "
                          f"pass class indices or 0/1 attributes as a LongTensor")
    labels = labels.reshape(labels.shape[0], -1)
    if labels.shape[0] != n or labels.shape[1] == 0:
        raise PamkitError(f"{what} has shape {tuple(labels.shape)} but the activations have N = {n} samples; "
                          f"give one row of labels per sample, [N, k] with k >= 1")
    return labels


def _check_positive(value: object, what: str) -> float:
    """Return ``value`` as float if it is a finite number > 0, else raise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise PamkitError(f"{what} must be a finite number > 0, got {value!r}")
    return float(value)


def _encode(labels: Tensor) -> _Labels:
    """One-hot encode every label column of [N, k] side by side, for class-wise kernel sums in one matmul."""
    blocks, own, log_size, offset = [], [], [], 0
    for column in labels.T:
        values, inverse, counts = torch.unique(column, return_inverse=True, return_counts=True)
        blocks.append(torch.nn.functional.one_hot(inverse, len(values)))
        own.append(inverse + offset)
        log_size.append(counts[inverse].double().log())
        offset += len(values)
    ones = torch.ones(labels.shape[0], 1, dtype=torch.long)
    return _Labels(torch.cat([*blocks, ones], 1).float(), torch.stack(own, 1), torch.stack(log_size, 1).float())


def _mi_from_kernel(kernel: Tensor, labels: _Labels) -> Tensor:
    """[..., N, N] kernel values exp(-d/2s2) -> [...] KDE mutual information summed over the label columns."""
    sums = kernel @ labels.onehot  # [..., N, C + 1]: per sample, kernel mass in each class; last column: all
    n, k = labels.own.shape
    own = sums.gather(-1, labels.own.expand(*sums.shape[:-1], k)).log_() - labels.log_size
    total = sums[..., -1].log() - math.log(n)
    return own.sum(-1).mean(-1) - k * total.mean(-1)


def kde_entropy(dist: Tensor, sigma2: float) -> Tensor:
    """[..., N, N] squared distances -> [...]: the KDE (pairwise-distance) entropy upper bound, constant dropped."""
    sigma2 = _check_positive(sigma2, "sigma2")
    n = dist.shape[-1]
    return -(torch.logsumexp(dist * (-0.5 / sigma2), -1) - math.log(n)).mean(-1)


def kde_mutual_information(dist: Tensor, labels: Tensor, sigma2: float = SIGMA2) -> Tensor:
    """[..., N, N] squared distances (zero diagonal), labels [N, k] -> [...]: H(Z) - H(Z|Y) summed over columns."""
    sigma2 = _check_positive(sigma2, "sigma2")
    if not isinstance(dist, Tensor) or dist.dim() < 2 or dist.shape[-1] != dist.shape[-2] or dist.shape[-1] < 2:
        raise PamkitError(f"dist must be squared distances [..., N, N] with N >= 2, got {_describe(dist)}; "
                          f"use neuron_distances() and sum over the set's neurons")
    encoded = _encode(_check_labels(labels, dist.shape[-1], "labels"))
    return _mi_from_kernel(torch.exp(dist.float() * (-0.5 / sigma2)), encoded)


def neuron_distances(activations: Tensor) -> Tensor:
    """[N, m, f] -> [m, N, N]: each neuron's squared pairwise distances scaled to mean 1 off the diagonal.

    The scaling makes the MI estimate scale-free; a constant (dead) neuron gets all-zero distances.
    """
    acts = _check_activations(activations)
    n, m, _ = acts.shape
    out = torch.empty(m, n, n, dtype=torch.float32)
    for start in range(0, m, _NEURON_CHUNK):
        out[start:start + _NEURON_CHUNK] = _normalised_distances(acts[:, start:start + _NEURON_CHUNK])
    return out


def _normalised_distances(acts: Tensor) -> Tensor:
    """[N, c, f] float64 -> [c, N, N] float32 squared distances with mean 1 off the diagonal (dead: all 0)."""
    n = acts.shape[0]
    dead = (acts.amax(0) == acts.amin(0)).all(1)  # exact test (every sample identical), immune to rounding
    x = (acts - acts.mean(0)).transpose(0, 1)  # [c, N, f], centred and scaled for a well-conditioned Gram
    x = x / x.square().mean((1, 2), keepdim=True).sqrt().masked_fill(dead[:, None, None], 1.0)
    sq = x.square().sum(2)
    dist = (sq[:, :, None] + sq[:, None, :] - 2 * x @ x.transpose(1, 2)).clamp_(min=0)
    dist.diagonal(dim1=1, dim2=2).zero_()
    mean = dist.sum((1, 2), keepdim=True) / (n * (n - 1))
    return (dist / mean.masked_fill(dead[:, None, None], 1.0)).masked_fill_(dead[:, None, None], 0.0).float()


def _set_scale(live: Tensor, sigma2: float) -> Tensor:
    """Kernel exponent factor -1/(2 sigma2 L) for sets of L live neurons: a set's distance is the mean per neuron."""
    return (-0.5 / sigma2) / live.clamp(min=1)


def _set_mi(dist_sum: Tensor, live: Tensor, labels: _Labels, sigma2: float, chunk: int) -> Tensor:
    """MI of sets given their summed distances [s, N, N] and live counts [s], in chunks of ``chunk`` sets."""
    return torch.cat([_mi_from_kernel((dist_sum[a:a + chunk] * _set_scale(live[a:a + chunk], sigma2)[:, None, None])
                                      .exp_(), labels) for a in range(0, len(dist_sum), chunk)])


def _candidate_scores(cands: Tensor, cand_live: Tensor, total: Tensor, live: float, labels: _Labels,
                      sigma2: float, buf: Tensor) -> Tensor:
    """I(R + {j}; Y) for every candidate j, from the running sum ``total`` of R's distances (O(N^2) each)."""
    chunk = len(buf)
    scores = torch.empty(len(cands))
    for a in range(0, len(cands), chunk):
        kernel = torch.add(cands[a:a + chunk], total, out=buf[:len(cands[a:a + chunk])])
        kernel.mul_(_set_scale(cand_live[a:a + chunk] + live, sigma2)[:, None, None]).exp_()
        scores[a:a + chunk] = _mi_from_kernel(kernel, labels)
    return scores


def _greedy(dist: Tensor, live: Tensor, labels: _Labels, alpha: float, sigma2: float, chunk: int,
            bar: tqdm) -> list[int]:
    """method.md 3.3 for one task: grow R with the candidate keeping I(R; Y) smallest while it stays <= alpha."""
    free = dist.clone()  # the free candidates occupy free[:size]; a chosen one is replaced by the last
    ids, free_live = torch.arange(len(dist)), live.clone()
    total, total_live, order = torch.zeros_like(dist[0]), 0.0, []
    buf = torch.empty(min(chunk, len(dist)), *dist.shape[1:])
    for size in range(len(dist), 0, -1):
        scores = _candidate_scores(free[:size], free_live[:size], total, total_live, labels, sigma2, buf)
        best = int(scores.argmin())
        if scores[best] > alpha:
            break
        total += free[best]
        total_live += float(free_live[best])
        order.append(int(ids[best]))
        free[best], ids[best], free_live[best] = free[size - 1], ids[size - 1], free_live[size - 1]
        bar.update()
    return order


def _null_mi(kernel: Tensor, labels: Tensor, permutations: int) -> float:
    """Mean MI of one set's kernel [N, N] with randomly permuted labels: the estimator's value for no information."""
    gen = torch.Generator().manual_seed(0)
    perms = [labels[torch.randperm(len(labels), generator=gen)] for _ in range(permutations)]
    return sum(float(_mi_from_kernel(kernel, _encode(y))) for y in perms) / permutations


def _alphas(alpha: float | list[float] | None, relative_alpha: float, layer_mi: list[float],
            null_mi: list[float]) -> list[float]:
    """Per-task thresholds: the given ones, or relative_alpha of the layer's MI above the no-information level."""
    n_tasks = len(layer_mi)
    if alpha is None:
        if isinstance(relative_alpha, bool) or not isinstance(relative_alpha, (int, float)) \
                or not 0 <= relative_alpha < math.inf:
            raise PamkitError(f"relative_alpha must be a finite number >= 0, got {relative_alpha!r}")
        return [null + relative_alpha * (mi - null) for mi, null in zip(layer_mi, null_mi)]
    alphas = [alpha] * n_tasks if isinstance(alpha, (int, float)) and not isinstance(alpha, bool) else alpha
    if not isinstance(alphas, (list, tuple)) or len(alphas) != n_tasks:
        raise PamkitError(f"alpha must be a number or a list of one number per task ({n_tasks}), got {alpha!r}; "
                          f"or leave it None to calibrate it from relative_alpha")
    if not all(isinstance(a, (int, float)) and not isinstance(a, bool) and math.isfinite(a) for a in alphas):
        raise PamkitError(f"alpha values must be finite numbers, got {alpha!r}")
    return [float(a) for a in alphas]


def regroup(activations: Tensor, labels: list[Tensor], alpha: float | list[float] | None = None,
            relative_alpha: float = DEFAULT_RELATIVE_ALPHA, sigma2: float = SIGMA2,
            chunk: int = 256, progress: bool = False) -> Relevance:
    """Greedy per-task regrouping of one layer's candidates (method.md 3.3): rel(j) = tasks whose R_t lacks j."""
    acts = _check_activations(activations)
    sigma2 = _check_positive(sigma2, "sigma2")
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise PamkitError(f"chunk must be an integer >= 1 (candidates scored at once), got {chunk!r}")
    if not isinstance(labels, (list, tuple)) or not labels:
        raise PamkitError(f"labels must be a non-empty list with one [N, k] tensor per task, got {_describe(labels)}")
    checked = [_check_labels(y, acts.shape[0], f"labels[{t}]") for t, y in enumerate(labels)]
    encoded = [_encode(y) for y in checked]
    dist = neuron_distances(acts)
    live = (dist.flatten(1).amax(1) > 0).float()
    mi = torch.stack([_set_mi(dist, live, y, sigma2, chunk) for y in encoded], 1)
    layer_kernel = (dist.sum(0) * _set_scale(live.sum(), sigma2)).exp_()
    layer_mi = [float(_mi_from_kernel(layer_kernel, y)) for y in encoded]
    null_mi = [_null_mi(layer_kernel, y, 32) for y in checked]
    alphas = _alphas(alpha, relative_alpha, layer_mi, null_mi)
    relevant = torch.ones(len(dist), len(encoded), dtype=torch.bool)
    orders = []
    for t, (y, a) in enumerate(zip(encoded, alphas)):
        with tqdm(total=len(dist), desc=f"regroup task {t}", disable=not progress) as bar:
            orders.append(_greedy(dist, live, y, a, sigma2, chunk, bar))
        relevant[orders[-1], t] = False
    return Relevance(relevant, mi, orders, alphas, layer_mi)
