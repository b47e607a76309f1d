"""Free-standing objects ('props') shared by the families: shapes of many kinds, generated in
a local frame (resting on y = 0, centred on the Y axis) and placed with a transform.

A :class:`Prop` is either a mesh or a primitive sphere (exact silhouettes and refraction
for glass balls); ``radius`` is the footprint radius used to keep props apart.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scenes import geometry as g
from scenes.assembly import Assembly
from scenes.geometry import MeshData


@dataclass
class Prop:
    """A shape in its local frame: ``mesh`` (or a primitive sphere of radius ``sphere``
    resting on y = 0), footprint ``radius`` and ``height`` in metres, and its ``kind``."""

    mesh: MeshData | None
    sphere: float | None
    radius: float
    height: float
    kind: str


def _fit(mesh: MeshData, kind: str) -> Prop:
    """Move a mesh so that it rests on y = 0 centred on the axis, and measure it."""
    lo, hi = mesh.bounds()
    centre = (lo + hi) / 2
    mesh = mesh.transformed(g.translate(-centre[0], -lo[1], -centre[2]))
    r = float(np.sqrt((mesh.vertices[:, 0] ** 2 + mesh.vertices[:, 2] ** 2).max()))
    return Prop(mesh, None, r, float(hi[1] - lo[1]), kind)


def vessel_profile(rng: np.random.Generator, height: float, radius: float, kind: str,
                   wall: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(radii, heights) of a lathe profile for a vase/bowl/bottle/cup with wall thickness:
    bottom cap, outer wall up, rim, inner wall down, inner bottom."""
    n = 24
    t = np.linspace(0, 1, n)
    if kind == "bowl":
        r = radius * (0.45 + 0.55 * np.sin(t * np.pi / 2) ** 0.7)
    elif kind == "bottle":
        neck = rng.uniform(0.2, 0.35)
        shoulder = rng.uniform(0.55, 0.75)
        r = radius * np.where(t < shoulder, 1.0,
                              neck + (1 - neck) * 0.5 * (1 + np.cos(np.pi * np.clip((t - shoulder) / 0.2, 0, 1))))
    elif kind == "cup":
        r = radius * (0.8 + 0.2 * t)
    else:  # vase: a smooth random profile
        k = rng.uniform(1.0, 2.5)
        phase = rng.uniform(0, np.pi)
        r = radius * (0.65 + 0.35 * np.sin(np.pi * k * t + phase)) * (1 - 0.3 * t * rng.uniform(0, 1))
    r = np.maximum(r, radius * 0.12)
    h = t * height
    wall = wall if wall is not None else max(0.06 * radius, 0.004)
    inner_r = np.maximum(r - wall, wall * 0.5)[::-1]
    inner_h = np.maximum(h[::-1], wall)
    radii = np.concatenate([[0.0, r[0]], r, inner_r, [0.0]])
    heights = np.concatenate([[0.0, 0.0], h, inner_h, [wall]])
    return radii, heights


