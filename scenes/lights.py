"""Light-transport stress tests in the manner of Veach's thesis scenes: glossy plates under
emitters of very different sizes (the MIS test), caustics from glass and metal under small
lights, lamps whose shades hide the bulb, neon tubes and LED strips over glossy floors,
spotlights, and a room lit only through a door left ajar (the bidirectional test).

Every variant sits in a closed room so that exposure can be set by construction as in the
Cornell family: with emitted power P, room area A and mean reflectance r, the mean irradiance
is about P / (A (1 - r)); lights are scaled so that a mid-grey surface reaches a target.
These scenes are meant to be hard: small bright lights, caustic paths and fireflies.
"""
from __future__ import annotations

import numpy as np

from scenes import colors
from scenes import furniture as fu
from scenes import geometry as g
from scenes import materials as mat
from scenes import props
from scenes import textures as tx
from scenes.assembly import Assembly, area_power, camera, integrator, sphere_power

SIZES = ((256, 256), (320, 240), (320, 240), (320, 192), (240, 320))
VARIANTS = ("mis", "caustics", "lamps", "neon", "spots", "door")
VARIANT_WEIGHTS = (0.24, 0.2, 0.18, 0.14, 0.16, 0.08)
TARGET = (0.06, 0.2)  # mean visible radiance, log-uniform: these scenes are mostly dim
# Light that reaches the visible surfaces, relative to the closed-room estimate, per variant
# (shades, baffles and the door swallow part of it), from test renders.
GAIN = {"mis": 1.3, "caustics": 1.0, "lamps": 3.0, "neon": 2.0, "spots": 1.0, "door": 1.0}


def _sphere_light(a: Assembly, centre, radius: float, power: float, color) -> None:
    color = np.asarray(color, float) / max(float(colors.luminance(color)), 1e-6)
    em = mat.emitter(color * power / sphere_power(radius, 1.0))
    a.light(em, power)
    a.add("light", {"type": "sphere", "center": [float(c) for c in centre], "radius": float(radius), "emitter": em})


def _mesh_light(a: Assembly, mesh: g.MeshData, power: float, color, area: float) -> None:
    color = np.asarray(color, float) / max(float(colors.luminance(color)), 1e-6)
    em = mat.emitter(color * power / area_power(area, 1.0))
    a.light(em, power)
    a.add("light", mesh.to_shape(mat.diffuse(0.0), em))


def _room(a: Assembly, rng: np.random.Generator, W: float, H: float, D: float, glossy_floor: float = 0.3,
          dark: bool = False, holes: dict | None = None) -> dict:
    """Walls, floor and ceiling; returns reflectances per side for the exposure estimate."""
    sides = g.room_sides(W, H, D, holes)
    value = (0.15, 0.5) if dark else (0.35, 0.85)
    wall_c = colors.hsv_to_linear(rng.random(), rng.uniform(0, 0.3), rng.uniform(*value))
    refl = {}
    for side, mesh in sides.items():
        if side == "floor":
            img, _ = tx.random_albedo_texture(rng, 256)
            if rng.random() < 0.5:
                img = tx.tiles(rng, 256, 4, 4, colors.random_color(rng, (0, 0.3), value), np.full(3, 0.2), grout_width=0.03)
            tex = mat.bitmap(img, rng.uniform(0.5, 2.0))
            bsdf = mat.roughplastic(tex, np.exp(rng.uniform(np.log(0.01), np.log(0.3)))) if rng.random() < glossy_floor + 0.3 \
                else mat.diffuse(tex)
            refl[side] = float(colors.luminance(img.reshape(-1, 3).mean(0)))
        else:
            c = wall_c if rng.random() < 0.75 else colors.hsv_to_linear(rng.random(), rng.uniform(0, 0.5), rng.uniform(*value))
            bsdf = mat.diffuse(c)
            refl[side] = float(colors.luminance(c))
        a.material(f"room_{side}", bsdf)
        a.mesh(f"room_{side}", mesh)
    return refl


