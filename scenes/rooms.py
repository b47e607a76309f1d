"""Building blocks of architectural scenes (the interior and hall families): the room shell
with window openings, reveals, frames, sills, glass, blinds, curtains and a door; placing
furniture against walls, free-standing, on tops and on walls; ceiling lights and lamps; and
exposure by construction. Daylight is in daylight.py, materials in palette.py.

Rooms span x in [-W/2, W/2], y in [0, H], z in [-D/2, D/2] (geometry.room_sides). Light
enters only through the openings, so indirect paths are long, as in real interiors.

Exposure by construction: the power entering through the openings is estimated from the
sky map (irradiance on each opening's plane) and the sun (daylight.window_power); with the
room's area-mean reflectance r the mean interreflected irradiance is P / (A (1 - r)), and all
lights are scaled so that the mean visible radiance hits a target. No render is needed.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from scenes import colors
from scenes import furniture as fu
from scenes import geometry as g
from scenes import materials as mat
from scenes import props
from scenes.assembly import Assembly, area_power, sphere_power

WALLS = ("back", "front", "left", "right")


@dataclass
class Opening:
    """A hole in a side: panel coordinates (u0, u1, v0, v1) in metres. kind: 'window',
    'glazing' (floor-to-ceiling), 'skylight' (in the ceiling)."""

    side: str
    u0: float
    u1: float
    v0: float
    v1: float
    kind: str = "window"
    glass: bool = False
    blinds: bool = False

    @property
    def area(self) -> float:
        return (self.u1 - self.u0) * (self.v1 - self.v0)


@dataclass
class Room:
    """Dimensions (metres), wall thickness and the openings; ``blocked`` lists, per wall,
    (u0, u1, v0, v1) rectangles already taken (openings, doors, furniture) for placement."""

    W: float
    H: float
    D: float
    t: float
    openings: list = field(default_factory=list)
    blocked: dict = field(default_factory=lambda: {s: [] for s in WALLS})
    footprints: list = field(default_factory=list)  # (x0, x1, z0, z1) taken on the floor

    def length(self, side: str) -> float:
        return g.side_extent(side, self.W, self.H, self.D)[0]

    def to_world(self, side: str) -> np.ndarray:
        return g.side_transform(side, self.W, self.H, self.D)

    def point(self, side: str, u: float, v: float, w: float = 0.0) -> np.ndarray:
        return g.apply_points(self.to_world(side), np.array([[u, v, w]]))[0]

    def free(self, x0: float, x1: float, z0: float, z1: float, margin: float = 0.02) -> bool:
        if x0 < -self.W / 2 or x1 > self.W / 2 or z0 < -self.D / 2 or z1 > self.D / 2:
            return False
        return all(x1 + margin <= a0 or x0 - margin >= a1 or z1 + margin <= b0 or z0 - margin >= b1
                   for a0, a1, b0, b1 in self.footprints)


# --------------------------------------------------------------------------- openings


def plan_windows(rng: np.random.Generator, room: Room, side: str, style: str) -> None:
    """Add openings to ``side`` in a ``style``: 'windows' (1-3 punched windows), 'glazing'
    (a floor-to-ceiling glass wall with mullions), 'french' (tall windows down to the floor)."""
    L, H = room.length(side), room.H
    if style == "glazing":
        margin = rng.uniform(0.05, 0.4) * (L > 3)
        top = H - rng.uniform(0.0, 0.3)
        room.openings.append(Opening(side, margin, L - margin, 0.0 if rng.random() < 0.6 else rng.uniform(0.1, 0.5),
                                     top, "glazing"))
        room.blocked[side].append((margin, L - margin, room.openings[-1].v0, top))
        return
    n = int(rng.integers(1, 4)) if L > 2.5 else 1
    n = max(1, min(n, int(L // 1.3)))
    slot = L / n
    for k in range(n):
        w = min(slot * rng.uniform(0.5, 0.85), rng.uniform(1.0, 2.8))
        c = slot * (k + 0.5) + rng.uniform(-0.1, 0.1) * (slot - w)
        if style == "french":
            v0, v1 = 0.0, min(H - 0.12, rng.uniform(2.1, 2.6))
        else:
            v0 = rng.uniform(0.3, 0.9)
            v1 = H - rng.uniform(0.1, 0.4)
        room.openings.append(Opening(side, c - w / 2, c + w / 2, v0, v1, "window"))
        room.blocked[side].append((c - w / 2, c + w / 2, v0, v1))


def build_shell(a: Assembly, rng: np.random.Generator, room: Room, pal: dict) -> None:
    """Floor, ceiling and walls (with holes), reveals, window frames and mullions, sills,
    glass, blinds, curtains and skirting boards."""
    W, H, D, t = room.W, room.H, room.D, room.t
    holes: dict = {}
    for o in room.openings:
        holes.setdefault(o.side, []).append((o.u0, o.u1, o.v0, o.v1))
    sides = g.room_sides(W, H, D, holes, sides=WALLS)
    accent = str(rng.choice(WALLS)) if "accent" in pal else None
    for side, mesh in sides.items():
        role = "accent" if side == accent else "wall"
        a.material(role, pal[role])
        a.mesh(role, mesh)
    # floor and ceiling reach under the walls so that no crack at an edge lets light in
    floor = g.panel(W + 2 * t, D + 2 * t).transformed(g.compose(g.rotate([1, 0, 0], -90), g.translate(-W / 2 - t, 0, D / 2 + t)))
    a.material("floor", pal["floor"])
    a.mesh("floor", floor.with_uvs(np.stack([floor.vertices[:, 0], -floor.vertices[:, 2]], 1)))
    sky_holes = [(o.u0 + t, o.u1 + t, o.v0 + t, o.v1 + t) for o in room.openings if o.side == "ceiling"]
    ceil = g.panel_with_holes(W + 2 * t, D + 2 * t, sky_holes).transformed(
        g.compose(g.rotate([1, 0, 0], 90), g.translate(-W / 2 - t, H, -D / 2 - t)))
    a.material("ceiling", pal["ceiling"])
    a.mesh("ceiling", ceil)
    a.material("trim", pal["trim"])
    for o in room.openings:
        _reveals(a, room, o, pal)
    _skirting(a, rng, room, pal)


def _reveals(a: Assembly, room: Room, o: Opening, pal: dict) -> None:
    """The four faces lining an opening through the wall, plus frame, mullions, sill,
    glass and blinds."""
    t = room.t
    m = room.to_world(o.side)

    def P(u, v, w):
        return g.apply_points(m, np.array([[u, v, w]]))[0]

    centre = P((o.u0 + o.u1) / 2, (o.v0 + o.v1) / 2, -t / 2)
    corners = [(o.u0, o.v0), (o.u1, o.v0), (o.u1, o.v1), (o.u0, o.v1)]
    role = "reveal" if "reveal" in pal else "wall"
    a.material(role, pal[role])
    for k in range(4):
        (ua, va), (ub, vb) = corners[k], corners[(k + 1) % 4]
        a.mesh(role, g.quad(P(ua, va, 0), P(ub, vb, 0), P(ub, vb, -t), P(ua, va, -t), towards=centre))
    if o.side == "ceiling":
        return
    # frame and mullions, in panel coordinates at the middle of the wall
    fw = 0.05
    w_mid = -t * 0.5
    boxes = [((o.u1 - o.u0, fw, 0.06), ((o.u0 + o.u1) / 2, o.v0 + fw / 2, w_mid)),
             ((o.u1 - o.u0, fw, 0.06), ((o.u0 + o.u1) / 2, o.v1 - fw / 2, w_mid)),
             ((fw, o.v1 - o.v0, 0.06), (o.u0 + fw / 2, (o.v0 + o.v1) / 2, w_mid)),
             ((fw, o.v1 - o.v0, 0.06), (o.u1 - fw / 2, (o.v0 + o.v1) / 2, w_mid))]
    width, height = o.u1 - o.u0, o.v1 - o.v0
    n_vert = int(np.clip(round(width / (1.0 if o.kind == "glazing" else 0.7)), 0, 12)) - 1
    for k in range(max(n_vert, 0)):
        u = o.u0 + width * (k + 1) / (n_vert + 1)
        boxes.append(((0.04 if o.kind != "glazing" else 0.06, height, 0.05), (u, (o.v0 + o.v1) / 2, w_mid)))
    if height > 1.3 and o.kind != "glazing":
        v = o.v0 + height * 0.7
        boxes.append(((width, 0.04, 0.05), ((o.u0 + o.u1) / 2, v, w_mid)))
    elif o.kind == "glazing" and height > 2.6:
        boxes.append(((width, 0.05, 0.05), ((o.u0 + o.u1) / 2, 2.3, w_mid)))
    a.material("frame_win", pal["frame_win"])
    for size, c in boxes:
        a.mesh("frame_win", g.box(size).transformed(g.compose(g.translate(c), m)))
    if o.v0 > 0.2:  # interior sill
        a.material("sill", pal["sill"])
        a.mesh("sill", g.box((width + 0.1, 0.03, t / 2 + 0.06)).transformed(
            g.compose(g.translate((o.u0 + o.u1) / 2, o.v0 - 0.015, -t / 4 + 0.03), m)))
    if o.glass:
        a.material("glass_pane", mat.thin_glass())
        a.mesh("glass_pane", g.panel(width, height).transformed(g.compose(g.translate(o.u0, o.v0, w_mid), m)))
    if o.blinds:
        a.material("blinds", pal["blinds"])
        n = int(height / 0.045)
        for k in range(n):
            v = o.v0 + (k + 0.5) * height / n
            slat = g.box((width - 0.02, 0.002, 0.05)).transformed(g.compose(g.rotate([1, 0, 0], pal["blind_angle"]),
                                                                            g.translate((o.u0 + o.u1) / 2, v, 0.04), m))
            a.mesh("blinds", slat)


def _skirting(a: Assembly, rng: np.random.Generator, room: Room, pal: dict) -> None:
    if rng.random() < 0.25:
        return
    h = rng.uniform(0.06, 0.14)
    for side in WALLS:
        L = room.length(side)
        cuts = sorted((o.u0, o.u1) for o in room.openings if o.side == side and o.v0 < h)
        u = 0.0
        spans = []
        for c0, c1 in cuts:
            if c0 > u:
                spans.append((u, c0))
            u = max(u, c1)
        if u < L:
            spans.append((u, L))
        for u0, u1 in spans:
            a.mesh("trim", g.box((u1 - u0, h, 0.015)).transformed(
                g.compose(g.translate((u0 + u1) / 2, h / 2, 0.0075), room.to_world(side))))


def curtains(a: Assembly, rng: np.random.Generator, room: Room, pal: dict) -> None:
    """Curtains on both sides of some windows, hung from a rod."""
    a.material("curtain", pal["curtain"])
    for o in room.openings:
        if o.side == "ceiling" or o.kind == "glazing" or rng.random() < 0.5:
            continue
        top = min(room.H - 0.05, o.v1 + 0.15)
        cw = rng.uniform(0.25, 0.5)
        for u in (o.u0 - cw * 0.6, o.u1 - cw * 0.4):
            if u < 0 or u + cw > room.length(o.side):
                continue
            mesh = g.curtain(cw, top - 0.02, int(rng.integers(3, 7)), rng.uniform(0.04, 0.1))
            a.mesh("curtain", mesh.transformed(g.compose(g.translate(u, 0.02, 0.09), room.to_world(o.side))))
        rod = g.cylinder(0.012, o.u1 - o.u0 + 0.6, 12).transformed(
            g.compose(g.rotate([0, 0, 1], -90), g.translate(o.u0 - 0.3, top + 0.02, 0.09), room.to_world(o.side)))
        a.material("metal", pal["metal"])
        a.mesh("metal", rod)


def door(a: Assembly, rng: np.random.Generator, room: Room, pal: dict) -> None:
    """A closed door on a wall with room for it (a slab in a frame, and a handle)."""
    for side in rng.permutation(WALLS):
        L = room.length(side)
        for _ in range(10):
            u = rng.uniform(0.2, L - 1.1)
            if u < 0 or not _span_free(room, side, u - 0.1, u + 1.0, 0.0, 2.2):
                continue
            m = room.to_world(side)
            a.material("door", pal["door"])
            a.mesh("door", g.box((0.86, 2.04, 0.04)).transformed(g.compose(g.translate(u + 0.45, 1.02, 0.02), m)))
            for size, c in (((0.06, 2.1, 0.03), (u - 0.01, 1.05, 0.015)), ((0.06, 2.1, 0.03), (u + 0.91, 1.05, 0.015)),
                            ((1.0, 0.06, 0.03), (u + 0.45, 2.07, 0.015))):
                a.mesh("trim", g.box(size).transformed(g.compose(g.translate(c), m)))
            a.material("metal", pal["metal"])
            a.mesh("metal", g.box((0.12, 0.02, 0.05)).transformed(g.compose(g.translate(u + 0.76, 1.0, 0.06), m)))
            room.blocked[side].append((u - 0.1, u + 1.0, 0.0, 2.2))
            return


def _span_free(room: Room, side: str, u0: float, u1: float, v0: float, v1: float) -> bool:
    """True when the wall rectangle [u0, u1] x [v0, v1] of ``side`` is clear."""
    if u0 < 0 or u1 > room.length(side):
        return False
    return all(u1 <= b0 or u0 >= b1 or v1 <= c0 or v0 >= c1 for b0, b1, c0, c1 in room.blocked[side])


# --------------------------------------------------------------------------- placing things


def put(a: Assembly, piece: fu.Piece, pal: dict, m: np.ndarray, lamp_color=None, lamp_power: float = 1.0,
        lamps_on: bool = True) -> None:
    """Add a furniture piece moved by (4, 4) ``m``; its bulbs become sphere emitters (group
    'lamps') when ``lamps_on``, else dim white spheres."""
    for role, mesh in piece.parts:
        a.material(role, pal[role])
        a.mesh(role, mesh.transformed(m))
    for centre, r in piece.bulbs:
        c = g.apply_points(m, centre[None])[0]
        if lamps_on:
            color = np.ones(3) if lamp_color is None else lamp_color
            radiance = lamp_power / sphere_power(r, 1.0)
            em = mat.emitter(color * radiance)
            a.light(em, lamp_power * float(colors.luminance(color)), group="lamps")
            a.add("bulb", {"type": "sphere", "center": [float(v) for v in c], "radius": float(r), "emitter": em})
        else:
            a.add("bulb", {"type": "sphere", "center": [float(v) for v in c], "radius": float(r),
                           "bsdf": mat.plastic(np.full(3, 0.8))})


def yaw_facing(normal) -> float:
    """Yaw (degrees about +Y) turning a piece's front (+Z) towards ``normal``."""
    return float(np.degrees(np.arctan2(normal[0], normal[2])))