def random_shape(rng: np.random.Generator, size: float, kinds: tuple[str, ...] | None = None) -> Prop:
    """A random object about ``size`` metres tall or wide (footprint and height vary)."""
    options = kinds or ("sphere", "box", "tallbox", "roundbox", "cylinder", "cone", "torus", "knot", "blob",
                        "vase", "bowl", "bottle", "prism", "capsule", "gem", "ring", "superquadric")
    kind = str(rng.choice(options))
    s = size
    if kind == "sphere":
        r = s / 2
        return Prop(None, r, r, 2 * r, kind)
    if kind == "box":
        m = g.box((s * rng.uniform(0.6, 1.0), s * rng.uniform(0.5, 1.0), s * rng.uniform(0.6, 1.0)))
    elif kind == "tallbox":
        m = g.box((s * rng.uniform(0.4, 0.6), s * rng.uniform(1.2, 2.0), s * rng.uniform(0.4, 0.6)))
    elif kind == "roundbox":
        m = g.superquadric((s * rng.uniform(0.3, 0.5), s * rng.uniform(0.2, 0.5), s * rng.uniform(0.3, 0.5)),
                           rng.uniform(0.1, 0.35), rng.uniform(0.1, 0.35))
    elif kind == "superquadric":
        m = g.superquadric((s / 2, s / 2, s / 2), rng.uniform(0.2, 2.0), rng.uniform(0.2, 2.0))
    elif kind == "cylinder":
        m = g.cylinder(s * rng.uniform(0.2, 0.45), s * rng.uniform(0.5, 1.3), 48)
    elif kind == "cone":
        m = g.cone_frustum(s * rng.uniform(0.3, 0.5), s * rng.uniform(0.0, 0.25), s * rng.uniform(0.6, 1.2), 48)
    elif kind == "torus":
        major = s * 0.35
        m = g.torus(major, major * rng.uniform(0.2, 0.5))
        if rng.random() < 0.5:  # standing on its rim
            m = m.transformed(g.rotate([1, 0, 0], 90))
    elif kind == "ring":
        m = g.torus(s * 0.4, s * rng.uniform(0.03, 0.08), 96, 16)
        m = m.transformed(g.rotate([1, 0, 0], rng.uniform(0, 90)))
    elif kind == "knot":
        p, q = [(2, 3), (3, 2), (2, 5), (3, 4), (3, 5)][rng.integers(5)]
        m = g.torus_knot(p, q, s * 0.3, s * 0.12, s * rng.uniform(0.04, 0.08))
        m = m.transformed(g.rotate([1, 0, 0], rng.uniform(0, 90)))
    elif kind == "blob":
        m = g.blob(rng, s / 2, rng.uniform(0.1, 0.35), int(rng.integers(3, 9)))
    elif kind in ("vase", "bowl", "bottle"):
        h = s * {"vase": rng.uniform(0.9, 1.5), "bowl": rng.uniform(0.3, 0.5), "bottle": rng.uniform(1.2, 2.0)}[kind]
        r = s * {"vase": rng.uniform(0.25, 0.4), "bowl": 0.5, "bottle": rng.uniform(0.15, 0.25)}[kind]
        m = g.lathe(*vessel_profile(rng, h, r, kind), segments=48)
    elif kind == "prism":
        m = g.twisted_prism(int(rng.integers(3, 8)), s * 0.35, s * rng.uniform(0.8, 1.5),
                            rng.uniform(-180, 180), star=float(rng.choice([0.0, rng.uniform(0.2, 0.5)])))
    elif kind == "capsule":
        length = s * rng.uniform(0.6, 1.2)
        pts = np.stack([np.zeros(16), np.linspace(0, length, 16), np.zeros(16)], 1)
        rad = s * rng.uniform(0.12, 0.25)
        tt = np.linspace(0, 1, 16)
        radius = rad * np.sqrt(np.clip(1 - (2 * tt - 1) ** 8, 0.01, 1))
        m = g.tube(pts, radius, caps=True, sides=24)
        m = m.transformed(g.rotate([0, 0, 1], 90) if rng.random() < 0.5 else np.eye(4))
    else:  # gem: a low-poly faceted sphere
        pts, _, _ = g.uv_sphere_points(int(rng.integers(5, 10)), int(rng.integers(4, 7)))
        m = g.flat_shaded(g.grid_surface(pts * s / 2, wrap_u=True))
    return _fit(m, kind)


def place(a: Assembly, prop: Prop, material: str, bsdf: dict, x: float, z: float, y: float = 0.0,
          yaw_deg: float = 0.0, scale: float = 1.0) -> None:
    """Add ``prop`` to the scene resting at height ``y`` over (x, z), turned by ``yaw_deg``."""
    if prop.sphere is not None:
        r = prop.sphere * scale
        a.add("sphere", {"type": "sphere", "center": [float(x), float(y + r), float(z)], "radius": float(r),
                         "bsdf": bsdf})
        return
    a.material(material, bsdf)
    m = g.compose(g.scale(scale), g.rotate([0, 1, 0], yaw_deg), g.translate(x, y, z))
    a.mesh(material, prop.mesh.transformed(m))


def scatter(rng: np.random.Generator, radii: list[float], x_range, z_range, gap: float = 0.02,
            tries: int = 60, avoid: list[tuple[float, float, float]] | None = None) -> list[tuple[float, float] | None]:
    """Positions (x, z) for discs of ``radii`` inside the ranges without overlap (None where a
    disc did not fit). ``avoid``: extra (x, z, r) discs to keep clear of."""
    placed: list[tuple[float, float, float]] = list(avoid or [])
    out: list[tuple[float, float] | None] = []
    for r in radii:
        spot = None
        for _ in range(tries):
            x = rng.uniform(x_range[0] + r, x_range[1] - r) if x_range[1] - x_range[0] > 2 * r else sum(x_range) / 2
            z = rng.uniform(z_range[0] + r, z_range[1] - r) if z_range[1] - z_range[0] > 2 * r else sum(z_range) / 2
            if all((x - px) ** 2 + (z - pz) ** 2 > (r + pr + gap) ** 2 for px, pz, pr in placed):
                spot = (x, z)
                break
        if spot is not None:
            placed.append((spot[0], spot[1], r))
        out.append(spot)
    return out