def _exposure(a: Assembly, refl: dict, W: float, H: float, D: float, target: float) -> float:
    areas = {"floor": W * D, "ceiling": W * D, "back": W * H, "front": W * H, "left": D * H, "right": D * H}
    total = sum(areas.values())
    r = sum(areas[k] * refl[k] for k in areas) / total
    e = a.power / (total * (1 - min(r, 0.95)))
    return target / max(np.sqrt(r * 0.45) * e / np.pi, 1e-12)


def _mis(a: Assembly, rng: np.random.Generator, s: float):
    """Glossy plates of increasing roughness, each tilted to reflect a row of spherical lights
    of radii spanning two orders of magnitude but equal power (Veach's MIS scene)."""
    W, H, D = 8 * s, 5 * s, 12 * s
    refl = _room(a, rng, W, H, D, dark=True)
    cam = np.array([0.0, 2.2 * s, D / 2 - 0.5 * s])
    n = int(rng.integers(3, 6))
    lights_c = np.array([0.0, rng.uniform(2.2, 3.2) * s, -rng.uniform(2.5, 4.0) * s])
    radii = np.exp(np.linspace(np.log(rng.uniform(0.01, 0.03)), np.log(rng.uniform(0.4, 0.9)), int(rng.integers(3, 6)))) * s
    if rng.random() < 0.5:
        radii = radii[::-1]
    xs = np.linspace(-1, 1, len(radii)) * rng.uniform(1.0, 1.8) * s
    power = 1.0
    for r, x in zip(radii, xs):
        color = colors.blackbody_tint(rng.uniform(2500, 9000)) if rng.random() < 0.6 else colors.hsv_to_linear(rng.random(), 0.7, 1.0)
        _sphere_light(a, lights_c + [x, 0, 0], r, power, color)
    alphas = np.exp(np.linspace(np.log(rng.uniform(0.003, 0.01)), np.log(rng.uniform(0.15, 0.4)), n))
    if rng.random() < 0.5:
        alphas = alphas[::-1]
    metal = str(rng.choice(["Ag", "Al", "Cu", "Au", "Cr", "plastic"]))
    plate_w = rng.uniform(2.5, 4.0) * s
    for k in range(n):
        z = (-1.2 + 2.6 * k / max(n - 1, 1)) * s
        y = (1.0 - 0.6 * k / max(n - 1, 1)) * s
        p = np.array([0.0, y, z])
        nrm = g.normalize(g.normalize(cam - p) + g.normalize(lights_c - p))
        phi = np.degrees(np.arctan2(nrm[2], nrm[1]))
        bsdf = mat.roughconductor(metal, alphas[k]) if metal != "plastic" else \
            mat.roughplastic(np.full(3, rng.uniform(0.01, 0.1)), alphas[k])
        a.material(f"plate{k}", bsdf)
        depth = 2.6 * s / n * 0.8
        a.mesh(f"plate{k}", g.box((plate_w, 0.03 * s, depth)).transformed(g.compose(g.rotate([1, 0, 0], phi), g.translate(p))))
    look = np.array([0.0, 0.6 * s, -0.2 * s])
    return refl, (W, H, D), cam, look, rng.uniform(35, 55), 1.0