def against_wall(rng: np.random.Generator, room: Room, piece: fu.Piece, sides=WALLS, tries: int = 30,
                 gap: float = 0.01, under_windows: bool = True) -> np.ndarray | None:
    """Transform placing ``piece`` with its back to a wall, clear of openings it would cover,
    doors and other pieces; None when there is no room for it."""
    for _ in range(tries):
        side = str(rng.choice(list(sides)))
        L = room.length(side)
        if piece.width > L - 0.1:
            continue
        u = rng.uniform(piece.width / 2 + 0.05, L - piece.width / 2 - 0.05)
        if not _span_free(room, side, u - piece.width / 2, u + piece.width / 2, 0.0,
                          piece.height + 0.05 if under_windows else 10.0):
            continue
        n = g.SIDE_NORMALS[side]
        c = room.point(side, u, 0.0, piece.depth / 2 + gap)
        yaw = yaw_facing(n)
        ext = _footprint(piece, yaw)
        x0, x1, z0, z1 = c[0] - ext[0] / 2, c[0] + ext[0] / 2, c[2] - ext[1] / 2, c[2] + ext[1] / 2
        if not room.free(x0, x1, z0, z1):
            continue
        room.footprints.append((x0, x1, z0, z1))
        room.blocked[side].append((u - piece.width / 2, u + piece.width / 2, 0.0, piece.height))
        return g.compose(g.rotate([0, 1, 0], yaw), g.translate(c[0], 0, c[2]))
    return None


