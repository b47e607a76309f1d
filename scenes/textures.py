"""Procedural images made with numpy at scene-generation time: albedo textures, height maps
and latitude-longitude HDR environment maps.

Texture images are (S, S, 3) float32 *linear* reflectance in [0, 1] (height maps (S, S, 1) in
[0, 1]) and tile seamlessly, so materials repeat them with ``wrap_mode='repeat'``. Environment
maps are (H, 2H, 3) float32 linear radiance in Mitsuba's lat-long layout: row i, column j look
along d = (sin t sin p, cos t, -sin t cos p) with t = pi (i + 0.5) / H, p = 2 pi (j + 0.5) / W.

Costly building blocks (periodic fBm noise fields, direction grids) are cached per process;
each instance draws one of a pool of noise fields and rolls, flips and recolours it, so the
per-instance cost stays at a few milliseconds.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

NOISE_POOL = 8  # distinct cached base noise fields per (size, lattice)


# --------------------------------------------------------------------------- colour helpers


def srgb_to_linear(c) -> np.ndarray:
    c = np.asarray(c, dtype=np.float64)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def hsv_to_linear(h: float, s: float, v: float) -> np.ndarray:
    """An sRGB colour given as hue/saturation/value in [0, 1], returned as linear RGB (3,)."""
    i = int(h * 6.0) % 6
    f = h * 6.0 - int(h * 6.0)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    rgb = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
    return srgb_to_linear(rgb)


def blackbody_tint(kelvin: float) -> np.ndarray:
    """Approximate linear RGB of a light of colour temperature ``kelvin``, max channel 1."""
    t = kelvin / 100.0
    r = 255.0 if t <= 66 else 329.7 * (t - 60) ** -0.1332
    g = 99.47 * np.log(t) - 161.1 if t <= 66 else 288.1 * (t - 60) ** -0.0755
    b = 255.0 if t >= 66 else (0.0 if t <= 19 else 138.5 * np.log(t - 10) - 305.0)
    c = srgb_to_linear(np.clip([r, g, b], 1, 255) / 255.0)
    return c / c.max()


def luminance(rgb) -> np.ndarray:
    rgb = np.asarray(rgb)
    return rgb[..., 0] * 0.2126 + rgb[..., 1] * 0.7152 + rgb[..., 2] * 0.0722


# --------------------------------------------------------------------------- noise


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


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (u, v) in [0, 1), each (size, size); v along rows."""
    t = (np.arange(size, dtype=np.float32) + 0.5) / size
    v, u = np.meshgrid(t, t, indexing="ij")
    return u, v


def _mix(c0, c1, t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0, 1)[..., None]
    return (np.asarray(c0, np.float32) * (1 - t) + np.asarray(c1, np.float32) * t).astype(np.float32)


def _vary(rng: np.random.Generator, color, amount: float) -> np.ndarray:
    """``color`` with multiplicative random variation of +-amount (per channel, correlated)."""
    g = 1.0 + amount * rng.uniform(-1, 1)
    c = np.asarray(color) * g * (1.0 + 0.3 * amount * rng.uniform(-1, 1, 3))
    return np.clip(c, 0.005, 0.95)


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
    from scenes.materials import random_color  # late import: materials uses this module

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


# --------------------------------------------------------------------------- environment maps


@lru_cache(maxsize=4)
def latlong_directions(height: int) -> tuple[np.ndarray, np.ndarray]:
    """World directions (H, 2H, 3) of lat-long pixel centres and their solid angles (H, 1)."""
    width = 2 * height
    theta = (np.arange(height) + 0.5) / height * np.pi
    phi = (np.arange(width) + 0.5) / width * 2 * np.pi
    t, p = np.meshgrid(theta, phi, indexing="ij")
    d = np.stack([np.sin(t) * np.sin(p), np.cos(t), -np.sin(t) * np.cos(p)], -1)
    omega = (np.sin(theta) * (np.pi / height) * (2 * np.pi / width))[:, None]
    d.setflags(write=False)
    omega.setflags(write=False)
    return d, omega


def direction(elevation_deg: float, azimuth_deg: float) -> np.ndarray:
    """Unit vector at ``elevation`` above the XZ plane, ``azimuth`` from +X towards +Z."""
    e, a = np.radians(elevation_deg), np.radians(azimuth_deg)
    return np.array([np.cos(e) * np.cos(a), np.sin(e), np.cos(e) * np.sin(a)])