def _caustics(a: Assembly, rng: np.random.Generator, s: float):
    """Glass and polished metal on a diffuse floor under one or two small lights."""
    W, H, D = rng.uniform(4, 7) * s, rng.uniform(3, 4) * s, rng.uniform(4, 7) * s
    refl = _room(a, rng, W, H, D, glossy_floor=0.0)
    n = int(rng.integers(1, 5))
    shapes = []
    for _ in range(n):
        if rng.random() < 0.7:
            kind = str(rng.choice(["sphere", "sphere", "vase", "bowl", "bottle", "blob", "cylinder", "gem", "torus"]))
            shape = props.random_shape(rng, rng.uniform(0.2, 0.5) * s, (kind,))
            bsdf = mat.random_glass(rng)
        else:
            shape = props.random_shape(rng, rng.uniform(0.2, 0.5) * s, ("ring", "torus", "vase", "bowl", "sphere"))
            bsdf = mat.conductor(str(rng.choice(["Ag", "Au", "Cu", "Al"])))
        shapes.append((shape, bsdf))
    spots = props.scatter(rng, [sh.radius for sh, _ in shapes], (-0.8 * s, 0.8 * s), (-0.8 * s, 0.8 * s))
    for k, ((shape, bsdf), spot) in enumerate(zip(shapes, spots)):
        if spot is not None:
            props.place(a, shape, f"obj{k}", bsdf, spot[0], spot[1], yaw_deg=rng.uniform(0, 360))
    for k in range(int(rng.integers(1, 3))):
        c = np.array([rng.uniform(-1, 1) * s, rng.uniform(0.8, 2.5) * s, rng.uniform(-1.5, 0.5) * s])
        _sphere_light(a, c, rng.uniform(0.01, 0.08) * s, 1.0 if k == 0 else rng.uniform(0.2, 1.0),
                      colors.blackbody_tint(rng.uniform(2800, 7000)))
    if rng.random() < 0.5:  # a weak fill from a big panel on a wall
        lw = rng.uniform(0.5, 1.5) * s
        mesh = g.panel(lw, lw).transformed(g.translate(-lw / 2, H * 0.5, -D / 2 + 0.01))
        _mesh_light(a, mesh, rng.uniform(0.05, 0.3), colors.blackbody_tint(8000), lw * lw)
    eye = np.array([rng.uniform(-1, 1) * s, rng.uniform(0.8, 2.0) * s, min(rng.uniform(1.8, 3.0) * s, D / 2 - 0.2)])
    return refl, (W, H, D), eye, np.array([0.0, 0.15 * s, 0.0]), rng.uniform(35, 60), 1.0