def _footprint(piece: fu.Piece, yaw: float) -> tuple[float, float]:
    """(x extent, z extent) of a piece turned by ``yaw`` (a multiple of 90 degrees here)."""
    c, s = abs(np.cos(np.radians(yaw))), abs(np.sin(np.radians(yaw)))
    return piece.width * c + piece.depth * s, piece.width * s + piece.depth * c


def free_standing(rng: np.random.Generator, room: Room, piece: fu.Piece, centre=None, yaw: float | None = None,
                  tries: int = 30, reserve: bool = True, margin: float = 0.3) -> np.ndarray | None:
    """Transform placing ``piece`` on the floor away from walls (at ``centre`` if given)."""
    for _ in range(tries if centre is None else 1):
        yw = float(rng.choice([0, 90, 180, 270])) if yaw is None else yaw
        ex, ez = _footprint(piece, yw)
        if centre is None:
            lo_x, hi_x = -room.W / 2 + ex / 2 + margin, room.W / 2 - ex / 2 - margin
            lo_z, hi_z = -room.D / 2 + ez / 2 + margin, room.D / 2 - ez / 2 - margin
            if lo_x > hi_x or lo_z > hi_z:
                return None
            x, z = rng.uniform(lo_x, hi_x), rng.uniform(lo_z, hi_z)
        else:
            x, z = centre
        box = (x - ex / 2, x + ex / 2, z - ez / 2, z + ez / 2)
        if reserve and not room.free(*box):
            continue
        if reserve:
            room.footprints.append(box)
        return g.compose(g.rotate([0, 1, 0], yw), g.translate(x, 0, z))
    return None


