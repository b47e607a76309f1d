"""Close-ups of finely textured things, for detail preservation: pages of text, graph paper,
woven cloth, brick and tile, perforated sheets, patterned objects and paintings, on a table
in front of a textured wall, under the environment maps of the objects family.

Textures repeat at centimetre scales and the camera stands 0.3-1.5 m away, so many image
pixels hold high-frequency albedo that a denoiser must keep while removing the noise.
"""
from __future__ import annotations

import numpy as np

from scenes import colors
from scenes import geometry as g
from scenes import materials as mat
from scenes import objects
from scenes import props
from scenes import textures as tx
from scenes.assembly import Assembly, camera, integrator

SIZES = ((256, 256), (320, 240), (240, 320), (320, 192))


def _fine_texture(rng: np.random.Generator, size: int = 512) -> np.ndarray:
    """A high-frequency albedo image: text, grids, weaves, bricks, tiles or dots."""
    c0, c1 = colors.random_color(rng), colors.random_color(rng)
    kind = rng.integers(7)
    if kind == 0:
        return tx.text(rng, size, np.clip(c0 * 0.15 + 0.75, 0, 0.9), c1 * 0.1, scale_px=1)
    if kind == 1:
        return tx.grid_lines(size, int(rng.choice([16, 32, 64])), np.clip(c0 * 0.2 + 0.7, 0, 0.9), c1 * 0.4, width=0.08)
    if kind == 2:
        return tx.weave(rng, size, int(rng.choice([32, 64, 128])), c0, c1)
    if kind == 3:
        return tx.tiles(rng, size, int(rng.integers(16, 40)), int(rng.integers(4, 12)), c0, np.full(3, 0.6),
                        grout_width=0.08, offset=0.5, variation=0.3, dirt=0.3)
    if kind == 4:
        return tx.dots(rng, size, int(rng.choice([16, 32, 64])), c0, c1, rng.uniform(0.2, 0.45))
    if kind == 5:
        return tx.checker(size, int(rng.choice([32, 64, 128])), c0, c1)
    return tx.stripes(rng, size, [c0, c1, colors.random_color(rng)], int(rng.integers(20, 80)))


def generate(rng: np.random.Generator):
    """(scene dict, width, height, info) of one close-up of fine detail."""
    width, height = SIZES[rng.integers(len(SIZES))]
    a = Assembly()
    env_img, env_kind = objects._environment(rng)
    env = {"type": "envmap", "data": env_img, "scale": 1.0}
    a.light(env, np.pi, key="scale")
    a.add("env", env)

    # table top and wall behind it, both finely textured
    top_tex = _fine_texture(rng) if rng.random() < 0.6 else tx.wood(rng, 512, *tx.wood_colors(rng), rings=rng.uniform(20, 60))
    top = mat.bitmap(top_tex, rng.uniform(0.15, 0.6))
    a.material("table", mat.diffuse(top) if rng.random() < 0.5 else mat.roughplastic(top, rng.uniform(0.05, 0.4)))
    a.mesh("table", g.box((3.0, 0.04, 2.0), (0, -0.02, 0)))
    if rng.random() < 0.8:
        wall_tex = _fine_texture(rng)
        wall = mat.diffuse(mat.bitmap(wall_tex, rng.uniform(0.2, 0.8)))
        if rng.random() < 0.4:
            wall = mat.bump(wall, tx.height_map(rng, 256, str(rng.choice(["tiles", "fine", "noise"]))), 0.3, 0.4)
        a.material("wall", wall)
        a.mesh("wall", g.panel(3.0, 2.0).transformed(g.translate(-1.5, 0, -rng.uniform(0.4, 0.9))))

    # flat things lying on the table: pages, cloth, boards
    for k in range(int(rng.integers(2, 6))):
        w, d = rng.uniform(0.12, 0.4), rng.uniform(0.12, 0.4)
        x, z = rng.uniform(-0.4, 0.4), rng.uniform(-0.3, 0.3)
        yaw = rng.uniform(0, 360)
        img = _fine_texture(rng)
        bsdf = mat.diffuse(mat.bitmap(img, rng.uniform(0.05, 0.25)))
        if rng.random() < 0.15:  # a perforated metal sheet
            bsdf = mat.masked(mat.twosided(mat.metal(rng)), tx.cutout(rng), rng.uniform(0.03, 0.1))
        name = f"flat{k}"
        place = g.compose(g.rotate([0, 1, 0], yaw), g.translate(x, 0, z))
        if rng.random() < 0.3:  # draped cloth (an open surface: two-sided)
            cloth = g.curtain(w, d, int(rng.integers(2, 6)), 0.02).transformed(
                g.compose(g.rotate([1, 0, 0], -90), g.translate(-w / 2, 0.012 + 0.003 * k, d / 2)))
            a.material(name, mat.twosided(bsdf) if bsdf["type"] != "mask" else bsdf)
            a.mesh(name, cloth.transformed(place))
        else:
            a.material(name, bsdf)
            a.mesh(name, g.box((w, 0.003, d), (0, 0.0015 + 0.003 * k, 0)).transformed(place))

    # standing things: book stacks and patterned objects
    for k in range(int(rng.integers(1, 5))):
        x, z = rng.uniform(-0.45, 0.45), rng.uniform(-0.35, 0.2)
        if rng.random() < 0.4:
            y = 0.0
            for j in range(int(rng.integers(1, 5))):
                bh = rng.uniform(0.015, 0.05)
                img = _fine_texture(rng, 256)
                name = f"book{k}_{j}"
                a.material(name, mat.diffuse(mat.bitmap(img, rng.uniform(0.05, 0.2))))
                a.mesh(name, g.box((rng.uniform(0.12, 0.25), bh, rng.uniform(0.16, 0.3)), (0, y + bh / 2, 0)).transformed(
                    g.compose(g.rotate([0, 1, 0], rng.uniform(-25, 25)), g.translate(x, 0, z))))
                y += bh
        else:
            shape = props.random_shape(rng, rng.uniform(0.06, 0.2), ("sphere", "cylinder", "vase", "bowl", "roundbox", "torus", "blob"))
            img = _fine_texture(rng, 256)
            tex = mat.bitmap(img, float(rng.choice([0.25, 0.5, 1.0])))
            bsdf = mat.diffuse(tex) if rng.random() < 0.5 else mat.roughplastic(tex, rng.uniform(0.02, 0.3))
            props.place(a, shape, f"obj{k}", bsdf, x, z, yaw_deg=rng.uniform(0, 360))

    white = np.exp(rng.uniform(*np.log(objects.WHITE)))
    a.scale_lights(white * np.pi / a.power)

    dist = rng.uniform(0.3, 1.5)
    elev, az = np.radians(rng.uniform(15, 70)), np.radians(rng.uniform(60, 120))
    target = np.array([rng.uniform(-0.15, 0.15), 0.02, rng.uniform(-0.15, 0.1)])
    eye = target + dist * np.array([np.cos(elev) * np.cos(az), np.sin(elev), np.cos(elev) * np.sin(az)])
    sensor = camera(eye, target, rng.uniform(25, 50), width, height)
    info = {"environment": env_kind, "distance": round(float(dist), 2)}
    return a.finish(sensor, integrator(8)), width, height, info