def _lamps(a: Assembly, rng: np.random.Generator, s: float):
    """Table and floor lamps and wall sconces whose shades hide the bulbs, glossy things
    around, and tiny indicator lights."""
    W, H, D = rng.uniform(4, 7), rng.uniform(2.6, 3.4), rng.uniform(4, 7)
    refl = _room(a, rng, W, H, D, glossy_floor=0.6)
    pal = {"wood": mat.roughplastic(mat.bitmap(tx.wood(rng, 256, *tx.wood_colors(rng)), 0.8), 0.1),
           "metal": mat.metal(rng), "ceramic": mat.plastic(colors.random_color(rng)),
           "shade": mat.twosided(mat.diffuse(colors.hsv_to_linear(rng.uniform(0.05, 0.15), rng.uniform(0, 0.5), rng.uniform(0.5, 0.9)))),
           "lacquer": mat.roughplastic(colors.random_color(rng), 0.1), "black": mat.roughplastic(np.full(3, 0.02), 0.2),
           "screen": mat.plastic(np.full(3, 0.005))}
    tab = fu.table(rng, rng.uniform(1.0, 1.6), rng.uniform(0.6, 0.9), rng.uniform(0.7, 0.8))
    m = g.translate(rng.uniform(-0.5, 0.5), 0, rng.uniform(-1.0, 0.0))
    _put(a, tab, pal, m)
    for k in range(int(rng.integers(1, 4))):
        lamp = fu.table_lamp(rng) if rng.random() < 0.6 else fu.floor_lamp(rng)
        if rng.random() < 0.3:  # a lid on the shade: the light only goes down
            shade = next(mesh for role, mesh in lamp.parts if role == "shade")
            top = shade.vertices[:, 1].max()
            ring = shade.vertices[shade.vertices[:, 1] > top - 1e-6]
            radius = float(np.sqrt(ring[:, 0] ** 2 + ring[:, 2] ** 2).max())
            lamp.add("shade", g.cylinder(radius, 0.004, 40).transformed(g.translate(0, top - 0.002, 0)))
        x, z = rng.uniform(-W / 2 + 0.5, W / 2 - 0.5), rng.uniform(-D / 2 + 0.5, 0.5)
        on_table = k == 0 and lamp.height < 1
        mm = g.translate(x, 0, z) if not on_table else g.compose(g.translate(rng.uniform(-0.3, 0.3), tab.top, 0), m)
        _put(a, lamp, pal, mm, power=1.0, color=colors.blackbody_tint(rng.uniform(2400, 4000)))
    if rng.random() < 0.6:  # a sconce: a half-cylinder cup on the back wall throwing light up
        y = rng.uniform(1.6, 2.2)
        x = rng.uniform(-W / 3, W / 3)
        cup = g.lathe([0.0, 0.12, 0.12], [0.0, 0.0, 0.18], 24).transformed(g.translate(x, y, -D / 2 + 0.14))
        a.material("sconce", pal["metal"])
        a.mesh("sconce", cup)
        _sphere_light(a, [x, y + 0.1, -D / 2 + 0.14], 0.03, rng.uniform(0.5, 1.5), colors.blackbody_tint(3000))
    for _ in range(int(rng.integers(0, 4))):  # indicator LEDs: tiny and very bright
        c = [rng.uniform(-W / 3, W / 3), rng.uniform(0.3, 1.5), rng.uniform(-D / 2 + 0.1, 0.5)]
        _sphere_light(a, c, 0.004, 0.002, colors.hsv_to_linear(float(rng.choice([0.0, 0.33, 0.6])), 0.9, 1.0))
    for k in range(int(rng.integers(2, 6))):
        shape = props.random_shape(rng, rng.uniform(0.1, 0.3))
        spot = (rng.uniform(-tab.width / 2 + 0.1, tab.width / 2 - 0.1), rng.uniform(-tab.depth / 2 + 0.1, tab.depth / 2 - 0.1))
        bsdf = mat.random_material(rng)
        if shape.sphere is not None:
            c = g.apply_points(m, np.array([[spot[0], tab.top + shape.sphere, spot[1]]]))[0]
            a.add("sphere", {"type": "sphere", "center": [float(v) for v in c], "radius": float(shape.sphere), "bsdf": bsdf})
        else:
            a.material(f"obj{k}", bsdf)
            a.mesh(f"obj{k}", shape.mesh.transformed(g.compose(g.translate(spot[0], tab.top, spot[1]), m)))
    eye = np.array([rng.uniform(-1, 1), rng.uniform(1.0, 1.7), D / 2 - rng.uniform(0.3, 1.0)])
    return refl, (W, H, D), eye, np.array([0.0, rng.uniform(0.6, 1.2), -D / 4]), rng.uniform(45, 75), 1.0


def _put(a: Assembly, piece: fu.Piece, pal: dict, m: np.ndarray, power: float = 0.0, color=None) -> None:
    for role, mesh in piece.parts:
        a.material(role, pal[role])
        a.mesh(role, mesh.transformed(m))
    for centre, r in piece.bulbs:
        _sphere_light(a, g.apply_points(m, centre[None])[0], r, power, color if color is not None else np.ones(3))