def dress_top(a: Assembly, rng: np.random.Generator, piece: fu.Piece, m: np.ndarray, pal: dict,
              count: int, lamp_color=None, lamp_power: float = 0.0, lamps_on: bool = False, allow_lamp: bool = True) -> None:
    """Put up to ``count`` small things (vases, bowls, books, sculptures, a lamp) on the top
    of ``piece`` placed by ``m``."""
    if piece.top <= 0 or count <= 0:
        return
    spots = props.scatter(rng, [rng.uniform(0.05, 0.12) for _ in range(count)],
                          (-piece.width / 2 + 0.03, piece.width / 2 - 0.03), (-piece.depth / 2 + 0.03, piece.depth / 2 - 0.03))
    for k, spot in enumerate(spots):
        if spot is None:
            continue
        x, z = spot
        if allow_lamp and k == 0 and rng.random() < 0.35:
            lamp = fu.table_lamp(rng)
            put(a, lamp, pal, g.compose(g.translate(x, piece.top, z), m), lamp_color, lamp_power, lamps_on)
            continue
        r = rng.random()
        if r < 0.25:  # a stack of books
            y = piece.top
            for j in range(int(rng.integers(1, 5))):
                bh = rng.uniform(0.02, 0.05)
                book = fu.Piece()
                book.add(f"book{rng.integers(6)}", g.box((rng.uniform(0.14, 0.22), bh, rng.uniform(0.2, 0.28)), (0, bh / 2, 0)))
                put(a, book, pal, g.compose(g.rotate([0, 1, 0], rng.uniform(-20, 20)), g.translate(x, y, z), m))
                y += bh
            continue
        shape = props.random_shape(rng, rng.uniform(0.08, 0.25),
                                   ("vase", "vase", "bowl", "bottle", "sphere", "blob", "torus", "cylinder", "gem", "knot"))
        bsdf = mat.random_material(rng)
        name = f"deco{len(a.materials)}"
        if shape.sphere is not None:
            c = g.apply_points(g.compose(g.translate(x, piece.top + shape.sphere, z), m), np.zeros((1, 3)))[0]
            a.add("sphere", {"type": "sphere", "center": [float(v) for v in c], "radius": float(shape.sphere), "bsdf": bsdf})
        else:
            a.material(name, bsdf)
            a.mesh(name, shape.mesh.transformed(g.compose(g.rotate([0, 1, 0], rng.uniform(0, 360)),
                                                          g.translate(x, piece.top, z), m)))


