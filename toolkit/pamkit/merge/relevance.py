"""Which tasks each candidate neuron of a layer is relevant to: PAM's MI-based greedy regrouping (method.md 3.2-3.3).

Scale. With a fixed kernel the KDE estimator saturates when pairwise distances dwarf it (each sample
only "sees" itself), and then even pure noise scores I = H(Y). So distances are put on one scale:

- each neuron's squared-distance matrix is divided by its mean off-diagonal value; a constant (dead)
  neuron keeps all-zero distances: it carries nothing and joins every R_t (it is dropped);
- a set's distance matrix is the sum over its neurons divided by its number of non-dead neurons (the
  mean per neuron), so every set's distances average 1 whatever its size, and scaling or shifting a
  neuron's activations changes nothing;
- in these units SIGMA2 = 0.5 (kernel exp(-d): its width is the mean distance). method.md's 0.1 was
  in raw activation units (there, noise scores 0.689 of H(Y) = 0.693: saturated); in these units it
  still gives noise sets 0.43 nats against a balanced binary label. At 0.5 they score 0.013 (0.11
  for 10 classes of 2.30). Wider kernels lower that further but turn near-linear and lose what is
  not a mean shift: a neuron coding the label in its spread stands 17 null sds out at 0.5, 13 at 1,
  8 at 2. benchmarks/regrouping/RESULTS.md has the study.

Threshold. The estimator's value for no information is small but not 0 (a sample's own kernel term
weighs more within its class: about (classes - 1) / N per label column), and its noise is large for
small sets with N = 128. So the calibrated stop test compares a set with its own labels permuted: a
set is too relevant when its MI beats all of 128 permutations and exceeds their mean by more than
relative_alpha * (layer_mi - null), null being the whole layer's mean MI under the permutations.
An explicit ``alpha`` gives method.md's plain test, I > alpha. Known limit: a set's distances are a
mean, so a neuron whose information about t is a small share of its variance barely moves a large
R_t, and can join it although it carries t (RESULTS.md measures this).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
from torch import Tensor
from tqdm.auto import tqdm

from pamkit.errors import PamkitError

SIGMA2 = 0.5
# R_t may hold 2% of the layer's MI with t above the no-information level. On RESULTS.md's synthetic
# layers 0 and 0.02 give the same groups (the permutation test binds first): 198 of 200 small layers
# exactly right; on 256-candidate mixed ones 99-100% of private, noise and dead neurons right, 71% of
# shared ones. 0.05 and 0.1 move 3 and 24 points more of the shared neurons into one task's R_t.
# 0.02 is a tolerance at no measurable cost, for layers where the estimator is less noisy (larger N).
DEFAULT_RELATIVE_ALPHA = 0.02
_NULL_PERMUTATIONS = 128  # label permutations for a set's null MI (the calibrated stop test)
_NULL_BATCH = 16  # permutations evaluated at once; the test usually ends after the first batch
_NEURON_CHUNK = 64  # neurons per float64 Gram block in neuron_distances (64 x 128 x 128 doubles = 8 MiB)
_LOG2E = 1 / math.log(2)  # exp(x) = exp2(x * log2 e); torch's exp2 is about 3x faster than exp on CPU


@dataclass(frozen=True)
class Relevance:
    """The outcome of regrouping one layer: per candidate, which tasks it is relevant to, and why."""

    relevant: Tensor  # bool [m, n_tasks]: rel(j) as a mask; an all-False row means "drop j"
    mi: Tensor  # float [m, n_tasks]: each candidate's own MI with each task (for reports)
    irrelevant_order: list[list[int]]  # per task, the order in which candidates joined R_t
    alpha: list[float]  # per task, the threshold: the given alpha, or calibrated null + margin (module notes)
    layer_mi: list[float]  # per task, I(whole layer; Y_t)


@dataclass(frozen=True)
class _Labels:
    """One task's labels prepared for batched MI: one-hot classes of every column, transposed, plus ones."""

    onehot_t: Tensor  # float32 [C + 1, N]: the classes of all k columns stacked, then a row of ones
    own: Tensor  # long [k, N]: for column c and sample i, the onehot_t row of i's class
    log_size: Tensor  # float32 [k, N]: log of the size of that class


