"""Which tasks each candidate neuron of a layer is relevant to: PAM's MI-based greedy regrouping (method.md 3.2-3.3).

Scale. The KDE estimator with a fixed kernel saturates when pairwise distances are much larger than
the kernel (every sample only "sees" itself), so that even pure noise scores I = H(Y). So:

- each neuron's squared-distance matrix is divided by its mean off-diagonal value (1 afterwards); a
  constant (dead) neuron gets all-zero distances: it carries nothing and ends up in every R_t;
- a set's distance matrix is the sum over its neurons divided by the number of non-dead neurons in
  it, i.e. the mean per neuron, so every set's distances have mean 1 whatever its size or the
  activations' scale (multiplying a neuron by a constant changes nothing);
- with distances in these units, SIGMA2 = 0.5 (kernel exp(-d), its width the mean distance).
  method.md's 0.1 was in raw activation units; here it saturates: a set of noise neurons scores
  0.42 nats against a balanced binary label (H(Y) = 0.69). At 0.5 it scores 0.013 (0.11 for 10
  classes); 1.0 lowers that further but is a near-linear kernel, blind to class differences other
  than a mean shift (benchmarks/regrouping/RESULTS.md has the study).

The estimator still has a small positive value for no information (each sample's own kernel term
counts more within its class than overall: about (classes - 1) / N per label column with N samples).
The default threshold is therefore set above that level: alpha_t = null_t + relative_alpha *
(layer_mi_t - null_t), where null_t is the whole layer's MI with task t's labels randomly permuted.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor
from tqdm.auto import tqdm

from pamkit.errors import PamkitError

SIGMA2 = 0.5
# R_t may hold 2% of the layer's information about t above the no-information level. On synthetic
# layers (RESULTS.md) 1-2% drops all noise and dead neurons and keeps every clearly task-carrying
# one; 0 leaves up to a quarter of the noise relevant, 5-10% start to move shared neurons whose
# task-t part is a small share of their variance into R_t.
DEFAULT_RELATIVE_ALPHA = 0.02
_NULL_PERMUTATIONS = 32  # label permutations for a set's null MI: its mean and spread
_NULL_Z = 3.0  # a set is too relevant when its MI exceeds its null mean by margin + _NULL_Z null stds
_NEURON_CHUNK = 64  # neurons per float64 Gram block in neuron_distances (64 x 128 x 128 doubles = 8 MiB)
_LOG2E = 1 / math.log(2)  # exp(x) = exp2(x * log2 e); torch's exp2 is several times faster on CPU


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
    """One task's labels prepared for batched MI: one-hot classes of every column, transposed, plus ones."""

    onehot_t: Tensor  # float32 [C + 1, N]: the classes of all k columns stacked, then a row of ones
    own: Tensor  # long [k, N]: for column c and sample i, the onehot_t row of i's class
    log_size: Tensor  # float32 [k, N]: log of the size of that class


def _describe(value: object) -> str:
    """A short description of a value for error messages: a tensor's shape and dtype, else its type."""
    return f"a {value.dtype} tensor of shape {tuple(value.shape)}" if isinstance(value, Tensor) \
        else type(value).__name__


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
        raise PamkitError(f"activations are empty ({_describe(activations)}); pass at least one candidate "
                          f"and one feature")
    if not torch.isfinite(acts).all():
        raise PamkitError("activations contain NaN or infinity; check the networks' outputs on the batch")
    return acts


def _check_labels(labels: object, n: int, what: str) -> Tensor:
    """Return labels as [N, k], or raise naming what is wrong with them."""
    if not isinstance(labels, Tensor) or labels.is_floating_point() or labels.is_complex() \
            or labels.dim() not in (1, 2):
        raise PamkitError(f"{what} must be an integer tensor [N, k] (or [N]), got {_describe(labels)}; "
                          f"pass class indices or 0/1 attributes as a LongTensor")
    labels = labels.reshape(len(labels), -1)
    if labels.shape[0] != n or labels.shape[1] == 0:
        raise PamkitError(f"{what} has shape {tuple(labels.shape)} but there are N = {n} samples; "
                          f"give one row of labels per sample, [N, k] with k >= 1")
    return labels


