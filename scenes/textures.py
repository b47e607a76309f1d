"""Procedural texture images made with numpy at scene-generation time: albedo patterns
(checker, tiles, wood, marble, text, ...), height maps for bump mapping and opacity masks
for alpha cut-outs.

Albedo images are (S, S, 3) float32 *linear* reflectance in [0, 1]; height maps and opacity
masks are (S, S, 1) float32 in [0, 1] (raw data, not colour). All tile seamlessly, so
materials repeat them with ``wrap_mode='repeat'``. Noise comes from scenes.fbm, colours from
scenes.colors; environment maps are in scenes.envmaps.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from scenes.colors import hsv_to_linear, random_color
from scenes.fbm import noise


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (u, v) in [0, 1), each (size, size); v along rows."""
    t = (np.arange(size, dtype=np.float32) + 0.5) / size
    v, u = np.meshgrid(t, t, indexing="ij")
    return u, v


def _mix(c0, c1, t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0, 1)[..., None]
    return (np.asarray(c0, np.float32) * (1 - t) + np.asarray(c1, np.float32) * t).astype(np.float32)


# --------------------------------------------------------------------------- albedo textures


def checker(size: int, n: int, c0, c1) -> np.ndarray:
    """n x n checkerboard of colours c0 and c1 (linear RGB), (size, size, 3)."""
    u, v = _grid(size)
    t = ((np.floor(u * n) + np.floor(v * n)) % 2).astype(np.float32)
    return _mix(c0, c1, t)


def stripes(rng: np.random.Generator, size: int, colors: list, n: int) -> np.ndarray:
    """Stripes along v: ``n`` bands of random widths cycling through ``colors``."""
    widths = rng.uniform(0.3, 1.0, n)
    edges = np.cumsum(widths) / widths.sum()
    u, _ = _grid(size)
    band = np.searchsorted(edges, u[0])
    palette = np.array([colors[k % len(colors)] for k in range(n)], np.float32)
    row = palette[band]
    return np.broadcast_to(row[None], (size, size, 3)).astype(np.float32).copy()


def tiles(rng: np.random.Generator, size: int, rows: int, cols: int, base, grout, grout_width: float = 0.04,
          variation: float = 0.15, offset: float = 0.0, dirt: float = 0.1) -> np.ndarray:
    """Tiles or bricks: ``rows`` x ``cols`` tiles of colour ``base`` varied per tile, joints of
    colour ``grout`` (fraction ``grout_width`` of a tile), odd rows shifted by ``offset``."""
    u, v = _grid(size)
    r = np.floor(v * rows).astype(int)
    x = u * cols + offset * (r % 2)
    c = np.floor(x).astype(int) % cols
    fu, fv = x - np.floor(x), v * rows - r
    # the same physical joint width both ways: grout_width is relative to a tile's width
    gw_u, gw_v = grout_width, grout_width * rows / cols
    joint = (fu < gw_u / 2) | (fu > 1 - gw_u / 2) | (fv < gw_v / 2) | (fv > 1 - gw_v / 2)
    tone = rng.uniform(1 - variation, 1 + variation, (rows, cols, 1))
    hue = 1.0 + 0.5 * variation * rng.uniform(-1, 1, (rows, cols, 3))
    colors = np.clip(np.asarray(base)[None, None] * tone * hue, 0.005, 0.95)
    img = colors[r % rows, c].astype(np.float32)
    img *= (1.0 + dirt * (noise(rng, size) - 0.5) * 2)[..., None]
    img[joint] = grout
    return np.clip(img, 0, 1).astype(np.float32)


def wood(rng: np.random.Generator, size: int, light, dark, rings: float = 12.0, warp: float = 2.0) -> np.ndarray:
    """Wood grain running along u: growth rings distorted by noise, colours light..dark."""
    u, v = _grid(size)
    n1 = noise(rng, size, cells=2)
    n2 = noise(rng, size, cells=8)
    t = v * rings + warp * (n1 - 0.5) * 4 + 0.3 * (n2 - 0.5)
    grain = np.abs(np.sin(np.pi * t)) ** rng.uniform(0.5, 3)
    fine = 0.5 + (noise(rng, size, cells=32) - 0.5)
    # stretch the fine noise along the grain direction
    fine = np.repeat(fine[:, ::8], 8, axis=1)[:, :size]
    mixv = 0.75 * grain + 0.25 * fine
    return _mix(light, dark, mixv)


