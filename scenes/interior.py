"""Furnished rooms lit through their windows: the family closest to the paper's architectural
training set and the most important one.

Each instance picks a room size, a mood (sunny day, overcast day, bright panels outside the
windows, dusk with lamps, night with lamps), openings on one to three walls (punched windows, French windows, glazed
walls, sometimes a skylight; sometimes glass panes or blinds), a room type that decides the
furniture (living, bedroom, dining, office, kitchen, gallery, sparse), a palette of wall,
floor and furniture materials, ceiling fixtures and lamps, and a camera standing inside the
room looking across it (often towards the light, sometimes away).
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
from scenes.assembly import Assembly, camera, integrator
from scenes.rooms import Opening, Room

SIZES = ((320, 240), (320, 240), (256, 256), (320, 192), (240, 320))
# 'panel': bright diffuse panels outside the windows instead of a sky (blown-out windows)
MOODS = ("sun", "overcast", "panel", "dusk", "night")
MOOD_WEIGHTS = (0.42, 0.18, 0.14, 0.12, 0.14)
ROOM_TYPES = ("living", "bedroom", "dining", "office", "kitchen", "gallery", "sparse")
ROOM_WEIGHTS = (0.26, 0.16, 0.16, 0.12, 0.12, 0.08, 0.1)
# Target mean visible radiance (before the tonemap): log-uniform in this range.
TARGET = (0.14, 0.4)


def generate(rng: np.random.Generator):
    """(scene dict, width, height, info) of one furnished room."""
    width, height = SIZES[rng.integers(len(SIZES))]
    room = Room(W=rng.uniform(3.0, 7.0), H=rng.uniform(2.4, 3.4), D=rng.uniform(3.0, 8.0), t=rng.uniform(0.15, 0.35))
    mood = str(rng.choice(MOODS, p=np.array(MOOD_WEIGHTS) / sum(MOOD_WEIGHTS)))
    kind = str(rng.choice(ROOM_TYPES, p=np.array(ROOM_WEIGHTS) / sum(ROOM_WEIGHTS)))
    a = Assembly()
    pal, refl = palette.palette(rng)

    # --- openings: at least about 15 % of the floor area in glazing, as building codes ask
    main = str(rng.choice(rooms.WALLS))
    others = [s for s in rooms.WALLS if s != main]
    rng.shuffle(others)
    style = str(rng.choice(["windows", "windows", "french", "glazing"]))
    rooms.plan_windows(rng, room, main, style)
    for side in others:
        glazed = sum(o.area for o in room.openings)
        if glazed > 0.15 * room.W * room.D and rng.random() < 0.55:
            break
        rooms.plan_windows(rng, room, side, str(rng.choice(["windows", "windows", "french"])))
    if rng.random() < 0.08:
        sw, sd = rng.uniform(0.6, 1.5), rng.uniform(0.6, 1.5)
        cx, cz = rng.uniform(sw, room.W - sw), rng.uniform(sd, room.D - sd)
        room.openings.append(Opening("ceiling", cx - sw / 2, cx + sw / 2, cz - sd / 2, cz + sd / 2, "skylight"))
    # glass panes stop next-event estimation of everything outside: rare, and never with panels
    glass = rng.random() < 0.05 and mood in ("sun", "overcast")
    for o in room.openings:
        o.glass = glass and o.side != "ceiling"
        o.blinds = o.kind == "window" and rng.random() < 0.1
    rooms.build_shell(a, rng, room, pal)
    if rng.random() < 0.35:
        rooms.curtains(a, rng, room, pal)
    if rng.random() < 0.6:
        rooms.door(a, rng, room, pal)

    # --- sky and sun: the sun comes in through the main wall most of the time
    elev = daylight.light_through_main_wall(a, rng, room, main, mood, spread=50, p_facing=0.85,
                                            sun_elevation=(12, 55))

    # --- camera first, so furniture keeps clear of it
    eye, look = _camera_pose(rng, room, main)
    room.footprints.append((eye[0] - 0.35, eye[0] + 0.35, eye[2] - 0.35, eye[2] + 0.35))

    # --- lamps and furniture
    lamp_color = colors.blackbody_tint(rng.uniform(2600, 4200))
    lamps_on = mood in ("dusk", "night") or rng.random() < 0.2
    fixture = str(rng.choice(["disk", "panel", "pendant", "none"], p=[0.35, 0.2, 0.25, 0.2]))
    if mood == "night" and fixture == "none" and rng.random() < 0.7:
        fixture = "disk"
    if fixture != "none":
        rooms.ceiling_lights(a, rng, room, pal, fixture, lamp_color, 1.0, lamps_on)
    _furnish(a, rng, room, pal, kind, lamp_color, lamps_on)
    if lamps_on and a.powers.get("lamps", 0.0) == 0.0:
        # nothing to switch on was placed: add a floor lamp somewhere
        lamp = fu.floor_lamp(rng)
        m = rooms.against_wall(rng, room, lamp)
        if m is None:
            m = rooms.free_standing(rng, room, lamp, reserve=False)
        rooms.put(a, lamp, pal, m, lamp_color, 1.0, True)

    # --- exposure: daylight and lamps in proportion to the mood, then the whole scaled
    window = a.powers.get("sky", 0.0)
    lamps = a.powers.get("lamps", 0.0)
    if lamps > 0:
        share = {"sun": rng.uniform(0.03, 0.15), "overcast": rng.uniform(0.1, 0.4), "panel": rng.uniform(0.05, 0.3),
                 "dusk": rng.uniform(0.5, 2.0), "night": rng.uniform(8, 30)}[mood]
        a.scale_lights(share * max(window, 1e-6) / lamps, group="lamps")
    target = np.exp(rng.uniform(*np.log(TARGET)))
    a.scale_lights(rooms.exposure_scale(room, refl, a, target))

    fov = rng.uniform(55, 85)
    sensor = camera(eye, look, fov, width, height)
    info = {"room": kind, "mood": mood, "sun_elevation": round(float(elev), 1),
            "openings": len(room.openings), "lamps": bool(lamps)}
    return a.finish(sensor, integrator(int(rng.choice([10, 12, 12, 16])))), width, height, info


def _camera_pose(rng: np.random.Generator, room: Room, main: str) -> tuple[np.ndarray, np.ndarray]:
    """Eye near a wall (or a corner) looking across the room: at the main window wall, at a
    side, or away from the light."""
    r = rng.random()
    if r < 0.4:
        target_side = main
    elif r < 0.75:
        target_side = str(rng.choice([s for s in rooms.WALLS if s != main]))
    else:
        target_side = str(rng.choice(rooms.WALLS))
    opposite = {"back": "front", "front": "back", "left": "right", "right": "left"}[target_side]
    L = room.length(opposite)
    u = rng.uniform(0.25, 0.75) * L if rng.random() < 0.6 else rng.choice([0.12, 0.88]) * L
    eye = room.point(opposite, u, rng.uniform(1.1, 1.7), rng.uniform(0.3, 0.9))
    Lt = room.length(target_side)
    look = room.point(target_side, rng.uniform(0.15, 0.85) * Lt, rng.uniform(0.6, 1.6), 0.0)
    return eye, look


def _furnish(a: Assembly, rng: np.random.Generator, room: Room, pal: dict, kind: str, lamp_color, lamps_on: bool) -> None:
    """Furniture for a room type, most important pieces first (they get the space)."""

    def wall(piece, **kw):
        m = rooms.against_wall(rng, room, piece, **kw)
        if m is not None:
            rooms.put(a, piece, pal, m, lamp_color, 1.0, lamps_on)
        return m

    def free(piece, **kw):
        m = rooms.free_standing(rng, room, piece, **kw)
        if m is not None:
            rooms.put(a, piece, pal, m, lamp_color, 1.0, lamps_on)
        return m

    def top(piece, m, n):
        if m is not None:
            rooms.dress_top(a, rng, piece, m, pal, n, lamp_color, 1.0, lamps_on)

    def wall_top(piece, n):
        top(piece, wall(piece), n)

    def chairs_around(tab, mt, sides=(-1, 1)):
        n = max(1, int(tab.width / 0.6))
        for sz in sides:
            for k in range(n):
                if rng.random() < 0.15:
                    continue
                x = -tab.width / 2 + tab.width * (k + 0.5) / n + rng.uniform(-0.05, 0.05)
                z = sz * (tab.depth / 2 + rng.uniform(0.1, 0.3))
                mc = g.compose(g.rotate([0, 1, 0], (180 if sz > 0 else 0) + rng.uniform(-10, 10)), g.translate(x, 0, z), mt)
                rooms.put(a, fu.chair(rng), pal, mc)

    W, D = room.W, room.D
    if kind == "living":
        sofa = fu.sofa(rng, rng.uniform(1.6, min(2.6, max(W, D) - 0.6)))
        ms = wall(sofa)
        if ms is not None:  # coffee table and rug in front of the sofa
            front = g.apply_normals(ms, np.array([[0.0, 0.0, 1.0]]))[0]
            c = g.apply_points(ms, np.array([[0.0, 0.0, sofa.depth / 2 + 0.55]]))[0]
            ct = fu.table(rng, rng.uniform(0.8, 1.3), rng.uniform(0.5, 0.8), rng.uniform(0.35, 0.45))
            rug = fu.rug(rng.uniform(1.6, 2.6), rng.uniform(1.2, 2.0))
            yaw = rooms.yaw_facing(front)
            mr = rooms.free_standing(rng, room, rug, centre=(c[0], c[2]), yaw=yaw, reserve=False)
            rooms.put(a, rug, pal, mr)
            mt = rooms.free_standing(rng, room, ct, centre=(c[0] + front[0] * 0.1, c[2] + front[2] * 0.1), yaw=yaw)
            if mt is not None:
                rooms.put(a, ct, pal, mt)
                top(ct, mt, int(rng.integers(0, 4)))
        for _ in range(int(rng.integers(0, 3))):
            wall(fu.sofa(rng, rng.uniform(0.8, 1.0)))
        unit = fu.cabinet(rng, rng.uniform(1.2, 2.0), rng.uniform(0.4, 0.6), 0.45)
        mu = wall(unit)
        if mu is not None and rng.random() < 0.7:
            tv = fu.tv(rng, min(rng.uniform(0.8, 1.4), unit.width - 0.1))
            rooms.put(a, tv, pal, g.compose(g.translate(0, unit.top, -0.05), mu))
        else:
            top(unit, mu, int(rng.integers(0, 3)))
        if rng.random() < 0.7:
            wall(fu.bookshelf(rng, rng.uniform(0.8, 1.8), rng.uniform(1.6, min(2.3, room.H - 0.2))), under_windows=True)
        wall(fu.floor_lamp(rng))
        _extras(a, rng, room, pal, lamp_color, lamps_on, plants=int(rng.integers(0, 3)), pictures=int(rng.integers(0, 4)))
    elif kind == "bedroom":
        bw = float(rng.choice([0.9, 1.4, 1.6, 1.8]))
        bed = fu.bed(rng, bw, rng.uniform(1.95, 2.1))
        mb = wall(bed, under_windows=False)
        if mb is not None:
            for sx in (-1, 1):
                ns = fu.cabinet(rng, 0.45, rng.uniform(0.45, 0.6), 0.4)
                mn = rooms.free_standing(rng, room, ns, reserve=False, centre=tuple(
                    g.apply_points(mb, np.array([[sx * (bw / 2 + 0.3), 0, -bed.depth / 2 + 0.22]]))[0][[0, 2]]),
                    yaw=rooms.yaw_facing(g.apply_normals(mb, np.array([[0.0, 0.0, 1.0]]))[0]))
                rooms.put(a, ns, pal, mn)
                if rng.random() < 0.7:
                    lamp = fu.table_lamp(rng)
                    rooms.put(a, lamp, pal, g.compose(g.translate(0, ns.top, 0), mn), lamp_color, 1.0, lamps_on)
            rug = fu.rug(bw + rng.uniform(0.6, 1.2), rng.uniform(1.2, 1.8))
            rooms.put(a, rug, pal, g.compose(g.translate(0, 0, 0.3), mb))
        wall(fu.cabinet(rng, rng.uniform(1.0, 2.0), rng.uniform(1.8, min(2.3, room.H - 0.1)), 0.6), under_windows=True)
        wall_top(fu.cabinet(rng, rng.uniform(0.8, 1.4), rng.uniform(0.7, 1.0), 0.45), int(rng.integers(0, 3)))
        _extras(a, rng, room, pal, lamp_color, lamps_on, plants=int(rng.integers(0, 2)), pictures=int(rng.integers(1, 3)))
    elif kind == "dining":
        tw, td = rng.uniform(1.2, 2.2), rng.uniform(0.8, 1.0)
        tab = fu.table(rng, tw, td) if rng.random() < 0.7 else fu.round_table(rng, rng.uniform(0.45, 0.7))
        mt = free(tab)
        if mt is not None:
            top(tab, mt, int(rng.integers(0, 4)))
            chairs_around(tab, mt)
        wall_top(fu.cabinet(rng, rng.uniform(1.2, 2.0), rng.uniform(0.75, 0.95), 0.45), int(rng.integers(1, 4)))
        _extras(a, rng, room, pal, lamp_color, lamps_on, plants=int(rng.integers(0, 3)), pictures=int(rng.integers(1, 4)))
    elif kind == "office":
        desk = fu.desk(rng, rng.uniform(1.2, 1.8), rng.uniform(0.6, 0.8))
        md = wall(desk)
        if md is not None:
            if rng.random() < 0.7:
                mon = fu.tv(rng, rng.uniform(0.5, 0.7))
                rooms.put(a, mon, pal, g.compose(g.translate(rng.uniform(-0.2, 0.2), desk.top, -0.1), md))
            rooms.dress_top(a, rng, desk, g.compose(g.translate(0, 0, 0.1), md), pal, 2, lamp_color, 1.0, lamps_on)
            ch = fu.chair(rng)
            rooms.put(a, ch, pal, g.compose(g.rotate([0, 1, 0], 180 + rng.uniform(-30, 30)), g.translate(0.1, 0, desk.depth / 2 + 0.2), md))
        for _ in range(int(rng.integers(1, 3))):
            wall(fu.bookshelf(rng, rng.uniform(0.8, 1.6), rng.uniform(1.6, min(2.3, room.H - 0.2))))
        wall_top(fu.cabinet(rng, rng.uniform(0.8, 1.4), 0.75, 0.45), 2)
        _extras(a, rng, room, pal, lamp_color, lamps_on, plants=int(rng.integers(0, 3)), pictures=int(rng.integers(0, 3)))
    elif kind == "kitchen":
        for _ in range(int(rng.integers(1, 3))):
            wall_top(fu.kitchen_counter(rng, rng.uniform(1.8, min(4.0, max(W, D) - 0.4))), int(rng.integers(1, 4)))
        tab = fu.table(rng, rng.uniform(1.0, 1.6), rng.uniform(0.7, 0.9))
        mt = free(tab)
        if mt is not None:
            top(tab, mt, int(rng.integers(0, 3)))
            chairs_around(tab, mt)
        _extras(a, rng, room, pal, lamp_color, lamps_on, plants=int(rng.integers(0, 2)), pictures=int(rng.integers(0, 2)))
    elif kind == "gallery":
        for _ in range(int(rng.integers(2, 5))):
            pl = fu.plinth(rng, rng.uniform(0.35, 0.6), rng.uniform(0.6, 1.1))
            mp = free(pl)
            if mp is not None:
                shape = props.random_shape(rng, rng.uniform(0.25, 0.5))
                bsdf = mat.random_material(rng)
                name = f"sculpt{len(a.materials)}"
                if shape.sphere is not None:
                    c = g.apply_points(mp, np.array([[0, pl.top + shape.sphere, 0]]))[0]
                    a.add("sphere", {"type": "sphere", "center": [float(v) for v in c], "radius": float(shape.sphere), "bsdf": bsdf})
                else:
                    a.material(name, bsdf)
                    a.mesh(name, shape.mesh.transformed(g.compose(g.rotate([0, 1, 0], rng.uniform(0, 360)), g.translate(0, pl.top, 0), mp)))
        if rng.random() < 0.6:
            free(fu.table(rng, rng.uniform(1.2, 1.8), 0.45, 0.45))
        _extras(a, rng, room, pal, lamp_color, lamps_on, plants=int(rng.integers(0, 2)), pictures=int(rng.integers(3, 8)))
    else:  # sparse: a few things on a large bare floor
        if rng.random() < 0.6:
            ch = fu.chair(rng)
            free(ch, yaw=rng.uniform(0, 360))
        if rng.random() < 0.5:
            wall_top(fu.cabinet(rng, rng.uniform(0.8, 1.4), 0.8, 0.45), 2)
        for _ in range(int(rng.integers(0, 4))):
            shape = props.random_shape(rng, rng.uniform(0.2, 0.6))
            spot = props.scatter(rng, [shape.radius], (-W / 2 + 0.3, W / 2 - 0.3), (-D / 2 + 0.3, D / 2 - 0.3),
                                 avoid=[((b[0] + b[1]) / 2, (b[2] + b[3]) / 2, max(b[1] - b[0], b[3] - b[2]) / 2) for b in room.footprints])[0]
            if spot is not None:
                props.place(a, shape, f"thing{len(a.materials)}", mat.random_material(rng), spot[0], spot[1], yaw_deg=rng.uniform(0, 360))
        _extras(a, rng, room, pal, lamp_color, lamps_on, plants=int(rng.integers(0, 3)), pictures=int(rng.integers(0, 3)))
    if rng.random() < 0.5:
        for o in room.openings:  # radiators under windows
            if o.kind == "window" and o.v0 > 0.7 and rng.random() < 0.7:
                rad = fu.radiator(rng, min(o.u1 - o.u0, 1.6))
                m = g.compose(g.translate((o.u0 + o.u1) / 2, 0, 0.08), room.to_world(o.side))
                rooms.put(a, rad, pal, m)


def _extras(a: Assembly, rng: np.random.Generator, room: Room, pal: dict, lamp_color, lamps_on: bool,
            plants: int, pictures: int) -> None:
    """Plants, pictures and a mirror: the things that make a room look lived in."""
    for _ in range(plants):
        p = fu.plant(rng, rng.uniform(0.4, 1.6))
        m = rooms.against_wall(rng, room, p, gap=0.1)
        if m is not None:
            rooms.put(a, p, pal, m)
    for k in range(pictures):
        w, h = rng.uniform(0.3, 1.2), rng.uniform(0.3, 1.0)
        role = f"canvas{k}"
        img = tx.painting(rng, 128) if rng.random() < 0.6 else tx.random_albedo_texture(rng, 128)[0]
        pal[role] = mat.diffuse(mat.bitmap(img))
        pic = fu.picture(rng, w, h, role)
        m = rooms.hang_on_wall(rng, room, pic, rng.uniform(1.2, max(1.25, min(1.7, room.H - h - 0.2))))
        if m is not None:
            rooms.put(a, pic, pal, m)
    if rng.random() < 0.2:
        mir = fu.mirror(rng.uniform(0.5, 1.0), rng.uniform(0.7, 1.4))
        m = rooms.hang_on_wall(rng, room, mir, rng.uniform(0.9, 1.3))
        if m is not None:
            rooms.put(a, mir, pal, m)