def _check_positive(value: object, what: str) -> float:
    """Return ``value`` as float if it is a finite number > 0, else raise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise PamkitError(f"{what} must be a finite number > 0, got {value!r}")
    return float(value)


def _encode(labels: Tensor) -> _Labels:
    """One-hot encode every label column of [N, k], stacked, so that one matmul gives all class-wise sums."""
    blocks, own, log_size, offset = [], [], [], 0
    for column in labels.T:
        values, inverse, counts = torch.unique(column, return_inverse=True, return_counts=True)
        blocks.append(torch.nn.functional.one_hot(inverse, len(values)).T)
        own.append(inverse + offset)
        log_size.append(counts[inverse].double().log())
        offset += len(values)
    ones = torch.ones(1, labels.shape[0], dtype=torch.long)
    return _Labels(torch.cat([*blocks, ones]).float(), torch.stack(own), torch.stack(log_size).float())


def _mi_from_kernel(kernel: Tensor, labels: _Labels) -> Tensor:
    """[..., N, N] symmetric kernel exp(-d/2s2) -> [...] KDE mutual information summed over the label columns."""
    sums = labels.onehot_t @ kernel  # [..., C + 1, N]: per sample, kernel mass in each class; last row: all
    k, n = labels.own.shape[-2:]
    own = sums.gather(-2, labels.own.expand(*sums.shape[:-2], k, n)).log_() - labels.log_size
    total = sums[..., -1, :].log() - math.log(n)
    return own.sum(-2).mean(-1) - k * total.mean(-1)


def kde_entropy(dist: Tensor, sigma2: float) -> Tensor:
    """[..., N, N] squared distances -> [...]: the KDE (pairwise-distance) entropy upper bound, constant dropped."""
    sigma2 = _check_positive(sigma2, "sigma2")
    n = dist.shape[-1]
    return -(torch.logsumexp(dist * (-0.5 / sigma2), -1) - math.log(n)).mean(-1)


def kde_mutual_information(dist: Tensor, labels: Tensor, sigma2: float = SIGMA2) -> Tensor:
    """[..., N, N] squared distances (symmetric, zero diagonal), labels [N, k] -> [...]: sum_c H(Z) - H(Z|Y_c)."""
    sigma2 = _check_positive(sigma2, "sigma2")
    if not isinstance(dist, Tensor) or dist.dim() < 2 or dist.shape[-1] != dist.shape[-2] or dist.shape[-1] < 2:
        raise PamkitError(f"dist must be squared distances [..., N, N] with N >= 2, got {_describe(dist)}; "
                          f"use neuron_distances() and sum over the set's neurons")
    encoded = _encode(_check_labels(labels, dist.shape[-1], "labels"))
    return _mi_from_kernel(torch.exp2(dist.float() * (-0.5 * _LOG2E / sigma2)), encoded)


def neuron_distances(activations: Tensor) -> Tensor:
    """[N, m, f] -> [m, N, N] float32: each neuron's squared pairwise distances scaled to mean 1 off the diagonal.

    The scaling makes the estimator scale-free (see the module notes); a constant (dead) neuron gets all zeros.
    """
    return _distances(_check_activations(activations))


def _distances(acts: Tensor) -> Tensor:
    """neuron_distances for checked [N, m, f] float64 activations, in blocks of neurons to bound memory."""
    n, m, _ = acts.shape
    out = torch.empty(m, n, n, dtype=torch.float32)
    for start in range(0, m, _NEURON_CHUNK):
        out[start:start + _NEURON_CHUNK] = _normalised_distances(acts[:, start:start + _NEURON_CHUNK])
    return out


def _normalised_distances(acts: Tensor) -> Tensor:
    """[N, c, f] float64 -> [c, N, N] float32 squared distances with mean 1 off the diagonal (dead: all 0)."""
    n = acts.shape[0]
    dead = (acts.amax(0) == acts.amin(0)).all(1)[:, None, None]  # exact test (all samples equal), no rounding
    x = (acts - acts.mean(0)).transpose(0, 1)  # [c, N, f], centred and scaled for a well-conditioned Gram
    x = x / x.square().mean((1, 2), keepdim=True).sqrt().masked_fill(dead, 1.0)
    sq = x.square().sum(2)
    dist = (sq[:, :, None] + sq[:, None, :] - 2 * x @ x.transpose(1, 2)).clamp_(min=0)
    dist.diagonal(dim1=1, dim2=2).zero_()
    mean = dist.sum((1, 2), keepdim=True) / (n * (n - 1))
    return (dist / mean.masked_fill(dead, 1.0)).masked_fill_(dead, 0.0).float()


def _set_scale(live: Tensor, sigma2: float) -> Tensor:
    """exp2 exponent factor for sets of ``live`` non-dead neurons: a set's distance is its mean per neuron."""
    return (-0.5 * _LOG2E / sigma2) / live.clamp(min=1)