def _neon(a: Assembly, rng: np.random.Generator, s: float):
    """A dark room with glowing tubes, LED strips and small coloured lights over a glossy
    floor, and a few objects catching their reflections."""
    W, H, D = rng.uniform(4, 8), rng.uniform(2.6, 4), rng.uniform(4, 8)
    refl = _room(a, rng, W, H, D, glossy_floor=1.0, dark=True)
    for k in range(int(rng.integers(2, 7))):
        color = colors.hsv_to_linear(rng.random(), rng.uniform(0.5, 1.0), 1.0)
        kind = rng.random()
        if kind < 0.5:  # a bent neon tube on a wall
            n = 24
            t = np.linspace(0, 1, n)
            amp = rng.uniform(0.1, 0.5)
            curve = np.stack([(t - 0.5) * rng.uniform(0.5, 2.0), amp * np.sin(t * np.pi * rng.uniform(1, 4)), np.zeros(n)], 1)
            side = str(rng.choice(["back", "left", "right"]))
            L = g.side_extent(side, W, H, D)[0]
            m = g.compose(g.translate(rng.uniform(0.8, L - 0.8), rng.uniform(1.2, H - 0.6), 0.05), g.side_transform(side, W, H, D))
            r = rng.uniform(0.008, 0.02)
            mesh = g.tube(curve, r, sides=8).transformed(m)
            length = float(np.linalg.norm(np.diff(curve, axis=0), axis=1).sum())
            _mesh_light(a, mesh, rng.uniform(0.3, 1.0), color, 2 * np.pi * r * length)
        elif kind < 0.8:  # LED strip along the base or top of a wall (a thin emitting band)
            side = str(rng.choice(["back", "left", "right"]))
            L = g.side_extent(side, W, H, D)[0]
            y = float(rng.choice([0.05, H - 0.05]))
            mesh = g.panel(L - 0.2, 0.02).transformed(g.compose(g.translate(0.1, y, 0.01), g.side_transform(side, W, H, D)))
            _mesh_light(a, mesh, rng.uniform(0.3, 1.0), color, (L - 0.2) * 0.02)
        else:  # small coloured bulbs
            c = [rng.uniform(-W / 2 + 0.3, W / 2 - 0.3), rng.uniform(0.3, H - 0.3), rng.uniform(-D / 2 + 0.3, 0)]
            _sphere_light(a, c, rng.uniform(0.01, 0.05), rng.uniform(0.1, 0.5), color)
    shapes = [props.random_shape(rng, rng.uniform(0.3, 0.8)) for _ in range(int(rng.integers(1, 5)))]
    spots = props.scatter(rng, [sh.radius for sh in shapes], (-W / 3, W / 3), (-D / 3, D / 6))
    for k, (shape, spot) in enumerate(zip(shapes, spots)):
        if spot is not None:
            props.place(a, shape, f"obj{k}", mat.random_material(rng), spot[0], spot[1], yaw_deg=rng.uniform(0, 360))
    eye = np.array([rng.uniform(-1, 1), rng.uniform(0.6, 1.8), D / 2 - rng.uniform(0.3, 1.0)])
    return refl, (W, H, D), eye, np.array([0.0, rng.uniform(0.5, 1.5), -D / 2]), rng.uniform(50, 80), 1.0