def planks(rng: np.random.Generator, size: int, n: int, light, dark, gap_color, gap: float = 0.01) -> np.ndarray:
    """Floorboards: ``n`` rows of planks along u with staggered joints, each plank its own
    wood tone, dark gaps between them."""
    img = wood(rng, size, light, dark, rings=rng.uniform(6, 20))
    u, v = _grid(size)
    r = np.floor(v * n).astype(int)
    shifts = rng.uniform(0, 1, n)
    lengths = rng.choice([1, 2], n)  # planks per texture width
    x = (u + shifts[r]) * lengths[r]
    k = np.floor(x).astype(int)
    tone = rng.uniform(0.7, 1.25, (n, 3, 1)) * (1 + 0.08 * rng.uniform(-1, 1, (n, 3, 3)))
    img *= tone[r, k % 3]
    fv = v * n - r
    fu = x - k
    joint = (fv < gap * n) | (fu < gap * n / lengths[r] * 0.5)
    img[joint] = gap_color
    # different grain per plank: roll each row band of the grain horizontally
    return np.clip(img, 0, 1).astype(np.float32)


def marble(rng: np.random.Generator, size: int, base, vein, sharpness: float = 8.0) -> np.ndarray:
    """Marble: a base colour with turbulent veins of colour ``vein``."""
    u, v = _grid(size)
    n1 = noise(rng, size, cells=2)
    turb = np.abs(noise(rng, size, cells=4) - 0.5) * 2
    freq = rng.integers(1, 4)
    t = np.sin(2 * np.pi * (freq * (u + v) + 3.0 * (n1 - 0.5) * 2 + 1.5 * turb))
    veins = (1 - np.abs(t)) ** sharpness
    cloud = (noise(rng, size, cells=8) - 0.5) * 0.3
    return np.clip(_mix(base, vein, veins) * (1 + cloud)[..., None], 0, 1).astype(np.float32)


def mottled(rng: np.random.Generator, size: int, c0, c1, cells: int = 4, contrast: float = 1.0) -> np.ndarray:
    """Noise blended between two colours: plaster, concrete, stone, grass, carpet."""
    t = 0.5 + (noise(rng, size, cells=cells) - 0.5) * 3.0 * contrast
    return _mix(c0, c1, t)


def grid_lines(size: int, n: int, paper, ink, width: float = 0.06) -> np.ndarray:
    """Graph paper: n x n grid of lines of relative width ``width`` on ``paper``."""
    u, v = _grid(size)
    fu, fv = (u * n) % 1, (v * n) % 1
    line = (fu < width) | (fv < width)
    img = np.empty((size, size, 3), np.float32)
    img[:] = paper
    img[line] = ink
    return img


def dots(rng: np.random.Generator, size: int, n: int, background, dot, radius: float = 0.3) -> np.ndarray:
    """Polka dots: n x n dots of colour ``dot`` (radius relative to the cell)."""
    u, v = _grid(size)
    fu, fv = (u * n) % 1 - 0.5, (v * n) % 1 - 0.5
    inside = fu ** 2 + fv ** 2 < radius ** 2
    img = np.empty((size, size, 3), np.float32)
    img[:] = background
    img[inside] = dot
    return img


def weave(rng: np.random.Generator, size: int, n: int, warp_color, weft_color) -> np.ndarray:
    """Woven fabric: n threads each way in a plain weave with shading across each thread."""
    u, v = _grid(size)
    iu, iv = np.floor(u * n), np.floor(v * n)
    fu, fv = (u * n) % 1, (v * n) % 1
    over = ((iu + iv) % 2).astype(bool)
    shade_u = np.sin(np.pi * fu) ** 0.5
    shade_v = np.sin(np.pi * fv) ** 0.5
    img = np.where(over[..., None], np.asarray(warp_color, np.float32) * shade_v[..., None],
                   np.asarray(weft_color, np.float32) * shade_u[..., None])
    fuzz = 1 + 0.2 * (noise(rng, size, cells=32) - 0.5)
    return np.clip(img * fuzz[..., None], 0, 1).astype(np.float32)


