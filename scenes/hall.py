"""Large open modern interiors: lobbies, galleries, open-plan offices and atria with glazed
facades, skylights, rows of columns, polished floors, a mezzanine or stairs, linear light
strips and sparse furniture. Long sight lines, big light gradients, many glossy reflections.

Shares the room machinery of rooms.py (openings, daylight, palette, exposure by construction)
with the interior family, at three to ten times the floor area.
"""
from __future__ import annotations

import numpy as np

from scenes import colors
from scenes import daylight
from scenes import furniture as fu
from scenes import geometry as g
from scenes import materials as mat
from scenes import palette
from scenes import props
from scenes import rooms
from scenes import textures as tx
from scenes.assembly import Assembly, area_power, camera, integrator
from scenes.rooms import Opening, Room

SIZES = ((320, 240), (320, 192), (320, 240), (256, 256))
MOODS = ("sun", "overcast", "panel", "dusk", "night")
MOOD_WEIGHTS = (0.42, 0.2, 0.1, 0.13, 0.15)
TARGET = (0.12, 0.35)


def generate(rng: np.random.Generator):
    """(scene dict, width, height, info) of one large interior."""
    width, height = SIZES[rng.integers(len(SIZES))]
    room = Room(W=rng.uniform(10, 24), H=rng.uniform(4.0, 8.0), D=rng.uniform(10, 22), t=rng.uniform(0.25, 0.5))
    mood = str(rng.choice(MOODS, p=np.array(MOOD_WEIGHTS) / sum(MOOD_WEIGHTS)))
    a = Assembly()
    pal, refl = palette.palette(rng, floor_kind=str(rng.choice(["stone", "concrete", "tiles", "planks", "stone"])),
                              glossy_floor=0.8)

    # --- facades: one or two glazed walls, punched windows elsewhere, skylights
    walls = list(rng.permutation(rooms.WALLS))
    main = str(walls[0])
    rooms.plan_windows(rng, room, main, "glazing")
    if rng.random() < 0.5:
        rooms.plan_windows(rng, room, str(walls[1]), str(rng.choice(["glazing", "windows"])))
    if rng.random() < 0.4:
        rooms.plan_windows(rng, room, str(walls[2]), "windows")
    n_sky = int(rng.choice([0, 0, 1, 2, 3, 4]))
    if n_sky:
        along_x = rng.random() < 0.5
        for k in range(n_sky):
            if along_x:
                u0, u1 = room.W * 0.15, room.W * 0.85
                c = room.D * (k + 0.5) / n_sky
                v0, v1 = c - rng.uniform(0.4, 1.0), c + rng.uniform(0.4, 1.0)
            else:
                v0, v1 = room.D * 0.15, room.D * 0.85
                c = room.W * (k + 0.5) / n_sky
                u0, u1 = c - rng.uniform(0.4, 1.0), c + rng.uniform(0.4, 1.0)
            room.openings.append(Opening("ceiling", u0, u1, v0, v1, "skylight"))
    rooms.build_shell(a, rng, room, pal)
    if rng.random() < 0.5:
        rooms.door(a, rng, room, pal)

    # --- columns in a grid (kept off the camera's spot below)
    eye, look = _camera_pose(rng, room, main)
    room.footprints.append((eye[0] - 0.5, eye[0] + 0.5, eye[2] - 0.5, eye[2] + 0.5))
    if rng.random() < 0.75:
        _columns(a, rng, room, pal, eye)
    if rng.random() < 0.35:
        _mezzanine(a, rng, room, pal, eye)

    # --- sky, sun and lamps
    daylight.light_through_main_wall(a, rng, room, main, mood, spread=55, p_facing=0.8,
                                     sun_elevation=(15, 60))
    lamp_color = colors.blackbody_tint(rng.uniform(2800, 5000))
    lamps_on = mood in ("dusk", "night") or rng.random() < 0.35
    fixture = str(rng.choice(["strips", "disk", "panel", "pendant"], p=[0.4, 0.3, 0.15, 0.15]))
    if fixture == "strips":
        _light_strips(a, rng, room, pal, lamp_color, lamps_on)
    else:
        rooms.ceiling_lights(a, rng, room, pal, fixture, lamp_color, 1.0, lamps_on)

    _furnish(a, rng, room, pal, lamp_color, lamps_on)

    window = a.powers.get("sky", 0.0)
    lamps = a.powers.get("lamps", 0.0)
    if lamps > 0:
        share = {"sun": rng.uniform(0.05, 0.2), "overcast": rng.uniform(0.1, 0.5), "panel": rng.uniform(0.05, 0.3),
                 "dusk": rng.uniform(0.5, 2.0), "night": rng.uniform(8, 30)}[mood]
        a.scale_lights(share * max(window, 1e-6) / lamps, group="lamps")
    target = np.exp(rng.uniform(*np.log(TARGET)))
    a.scale_lights(rooms.exposure_scale(room, refl, a, target))

    sensor = camera(eye, look, rng.uniform(60, 90), width, height)
    info = {"mood": mood, "openings": len(room.openings), "skylights": n_sky, "lights": fixture if lamps_on else "off"}
    return a.finish(sensor, integrator(int(rng.choice([10, 12, 12, 16])))), width, height, info