def _describe(value: object) -> str:
    """A short description of a value for error messages: a tensor's shape and dtype, else its type."""
    return (
        f"a {value.dtype} tensor of shape {tuple(value.shape)}" if isinstance(value, Tensor) else type(value).__name__
    )


def _check_activations(activations: object) -> Tensor:
    """Return activations as [N, m, f] float64, or raise naming what is wrong with them."""
    if not isinstance(activations, Tensor) or activations.dim() < 2 or activations.is_complex():
        raise PamkitError(
            f"activations must be a real tensor [N, m, f] (samples, candidates, features each), "
            f"got {_describe(activations)}; stack the layer's outputs as [N, m, h*w]"
        )
    n, m = activations.shape[:2]
    if n < 2:
        raise PamkitError(f"activations have N = {n} samples; mutual information needs N >= 2 (the method uses 128)")
    if activations.numel() == 0:
        raise PamkitError(
            f"activations are empty ({_describe(activations)}); pass at least one candidate and one feature"
        )
    acts = activations.detach().reshape(n, m, -1).to(torch.float64)
    if not torch.isfinite(acts).all():
        raise PamkitError("activations contain NaN or infinity; check the networks' outputs on the batch")
    return acts


def _check_labels(labels: object, n: int, what: str) -> Tensor:
    """Return labels as [N, k], or raise naming what is wrong with them."""
    if (
        not isinstance(labels, Tensor)
        or labels.is_floating_point()
        or labels.is_complex()
        or labels.dim() not in (1, 2)
    ):
        raise PamkitError(
            f"{what} must be an integer tensor [N, k] (or [N]), got {_describe(labels)}; "
            f"pass class indices or 0/1 attributes as a LongTensor"
        )
    labels = labels[:, None] if labels.dim() == 1 else labels
    if labels.shape[0] != n or labels.shape[1] == 0:
        raise PamkitError(
            f"{what} has shape {tuple(labels.shape)} but there are N = {n} samples; "
            f"give one row of labels per sample, [N, k] with k >= 1"
        )
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


def _mi_from_sums(sums: Tensor, labels: _Labels) -> Tensor:
    """[..., C + 1, N] each sample's kernel mass in each class (last row: in all) -> [...] KDE MI over label columns."""
    k, n = labels.own.shape[-2:]
    own = sums.gather(-2, labels.own.expand(*sums.shape[:-2], k, n)).log_() - labels.log_size
    total = sums[..., -1, :].log() - math.log(n)
    return own.sum(-2).mean(-1) - k * total.mean(-1)


def _mi_from_kernel(kernel: Tensor, labels: _Labels) -> Tensor:
    """[..., N, N] symmetric kernel exp(-d/2s2) -> [...] KDE mutual information summed over the label columns."""
    return _mi_from_sums(labels.onehot_t @ kernel, labels)


def _check_dist(dist: object) -> Tensor:
    """Return ``dist`` if it is a float tensor [..., N, N] with N >= 2, else raise."""
    if (
        not isinstance(dist, Tensor)
        or not dist.is_floating_point()
        or dist.dim() < 2
        or dist.shape[-1] != dist.shape[-2]
        or dist.shape[-1] < 2
    ):
        raise PamkitError(
            f"dist must be float squared distances [..., N, N] with N >= 2, got {_describe(dist)}; "
            f"use neuron_distances() and sum over the set's neurons"
        )
    return dist


def kde_entropy(dist: Tensor, sigma2: float) -> Tensor:
    """[..., N, N] squared distances -> [...]: the KDE (pairwise-distance) entropy upper bound, constant dropped."""
    sigma2 = _check_positive(sigma2, "sigma2")
    dist = _check_dist(dist)
    return -(torch.logsumexp(dist * (-0.5 / sigma2), -1) - math.log(dist.shape[-1])).mean(-1)


def kde_mutual_information(dist: Tensor, labels: Tensor, sigma2: float = SIGMA2) -> Tensor:
    """[..., N, N] squared distances (symmetric, zero diagonal), labels [N, k] -> [...]: sum_c H(Z) - H(Z|Y_c)."""
    sigma2 = _check_positive(sigma2, "sigma2")
    dist = _check_dist(dist)
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
        out[start : start + _NEURON_CHUNK] = _normalised_distances(acts[:, start : start + _NEURON_CHUNK])
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


