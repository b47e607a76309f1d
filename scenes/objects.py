"""Material-preview compositions: a hero object (shader ball, sphere, torus, knot, blob,
vase...) and a few companions on a ground, a backdrop or a table, under an environment
map: a procedural daylight sky, a photo studio (soft boxes and strip lights on a dark
surround) or a stand-in for a captured interior HDRI; sometimes with an extra key light.

Exposure by construction: every map is normalised to horizontal irradiance pi; the map and
the key light are scaled so that a white diffuse surface under them would have a radiance of
``WHITE`` (log-uniform), which puts typical albedos at tonemapped 0.35-0.6.
"""
from __future__ import annotations

import numpy as np

from scenes import colors
from scenes import envmaps
from scenes import fbm
from scenes import geometry as g
from scenes import materials as mat
from scenes import props
from scenes import textures as tx
from scenes.assembly import Assembly, camera, integrator

SIZES = ((256, 256), (256, 256), (320, 240), (240, 320), (320, 192))
ENVS = ("sky", "studio", "room")
WHITE = (0.5, 1.3)  # radiance of a white horizontal diffuse surface, log-uniform range


def _environment(rng: np.random.Generator) -> tuple[np.ndarray, str]:
    kind = str(rng.choice(ENVS, p=[0.35, 0.35, 0.3]))
    if kind == "sky":
        elev, az = rng.uniform(5, 70), rng.uniform(0, 360)
        sky_kind = str(rng.choice(["clear", "clear", "hazy", "sunset" if elev < 20 else "clear", "overcast"]))
        ratio = {"clear": rng.uniform(3, 8), "hazy": rng.uniform(1, 3), "sunset": rng.uniform(1.5, 4)}.get(sky_kind, 0.0)
        env = envmaps.sky(rng, envmaps.direction(elev, az), sky_kind, 128, sun_disk=ratio > 0,
                          sun_irradiance=ratio * np.pi, sun_radius_deg=rng.uniform(0.8, 2.5),
                          ground_albedo=(0.25, 0.25, 0.25))
        # keep the map's normalisation (horizontal irradiance pi) with the sun included
        env *= np.pi / float(colors.luminance(envmaps.irradiance(env)))
    elif kind == "studio":
        env = envmaps.studio(rng, 128)
    else:
        env = envmaps.indoor_hdri(rng, 128)
    if rng.random() < 0.5:  # turn the map: the same lights from another side
        env = np.roll(env, int(rng.integers(env.shape[1])), axis=1)
    return env.astype(np.float32), kind