def _spots(a: Assembly, rng: np.random.Generator, s: float):
    """Spotlights (point lights with a cone) on objects and walls, plus a small light hidden
    behind an object and a panel light of a very different size."""
    W, H, D = rng.uniform(4, 8), rng.uniform(3, 5), rng.uniform(4, 8)
    refl = _room(a, rng, W, H, D, glossy_floor=0.4)
    shapes = [props.random_shape(rng, rng.uniform(0.3, 0.9)) for _ in range(int(rng.integers(2, 6)))]
    spots = props.scatter(rng, [sh.radius for sh in shapes], (-W / 3, W / 3), (-D / 3, D / 6))
    centres = []
    for k, (shape, spot) in enumerate(zip(shapes, spots)):
        if spot is not None:
            props.place(a, shape, f"obj{k}", mat.random_material(rng), spot[0], spot[1], yaw_deg=rng.uniform(0, 360))
            centres.append((spot[0], shape.height, spot[1], shape.radius))
    for k in range(int(rng.integers(1, 5))):
        pos = np.array([rng.uniform(-W / 2 + 0.3, W / 2 - 0.3), H - 0.1, rng.uniform(-D / 2 + 0.3, D / 2 - 0.3)])
        tgt = np.array([rng.uniform(-W / 3, W / 3), 0.0, rng.uniform(-D / 3, D / 6)])
        if centres and rng.random() < 0.6:
            c = centres[rng.integers(len(centres))]
            tgt = np.array([c[0], c[1] / 2, c[2]])
        cutoff = rng.uniform(10, 40)
        color = colors.blackbody_tint(rng.uniform(2700, 6500))
        power = rng.uniform(0.3, 1.0)
        intensity = power / (2 * np.pi * (1 - np.cos(np.radians(cutoff))))
        em = {"type": "spot", "to_world": g.look_at(pos, tgt), "cutoff_angle": float(cutoff),
              "beam_width": float(cutoff * rng.uniform(0.5, 0.9)), "intensity": mat.rgb(color / colors.luminance(color) * intensity)}
        a.light(em, power, key="intensity")
        a.add("spot", em)
        a.material("fixture", mat.roughplastic(np.full(3, 0.03), 0.2))
        a.mesh("fixture", g.cylinder(0.06, 0.08, 16).transformed(g.translate(pos[0], H - 0.08, pos[2])))
    if centres and rng.random() < 0.7:  # a light hidden behind an object: only its glow shows
        c = centres[rng.integers(len(centres))]
        _sphere_light(a, [c[0], c[1] * 0.5, c[2] - c[3] - 0.1], rng.uniform(0.02, 0.06), rng.uniform(0.3, 1.0),
                      colors.blackbody_tint(rng.uniform(2500, 8000)))
    if rng.random() < 0.6:
        lw = rng.uniform(0.3, 2.0)
        mesh = g.panel(lw, lw * rng.uniform(0.3, 1.0)).transformed(
            g.compose(g.rotate([1, 0, 0], 90), g.translate(rng.uniform(-1, 1), H - 0.005, rng.uniform(-1, 1))))
        _mesh_light(a, mesh, rng.uniform(0.2, 1.0), colors.blackbody_tint(rng.uniform(4000, 7000)), lw * lw)
    eye = np.array([rng.uniform(-1.5, 1.5), rng.uniform(1.0, 2.0), D / 2 - rng.uniform(0.3, 1.0)])
    return refl, (W, H, D), eye, np.array([0.0, rng.uniform(0.3, 1.0), -D / 6]), rng.uniform(40, 70), 1.0