def _set_mi(dist_sum: Tensor, live: Tensor, labels: _Labels, sigma2: float, chunk: int) -> Tensor:
    """MI of sets given their summed distances [s, N, N] and live counts [s], in chunks of ``chunk`` sets."""
    return torch.cat([_mi_from_kernel((dist_sum[a:a + chunk] * _set_scale(live[a:a + chunk], sigma2)[:, None, None])
                                      .exp2_(), labels) for a in range(0, len(dist_sum), chunk)])


def _candidate_scores(cands: Tensor, cand_live: Tensor, total: Tensor, total_live: float, labels: _Labels,
                      sigma2: float, buf: Tensor) -> Tensor:
    """I(R + {j}; Y) for every candidate j, from the running sum ``total`` of R's distances: O(N^2) each."""
    chunk = len(buf)
    scores = torch.empty(len(cands))
    for a in range(0, len(cands), chunk):
        kernel = torch.add(cands[a:a + chunk], total, out=buf[:len(cands[a:a + chunk])])
        kernel.mul_(_set_scale(cand_live[a:a + chunk] + total_live, sigma2)[:, None, None]).exp2_()
        scores[a:a + chunk] = _mi_from_kernel(kernel, labels)
    return scores


@dataclass(frozen=True)
class _Threshold:
    """When the greedy stops: a fixed alpha (method.md), or calibrated against each set's own null MI."""

    alpha: float
    null_labels: _Labels | None = None  # calibrated: permuted labels, [P, ...] stacked
    margin: float = 0.0  # calibrated: the MI above the null a set may carry

    def exceeded(self, score: float, kernel: Callable[[], Tensor]) -> bool:
        """Whether a set with MI ``score`` (and this ``kernel``, built only if needed) is too relevant."""
        if self.null_labels is None:
            return score > self.alpha
        null = _mi_from_kernel(kernel(), self.null_labels)
        import os
        mode=os.environ.get('RULE','max'); z=float(os.environ.get('Z','3'))
        ex=score - float(null.mean()); sd=float(null.std())
        if mode=='none': return ex > self.margin
        if mode=='max': return ex > max(self.margin, z*sd)
        return ex > self.margin + z*sd


def _greedy(dist: Tensor, live: Tensor, labels: _Labels, threshold: _Threshold, sigma2: float, chunk: int,
            bar: tqdm) -> list[int]:
    """method.md 3.3 for one task: grow R by the candidate keeping I(R; Y) smallest until that is too large."""
    free = dist.clone()  # free candidates occupy free[:size]; a chosen one is overwritten by the last
    ids, free_live = torch.arange(len(dist)), live.clone()
    total, total_live, order = torch.zeros_like(dist[0]), 0.0, []
    buf = torch.empty(min(chunk, len(dist)), *dist.shape[1:])
    for size in range(len(dist), 0, -1):
        scores = _candidate_scores(free[:size], free_live[:size], total, total_live, labels, sigma2, buf)
        best = int(scores.argmin())
        total += free[best]
        total_live += float(free_live[best])
        if threshold.exceeded(float(scores[best]), lambda: _set_kernel(total, total_live, sigma2)):
            break
        order.append(int(ids[best]))
        free[best], ids[best], free_live[best] = free[size - 1], ids[size - 1], free_live[size - 1]
        bar.update()
    return order


def _set_kernel(dist_sum: Tensor, live: float, sigma2: float) -> Tensor:
    """The kernel [N, N] of one set from its summed distances and number of live neurons."""
    return (dist_sum * _set_scale(torch.tensor(live), sigma2)).exp2_()