def irradiance(env: np.ndarray, normal=(0.0, 1.0, 0.0)) -> np.ndarray:
    """Irradiance (3,) from an environment map onto a surface facing ``normal`` (W/m^2 units
    of the map's radiance), ignoring occlusion."""
    d, omega = latlong_directions(env.shape[0])
    cos = np.clip(d @ np.asarray(normal, dtype=np.float64), 0, None)
    return np.einsum("ijc,ij->c", env, cos * omega)


def _sample_periodic(field: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear lookup of a periodic (S, S) field at continuous texel coordinates."""
    s = field.shape[0]
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = x - x0, y - y0
    x0, y0 = x0 % s, y0 % s
    x1, y1 = (x0 + 1) % s, (y0 + 1) % s
    return ((field[y0, x0] * (1 - fx) + field[y0, x1] * fx) * (1 - fy)
            + (field[y1, x0] * (1 - fx) + field[y1, x1] * fx) * fy)


def add_sun_disk(env: np.ndarray, sun_dir, irradiance_normal: float, radius_deg: float, color) -> None:
    """Paint a sun disk of angular radius ``radius_deg`` whose irradiance at normal incidence
    is ``irradiance_normal`` (per channel times ``color``), in place. Exact in total whatever
    the pixel size, so the light a scene receives does not depend on the map resolution."""
    d, omega = latlong_directions(env.shape[0])
    cos = d @ np.asarray(sun_dir, dtype=np.float64)
    radius = np.radians(max(radius_deg, 180.0 / env.shape[0] * 0.75))
    inside = cos > np.cos(radius)
    if not inside.any():
        inside = cos >= cos.max()
    weight = (omega * np.ones_like(cos))[inside] * cos[inside]
    env[inside] += (np.asarray(color) * irradiance_normal / weight.sum()).astype(np.float32)


def sky(rng: np.random.Generator, sun_dir, kind: str, height: int = 128, sun_disk: bool = False,
        sun_irradiance: float = 0.0, sun_radius_deg: float = 1.5, ground_albedo=(0.2, 0.2, 0.2)) -> np.ndarray:
    """Procedural daylight sky (H, 2H, 3), normalised to horizontal sky irradiance pi (so a
    white horizontal surface under the sky alone has radiance about 1), before the sun disk.

    kind: 'clear', 'hazy', 'sunset', 'overcast' or 'night'. The lower hemisphere is a dim
    ground lit by the sky (and by the sun, ``sun_irradiance`` at normal incidence). With
    ``sun_disk`` the sun is painted into the map (soft shadows, visible sun glints); otherwise
    the caller adds a ``directional`` emitter along ``sun_dir``.
    """
    d, omega = latlong_directions(height)
    sun = np.asarray(sun_dir, dtype=np.float64)
    sun = sun / np.linalg.norm(sun)
    up = np.clip(d[..., 1], 0, 1)
    cos_sun = np.clip(d @ sun, -1, 1)
    angle = np.arccos(cos_sun)
    sun_elev = np.degrees(np.arcsin(np.clip(sun[1], -1, 1)))
    horizon_t = (1 - up) ** rng.uniform(2.5, 5.0)

    if kind == "overcast":
        grey = np.array([0.9, 0.93, 1.0]) * rng.uniform(0.9, 1.05, 3)
        lum = (1 + 2 * up) / 3  # CIE overcast sky luminance distribution
        env = lum[..., None] * grey
        clouds = 0.8 + 0.4 * _sky_clouds(rng, d, scale=0.5)
        env *= clouds[..., None]
    elif kind == "night":
        zenith = np.array([0.01, 0.015, 0.04])
        horizon = np.array([0.04, 0.04, 0.06]) * rng.uniform(0.5, 2.0)
        env = zenith * (1 - horizon_t[..., None]) + horizon * horizon_t[..., None]
    else:
        if kind == "sunset":
            zenith = np.array([0.06, 0.1, 0.3]) * rng.uniform(0.8, 1.2, 3)
            horizon = np.array([1.0, 0.55, 0.25]) * rng.uniform(0.8, 1.2, 3)
            glow_color = np.array([1.0, 0.5, 0.2])
        elif kind == "hazy":
            zenith = np.array([0.3, 0.45, 0.75])
            horizon = np.array([0.85, 0.88, 0.92])
            glow_color = np.array([1.0, 0.9, 0.75])
        else:  # clear
            zenith = np.array([0.12, 0.25, 0.75]) * rng.uniform(0.8, 1.2, 3)
            horizon = np.array([0.65, 0.78, 0.95]) * rng.uniform(0.9, 1.1, 3)
            glow_color = np.array([1.0, 0.92, 0.8])
        env = zenith * (1 - horizon_t[..., None]) + horizon * horizon_t[..., None]
        # aureole around the sun and a broad brightening towards it
        glow = 3.0 * np.exp(-angle / np.radians(rng.uniform(4, 10))) + 0.6 * np.exp(-angle / np.radians(35))
        env = env + glow[..., None] * glow_color * (0.4 if kind == "hazy" else 0.25)
        if rng.random() < 0.6:  # fair-weather clouds, lit from the sun side
            cover = rng.uniform(0.2, 0.7)
            c = _sky_clouds(rng, d, scale=rng.uniform(0.3, 1.2))
            mask = np.clip((c - (1 - cover)) * 4, 0, 1) * np.clip(up * 8, 0, 1)
            cloud_col = np.array([1.0, 1.0, 1.0]) * (0.6 + 0.5 * np.clip(cos_sun, 0, 1))[..., None]
            if kind == "sunset":
                cloud_col = cloud_col * np.array([1.0, 0.6, 0.45])
            env = env * (1 - mask[..., None]) + cloud_col * mask[..., None] * 1.2
    # below the horizon: a dim ground, brightened by a haze band near the horizon
    below = d[..., 1] < 0
    sky_e = float(luminance(irradiance(np.where(below[..., None], 0.0, env).astype(np.float32))))
    scale = np.pi / max(sky_e, 1e-9)
    env = env * scale
    sun_h = sun_irradiance * max(sun[1], 0.0)
    ground = np.asarray(ground_albedo) * (np.pi + sun_h) / np.pi
    haze = np.exp(d[..., 1] * 12)[..., None]  # 1 at the horizon, ~0 straight down
    ground_env = ground * (1 - haze) + env[np.argmin(np.abs(d[:, 0, 1]))][None] * haze
    env = np.where(below[..., None], ground_env, env).astype(np.float32)
    if sun_disk and sun_irradiance > 0 and sun[1] > -0.05:
        color = np.array([1.0, 0.95, 0.88]) if kind != "sunset" else np.array([1.0, 0.65, 0.35])
        add_sun_disk(env, sun, sun_irradiance, sun_radius_deg, color)
    return env


def _sky_clouds(rng: np.random.Generator, d: np.ndarray, scale: float) -> np.ndarray:
    """Cloud density in [0, 1] projected on a plane above the viewer (H, W)."""
    field = noise(rng, 256, cells=4)
    y = np.maximum(d[..., 1], 0.03)
    x = d[..., 0] / y * scale * 40
    z = d[..., 2] / y * scale * 40
    c = _sample_periodic(field, x, z)
    return np.clip((c - 0.5) * 3 + 0.5, 0, 1)


def studio(rng: np.random.Generator, height: int = 128) -> np.ndarray:
    """A photo-studio light map (H, 2H, 3): dark gradient walls, a dim floor and 2-5 soft
    boxes / strip lights of colour temperatures 3000-7500 K. Normalised so that horizontal
    irradiance is pi (radiance about 1 on a white floor)."""
    d, omega = latlong_directions(height)
    base = rng.uniform(0.01, 0.12)
    up = d[..., 1]
    wall = base * (0.6 + 0.4 * np.clip(up, 0, 1)) + 0.3 * base * np.exp(-np.abs(up) * 8)
    tint = blackbody_tint(rng.uniform(4000, 8000))
    env = wall[..., None] * tint
    env = np.where(up[..., None] < 0, env * 0.5, env)
    n_lights = int(rng.integers(2, 6))
    for k in range(n_lights):
        kind = rng.choice(["softbox", "strip", "disk"])
        elev = rng.uniform(5, 80) if kind != "strip" else rng.uniform(0, 40)
        az = rng.uniform(0, 360)
        centre = direction(elev, az)
        # local frame around the light's centre direction
        right = np.cross([0.0, 1.0, 0.0], centre)
        right /= max(np.linalg.norm(right), 1e-9)
        upv = np.cross(centre, right)
        a = np.degrees(np.arctan2(d @ right, d @ centre))
        b = np.degrees(np.arctan2(d @ upv, d @ centre))
        front = (d @ centre) > 0
        if kind == "softbox":
            w, h = rng.uniform(8, 30), rng.uniform(8, 30)
        elif kind == "strip":
            w, h = rng.uniform(3, 8), rng.uniform(25, 60)
        else:
            w = h = rng.uniform(5, 20)
        soft = rng.uniform(0.5, 3.0)
        if kind == "disk":
            shape = np.clip((w / 2 - np.sqrt(a ** 2 + b ** 2)) / soft + 0.5, 0, 1)
        else:
            shape = (np.clip((w / 2 - np.abs(a)) / soft + 0.5, 0, 1) * np.clip((h / 2 - np.abs(b)) / soft + 0.5, 0, 1))
        shape = shape * front
        strength = rng.uniform(3, 30) * (1.0 if k == 0 else rng.uniform(0.2, 1.0))
        color = blackbody_tint(rng.uniform(3000, 7500))
        env = env + (shape * strength)[..., None] * color
    e = float(luminance(irradiance(env.astype(np.float32))))
    return (env * (np.pi / max(e, 1e-9))).astype(np.float32)


def indoor_hdri(rng: np.random.Generator, height: int = 128) -> np.ndarray:
    """A stand-in for a captured interior HDRI (H, 2H, 3): the inside of a box room seen from
    its middle, with bright windows showing sky, lit walls, a floor and ceiling lamps.
    Normalised so that horizontal irradiance is pi."""
    d, _ = latlong_directions(height)
    half = np.array([rng.uniform(2, 5), 1.0, rng.uniform(2, 5)])  # room half-extents (x, ., z)
    eye_h, ceil_h = rng.uniform(0.8, 1.6), rng.uniform(2.5, 3.5)
    # distance to the room boundary along each direction
    with np.errstate(divide="ignore", invalid="ignore"):
        tx = half[0] / np.abs(d[..., 0])
        tz = half[2] / np.abs(d[..., 2])
        ty = np.where(d[..., 1] > 0, (ceil_h - eye_h) / d[..., 1], eye_h / -d[..., 1])
    t = np.minimum(np.minimum(tx, tz), ty)
    p = d * t[..., None]
    wall_x, wall_z = tx <= np.minimum(tz, ty), tz <= np.minimum(tx, ty)
    ceiling, floor = (ty <= np.minimum(tx, tz)) & (d[..., 1] > 0), (ty <= np.minimum(tx, tz)) & (d[..., 1] <= 0)
    wall_col = srgb_to_linear(np.clip([0.85, 0.8, 0.72] * rng.uniform(0.8, 1.1, 3), 0, 1)) * rng.uniform(0.15, 0.4)
    floor_col = srgb_to_linear(np.clip([0.55, 0.4, 0.28] * rng.uniform(0.7, 1.2, 3), 0, 1)) * rng.uniform(0.2, 0.5)
    env = np.zeros(d.shape)
    height_y = p[..., 1] + eye_h
    env[wall_x | wall_z] = wall_col
    env[..., :] *= (0.6 + 0.4 * np.clip(height_y / ceil_h, 0, 1))[..., None]
    env[ceiling] = wall_col * 0.7
    env[floor] = floor_col
    # windows on one or two walls: sky gradient seen through them
    sky_col = np.array([0.6, 0.75, 1.0]) * rng.uniform(4, 15)
    for _ in range(int(rng.integers(1, 4))):
        axis = int(rng.integers(2))
        sign = rng.choice([-1, 1])
        on_wall = (wall_x if axis == 0 else wall_z) & (np.sign(d[..., 0 if axis == 0 else 2]) == sign)
        along = p[..., 2 if axis == 0 else 0]
        c = rng.uniform(-0.6, 0.6) * half[2 if axis == 0 else 0]
        w = rng.uniform(0.5, 1.5)
        y0, y1 = rng.uniform(0.3, 1.0), rng.uniform(1.9, ceil_h - 0.1)
        win = on_wall & (np.abs(along - c) < w) & (height_y > y0) & (height_y < y1)
        grad = np.clip((height_y - y0) / (y1 - y0), 0, 1)[..., None]
        env[win] = (sky_col * (0.6 + 0.4 * grad) + np.array([1.0, 0.95, 0.85]) * 0.5)[win]
    for _ in range(int(rng.integers(0, 4))):  # ceiling lamps
        lx, lz = rng.uniform(-0.8, 0.8) * half[0], rng.uniform(-0.8, 0.8) * half[2]
        lamp = ceiling & ((p[..., 0] - lx) ** 2 + (p[..., 2] - lz) ** 2 < rng.uniform(0.02, 0.1))
        env[lamp] = blackbody_tint(rng.uniform(2700, 4500)) * rng.uniform(20, 80)
    env = env.astype(np.float32)
    e = float(luminance(irradiance(env)))
    return (env * (np.pi / max(e, 1e-9))).astype(np.float32)
