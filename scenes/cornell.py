"""Cornell-style boxes: five (sometimes six) walls of varied colours, a light of varied size,
shape and placement, and one to six objects of mixed shapes and materials on the floor.

Light variants cover the cases denoisers find hard: a big ceiling panel (soft, mostly direct),
a small panel or bulb (hard shadows, bright caustics through glass), lights hidden above a
baffle or behind an object so that nearly all light is indirect, strip lights, several
coloured lights, a wall-mounted panel.

Exposure by construction: with total emitted power P, box area A (the open front counting
as a black wall) and area-mean reflectance r, the mean surface irradiance of a closed
interreflecting box is about P / (A (1 - r)); lights are scaled so that the mean visible
radiance r E / pi hits a random target in [0.15, 0.45] (then corrected per light kind by
LIGHT_GAIN, measured on test renders).
"""
from __future__ import annotations

import numpy as np

from scenes import colors
from scenes import geometry as g
from scenes import materials as mat
from scenes import props
from scenes import textures as tx
from scenes.assembly import Assembly, area_power, camera, integrator, sphere_power

SIZES = ((256, 256), (256, 256), (256, 256), (320, 240), (240, 320))
LIGHT_KINDS = ("panel", "small_panel", "bulb", "baffle", "wall", "multi", "strips", "hidden")
LIGHT_WEIGHTS = (0.26, 0.14, 0.1, 0.12, 0.08, 0.12, 0.08, 0.1)
# How much darker each light kind renders than the interreflection estimate predicts
# (light lost to the open front and to first bounces on dark objects), from test renders.
LIGHT_GAIN = {"panel": 1.0, "small_panel": 1.2, "bulb": 0.9, "baffle": 2.0, "wall": 1.1, "multi": 1.0,
              "strips": 1.0, "hidden": 2.2}