def _set_scale(live: Tensor | float, sigma2: float) -> Tensor:
    """exp2 exponent factor for sets of ``live`` non-dead neurons: a set's distance is its mean per neuron."""
    return (-0.5 * _LOG2E / sigma2) / torch.as_tensor(live, dtype=torch.float32).clamp(min=1)


def _set_kernel(dist_sum: Tensor, live: Tensor | float, sigma2: float) -> Tensor:
    """Kernels [..., N, N] of sets from their summed distances [..., N, N] and numbers of live neurons [...]."""
    return (dist_sum * _set_scale(live, sigma2)[..., None, None]).exp2_()


def _set_mi(dist_sum: Tensor, live: Tensor, labels: _Labels, sigma2: float, chunk: int) -> Tensor:
    """MI of sets given their summed distances [s, N, N] and live counts [s], in chunks of ``chunk`` sets."""
    return torch.cat(
        [
            _mi_from_kernel(_set_kernel(dist_sum[a : a + chunk], live[a : a + chunk], sigma2), labels)
            for a in range(0, len(dist_sum), chunk)
        ]
    )


def _candidate_scores(free: Tensor, total: Tensor, scale: float, labels: _Labels, buf: Tensor) -> Tensor:
    """I(R + {j}; Y) for the free live candidates j, stored [N, s, N], from R's summed distances: O(N^2) each.

    ``scale`` is the exponent factor for R plus one live neuron. The [N, s, N] layout turns the class
    sums of a chunk of kernels into one wide matrix product (twice as fast as a batched one on CPU).
    """
    n, size, _ = free.shape
    chunk = len(buf) // (n * n)
    base = total * scale
    scores = torch.empty(size)
    for a in range(0, size, chunk):
        c = min(chunk, size - a)
        kernel = torch.add(base[:, None, :], free[:, a : a + c], alpha=scale, out=buf[: n * c * n].view(n, c, n))
        sums = labels.onehot_t @ kernel.exp2_().view(n, c * n)  # [C + 1, c * N]
        scores[a : a + c] = _mi_from_sums(sums.view(-1, c, n).transpose(0, 1), labels)
    return scores


@dataclass(frozen=True)
class _Threshold:
    """When the greedy stops: a fixed alpha (method.md), or calibrated against the set's own permutation null."""

    alpha: float
    null_labels: tuple[_Labels, ...] = ()  # calibrated: permuted labels, in stacked batches
    margin: float = 0.0  # calibrated: the MI above its null mean that a set may carry

    def exceeded(self, score: float, kernel: Callable[[], Tensor]) -> bool:
        """Whether a set with MI ``score`` (and this ``kernel``, built only if needed) is too relevant to the task.

        Calibrated: only if ``score`` beats the MI under every label permutation (a permutation test at
        p < 1/129, needed where the estimator is noisy: small sets, few samples per class) and exceeds
        their mean by more than the margin. Batches stop early once one permutation scores as high.
        """
        if not self.null_labels:
            return score > self.alpha
        matrix, nulls = kernel(), []
        for batch in self.null_labels:
            nulls.append(_mi_from_kernel(matrix, batch))
            if nulls[-1].max() >= score:
                return False
        return score - float(torch.cat(nulls).mean()) > self.margin


