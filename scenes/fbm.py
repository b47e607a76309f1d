"""Periodic fractal (fBm) value-noise fields, the raw material of the procedural textures
and of the cloud layers of the sky maps.

Fields are (S, S) float32 with mean 0.5 and tile seamlessly. The costly base fields are
cached per process; each draw takes one of a pool of ``NOISE_POOL`` cached fields and rolls,
flips and transposes it, so a texture costs a few milliseconds per instance.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

NOISE_POOL = 8  # distinct cached base noise fields per (size, lattice)


def _value_noise(size: int, cells: int, rng: np.random.Generator) -> np.ndarray:
    """Periodic smooth value noise (size, size) in [0, 1] on a cells x cells lattice."""
    lattice = rng.random((cells, cells))
    x = np.arange(size) * cells / size
    i0 = np.floor(x).astype(int)
    f = x - i0
    f = f * f * (3 - 2 * f)  # smoothstep: no visible lattice creases
    i1 = (i0 + 1) % cells
    i0 = i0 % cells
    rows0 = lattice[i0][:, i0] * (1 - f)[None, :] + lattice[i0][:, i1] * f[None, :]
    rows1 = lattice[i1][:, i0] * (1 - f)[None, :] + lattice[i1][:, i1] * f[None, :]
    return rows0 * (1 - f)[:, None] + rows1 * f[:, None]


@lru_cache(maxsize=32 * NOISE_POOL)
def base_fbm(size: int, seed: int, octaves: int = 6, cells: int = 4) -> np.ndarray:
    """Periodic fractal noise (size, size) float32, normalised to mean 0.5, std about 0.15.

    Cached and read-only: callers must copy before writing.
    """
    rng = np.random.default_rng(0x5EED + 7919 * seed + size)
    total = np.zeros((size, size))
    amp, norm = 1.0, 0.0
    for k in range(octaves):
        c = cells * 2 ** k
        if c > size // 2:
            break
        total += amp * _value_noise(size, c, rng)
        norm += amp
        amp *= 0.5
    total /= norm
    total = (total - total.mean()) / (total.std() + 1e-9) * 0.15 + 0.5
    out = total.astype(np.float32)
    out.setflags(write=False)
    return out


def noise(rng: np.random.Generator, size: int = 256, octaves: int = 6, cells: int = 4) -> np.ndarray:
    """A (size, size) float32 fBm field, mean 0.5, drawn from the cached pool and randomly
    rolled, flipped and transposed (still periodic)."""
    field = base_fbm(size, int(rng.integers(NOISE_POOL)), octaves, cells)
    field = np.roll(field, (int(rng.integers(size)), int(rng.integers(size))), axis=(0, 1))
    if rng.random() < 0.5:
        field = field.T
    if rng.random() < 0.5:
        field = field[::-1]
    return np.ascontiguousarray(field)
