"""Furniture and fittings for the interior families, built from boxes, rounded boxes,
cylinders and lathe shapes.

Every builder returns a :class:`Piece` in its own frame: resting on y = 0, centred on the
origin, its front facing +Z, with parts tagged by material *role* ('wood', 'fabric', 'metal',
'shade', ...); the family maps roles to the room's materials, then places the piece with a
yaw and a translation. Lamps carry their bulbs (sphere emitters) as (centre, radius).
Dimensions are metres and follow real furniture.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from scenes import geometry as g
from scenes.geometry import MeshData


@dataclass
class Piece:
    """Parts as (role, mesh) in the piece's frame, bulbs as (centre (3,), radius), footprint
    width (x) and depth (z) and height, metres. ``top`` is the height of a usable top surface
    (0 when things cannot stand on it)."""

    parts: list = field(default_factory=list)
    bulbs: list = field(default_factory=list)
    width: float = 0.0
    depth: float = 0.0
    height: float = 0.0
    top: float = 0.0

    def add(self, role: str, mesh: MeshData) -> None:
        self.parts.append((role, mesh))


def _box(p: Piece, role: str, size, centre) -> None:
    p.add(role, g.box(size, centre))


def _legs(p: Piece, rng, w: float, d: float, h: float, inset: float, role: str, round_legs: bool | None = None,
          thickness: float = 0.04) -> None:
    round_legs = bool(rng.random() < 0.5) if round_legs is None else round_legs
    for sx in (-1, 1):
        for sz in (-1, 1):
            x, z = sx * (w / 2 - inset), sz * (d / 2 - inset)
            if round_legs:
                p.add(role, g.cone_frustum(thickness * 0.6, thickness * 0.45, h, 16).transformed(g.translate(x, 0, z)))
            else:
                _box(p, role, (thickness, h, thickness), (x, h / 2, z))


def table(rng: np.random.Generator, w: float, d: float, h: float = 0.75) -> Piece:
    """Rectangular table: top, optional apron, four legs (square or tapered round)."""
    p = Piece(width=w, depth=d, height=h, top=h)
    t = rng.uniform(0.025, 0.06)
    _box(p, "wood", (w, t, d), (0, h - t / 2, 0))
    leg_role = "wood" if rng.random() < 0.6 else "metal"
    _legs(p, rng, w, d, h - t, 0.06, leg_role)
    if rng.random() < 0.5:
        for sz in (-1, 1):
            _box(p, "wood", (w - 0.12, 0.08, 0.02), (0, h - t - 0.04, sz * (d / 2 - 0.07)))
    return p


def round_table(rng: np.random.Generator, r: float, h: float = 0.74) -> Piece:
    p = Piece(width=2 * r, depth=2 * r, height=h, top=h)
    t = rng.uniform(0.03, 0.05)
    p.add("wood", g.cylinder(r, t, 48).transformed(g.translate(0, h - t, 0)))
    p.add("metal" if rng.random() < 0.5 else "wood", g.cylinder(0.04, h - t, 16))
    p.add("metal", g.cone_frustum(r * 0.45, r * 0.3, 0.04, 32))
    return p


def chair(rng: np.random.Generator) -> Piece:
    w, d, seat = rng.uniform(0.42, 0.5), rng.uniform(0.42, 0.5), rng.uniform(0.43, 0.47)
    back = rng.uniform(0.35, 0.5)
    p = Piece(width=w, depth=d, height=seat + back)
    role = "wood" if rng.random() < 0.7 else "lacquer"
    _box(p, role, (w, 0.04, d), (0, seat - 0.02, 0))
    _legs(p, rng, w, d, seat - 0.04, 0.03, role, thickness=0.035)
    for sx in (-1, 1):  # back posts
        _box(p, role, (0.035, back, 0.035), (sx * (w / 2 - 0.03), seat + back / 2, -d / 2 + 0.03))
    if rng.random() < 0.5:
        _box(p, role, (w - 0.04, back * 0.45, 0.02), (0, seat + back * 0.7, -d / 2 + 0.03))
    else:
        for k in range(3):
            _box(p, role, (w - 0.04, 0.04, 0.02), (0, seat + back * (0.35 + 0.28 * k), -d / 2 + 0.03))
    if rng.random() < 0.4:
        p.add("fabric", g.superquadric((w / 2 - 0.02, 0.03, d / 2 - 0.02), 0.2, 0.2).transformed(g.translate(0, seat + 0.02, 0)))
    return p


def sofa(rng: np.random.Generator, w: float) -> Piece:
    """Sofa (or armchair for small ``w``): plinth, rounded seat and back cushions, arms."""
    d, h = rng.uniform(0.8, 1.0), rng.uniform(0.75, 0.9)
    seat = rng.uniform(0.38, 0.45)
    arm = rng.uniform(0.1, 0.2)
    p = Piece(width=w, depth=d, height=h, top=0.0)
    e = rng.uniform(0.08, 0.25)
    _box(p, "fabric", (w, seat - 0.2, d), (0, 0.1 + (seat - 0.2) / 2, 0))
    n = max(1, int(round((w - 2 * arm) / 0.65)))
    cw = (w - 2 * arm) / n
    for k in range(n):
        x = -w / 2 + arm + cw * (k + 0.5)
        p.add("fabric", g.superquadric((cw / 2 - 0.005, 0.09, (d - 0.2) / 2), e, e).transformed(g.translate(x, seat - 0.09, 0.09)))
        p.add("fabric", g.superquadric((cw / 2 - 0.005, (h - seat) / 2, 0.11), e, e).transformed(
            g.compose(g.rotate([1, 0, 0], -8), g.translate(x, seat + (h - seat) / 2 - 0.02, -d / 2 + 0.14))))
    for sx in (-1, 1):
        p.add("fabric", g.superquadric((arm / 2, (h * 0.75) / 2, d / 2), e, e).transformed(
            g.translate(sx * (w / 2 - arm / 2), 0.1 + h * 0.375, 0)))
    _box(p, "fabric", (w, h - 0.1, 0.12), (0, 0.1 + (h - 0.1) / 2, -d / 2 + 0.06))
    _legs(p, rng, w, d, 0.1, 0.05, "wood" if rng.random() < 0.5 else "metal", thickness=0.035)
    if rng.random() < 0.6:  # throw pillows
        for k in range(int(rng.integers(1, 3))):
            x = rng.choice([-1, 1]) * (w / 2 - arm - 0.25) if n > 1 else 0.0
            p.add("fabric2", g.superquadric((0.2, 0.2, 0.06), 0.3, 0.3).transformed(
                g.compose(g.rotate([1, 0, 0], -15), g.rotate([0, 0, 1], rng.uniform(-10, 10)),
                          g.translate(x, seat + 0.22, -d / 2 + 0.28))))
    return p


def bed(rng: np.random.Generator, w: float, length: float) -> Piece:
    """Bed with its head at -Z: frame, mattress, duvet, pillows, headboard."""
    p = Piece(width=w, depth=length, height=1.0)
    fh = rng.uniform(0.25, 0.35)
    _box(p, "wood", (w, fh, length), (0, fh / 2, 0))
    _box(p, "wood", (w + 0.04, rng.uniform(0.8, 1.2), 0.06), (0, 0.5, -length / 2 - 0.03))
    mh = 0.22
    p.add("linen", g.superquadric((w / 2 - 0.03, mh / 2, length / 2 - 0.03), 0.1, 0.1).transformed(g.translate(0, fh + mh / 2, 0)))
    cover = length * rng.uniform(0.55, 0.75)
    p.add("fabric", g.superquadric((w / 2 + 0.02, 0.06, cover / 2), 0.12, 0.08).transformed(
        g.translate(0, fh + mh - 0.01, length / 2 - cover / 2)))
    for k in range(2 if w > 1.2 else 1):
        x = (k - 0.5) * w / 2 if w > 1.2 else 0.0
        p.add("linen", g.superquadric((min(0.33, w / 4 - 0.02) if w > 1.2 else 0.3, 0.08, 0.2), 0.35, 0.3).transformed(
            g.translate(x, fh + mh + 0.06, -length / 2 + 0.28)))
    return p


def bookshelf(rng: np.random.Generator, w: float, h: float, d: float = 0.32) -> Piece:
    """Open shelving with rows of books of varied size and colour (roles book0..book5)."""
    p = Piece(width=w, depth=d, height=h, top=h)
    t = 0.025
    role = "wood" if rng.random() < 0.6 else "lacquer"
    for sx in (-1, 1):
        _box(p, role, (t, h, d), (sx * (w / 2 - t / 2), h / 2, 0))
    _box(p, role, (w, t, d), (0, h - t / 2, 0))
    _box(p, role, (w, 0.08, d), (0, 0.04, 0))
    _box(p, role, (w, h, 0.01), (0, h / 2, -d / 2 + 0.005))
    n = max(2, int(round((h - 0.1) / rng.uniform(0.3, 0.4))))
    ys = np.linspace(0.08, h - t, n + 1)
    for k in range(1, n):
        _box(p, role, (w - 2 * t, t, d - 0.01), (0, ys[k], 0.005))
    for k in range(n):
        y0, y1 = ys[k] + (t / 2 if k else 0), ys[k + 1] - t / 2
        x = -w / 2 + t + rng.uniform(0, 0.1)
        while True:
            bw = rng.uniform(0.018, 0.05)
            if x + bw > w / 2 - t - 0.005:
                break
            if rng.random() < 0.08:  # a gap
                x += rng.uniform(0.05, 0.2)
                continue
            bh = min((y1 - y0) * rng.uniform(0.6, 0.92), 0.35)
            bd = min(d - 0.04, rng.uniform(0.14, 0.24))
            _box(p, f"book{rng.integers(6)}", (bw, bh, bd), (x + bw / 2, y0 + bh / 2, d / 2 - 0.02 - bd / 2))
            x += bw + 0.001
    return p


def cabinet(rng: np.random.Generator, w: float, h: float, d: float) -> Piece:
    """Sideboard / chest / wardrobe: a carcass with door or drawer fronts and metal handles."""
    p = Piece(width=w, depth=d, height=h, top=h)
    role = "lacquer" if rng.random() < 0.5 else "wood"
    legs = 0.1 if rng.random() < 0.5 else 0.0
    _box(p, role, (w, h - legs, d - 0.02), (0, legs + (h - legs) / 2, -0.01))
    if legs:
        _legs(p, rng, w, d - 0.04, legs, 0.04, "metal" if rng.random() < 0.5 else role, thickness=0.03)
    cols = max(1, int(round(w / rng.uniform(0.4, 0.6))))
    rows = 1 if h > 1.2 else int(rng.integers(1, 4))
    fw, fh = w / cols, (h - legs) / rows
    for i in range(cols):
        for j in range(rows):
            cx, cy = -w / 2 + fw * (i + 0.5), legs + fh * (j + 0.5)
            _box(p, role, (fw - 0.006, fh - 0.006, 0.02), (cx, cy, d / 2 - 0.01))
            hx = cx + (fw / 2 - 0.06) * (1 if i % 2 else -1) if rows == 1 else cx
            hy = cy if rows > 1 else (cy + fh * 0.3 if h > 1.2 else cy + fh * 0.25)
            if rng.random() < 0.5:
                _box(p, "metal", (0.012 if rows == 1 else 0.12, 0.12 if rows == 1 else 0.012, 0.03), (hx, hy, d / 2 + 0.015))
            else:
                p.add("metal", g.cylinder(0.012, 0.025, 12).transformed(
                    g.compose(g.rotate([1, 0, 0], 90), g.translate(hx, hy, d / 2 + 0.025))))
    return p


def tv(rng: np.random.Generator, w: float) -> Piece:
    """Flat screen on a short stand (the screen is its own glossy-black role)."""
    h = w * 9 / 16
    p = Piece(width=w, depth=0.25, height=h + 0.1)
    _box(p, "black", (w, h, 0.04), (0, 0.1 + h / 2, 0))
    _box(p, "screen", (w - 0.02, h - 0.02, 0.002), (0, 0.1 + h / 2, 0.021))
    _box(p, "black", (0.05, 0.1, 0.05), (0, 0.05, 0))
    _box(p, "black", (w * 0.35, 0.015, 0.22), (0, 0.0075, 0))
    return p


def rug(w: float, d: float) -> Piece:
    p = Piece(width=w, depth=d, height=0.012)
    _box(p, "rug", (w, 0.012, d), (0, 0.006, 0))
    return p


def plant(rng: np.random.Generator, size: float) -> Piece:
    """Potted plant: lathe pot, soil, foliage of displaced spheres (or a few leaf blades)."""
    pot_h, pot_r = size * rng.uniform(0.3, 0.45), size * rng.uniform(0.15, 0.25)
    p = Piece(width=2 * pot_r, depth=2 * pot_r, height=size)
    prof_r = [0, pot_r * 0.75, pot_r * 0.75, pot_r, pot_r * 0.92, pot_r * 0.92 * 0.9, 0]
    prof_h = [0, 0, 0, pot_h, pot_h, pot_h * 0.85, pot_h * 0.85]
    p.add("ceramic", g.lathe(prof_r, prof_h, 32))
    n = int(rng.integers(1, 5))
    for k in range(n):
        r = size * rng.uniform(0.2, 0.35) / np.sqrt(n) * 1.4
        c = np.array([rng.uniform(-1, 1) * pot_r * 0.6, pot_h + r * rng.uniform(0.6, 1.8) + k * r * 0.3,
                      rng.uniform(-1, 1) * pot_r * 0.6])
        p.add("leaf", g.blob(rng, r, rng.uniform(0.25, 0.45), 8, 40, 21).transformed(g.translate(c)))
    p.add("leaf", g.cylinder(0.012, pot_h * 0.8, 8).transformed(g.translate(0, pot_h * 0.8, 0)))
    p.height = float(max(m.vertices[:, 1].max() for _, m in p.parts))
    return p


def shade_mesh(r_bottom: float, r_top: float, h: float) -> MeshData:
    """An open lampshade (truncated cone, no caps); give it a two-sided material."""
    return g.cone_frustum(r_bottom, r_top, h, 40, caps=False)


def floor_lamp(rng: np.random.Generator) -> Piece:
    h = rng.uniform(1.4, 1.8)
    sr = rng.uniform(0.16, 0.25)
    sh = sr * rng.uniform(0.8, 1.3)
    p = Piece(width=2 * sr, depth=2 * sr, height=h)
    p.add("metal", g.cone_frustum(0.16, 0.14, 0.025, 32))
    p.add("metal", g.cylinder(0.012, h - sh * 0.5, 12))
    p.add("shade", shade_mesh(sr, sr * rng.uniform(0.55, 1.0), sh).transformed(g.translate(0, h - sh, 0)))
    p.bulbs.append((np.array([0.0, h - sh * 0.55, 0.0]), rng.uniform(0.025, 0.045)))
    return p


def table_lamp(rng: np.random.Generator) -> Piece:
    bh = rng.uniform(0.2, 0.35)
    sr = rng.uniform(0.1, 0.18)
    sh = sr * rng.uniform(0.9, 1.3)
    p = Piece(width=2 * sr, depth=2 * sr, height=bh + sh)
    t = np.linspace(0, 1, 12)
    base_r = 0.06 + 0.05 * np.sin(np.pi * t) ** rng.uniform(0.5, 2)
    p.add("ceramic", g.lathe(np.concatenate([[0], base_r, [0.015, 0]]), np.concatenate([[0], t * bh, [bh, bh]]), 32))
    p.add("metal", g.cylinder(0.008, sh * 0.5, 8).transformed(g.translate(0, bh, 0)))
    p.add("shade", shade_mesh(sr, sr * rng.uniform(0.6, 0.95), sh).transformed(g.translate(0, bh + sh * 0.15, 0)))
    p.bulbs.append((np.array([0.0, bh + sh * 0.5, 0.0]), rng.uniform(0.02, 0.03)))
    return p


def pendant(rng: np.random.Generator, drop: float) -> Piece:
    """Ceiling pendant hanging ``drop`` metres: y = 0 is the *ceiling*, the lamp hangs below."""
    sr = rng.uniform(0.12, 0.3)
    sh = sr * rng.uniform(0.5, 1.2)
    p = Piece(width=2 * sr, depth=2 * sr, height=drop)
    p.add("metal", g.cylinder(0.005, drop - sh * 0.7, 8).transformed(g.translate(0, -(drop - sh * 0.7), 0)))
    p.add("metal", g.cylinder(0.05, 0.02, 16).transformed(g.translate(0, -0.02, 0)))
    kind = rng.random()
    if kind < 0.5:  # cone / dome shade (metal outside, open at the bottom)
        t = np.linspace(0, 1, 10)
        radii = 0.03 + (sr - 0.03) * np.sin(t * np.pi / 2) ** rng.uniform(0.7, 2)
        p.add("shade", g.lathe(radii[::-1], (-drop + sh * (1 - t))[::-1] * 1.0, 40))
    else:
        p.add("shade", shade_mesh(sr, sr * rng.uniform(0.5, 1.0), sh).transformed(g.translate(0, -drop, 0)))
    p.bulbs.append((np.array([0.0, -drop + sh * 0.35, 0.0]), rng.uniform(0.02, 0.04)))
    return p


def radiator(rng: np.random.Generator, w: float) -> Piece:
    h = rng.uniform(0.4, 0.6)
    p = Piece(width=w, depth=0.1, height=h + 0.12)
    n = max(3, int(w / 0.06))
    for k in range(n):
        _box(p, "radiator", (0.04, h, 0.08), (-w / 2 + (k + 0.5) * w / n, 0.12 + h / 2, 0))
    _box(p, "radiator", (w, 0.03, 0.04), (0, 0.12 + h * 0.9, -0.01))
    _box(p, "radiator", (w, 0.03, 0.04), (0, 0.12 + h * 0.1, -0.01))
    return p


def picture(rng: np.random.Generator, w: float, h: float, canvas_role: str) -> Piece:
    """A framed picture hanging flat on a wall; the piece's back is at z = 0."""
    p = Piece(width=w, depth=0.04, height=h)
    f = rng.uniform(0.02, 0.06)
    t = 0.03
    for y, hh in ((f / 2, f), (h - f / 2, f)):
        _box(p, "frame", (w, hh, t), (0, y, t / 2))
    for x in (-w / 2 + f / 2, w / 2 - f / 2):
        _box(p, "frame", (f, h - 2 * f, t), (x, h / 2, t / 2))
    p.add(canvas_role, g.panel(w - 2 * f, h - 2 * f).transformed(g.translate(-w / 2 + f, f, t * 0.4)).with_uvs(
        np.array([[0, 0], [1, 0], [1, 1], [0, 1]], float)))
    return p