def _greedy(
    dist: Tensor, live: Tensor, labels: _Labels, threshold: _Threshold, sigma2: float, chunk: int, bar: tqdm
) -> list[int]:
    """method.md 3.3 for one task: grow R by the candidate keeping I(R; Y) smallest until that is too large."""
    m, n, _ = dist.shape
    free = dist.transpose(0, 1).contiguous()  # [N, m, N]; free ones in free[:, :size], a chosen one gets the last
    ids, free_live = torch.arange(m), live.bool()
    total, total_live, score, order = torch.zeros(n, n), 0, 0.0, []
    buf = torch.empty(min(chunk, m) * n * n)
    for size in range(m, 0, -1):
        scores = _candidate_scores(free[:, :size], total, float(_set_scale(total_live + 1, sigma2)), labels, buf)
        scores[~free_live[:size]] = score  # a dead neuron leaves R's distances as they are: I(R) = last score
        tied = (scores == scores.min()).nonzero()[:, 0]  # exact ties (dead neurons): lowest index first
        best = int(tied[ids[tied].argmin()])
        total += free[:, best]
        total_live += int(free_live[best])
        score = float(scores[best])
        if threshold.exceeded(score, partial(_set_kernel, total, total_live, sigma2)):
            break
        order.append(int(ids[best]))
        free[:, best], ids[best], free_live[best] = free[:, size - 1], ids[size - 1], free_live[size - 1]
        bar.update()
    return order


def _permuted(labels: Tensor) -> tuple[_Labels, ...]:
    """The encoded labels under _NULL_PERMUTATIONS fixed random permutations of the samples, in stacked batches."""
    gen = torch.Generator().manual_seed(0)
    encoded = [_encode(labels[torch.randperm(len(labels), generator=gen)]) for _ in range(_NULL_PERMUTATIONS)]
    batches = [encoded[a : a + _NULL_BATCH] for a in range(0, len(encoded), _NULL_BATCH)]
    return tuple(
        _Labels(*(torch.stack([getattr(e, name) for e in batch]) for name in ("onehot_t", "own", "log_size")))
        for batch in batches
    )


def _thresholds(
    alpha: float | list[float] | None,
    relative_alpha: float,
    layer_kernel: Tensor,
    labels: list[Tensor],
    layer_mi: list[float],
) -> list[_Threshold]:
    """Per-task stop tests: the given alphas, or calibrated ones with margin relative_alpha * (layer_mi - null)."""
    if alpha is None:
        if (
            isinstance(relative_alpha, bool)
            or not isinstance(relative_alpha, (int, float))
            or not 0 <= relative_alpha < math.inf
        ):
            raise PamkitError(f"relative_alpha must be a finite number >= 0, got {relative_alpha!r}")
        tests = []
        for y, mi in zip(labels, layer_mi, strict=True):
            null_labels = _permuted(y)
            null = float(torch.cat([_mi_from_kernel(layer_kernel, batch) for batch in null_labels]).mean())
            margin = relative_alpha * (mi - null)
            tests.append(_Threshold(null + margin, null_labels, margin))
        return tests
    alphas = [alpha] * len(layer_mi) if isinstance(alpha, (int, float)) else alpha
    if not isinstance(alphas, (list, tuple)) or len(alphas) != len(layer_mi):
        raise PamkitError(
            f"alpha must be a number or a list of one number per task ({len(layer_mi)}), "
            f"got {alpha!r}; or leave it None to calibrate it from relative_alpha"
        )
    if not all(isinstance(a, (int, float)) and not isinstance(a, bool) and math.isfinite(a) for a in alphas):
        raise PamkitError(f"alpha values must be finite numbers, got {alpha!r}")
    return [_Threshold(float(a)) for a in alphas]


def regroup(
    activations: Tensor,
    labels: list[Tensor],
    alpha: float | list[float] | None = None,
    relative_alpha: float = DEFAULT_RELATIVE_ALPHA,
    sigma2: float = SIGMA2,
    chunk: int = 256,
    progress: bool = False,
) -> Relevance:
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
    layer_kernel = _set_kernel(dist.sum(0), live.sum(), sigma2)
    layer_mi = [float(_mi_from_kernel(layer_kernel, y)) for y in encoded]
    thresholds = _thresholds(alpha, relative_alpha, layer_kernel, checked, layer_mi)
    relevant = torch.ones(len(dist), len(encoded), dtype=torch.bool)
    orders = []
    for t, (y, threshold) in enumerate(zip(encoded, thresholds, strict=True)):
        with tqdm(total=len(dist), desc=f"regroup task {t}", disable=not progress) as bar:
            orders.append(_greedy(dist, live, y, threshold, sigma2, chunk, bar))
        relevant[orders[-1], t] = False
    return Relevance(relevant, mi, orders, [test.alpha for test in thresholds], layer_mi)