def _camera_pose(rng: np.random.Generator, room: Room, main: str) -> tuple[np.ndarray, np.ndarray]:
    """Standing near a wall or a corner, looking down the long axis or at the facade."""
    target_side = main if rng.random() < 0.45 else str(rng.choice(rooms.WALLS))
    opposite = {"back": "front", "front": "back", "left": "right", "right": "left"}[target_side]
    L = room.length(opposite)
    eye = room.point(opposite, rng.uniform(0.1, 0.9) * L, rng.uniform(1.4, 2.2), rng.uniform(0.5, 2.5))
    Lt = room.length(target_side)
    look = room.point(target_side, rng.uniform(0.1, 0.9) * Lt, rng.uniform(1.0, room.H * 0.6), 0.0)
    return eye, look


def _columns(a: Assembly, rng: np.random.Generator, room: Room, pal: dict, eye: np.ndarray) -> None:
    round_cols = rng.random() < 0.5
    r = rng.uniform(0.2, 0.45)
    spacing = rng.uniform(4.0, 7.0)
    nx, nz = max(1, int(room.W / spacing)), max(1, int(room.D / spacing))
    role = "column"
    pal[role] = pal["wall"] if rng.random() < 0.5 else mat.roughplastic(
        colors.hsv_to_linear(0.1, 0.05, rng.uniform(0.4, 0.85)), rng.uniform(0.05, 0.3))
    a.material(role, pal[role])
    for i in range(nx):
        for j in range(nz):
            x = -room.W / 2 + room.W * (i + 0.5) / nx
            z = -room.D / 2 + room.D * (j + 0.5) / nz
            box = (x - r, x + r, z - r, z + r)
            # keep columns off the camera's nose: nothing within 2.5 m of the eye
            if not room.free(*box, margin=0.3) or np.hypot(x - eye[0], z - eye[2]) < r + 2.5:
                continue
            room.footprints.append(box)
            if round_cols:
                a.mesh(role, g.cylinder(r, room.H, 40, caps=False).transformed(g.translate(x, 0, z)))
            else:
                a.mesh(role, g.box((2 * r, room.H, 2 * r), (x, room.H / 2, z)))