def wall_colors(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(left, right) wall colours: the classic red/green, or another contrasting pair."""
    if rng.random() < 0.25:
        return colors.srgb_to_linear([0.75, 0.2, 0.18]) * rng.uniform(0.8, 1.1), \
            colors.srgb_to_linear([0.25, 0.62, 0.2]) * rng.uniform(0.8, 1.1)
    h = rng.random()
    h2 = (h + rng.uniform(0.25, 0.6)) % 1.0
    s = rng.uniform(0.3, 0.85)
    return colors.hsv_to_linear(h, s, rng.uniform(0.5, 0.85)), \
        colors.hsv_to_linear(h2, min(s * rng.uniform(0.7, 1.2), 0.95), rng.uniform(0.5, 0.85))


def _white(rng: np.random.Generator) -> np.ndarray:
    return colors.hsv_to_linear(rng.uniform(0.05, 0.15), rng.uniform(0.0, 0.15), rng.uniform(0.75, 0.9))


def generate(rng: np.random.Generator):
    """(scene dict, width, height, info) of one Cornell-style box."""
    width, height = SIZES[rng.integers(len(SIZES))]
    W, H, D = rng.uniform(1.6, 2.6), rng.uniform(1.6, 2.4), rng.uniform(1.6, 2.8)
    closed = rng.random() < 0.2
    a = Assembly()

    # --- walls
    left_c, right_c = wall_colors(rng)
    white = _white(rng)
    sides = g.room_sides(W, H, D)
    albedo = {"floor": white, "ceiling": white, "back": white, "left": left_c, "right": right_c, "front": white}
    bsdfs = {k: mat.diffuse(v) for k, v in albedo.items()}
    if rng.random() < 0.3:  # a textured floor
        img, _ = tx.random_albedo_texture(rng, 256)
        floor_bsdf = mat.bitmap(img, repeat=float(rng.uniform(0.4, 1.5)))
        bsdfs["floor"] = mat.diffuse(floor_bsdf) if rng.random() < 0.6 else mat.roughplastic(floor_bsdf, rng.uniform(0.05, 0.3))
        albedo["floor"] = img.reshape(-1, 3).mean(0)
    if rng.random() < 0.15:  # a textured back wall
        img, _ = tx.random_albedo_texture(rng, 256)
        bsdfs["back"] = mat.diffuse(mat.bitmap(img, repeat=float(rng.uniform(0.5, 2.0))))
        albedo["back"] = img.reshape(-1, 3).mean(0)
    if rng.random() < 0.15:  # a glossy or mirror side wall
        side = str(rng.choice(["left", "right", "back"]))
        bsdfs[side] = mat.roughplastic(albedo[side], rng.uniform(0.02, 0.2)) if rng.random() < 0.7 else mat.conductor("Ag")
    used = ["floor", "ceiling", "back", "left", "right"] + (["front"] if closed else [])
    for side in used:
        a.material(f"wall_{side}", bsdfs[side])
        a.mesh(f"wall_{side}", sides[side])

    # --- light
    kind = str(rng.choice(LIGHT_KINDS, p=np.array(LIGHT_WEIGHTS) / sum(LIGHT_WEIGHTS)))
    tint = colors.blackbody_tint(rng.uniform(2800, 7500)) if rng.random() < 0.6 else np.ones(3)
    avoid = _add_light(rng, a, kind, tint, W, H, D)

    # --- objects
    n = int(rng.choice([1, 2, 2, 3, 3, 4, 5, 6]))
    base = min(W, D) * rng.uniform(0.2, 0.38) / max(1.0, np.sqrt(n) * 0.75)
    shapes = [props.random_shape(rng, base * rng.uniform(0.7, 1.4)) for _ in range(n)]
    if rng.random() < 0.3:  # the classic pair of rotated boxes
        shapes[0] = props.random_shape(rng, base * 1.3, ("tallbox",))
    spots = props.scatter(rng, [s.radius for s in shapes], (-W / 2 + 0.05, W / 2 - 0.05),
                          (-D / 2 + 0.05, D / 2 - 0.3), avoid=avoid)
    for k, (shape, spot) in enumerate(zip(shapes, spots)):
        if spot is None:
            continue
        bsdf = mat.diffuse(white) if rng.random() < 0.2 else mat.random_material(rng)
        props.place(a, shape, f"obj{k}", bsdf, spot[0], spot[1], yaw_deg=rng.uniform(0, 360))
        if shape.kind in ("box", "tallbox") and rng.random() < 0.3:  # something on top
            top = props.random_shape(rng, shape.radius * 0.8, ("sphere", "blob", "torus", "vase", "gem"))
            props.place(a, top, f"top{k}", mat.random_material(rng), spot[0], spot[1], y=shape.height)

    # --- exposure
    areas = {"floor": W * D, "ceiling": W * D, "back": W * H, "left": D * H, "right": D * H, "front": W * H}
    refl = {k: float(colors.luminance(albedo[k])) for k in areas}
    total = sum(areas.values())
    mean_r = sum(areas[k] * refl[k] for k in used) / total  # the open front reflects nothing
    wall_r = sum(areas[k] * refl[k] for k in used) / sum(areas[k] for k in used)
    e_unit = a.power / (total * (1 - mean_r))
    target = np.exp(rng.uniform(np.log(0.15), np.log(0.45)))
    a.scale_lights(target / (wall_r * e_unit / np.pi) * LIGHT_GAIN[kind])

    # --- camera
    fov = rng.uniform(32, 50) if not closed else rng.uniform(55, 75)
    look = np.array([rng.uniform(-0.1, 0.1) * W, H * rng.uniform(0.4, 0.55), 0.0])
    if closed:
        eye = np.array([rng.uniform(-0.25, 0.25) * W, H * rng.uniform(0.35, 0.65), D / 2 - 0.05])
    else:
        # frame the front opening, slightly cropped (the outside is black)
        tan_long = np.tan(np.radians(fov) / 2)
        tan_x, tan_y = (tan_long, tan_long * height / width) if width >= height else (tan_long * width / height, tan_long)
        dist = min(W / 2 / tan_x, H / 2 / tan_y) * rng.uniform(0.82, 1.0)
        eye = np.array([rng.uniform(-0.15, 0.15) * W, H * rng.uniform(0.4, 0.6), D / 2 + dist])
    if rng.random() < 0.15:  # a close-up on the objects
        look = np.array([0.0, H * 0.2, 0.0])
        eye = np.array([rng.uniform(-0.3, 0.3) * W, H * rng.uniform(0.3, 0.5), D * 0.45])
        fov = rng.uniform(40, 60)
    aperture = 0.0
    if rng.random() < 0.12:
        aperture = rng.uniform(0.01, 0.04)
    sensor = camera(eye, look, fov, width, height, aperture=aperture)
    info = {"light": kind, "objects": n, "closed": bool(closed)}
    return a.finish(sensor, integrator(int(rng.choice([8, 10, 12])))), width, height, info


def _add_light(rng, a: Assembly, kind: str, tint, W: float, H: float, D: float) -> list[tuple[float, float, float]]:
    """Add the emitters (unit-ish strength, rescaled later); return floor discs to keep clear."""
    housing = mat.diffuse(_white(rng) * 0.9)
    if kind in ("panel", "small_panel"):
        frac = rng.uniform(0.15, 0.55) if kind == "panel" else rng.uniform(0.05, 0.12)
        lw, ld = W * frac * rng.uniform(0.7, 1.3), D * frac * rng.uniform(0.7, 1.3)
        cx, cz = rng.uniform(-0.15, 0.15) * W, rng.uniform(-0.2, 0.1) * D
        _panel_light(a, (cx, H - 0.002, cz), lw, ld, tint, facing=(0, -1, 0))
        if rng.random() < 0.5:  # a shallow housing around the panel
            a.material("housing", housing)
            for dx, dz, sx, sz in ((0, ld / 2, lw + 0.04, 0.02), (0, -ld / 2, lw + 0.04, 0.02),
                                   (lw / 2, 0, 0.02, ld), (-lw / 2, 0, 0.02, ld)):
                a.mesh("housing", g.box((sx, 0.04, sz), (cx + dx, H - 0.02, cz + dz)))
        return []
    if kind == "bulb":
        r = rng.uniform(0.02, 0.1)
        c = np.array([rng.uniform(-0.2, 0.2) * W, H - rng.uniform(0.15, 0.5), rng.uniform(-0.2, 0.2) * D])
        _sphere_light(a, c, r, tint)
        return []
    if kind == "baffle":
        # a panel under the ceiling hides a light that shines up: everything is lit indirectly
        bw, bd = W * rng.uniform(0.3, 0.6), D * rng.uniform(0.3, 0.6)
        y = H - rng.uniform(0.15, 0.35)
        a.material("baffle", mat.diffuse(_white(rng)))
        a.mesh("baffle", g.box((bw, 0.02, bd), (0, y, 0)))
        _panel_light(a, (0, y + 0.012, 0), bw * 0.8, bd * 0.8, tint, facing=(0, 1, 0))
        return []
    if kind == "wall":
        side = float(rng.choice([-1, 1]))
        lw, lh = D * rng.uniform(0.1, 0.35), H * rng.uniform(0.1, 0.3)
        _panel_light(a, (side * (W / 2 - 0.002), H * rng.uniform(0.5, 0.8), rng.uniform(-0.3, 0.1) * D),
                     lw, lh, tint, facing=(-side, 0, 0))
        return []
    if kind == "multi":
        for k in range(int(rng.integers(2, 5))):
            col = colors.blackbody_tint(rng.uniform(2500, 9000)) if rng.random() < 0.7 else \
                colors.hsv_to_linear(rng.random(), rng.uniform(0.3, 0.8), 1.0)
            if rng.random() < 0.5:
                r = rng.uniform(0.03, 0.12)
                _disk_light(a, (rng.uniform(-0.35, 0.35) * W, H - 0.002, rng.uniform(-0.35, 0.3) * D), r,
                            col / col.max() * rng.uniform(0.3, 1.0))
            else:
                _sphere_light(a, np.array([rng.uniform(-0.35, 0.35) * W, H * rng.uniform(0.5, 0.9),
                                           rng.uniform(-0.35, 0.3) * D]), rng.uniform(0.02, 0.06),
                              col / col.max() * rng.uniform(0.3, 1.0))
        return []
    if kind == "strips":
        for side in (-1, 1):
            _panel_light(a, (side * W * rng.uniform(0.3, 0.42), H - 0.002, rng.uniform(-0.1, 0.1) * D),
                         rng.uniform(0.03, 0.08), D * rng.uniform(0.4, 0.8), tint, facing=(0, -1, 0))
        return []
    # hidden: a bulb on the floor behind a screen, lighting the back wall and ceiling
    x = rng.uniform(-0.3, 0.3) * W
    z = -D / 2 + rng.uniform(0.15, 0.3)
    sh = H * rng.uniform(0.25, 0.45)
    a.material("screen", mat.diffuse(colors.random_color(rng)))
    a.mesh("screen", g.box((W * rng.uniform(0.3, 0.5), sh, 0.03), (x, sh / 2, z + 0.12)))
    _sphere_light(a, np.array([x, sh * rng.uniform(0.3, 0.7), z]), rng.uniform(0.03, 0.08), tint)
    return [(x, z + 0.06, 0.25)]


def _panel_light(a: Assembly, centre, size_u: float, size_v: float, color, facing) -> None:
    """A rectangle emitter at ``centre`` facing ``facing``, size_u x size_v metres."""
    facing = np.asarray(facing, float)
    # rectangle faces +Z in its own frame: rotate +Z onto ``facing``
    if facing[1] < -0.5:
        rot = g.rotate([1, 0, 0], 90)
    elif facing[1] > 0.5:
        rot = g.rotate([1, 0, 0], -90)
    else:
        rot = g.rotate([0, 1, 0], 90 if facing[0] > 0 else -90)
    emitter = mat.emitter(color)
    a.light(emitter, area_power(size_u * size_v, float(colors.luminance(color))))
    a.add("light", {"type": "rectangle", "to_world": g.compose(g.scale(size_u / 2, size_v / 2, 1), rot,
                                                               g.translate(centre)),
                    "bsdf": mat.diffuse(0.0), "emitter": emitter})


def _disk_light(a: Assembly, centre, radius: float, color) -> None:
    """A downward-facing disk emitter (a recessed ceiling light)."""
    emitter = mat.emitter(color)
    a.light(emitter, area_power(np.pi * radius ** 2, float(colors.luminance(color))))
    a.add("light", {"type": "disk", "to_world": g.compose(g.scale(radius, radius, 1), g.rotate([1, 0, 0], 90),
                                                          g.translate(centre)),
                    "bsdf": mat.diffuse(0.0), "emitter": emitter})


def _sphere_light(a: Assembly, centre, radius: float, color) -> None:
    emitter = mat.emitter(color)
    a.light(emitter, sphere_power(radius, float(colors.luminance(color))))
    a.add("bulb", {"type": "sphere", "center": [float(c) for c in centre], "radius": float(radius),
                   "emitter": emitter})
