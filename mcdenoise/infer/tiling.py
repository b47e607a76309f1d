"""Run an image-to-image network on overlapping tiles, at memory bounded by the tile size.

Tiles overlap by ``overlap`` pixels and are blended with weights that ramp linearly across
the middle of the overlap (and stay 1 at the image border), so there are no seams. The caller computes any
image-wide statistic (the exposure scale) once for the whole frame before tiling: a per-tile
exposure would make neighbouring tiles disagree.
"""
from __future__ import annotations

from typing import Callable

import torch


def tile_size(length: int, tile: int, overlap: int, multiple: int = 32) -> int:
    """The tile length along one axis: the fewest tiles of at most ``tile`` pixels that cover
    ``length`` with ``overlap``, made equal (rounded up to ``multiple``, the network's pad
    unit), so no tile is mostly overlap: 1080 pixels with tile 1024 are two tiles of 608, not
    two of 1024."""
    if length <= tile:
        return length
    if not 0 <= overlap < tile:
        raise ValueError(f"overlap must be in [0, tile), got {overlap} for tile {tile}")
    count = -(-(length - overlap) // (tile - overlap))
    size = -(-(length + (count - 1) * overlap) // count)
    return min(tile, -(-size // multiple) * multiple)


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets along one axis of tiles of ``tile_size`` pixels covering [0, length),
    evenly spaced, each overlapping the next by at least ``overlap`` pixels (the last one
    flush with the end)."""
    size = tile_size(length, tile, overlap)
    if length <= size:
        return [0]
    count = -(-(length - overlap) // (size - overlap))
    return [(k * (length - size)) // (count - 1) for k in range(count)]


def _ramp(size: int, overlap_before: int, overlap_after: int) -> torch.Tensor:
    """(size,) blend weights of one tile along one axis.

    Across an overlap of o pixels the weight is 0 for the outer o/4 (where the tile's output
    suffers most from its missing context), rises linearly, and is 1 for the inner o/4; the
    neighbouring tile mirrors it, so every pixel keeps a positive total weight.
    """
    def edge(overlap: int) -> torch.Tensor:
        margin = overlap // 4
        k = torch.arange(overlap, dtype=torch.float32)
        return ((k - margin + 1) / (overlap - 2 * margin + 1)).clamp(0.0, 1.0)

    weight = torch.ones(size)
    if overlap_before > 0:
        weight[:overlap_before] = edge(overlap_before)
    if overlap_after > 0:
        weight[size - overlap_after:] = torch.minimum(weight[size - overlap_after:],
                                                      edge(overlap_after).flip(0))
    return weight


def run_tiled(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, out_channels: int,
              tile: int, overlap: int) -> torch.Tensor:
    """``fn`` applied to ``x`` (1, C, H, W) tile by tile; returns (1, out_channels, H, W) float32
    on x's device. ``fn`` maps (1, C, h, w) to (1, out_channels, h, w) for any h, w <= tile."""
    _, _, height, width = x.shape
    ys, xs = tile_starts(height, tile, overlap), tile_starts(width, tile, overlap)
    if len(ys) == 1 and len(xs) == 1:
        return fn(x).float()
    out = torch.zeros((1, out_channels, height, width), device=x.device)
    total = torch.zeros((1, 1, height, width), device=x.device)
    th, tw = tile_size(height, tile, overlap), tile_size(width, tile, overlap)
    for i, y in enumerate(ys):
        for j, x0 in enumerate(xs):
            result = fn(x[:, :, y:y + th, x0:x0 + tw]).float()
            # Overlap with the neighbour actually present on each side (0 at the border).
            wy = _ramp(th, ys[i - 1] + th - y if i > 0 else 0,
                       y + th - ys[i + 1] if i + 1 < len(ys) else 0)
            wx = _ramp(tw, xs[j - 1] + tw - x0 if j > 0 else 0,
                       x0 + tw - xs[j + 1] if j + 1 < len(xs) else 0)
            weight = (wy[:, None] * wx[None, :]).to(x.device)[None, None]
            out[:, :, y:y + th, x0:x0 + tw] += result * weight
            total[:, :, y:y + th, x0:x0 + tw] += weight
    return out / total