def _ground(a: Assembly, rng: np.random.Generator, size: float) -> tuple[str, float]:
    """A floor under the objects: textured plane, photo backdrop (cyclorama) or a tabletop.
    Returns (kind, height of the surface the objects stand on)."""
    kind = str(rng.choice(["plane", "terrain", "cyclorama", "table", "none"], p=[0.35, 0.15, 0.25, 0.2, 0.05]))
    if kind == "none":
        return kind, 0.0
    if kind == "terrain":
        # rolling ground (dunes, a meadow, rock), flat where the objects stand
        n = 96
        field = fbm.noise(rng, n, octaves=4, cells=2) - 0.5
        half = size * 20
        x = np.linspace(-half, half, n)
        r = np.hypot(*np.meshgrid(x, x))
        ramp = np.clip((r - 3 * size) / (6 * size), 0, 1) ** 2
        heights = field * size * rng.uniform(3, 12) * ramp
        c0, c1 = [(colors.hsv_to_linear(0.1, 0.35, 0.75), colors.hsv_to_linear(0.09, 0.4, 0.6)),
                  (colors.hsv_to_linear(0.25, 0.6, 0.35), colors.hsv_to_linear(0.18, 0.5, 0.5)),
                  (colors.hsv_to_linear(0.08, 0.1, 0.5), colors.hsv_to_linear(0.08, 0.15, 0.3))][rng.integers(3)]
        img = tx.mottled(rng, 256, c0, c1, cells=16)
        a.material("ground", mat.diffuse(mat.bitmap(img, size * rng.uniform(1, 4))))
        a.mesh("ground", g.heightfield(heights, 2 * half, 2 * half))
        return kind, 0.0
    if kind == "cyclorama":
        # a floor sweeping up into a back wall: no horizon, the studio look
        c = colors.random_color(rng, (0, 0.3), (0.3, 0.9)) if rng.random() < 0.7 else np.full(3, rng.uniform(0.02, 0.7))
        r = size * rng.uniform(1.5, 3.0)
        t = np.linspace(0, 1, 16)
        prof_z = np.concatenate([np.linspace(size * 8, 0, 8)[:-1], -r * np.sin(t * np.pi / 2)])
        prof_y = np.concatenate([np.zeros(7), r * (1 - np.cos(t * np.pi / 2))])
        prof_z = np.concatenate([prof_z, [-r, -r]])
        prof_y = np.concatenate([prof_y, [r + size * 5, r + size * 10]])
        xs = np.linspace(-size * 10, size * 10, 2)
        gx, gi = np.meshgrid(xs, np.arange(len(prof_z)))
        pts = np.stack([gx, prof_y[gi], prof_z[gi]], -1)
        mesh = g.grid_surface(pts)
        if mesh.normals[:, 1].mean() < 0:
            mesh = mesh.flipped()
        a.material("ground", mat.diffuse(c) if rng.random() < 0.7 else mat.roughplastic(c, rng.uniform(0.1, 0.4)))
        a.mesh("ground", mesh.transformed(g.translate(0, 0, -size * 1.5)))
        return kind, 0.0
    img, _ = tx.random_albedo_texture(rng, 256)
    if rng.random() < 0.3:
        img = tx.checker(256, 8, np.full(3, rng.uniform(0.3, 0.8)), np.full(3, rng.uniform(0.02, 0.2)))
    if kind == "table":
        light, dark = tx.wood_colors(rng)
        img = tx.wood(rng, 256, light, dark, rings=rng.uniform(8, 20)) if rng.random() < 0.6 else img
        w, d = size * rng.uniform(4, 8), size * rng.uniform(3, 6)
        top = size * rng.uniform(0.0, 0.2)
        tex = mat.bitmap(img, size * rng.uniform(1, 3))
        a.material("table", mat.roughplastic(tex, rng.uniform(0.03, 0.3)) if rng.random() < 0.7 else mat.diffuse(tex))
        a.mesh("table", g.box((w, 0.05 * size, d), (0, top - 0.025 * size, 0)))
        for sx in (-1, 1):
            for sz in (-1, 1):
                a.mesh("table", g.box((0.08 * size, size * 3, 0.08 * size), (sx * (w / 2 - 0.1 * size), top - 1.55 * size, sz * (d / 2 - 0.1 * size))))
        # a floor far below so that the table casts a shadow somewhere
        a.material("floor", mat.diffuse(colors.random_color(rng, (0, 0.3), (0.2, 0.7))))
        a.mesh("floor", g.ground(size * 40, top - size * 3))
        return kind, top
    tex = mat.bitmap(img, size * rng.uniform(0.5, 3))
    bsdf = mat.diffuse(tex) if rng.random() < 0.6 else mat.roughplastic(tex, rng.uniform(0.02, 0.4))
    a.material("ground", bsdf)
    a.mesh("ground", g.ground(size * 30))
    return kind, 0.0


def _hero(a: Assembly, rng: np.random.Generator, size: float, y: float) -> float:
    """The object on show at the origin; returns its height."""
    kind = str(rng.choice(["shaderball", "sphere", "torus", "knot", "blob", "superquadric", "vase", "roundbox", "prism",
                           "ring_stack"]))
    material = mat.random_material(rng)
    if kind == "shaderball":
        # a ball on a pedestal, with its own material for the pedestal and an inset core
        base = mat.diffuse(np.full(3, rng.uniform(0.05, 0.5))) if rng.random() < 0.5 else mat.random_material(rng)
        a.material("hero_base", base)
        a.mesh("hero_base", g.cone_frustum(size * 0.35, size * 0.3, size * 0.15, 48).transformed(g.translate(0, y, 0)))
        a.add("hero", {"type": "sphere", "center": [0.0, float(y + size * 0.65), 0.0], "radius": float(size * 0.5), "bsdf": material})
        if rng.random() < 0.5:  # a torus belt around the ball
            a.material("hero_belt", mat.random_material(rng, allow_glass=False))
            a.mesh("hero_belt", g.torus(size * 0.5, size * 0.05).transformed(
                g.compose(g.rotate([1, 0, 0], rng.uniform(0, 60)), g.translate(0, y + size * 0.65, 0))))
        return size * 1.15
    if kind == "sphere":
        a.add("hero", {"type": "sphere", "center": [0.0, float(y + size / 2), 0.0], "radius": float(size / 2), "bsdf": material})
        return size
    if kind == "ring_stack":
        h = 0.0
        for k in range(int(rng.integers(2, 5))):
            r = size * (0.5 - 0.1 * k)
            m = g.torus(r, r * 0.3).transformed(g.translate(0, y + h + r * 0.3, 0))
            a.material(f"hero{k}", mat.random_material(rng))
            a.mesh(f"hero{k}", m)
            h += r * 0.6
        return h
    prop = props.random_shape(rng, size, (kind,))
    props.place(a, prop, "hero", material, 0.0, 0.0, y=y, yaw_deg=rng.uniform(0, 360))
    return prop.height