@lru_cache(maxsize=4)
def _glyphs(count: int = 64, seed: int = 7) -> np.ndarray:
    """(count, 9, 6) bool glyph bitmaps: 5x7 random stroke patterns with a 1-pixel margin."""
    rng = np.random.default_rng(seed)
    g = np.zeros((count, 9, 6), bool)
    for k in range(count):
        cell = np.zeros((7, 5), bool)
        for _ in range(rng.integers(2, 5)):  # strokes: rows, columns or diagonals
            kind = rng.integers(3)
            if kind == 0:
                cell[rng.integers(7), rng.integers(0, 2):rng.integers(3, 6)] = True
            elif kind == 1:
                cell[rng.integers(0, 3):rng.integers(4, 8), rng.integers(5)] = True
            else:
                n = rng.integers(3, 6)
                r0, c0 = rng.integers(0, 7 - n + 1), rng.integers(0, 5 - min(n, 5) + 1)
                idx = np.arange(min(n, 5))
                cell[r0 + idx, c0 + idx if rng.random() < 0.5 else c0 + idx[::-1]] = True
        g[k, 1:8, 0:5] = cell
    return g


def text(rng: np.random.Generator, size: int, paper, ink, scale_px: int = 1) -> np.ndarray:
    """Text-like page: lines of random glyph 'words' in ``ink`` on ``paper`` (fine detail)."""
    glyphs = _glyphs()
    gh, gw = glyphs.shape[1:]
    rows, cols = size // (gh * scale_px), size // (gw * scale_px)
    idx = rng.integers(0, len(glyphs), (rows, cols))
    space = rng.random((rows, cols)) < 0.17
    # paragraph structure: some lines end early, some are blank
    ends = np.where(rng.random(rows) < 0.2, rng.integers(cols // 4, cols, rows), cols)
    ends[rng.random(rows) < 0.08] = 0
    space |= np.arange(cols)[None, :] >= ends[:, None]
    page = glyphs[idx] & ~space[..., None, None]  # (rows, cols, gh, gw)
    page = page.transpose(0, 2, 1, 3).reshape(rows * gh, cols * gw)
    if scale_px > 1:
        page = np.repeat(np.repeat(page, scale_px, 0), scale_px, 1)
    full = np.zeros((size, size), bool)
    full[: page.shape[0], : page.shape[1]] = page
    img = np.empty((size, size, 3), np.float32)
    img[:] = paper
    img[full] = ink
    return img


def painting(rng: np.random.Generator, size: int = 128) -> np.ndarray:
    """An abstract 'painting' for picture frames: noise mapped through a random palette."""
    palette = np.array([hsv_to_linear(rng.random(), rng.uniform(0.2, 0.9), rng.uniform(0.25, 0.95))
                        for _ in range(4)])
    t = noise(rng, size, cells=2)
    t = (t - t.min()) / (np.ptp(t) + 1e-9) * 3
    k = np.clip(np.floor(t).astype(int), 0, 2)
    f = (t - k)[..., None]
    img = palette[k] * (1 - f) + palette[k + 1] * f
    return np.clip(img, 0, 1).astype(np.float32)


def random_albedo_texture(rng: np.random.Generator, size: int = 256, colors=None) -> tuple[np.ndarray, str]:
    """One of the texture kinds with random parameters and colours: (image, kind)."""
    c0 = random_color(rng) if colors is None else colors[0]
    c1 = random_color(rng) if colors is None else colors[1]
    kind = rng.choice(["checker", "stripes", "tiles", "bricks", "wood", "marble", "mottled",
                       "grid", "dots", "weave", "text", "painting"])
    if kind == "checker":
        img = checker(size, int(rng.choice([2, 4, 8, 16])), c0, c1)
    elif kind == "stripes":
        img = stripes(rng, size, [c0, c1, random_color(rng)], int(rng.integers(3, 16)))
    elif kind == "tiles":
        img = tiles(rng, size, int(rng.integers(2, 9)), int(rng.integers(2, 9)), c0, np.asarray(c1) * 0.5 + 0.3)
    elif kind == "bricks":
        img = tiles(rng, size, int(rng.integers(4, 12)) * 2, int(rng.integers(2, 6)), c0, c1 * 0.3 + 0.4,
                    grout_width=0.06, offset=0.5, variation=0.25, dirt=0.3)
    elif kind == "wood":
        img = wood(rng, size, *wood_colors(rng))
    elif kind == "marble":
        img = marble(rng, size, np.clip(c0 * 0.3 + 0.55, 0, 0.9), c1 * 0.5)
    elif kind == "mottled":
        img = mottled(rng, size, c0, c1, cells=int(rng.choice([2, 4, 8, 16])))
    elif kind == "grid":
        img = grid_lines(size, int(rng.choice([4, 8, 16, 32])), np.clip(c0 + 0.4, 0, 0.9), c1 * 0.3)
    elif kind == "dots":
        img = dots(rng, size, int(rng.choice([4, 8, 16])), c0, c1, rng.uniform(0.15, 0.45))
    elif kind == "weave":
        img = weave(rng, size, int(rng.choice([16, 32, 64])), c0, c1)
    elif kind == "text":
        img = text(rng, size, np.clip(c0 * 0.2 + 0.7, 0, 0.9), c1 * 0.15, scale_px=int(rng.choice([1, 1, 2])))
    else:
        img = painting(rng, size)
    return img, str(kind)


def wood_colors(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(light, dark) linear colours of a wood species from pale ash to dark walnut."""
    hue = rng.uniform(0.04, 0.1)
    value = rng.uniform(0.45, 0.9)
    light = hsv_to_linear(hue, rng.uniform(0.35, 0.65), value)
    dark = hsv_to_linear(hue * rng.uniform(0.7, 1.0), rng.uniform(0.5, 0.8), value * rng.uniform(0.45, 0.7))
    return light, dark


# --------------------------------------------------------------------------- height maps and cut-outs


def height_map(rng: np.random.Generator, size: int = 256, kind: str | None = None) -> np.ndarray:
    """(size, size, 1) float32 height in [0, 1] for bump mapping (raw data, not colour)."""
    kind = kind or str(rng.choice(["noise", "fine", "tiles", "ripples", "cells"]))
    u, v = _grid(size)
    if kind == "noise":
        h = noise(rng, size, cells=int(rng.choice([4, 8, 16])))
    elif kind == "fine":
        h = noise(rng, size, octaves=3, cells=32)
    elif kind == "tiles":
        n = int(rng.integers(2, 10))
        fu, fv = (u * n) % 1, (v * n) % 1
        h = np.minimum(np.minimum(fu, 1 - fu), np.minimum(fv, 1 - fv))
        h = np.clip(h * 12, 0, 1)
    elif kind == "ripples":
        n = int(rng.integers(4, 20))
        h = 0.5 + 0.5 * np.sin(2 * np.pi * (n * u + 2 * noise(rng, size, cells=2)))
    else:  # hammered / pitted metal
        h = noise(rng, size, octaves=2, cells=16) ** 2
    h = (h - h.min()) / (np.ptp(h) + 1e-9)
    return h.astype(np.float32)[..., None]


def cutout(rng: np.random.Generator, size: int = 128) -> np.ndarray:
    """(size, size, 1) float32 opacity, 0 or 1, for alpha cut-outs: holes, slots, a lattice
    or an organic lace from thresholded noise."""
    u, v = _grid(size)
    kind = rng.integers(4)
    n = int(rng.choice([4, 8, 16]))
    fu, fv = (u * n) % 1 - 0.5, (v * n) % 1 - 0.5
    if kind == 0:  # round holes
        keep = fu ** 2 + fv ** 2 > rng.uniform(0.1, 0.2)
    elif kind == 1:  # slots
        keep = (np.abs(fu) > rng.uniform(0.1, 0.35)) | (np.abs(fv) > 0.4)
    elif kind == 2:  # lattice
        w = rng.uniform(0.1, 0.3)
        keep = (np.abs(fu) > 0.5 - w) | (np.abs(fv) > 0.5 - w)
    else:  # lace
        keep = noise(rng, size, cells=8) > rng.uniform(0.45, 0.55)
    return keep.astype(np.float32)[..., None]
