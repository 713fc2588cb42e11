"""Composite frames: two Fashion-MNIST garments and two MNIST digits in a 2x2 grid, labelled by 20 attributes.

A frame is 56x56: four 28x28 cells, each holding one tile; which cells hold the garments is drawn
per frame. Attribute c (0..9) says garment class c is in the frame, attribute 10 + d that digit d
is. Every random choice comes from one seeded generator, and the choices for all ``count`` frames
are drawn before any frame is built, so a limited build is the first frames of the full one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

TILE = 28  # side of one source image and of one cell
GRID = 2  # cells per side of a frame
SIZE = TILE * GRID
CLASSES = 10  # of each source: attributes 0..9 are the garment classes, 10..19 the digits
DIGIT_NAMES = tuple(f"digit-{d}" for d in range(CLASSES))  # names of attributes 10..19 (0..9: Fashion-MNIST's)


@dataclass(frozen=True)
class Tiles:
    """Source images of one split, [N, 28, 28], with their class labels [N] in 0..9."""

    images: np.ndarray
    labels: np.ndarray


def compose(
    garments: Tiles, digits: Tiles, count: int, limit: int | None, gen: torch.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Frames [n, 56, 56] and attributes [n, 20] (uint8 0/1): the first n = min(count, limit) of ``count`` frames.

    Each frame holds two different garment tiles and two different digit tiles (their classes may
    coincide), each cell chosen at random; tiles come only from the pools given, so frames of one
    split never show another split's images.
    """
    pairs = [_distinct_pair(len(tiles.labels), count, gen) for tiles in (garments, digits)]
    cells = torch.argsort(torch.rand(count, GRID * GRID, generator=gen), dim=1).numpy()  # cell of tiles g, g, d, d
    n = count if limit is None else min(count, limit)
    picks = [(tiles, pair[:n]) for tiles, pair in zip((garments, digits), pairs, strict=True)]
    frames = np.empty((n, SIZE, SIZE), dtype=garments.images.dtype)
    rows, columns = np.divmod(cells[:n], GRID)
    by_cell = frames.reshape(n, GRID, TILE, GRID, TILE)  # a view: [frame, cell row, y, cell column, x]
    by_cell[np.arange(n)[:, None], rows, :, columns, :] = np.concatenate([t.images[p] for t, p in picks], axis=1)
    attributes = np.zeros((n, 2 * CLASSES), dtype=np.uint8)
    for offset, (t, p) in zip((0, CLASSES), picks, strict=True):
        attributes[np.arange(n)[:, None], offset + t.labels[p]] = 1
    return frames, attributes


def _distinct_pair(size: int, count: int, gen: torch.Generator) -> np.ndarray:
    """[count, 2] indices into a pool of ``size`` tiles, two different ones per row."""
    first = torch.randint(size, (count,), generator=gen)
    second = (first + 1 + torch.randint(size - 1, (count,), generator=gen)) % size
    return torch.stack([first, second], dim=1).numpy()