def _permuted(labels: Tensor) -> _Labels:
    """The encoded labels under _NULL_PERMUTATIONS fixed random permutations of the samples, stacked."""
    gen = torch.Generator().manual_seed(0)
    encoded = [_encode(labels[torch.randperm(len(labels), generator=gen)]) for _ in range(_NULL_PERMUTATIONS)]
    return _Labels(*(torch.stack(parts) for parts in zip(*((e.onehot_t, e.own, e.log_size) for e in encoded))))


def _thresholds(alpha: float | list[float] | None, relative_alpha: float, layer_kernel: Tensor,
                labels: list[Tensor], layer_mi: list[float]) -> list[_Threshold]:
    """Per-task stop tests: the given alphas, or relative_alpha of the layer's MI above its null level."""
    if alpha is None:
        if isinstance(relative_alpha, bool) or not isinstance(relative_alpha, (int, float)) \
                or not 0 <= relative_alpha < math.inf:
            raise PamkitError(f"relative_alpha must be a finite number >= 0, got {relative_alpha!r}")
        tests = []
        for y, mi in zip(labels, layer_mi):
            null_labels = _permuted(y)
            null = float(_mi_from_kernel(layer_kernel, null_labels).mean())
            margin = relative_alpha * (mi - null)
            tests.append(_Threshold(null + margin, null_labels, margin))
        return tests
    alphas = [alpha] * len(layer_mi) if isinstance(alpha, (int, float)) else alpha
    if not isinstance(alphas, (list, tuple)) or len(alphas) != len(layer_mi):
        raise PamkitError(f"alpha must be a number or a list of one number per task ({len(layer_mi)}), "
                          f"got {alpha!r}; or leave it None to calibrate it from relative_alpha")
    if not all(isinstance(a, (int, float)) and not isinstance(a, bool) and math.isfinite(a) for a in alphas):
        raise PamkitError(f"alpha values must be finite numbers, got {alpha!r}")
    return [_Threshold(float(a)) for a in alphas]


def regroup(activations: Tensor, labels: list[Tensor], alpha: float | list[float] | None = None,
            relative_alpha: float = DEFAULT_RELATIVE_ALPHA, sigma2: float = SIGMA2,
            chunk: int = 256, progress: bool = False) -> Relevance:
    """Greedy per-task regrouping of one layer's candidates (method.md 3.3): rel(j) = tasks whose R_t lacks j.

    ``activations`` [N, m, f]: the m = n*d candidates' outputs on N shared inputs; ``labels``: one
    [N, k] integer tensor per task (MI summed over the k columns). ``alpha`` overrides the calibrated
    thresholds (module notes); ``chunk`` candidates are scored at once (memory: chunk * N * N floats).
    """
    acts = _check_activations(activations)
    sigma2 = _check_positive(sigma2, "sigma2")
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise PamkitError(f"chunk must be an integer >= 1 (candidates scored at once), got {chunk!r}")
    if not isinstance(labels, (list, tuple)) or not labels:
        raise PamkitError(f"labels must be a non-empty list with one [N, k] tensor per task, got {_describe(labels)}")
    checked = [_check_labels(y, acts.shape[0], f"labels[{t}]") for t, y in enumerate(labels)]
    encoded = [_encode(y) for y in checked]
    dist = _distances(acts)
    live = (dist.flatten(1).amax(1) > 0).float()
    mi = torch.stack([_set_mi(dist, live, y, sigma2, chunk) for y in encoded], 1)
    layer_kernel = _set_kernel(dist.sum(0), float(live.sum()), sigma2)
    layer_mi = [float(_mi_from_kernel(layer_kernel, y)) for y in encoded]
    thresholds = _thresholds(alpha, relative_alpha, layer_kernel, checked, layer_mi)
    relevant = torch.ones(len(dist), len(encoded), dtype=torch.bool)
    orders = []
    for t, (y, threshold) in enumerate(zip(encoded, thresholds)):
        with tqdm(total=len(dist), desc=f"regroup task {t}", disable=not progress) as bar:
            orders.append(_greedy(dist, live, y, threshold, sigma2, chunk, bar))
        relevant[orders[-1], t] = False
    return Relevance(relevant, mi, orders, [test.alpha for test in thresholds], layer_mi)