def _door(a: Assembly, rng: np.random.Generator, s: float):
    """Veach's bidirectional test: the camera's room is lit only through a door left ajar;
    the lamp is in the room beyond."""
    W, H, D = rng.uniform(4, 6), rng.uniform(2.6, 3.2), rng.uniform(6, 9)
    wall_z = -D / 2 + rng.uniform(2.0, 3.0)  # the partition between the two rooms
    refl = _room(a, rng, W, H, D, glossy_floor=0.5)
    door_w, door_h = 0.9, 2.05
    u0 = rng.uniform(0.3, W - door_w - 0.3)
    part = g.panel_with_holes(W, H, [(u0, u0 + door_w, 0.0, door_h)])
    a.material("partition", mat.diffuse(colors.hsv_to_linear(0.1, 0.05, rng.uniform(0.6, 0.85))))
    for z, flip in ((wall_z + 0.06, False), (wall_z - 0.06, True)):  # both faces of the partition
        m = part.transformed(g.translate(-W / 2, 0, z))
        a.mesh("partition", m.flipped() if flip else m)
    x0, x1 = -W / 2 + u0, -W / 2 + u0 + door_w  # the door opening's lining
    centre = [(x0 + x1) / 2, door_h / 2, wall_z]
    for p0, p1 in (((x0, 0), (x0, door_h)), ((x0, door_h), (x1, door_h)), ((x1, door_h), (x1, 0))):
        a.mesh("partition", g.quad([p0[0], p0[1], wall_z - 0.06], [p1[0], p1[1], wall_z - 0.06],
                                   [p1[0], p1[1], wall_z + 0.06], [p0[0], p0[1], wall_z + 0.06], towards=centre))
    # the door slab, hinged at one side of the opening and opened by a small angle
    angle = rng.uniform(12, 45)
    hinge = np.array([-W / 2 + u0, 0.0, wall_z + 0.06])
    slab = g.box((door_w - 0.01, door_h - 0.01, 0.04), (door_w / 2, door_h / 2, 0.02))
    a.material("door", mat.roughplastic(colors.random_color(rng, (0, 0.3), (0.3, 0.8)), 0.3))
    a.mesh("door", slab.transformed(g.compose(g.rotate([0, 1, 0], -angle), g.translate(hinge))))
    for k in range(int(rng.integers(1, 3))):  # the lamp(s) in the far room
        c = [rng.uniform(-W / 2 + 0.4, W / 2 - 0.4), rng.uniform(1.0, H - 0.3), rng.uniform(-D / 2 + 0.3, wall_z - 0.4)]
        _sphere_light(a, c, rng.uniform(0.03, 0.1), 1.0, colors.blackbody_tint(rng.uniform(2700, 5000)))
    shapes = [props.random_shape(rng, rng.uniform(0.3, 0.7)) for _ in range(int(rng.integers(1, 4)))]
    spots = props.scatter(rng, [sh.radius for sh in shapes], (-W / 2 + 0.3, W / 2 - 0.3), (wall_z + 0.8, D / 2 - 1.5))
    for k, (shape, spot) in enumerate(zip(shapes, spots)):
        if spot is not None:
            props.place(a, shape, f"obj{k}", mat.random_material(rng), spot[0], spot[1], yaw_deg=rng.uniform(0, 360))
    eye = np.array([rng.uniform(-W / 3, W / 3), rng.uniform(1.2, 1.7), D / 2 - rng.uniform(0.3, 0.8)])
    look = np.array([-W / 2 + u0 + door_w / 2 + rng.uniform(-1, 1), rng.uniform(0.6, 1.2), wall_z])
    # Only what passes the gap lights the camera's room: flux through the gap is about the far
    # room's irradiance times the gap area, then it interreflects in the near room.
    a_far = 2 * W * (wall_z + D / 2) + 2 * H * (wall_z + D / 2) + 2 * W * H
    a_near = 2 * W * (D / 2 - wall_z) + 2 * H * (D / 2 - wall_z) + 2 * W * H
    a_total = 2 * (W * D + W * H + D * H)
    gap = door_w * door_h * np.sin(np.radians(angle))
    mean_r = float(np.mean(list(refl.values())))
    ratio = gap * a_total / (a_near * a_far * (1 - mean_r))  # near-room irradiance / estimate
    return refl, (W, H, D), eye, look, rng.uniform(50, 75), 1.0 / ratio


def generate(rng: np.random.Generator):
    """(scene dict, width, height, info) of one light-transport test."""
    width, height = SIZES[rng.integers(len(SIZES))]
    variant = str(rng.choice(VARIANTS, p=np.array(VARIANT_WEIGHTS) / sum(VARIANT_WEIGHTS)))
    a = Assembly()
    s = float(rng.uniform(0.7, 1.4))
    build = {"mis": _mis, "caustics": _caustics, "lamps": _lamps, "neon": _neon, "spots": _spots, "door": _door}[variant]
    refl, (W, H, D), eye, look, fov, gain = build(a, rng, s)
    target = np.exp(rng.uniform(*np.log(TARGET)))
    a.scale_lights(_exposure(a, refl, W, H, D, target) * GAIN[variant] * gain)
    sensor = camera(eye, look, fov, width, height)
    info = {"variant": variant}
    return a.finish(sensor, integrator(int(rng.choice([8, 10, 12])))), width, height, info