def _mezzanine(a: Assembly, rng: np.random.Generator, room: Room, pal: dict, eye: np.ndarray) -> None:
    """A gallery floor along one wall with a glass or bar railing, and stairs up to it, on a
    wall far enough from the camera that neither slab nor stairs can swallow it."""
    depth = rng.uniform(2.5, 4.0)
    level = room.H * rng.uniform(0.45, 0.55)
    clear = [s for s in rooms.WALLS if float(np.dot(eye - room.point(s, 0, 0, 0), g.SIDE_NORMALS[s])) > depth + 2.5]
    if not clear:
        return
    side = str(rng.choice(clear))
    L = room.length(side)
    m = room.to_world(side)
    a.material("slab", pal["ceiling"])
    a.mesh("slab", g.box((L, 0.3, depth)).transformed(g.compose(g.translate(L / 2, level - 0.15, depth / 2), m)))
    a.material("floor", pal["floor"])
    a.mesh("floor", g.panel(L, depth).transformed(g.compose(g.rotate([1, 0, 0], -90), g.translate(0, level + 0.001, depth), m)))
    if rng.random() < 0.5:
        a.material("railing_glass", mat.glass(1.5) if rng.random() < 0.3 else mat.thin_glass())
        a.mesh("railing_glass", g.panel(L, 1.0).transformed(g.compose(g.translate(0, level, depth - 0.02), m)))
        a.material("metal", pal["metal"])
        a.mesh("metal", g.box((L, 0.05, 0.06)).transformed(g.compose(g.translate(L / 2, level + 1.02, depth - 0.02), m)))
    else:
        a.material("metal", pal["metal"])
        a.mesh("metal", g.box((L, 0.05, 0.06)).transformed(g.compose(g.translate(L / 2, level + 1.0, depth - 0.03), m)))
        for k in range(int(L / 0.15)):
            a.mesh("metal", g.box((0.02, 1.0, 0.02)).transformed(g.compose(g.translate(0.1 + k * 0.15, level + 0.5, depth - 0.03), m)))
    # stairs against the same wall, going up to the mezzanine's open end
    steps = int(level / 0.18)
    run = 0.28
    sw = rng.uniform(1.0, 1.6)
    a.material("stairs", pal["floor"] if rng.random() < 0.5 else pal["wood"])
    start = min(L - 0.1, L * rng.uniform(0.3, 0.7))
    for k in range(steps):
        h = (k + 1) * level / steps
        a.mesh("stairs", g.box((run, h, sw)).transformed(g.compose(g.translate(start - k * run - run / 2, h / 2, depth + sw / 2 + 0.02), m)))
    # keep furniture out from under the slab and off the stairs
    p0 = room.point(side, 0, 0, 0)
    p1 = room.point(side, L, 0, depth + sw + 0.1)
    room.footprints.append((min(p0[0], p1[0]), max(p0[0], p1[0]), min(p0[2], p1[2]), max(p0[2], p1[2])))


def _light_strips(a: Assembly, rng: np.random.Generator, room: Room, pal: dict, color, on: bool) -> None:
    """Long linear luminaires in parallel rows under the ceiling."""
    along_x = rng.random() < 0.5
    n = max(2, int((room.D if along_x else room.W) / rng.uniform(2.0, 4.0)))
    length = (room.W if along_x else room.D) * rng.uniform(0.5, 0.9)
    w = rng.uniform(0.05, 0.2)
    drop = rng.uniform(0.0, 1.0) if rng.random() < 0.5 else 0.0
    a.material("fixture", mat.roughplastic(np.full(3, 0.05 if rng.random() < 0.5 else 0.8), 0.2))
    for k in range(n):
        c = -(room.D if along_x else room.W) / 2 + (room.D if along_x else room.W) * (k + 0.5) / n
        x, z = (0.0, c) if along_x else (c, 0.0)
        sx, sz = (length, w) if along_x else (w, length)
        y = room.H - drop
        a.mesh("fixture", g.box((sx + 0.04, 0.06, sz + 0.04), (x, y - 0.03, z)))
        shape = {"type": "rectangle", "to_world": g.compose(g.scale(sx / 2, sz / 2, 1), g.rotate([1, 0, 0], 90), g.translate(x, y - 0.061, z)),
                 "bsdf": mat.diffuse(0.8)}
        if on:
            em = mat.emitter(color / area_power(sx * sz, 1.0))
            a.light(em, float(colors.luminance(color)), group="lamps")
            shape["emitter"] = em
        a.add("strip", shape)