def hang_on_wall(rng: np.random.Generator, room: Room, piece: fu.Piece, v: float, sides=WALLS, tries: int = 20) -> np.ndarray | None:
    """Transform hanging a flat piece (back at z = 0) on a wall with its bottom at height v,
    clear of openings and doors."""
    for _ in range(tries):
        side = str(rng.choice(list(sides)))
        L = room.length(side)
        if piece.width > L - 0.4:
            continue
        u = rng.uniform(piece.width / 2 + 0.2, L - piece.width / 2 - 0.2)
        if not _span_free(room, side, u - piece.width / 2 - 0.1, u + piece.width / 2 + 0.1, v, v + piece.height):
            continue
        room.blocked[side].append((u - piece.width / 2, u + piece.width / 2, v, v + piece.height))
        return g.compose(g.translate(u, v, 0.002), room.to_world(side))
    return None


def ceiling_lights(a: Assembly, rng: np.random.Generator, room: Room, pal: dict, kind: str, color,
                   power_each: float, on: bool) -> int:
    """Recessed disks, panels or pendants on the ceiling; returns how many were added."""
    W, D, H = room.W, room.D, room.H
    nx = max(1, int(round(W / rng.uniform(1.5, 3.0))))
    nz = max(1, int(round(D / rng.uniform(1.5, 3.0))))
    if kind == "pendant":
        nx, nz = min(nx, 2), min(nz, 2)
    count = 0
    for i in range(nx):
        for j in range(nz):
            x = -W / 2 + W * (i + 0.5) / nx
            z = -D / 2 + D * (j + 0.5) / nz
            if kind == "pendant":
                lamp = fu.pendant(rng, rng.uniform(0.5, min(1.2, H - 1.9)))
                put(a, lamp, pal, g.translate(x, H, z), color, power_each, on)
            elif kind == "disk":
                r = rng.uniform(0.05, 0.12)
                a.material("fixture", mat.roughplastic(np.full(3, 0.8), 0.2))
                a.mesh("fixture", g.cylinder(r + 0.02, 0.01, 24).transformed(g.translate(x, H - 0.01, z)))
                shape = {"type": "disk", "to_world": g.compose(g.scale(r), g.rotate([1, 0, 0], 90), g.translate(x, H - 0.0105, z)),
                         "bsdf": mat.diffuse(0.8)}
                if on:
                    em = mat.emitter(color * power_each / area_power(np.pi * r * r, 1.0))
                    a.light(em, power_each * float(colors.luminance(color)), group="lamps")
                    shape["emitter"] = em
                a.add("ceiling_light", shape)
            else:  # panel
                sx, sz = rng.choice([(0.6, 0.6), (1.2, 0.3), (0.3, 1.2), (1.2, 0.6)])
                a.material("fixture", mat.roughplastic(np.full(3, 0.8), 0.2))
                a.mesh("fixture", g.box((sx + 0.04, 0.02, sz + 0.04), (x, H - 0.01, z)))
                shape = {"type": "rectangle", "to_world": g.compose(g.scale(sx / 2, sz / 2, 1), g.rotate([1, 0, 0], 90),
                                                                    g.translate(x, H - 0.0205, z)),
                         "bsdf": mat.diffuse(0.8)}
                if on:
                    em = mat.emitter(color * power_each / area_power(sx * sz, 1.0))
                    a.light(em, power_each * float(colors.luminance(color)), group="lamps")
                    shape["emitter"] = em
                a.add("ceiling_light", shape)
            count += 1
    return count


def exposure_scale(room: Room, refl: dict, a: Assembly, target: float) -> float:
    """Factor for all lights so that the estimated mean visible radiance is ``target``.

    Mean reflectance r counts the openings as black; mean irradiance E = P / (A (1 - r));
    visible radiance r_vis E / pi with r_vis the walls' and floor's mean reflectance. Like a
    photographer, we compensate dark rooms only halfway (geometric mean of r_vis and 0.45):
    a dark room stays darker, and its windows are not blown out.
    """
    W, H, D = room.W, room.H, room.D
    walls = 2 * (W + D) * H
    opening = sum(o.area for o in room.openings)
    area = walls + 2 * W * D
    r = (refl["wall"] * (walls - opening) + refl["floor"] * W * D + refl["ceiling"] * W * D) / area
    r_vis = (refl["wall"] * walls + refl["floor"] * W * D) / (walls + W * D)
    e = a.power / (area * (1 - min(r, 0.95)))
    return target / max(np.sqrt(r_vis * 0.45) * e / np.pi, 1e-12)
