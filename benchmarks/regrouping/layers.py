"""Synthetic layers with a known answer, for the regrouping benchmark and the estimator study."""

from __future__ import annotations

import math

import torch

N = 128  # held-out samples, as in the method
KINDS = ("A", "B", "AB", "noise", "dead")  # what a candidate carries: task A's label, B's, both, nothing
WANTED = {"A": (True, False), "B": (False, True), "AB": (True, True), "noise": (False, False),
          "dead": (False, False)}
MIX = {"A": 0.25, "B": 0.25, "AB": 0.20, "noise": 0.25, "dead": 0.05}


def _class_means(labels: torch.Tensor, n_classes: int, f: int, gen: torch.Generator) -> torch.Tensor:
    """[N, f]: a random mean map of norm sqrt(f) per class (opposite ones for two classes), at each sample."""
    if n_classes == 2:
        direction = torch.randn(f, generator=gen)
        return (2 * labels[:, None].float() - 1) * direction / direction.norm() * math.sqrt(f)
    means = torch.randn(n_classes, f, generator=gen)
    return (means / means.norm(dim=1, keepdim=True) * math.sqrt(f))[labels]


def mixed_layer(m: int, f: int, seed: int, n_classes: int = 2, attributes: int = 1,
                strength: tuple[float, float] = (1.0, 2.0)) -> tuple[torch.Tensor, list[torch.Tensor], list[str]]:
    """A layer of m candidates in MIX proportions: activations [N, m, f] (ReLU'd, random scales), labels, kinds.

    Two tasks A and B with independent labels [N, attributes] of n_classes classes each; a carrier of a
    task adds strength (uniform in the range) times a class-mean map of one of its attributes to unit noise.
    """
    gen = torch.Generator().manual_seed(seed)
    labels = [torch.randint(0, n_classes, (N, attributes), generator=gen) for _ in range(2)]
    counts = {kind: round(share * m) for kind, share in MIX.items()}
    counts["noise"] += m - sum(counts.values())
    kinds = [kind for kind in KINDS for _ in range(counts[kind])]
    columns = []
    for kind in kinds:
        x = torch.randn(N, f, generator=gen)
        for task, y in zip("AB", labels):
            if task in kind:
                d = strength[0] + (strength[1] - strength[0]) * torch.rand((), generator=gen).item()
                column = torch.randint(0, attributes, (), generator=gen).item()
                x = x + d * _class_means(y[:, column], n_classes, f, gen)
        scale = 10 * torch.rand((), generator=gen).item()
        columns.append(torch.full((N, f), scale) if kind == "dead" else x.clamp(min=0) * scale)
    return torch.stack(columns, 1), labels, kinds


SMALL_KINDS = ["A", "A", "B", "AB", "AB", "noise", "noise", "dead"]  # tests/test_relevance.py's known-answer layer


def small_layer(f: int, seed: int) -> tuple[torch.Tensor, list[torch.Tensor], list[str]]:
    """Eight candidates of SMALL_KINDS: ReLU'd noise plus 1.5 x a +-1 map per carried binary label."""
    gen = torch.Generator().manual_seed(seed)
    a, b = (torch.randint(0, 2, (N,), generator=gen) for _ in range(2))
    columns = []
    for kind in SMALL_KINDS:
        x = torch.randn(N, f, generator=gen)
        for task, y in (("A", a), ("B", b)):
            if task in kind:
                x = x + 1.5 * (2 * y[:, None].float() - 1) * torch.randn(f, generator=gen).sign()
        columns.append(torch.zeros(N, f) + 0.3 if kind == "dead" else x.clamp(min=0))
    return torch.stack(columns, 1), [a[:, None], b[:, None]], SMALL_KINDS


def accuracy(relevant: torch.Tensor, kinds: list[str]) -> dict[str, float]:
    """Per kind, the share of candidates whose relevance mask is exactly the wanted one."""
    wanted = torch.tensor([WANTED[kind] for kind in kinds])
    right = (relevant == wanted).all(1)
    return {kind: right[[k for k, other in enumerate(kinds) if other == kind]].float().mean().item()
            for kind in KINDS if kind in kinds}