def mirror(w: float, h: float) -> Piece:
    p = Piece(width=w, depth=0.03, height=h)
    _box(p, "frame", (w, h, 0.015), (0, h / 2, 0.0075))
    p.add("mirror", g.panel(w - 0.06, h - 0.06).transformed(g.translate(-w / 2 + 0.03, 0.03, 0.0155)))
    return p


def plinth(rng: np.random.Generator, w: float, h: float) -> Piece:
    p = Piece(width=w, depth=w, height=h, top=h)
    _box(p, "lacquer", (w, h, w), (0, h / 2, 0))
    return p


def desk(rng: np.random.Generator, w: float, d: float) -> Piece:
    p = table(rng, w, d, 0.74)
    if rng.random() < 0.6:  # a drawer unit under one side
        dw = min(0.42, w * 0.3)
        _box(p, "lacquer", (dw, 0.6, d - 0.1), (w / 2 - dw / 2 - 0.05, 0.3, 0))
    return p


def kitchen_counter(rng: np.random.Generator, w: float) -> Piece:
    """Base cabinets with a stone/wood worktop and a sink recess look (a dark inset)."""
    d, h = 0.62, 0.9
    p = Piece(width=w, depth=d, height=h, top=h)
    _box(p, "lacquer", (w, h - 0.14, d - 0.05), (0, 0.1 + (h - 0.14) / 2, -0.025))
    _box(p, "black", (w, 0.1, d - 0.1), (0, 0.05, -0.05))
    _box(p, "worktop", (w + 0.02, 0.04, d), (0, h - 0.02, 0))
    n = max(1, int(round(w / 0.6)))
    for k in range(n):
        cx = -w / 2 + w / n * (k + 0.5)
        _box(p, "lacquer", (w / n - 0.006, h - 0.15, 0.02), (cx, 0.1 + (h - 0.15) / 2, d / 2 - 0.035))
        _box(p, "metal", (0.15, 0.012, 0.025), (cx, h - 0.12, d / 2 - 0.01))
    return p