def generate(rng: np.random.Generator):
    """(scene dict, width, height, info) of one material-preview composition."""
    width, height = SIZES[rng.integers(len(SIZES))]
    size = float(np.exp(rng.uniform(np.log(0.3), np.log(2.0))))  # hero size, metres
    a = Assembly()
    env_img, env_kind = _environment(rng)
    env = {"type": "envmap", "data": env_img, "scale": 1.0}
    a.light(env, np.pi, key="scale")
    a.add("env", env)
    ground, y0 = _ground(a, rng, size)
    hero_h = _hero(a, rng, size, y0)

    n = int(rng.choice([0, 1, 2, 3, 4, 6]))
    shapes = [props.random_shape(rng, size * rng.uniform(0.2, 0.6)) for _ in range(n)]
    spots = props.scatter(rng, [s.radius for s in shapes], (-size * 2, size * 2), (-size * 1.2, size * 2),
                          avoid=[(0.0, 0.0, size * 0.6)])
    for k, (shape, spot) in enumerate(zip(shapes, spots)):
        if spot is not None:
            props.place(a, shape, f"obj{k}", mat.random_material(rng), spot[0], spot[1], y=y0, yaw_deg=rng.uniform(0, 360))

    # (the cyclorama's backdrop is at -z: look towards it from +z)
    cam_az = rng.uniform(0, 2 * np.pi) if ground != "cyclorama" else rng.uniform(np.pi * 0.3, np.pi * 0.7)
    # an extra key light (a soft box) for some, off to a side so that it never hides the view
    key = rng.random() < 0.3
    if key:
        elev = np.radians(rng.uniform(25, 65))
        az = cam_az + rng.choice([-1, 1]) * np.radians(rng.uniform(45, 150))
        dist = size * rng.uniform(2.5, 5)
        pos = np.array([np.cos(elev) * np.cos(az), np.sin(elev), np.cos(elev) * np.sin(az)]) * dist + [0, y0, 0]
        w = size * rng.uniform(0.5, 2.0)
        color = colors.blackbody_tint(rng.uniform(3500, 7000))
        # irradiance at the object ~ L * area * cos / d^2: make it 0.5-3x the map's pi
        share = rng.uniform(0.5, 3.0)
        radiance = share * np.pi / (w * w * np.sin(elev) / dist ** 2)
        em = mat.emitter(color * radiance / float(colors.luminance(color)))
        a.light(em, share * np.pi)
        a.add("key", {"type": "rectangle", "to_world": g.compose(g.scale(w / 2), g.look_at(pos, [0, y0, 0], [0, 1, 0])),
                      "bsdf": mat.diffuse(0.0), "emitter": em})
    # every light was registered with its horizontal irradiance: scale to the target
    white = np.exp(rng.uniform(*np.log(WHITE)))
    if env_kind == "room":
        white *= 0.7  # interiors maps are mostly surround: keep them a little darker
    a.scale_lights(white * np.pi / a.power)

    # camera orbiting the hero, a little above it
    elev = np.radians(rng.uniform(3, 40))
    az = cam_az
    fov = rng.uniform(25, 50)
    frame = max(hero_h, size) * rng.uniform(1.4, 3.5) if n else max(hero_h, size) * rng.uniform(1.3, 2.2)
    dist = frame / 2 / np.tan(np.radians(fov) / 2)
    target = np.array([0.0, y0 + hero_h * rng.uniform(0.35, 0.55), 0.0])
    eye = target + dist * np.array([np.cos(elev) * np.cos(az), np.sin(elev), np.cos(elev) * np.sin(az)])
    aperture = dist * rng.uniform(0.005, 0.03) if rng.random() < 0.15 else 0.0
    sensor = camera(eye, target, fov, width, height, aperture=aperture, focus_distance=float(np.linalg.norm(eye - target)))
    info = {"environment": env_kind, "ground": ground, "objects": n + 1, "key_light": bool(key)}
    return a.finish(sensor, integrator(int(rng.choice([8, 10, 12])))), width, height, info