def _furnish(a: Assembly, rng: np.random.Generator, room: Room, pal: dict, lamp_color, lamps_on: bool) -> None:
    """Sparse furniture: seating groups, benches, planters, plinths with sculptures, a desk."""
    for _ in range(int(rng.integers(1, 4))):  # seating groups on rugs
        sofa = fu.sofa(rng, rng.uniform(1.8, 2.6))
        m = rooms.free_standing(rng, room, sofa, margin=1.0)
        if m is None:
            continue
        rooms.put(a, sofa, pal, m)
        c = g.apply_points(m, np.array([[0.0, 0.0, sofa.depth / 2 + 0.6]]))[0]
        ct = fu.table(rng, rng.uniform(0.8, 1.2), rng.uniform(0.5, 0.7), 0.4)
        yaw = rooms.yaw_facing(g.apply_normals(m, np.array([[0.0, 0.0, 1.0]]))[0])
        mt = rooms.free_standing(rng, room, ct, centre=(c[0], c[2]), yaw=yaw)
        if mt is not None:
            rooms.put(a, ct, pal, mt)
            rooms.dress_top(a, rng, ct, mt, pal, int(rng.integers(0, 3)))
        if rng.random() < 0.6:
            rug = fu.rug(rng.uniform(2.4, 3.2), rng.uniform(1.8, 2.4))
            rooms.put(a, rug, pal, rooms.free_standing(rng, room, rug, centre=(c[0], c[2]), yaw=yaw, reserve=False))
    for _ in range(int(rng.integers(0, 5))):  # benches
        b = fu.table(rng, rng.uniform(1.5, 2.5), 0.45, 0.45)
        m = rooms.free_standing(rng, room, b, margin=0.8)
        if m is not None:
            rooms.put(a, b, pal, m)
    for _ in range(int(rng.integers(1, 6))):  # planters with plants
        p = fu.plant(rng, rng.uniform(1.0, 2.5))
        m = rooms.free_standing(rng, room, p, margin=0.5) if rng.random() < 0.5 else rooms.against_wall(rng, room, p, gap=0.2)
        if m is not None:
            rooms.put(a, p, pal, m)
    for _ in range(int(rng.integers(0, 4))):  # sculptures
        pl = fu.plinth(rng, rng.uniform(0.5, 0.9), rng.uniform(0.5, 1.0))
        m = rooms.free_standing(rng, room, pl, margin=1.0)
        if m is None:
            continue
        rooms.put(a, pl, pal, m)
        shape = props.random_shape(rng, rng.uniform(0.4, 0.9))
        bsdf = mat.random_material(rng)
        if shape.sphere is not None:
            c = g.apply_points(m, np.array([[0, pl.top + shape.sphere, 0]]))[0]
            a.add("sphere", {"type": "sphere", "center": [float(v) for v in c], "radius": float(shape.sphere), "bsdf": bsdf})
        else:
            name = f"sculpt{len(a.materials)}"
            a.material(name, bsdf)
            a.mesh(name, shape.mesh.transformed(g.compose(g.rotate([0, 1, 0], rng.uniform(0, 360)), g.translate(0, pl.top, 0), m)))
    if rng.random() < 0.4:  # a reception desk
        desk = fu.cabinet(rng, rng.uniform(2.5, 4.0), 1.1, 0.8)
        m = rooms.free_standing(rng, room, desk, margin=1.5)
        if m is not None:
            rooms.put(a, desk, pal, m)
            rooms.dress_top(a, rng, desk, m, pal, int(rng.integers(1, 4)), lamp_color, 1.0, lamps_on)
    for k in range(int(rng.integers(0, 4))):  # large artworks
        w, h = rng.uniform(1.0, 3.0), rng.uniform(1.0, 2.5)
        role = f"canvas{k}"
        pal[role] = mat.diffuse(mat.bitmap(tx.painting(rng, 128)))
        pic = fu.picture(rng, w, h, role)
        m = rooms.hang_on_wall(rng, room, pic, rng.uniform(1.0, max(1.05, room.H - h - 0.5)))
        if m is not None:
            rooms.put(a, pic, pal, m)
