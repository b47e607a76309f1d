"""Material palettes for architectural scenes: walls, floor, ceiling and trim, and the
furniture roles of furniture.py ('wood', 'fabric', 'metal', 'shade', 'book0'...), drawn
together so that a room's materials go with each other; with each surface's mean reflectance
for the exposure estimate.
"""
from __future__ import annotations

import numpy as np

from scenes import colors
from scenes import materials as mat
from scenes import textures as tx


def palette(rng: np.random.Generator, floor_kind: str | None = None, glossy_floor: float = 0.5) -> tuple[dict, dict]:
    """(role -> BSDF, role -> mean reflectance) for a room: walls, floor, ceiling, trim and
    the furniture roles used by furniture.py."""
    pal, refl = {}, {}
    wall_c = mat.paint_color(rng)
    refl["wall"] = float(colors.luminance(wall_c))
    r = rng.random()
    if r < 0.7:
        pal["wall"] = mat.diffuse(wall_c)
    elif r < 0.85:  # textured plaster / concrete
        img = tx.mottled(rng, 256, wall_c * 0.85, np.minimum(wall_c * 1.1, 0.9), cells=8, contrast=0.5)
        pal["wall"] = mat.bump(mat.diffuse(mat.bitmap(img, 2.0)), tx.height_map(rng, 256, "noise"), 1.0, 0.3)
    else:  # brick or panelling
        base = colors.hsv_to_linear(rng.uniform(0.0, 0.08), rng.uniform(0.3, 0.6), rng.uniform(0.35, 0.6)) \
            if rng.random() < 0.6 else wall_c
        img = tx.tiles(rng, 256, 16, 4, base, np.full(3, 0.5), grout_width=0.05, offset=0.5, variation=0.2, dirt=0.3)
        pal["wall"] = mat.bump(mat.diffuse(mat.bitmap(img, 1.2)), tx.height_map(rng, 256, "tiles"), 1.2 / 4, 0.5)
        refl["wall"] = float(colors.luminance(img.reshape(-1, 3).mean(0)))
    if rng.random() < 0.3:
        acc = mat.paint_color(rng) if rng.random() < 0.5 else None
        if acc is None:
            img, _ = tx.random_albedo_texture(rng, 256)
            pal["accent"] = mat.diffuse(mat.bitmap(img, float(rng.uniform(0.3, 1.0))))
        else:
            pal["accent"] = mat.diffuse(acc)
    # window reveals are narrow: plain paint there (a bump map's scale would not fit)
    pal["reveal"] = mat.diffuse(wall_c)
    ceil_c = colors.hsv_to_linear(0.1, rng.uniform(0, 0.05), rng.uniform(0.85, 0.93))
    pal["ceiling"] = mat.diffuse(ceil_c)
    refl["ceiling"] = float(colors.luminance(ceil_c))

    floor_kind = floor_kind or str(rng.choice(["planks", "planks", "parquet", "tiles", "carpet", "concrete", "stone"]))
    if floor_kind in ("planks", "parquet"):
        light, dark = tx.wood_colors(rng)
        if floor_kind == "planks":
            img = tx.planks(rng, 512, int(rng.integers(6, 12)), light, dark, dark * 0.4)
            rep = rng.uniform(1.2, 2.2)
        else:
            img = tx.tiles(rng, 256, 8, 2, (light + dark) / 2, dark * 0.5, grout_width=0.01, variation=0.25, dirt=0.4)
            rep = rng.uniform(0.8, 1.6)
        tex = mat.bitmap(img, rep)
        alpha = np.exp(rng.uniform(np.log(0.03), np.log(0.4)))
        pal["floor"] = mat.roughplastic(tex, alpha) if rng.random() < glossy_floor + 0.3 else mat.diffuse(tex)
    elif floor_kind == "tiles":
        c = colors.random_color(rng, (0, 0.4), (0.3, 0.9))
        n = int(rng.choice([2, 4, 8]))
        img = tx.tiles(rng, 256, n, n, c, np.full(3, rng.uniform(0.1, 0.6)), grout_width=0.03, variation=0.08)
        if rng.random() < 0.3:
            img = tx.checker(256, n, c, colors.random_color(rng, (0, 0.2), (0.05, 0.9)))
        tex = mat.bitmap(img, rng.uniform(0.6, 2.4))
        pal["floor"] = mat.roughplastic(tex, rng.uniform(0.02, 0.2)) if rng.random() < glossy_floor + 0.3 else mat.plastic(tex)
    elif floor_kind == "carpet":
        c = mat.fabric_color(rng)
        img = tx.mottled(rng, 256, c * 0.8, np.minimum(c * 1.2, 0.9), cells=32, contrast=0.6)
        pal["floor"] = mat.diffuse(mat.bitmap(img, 1.0))
    elif floor_kind == "concrete":
        c = colors.hsv_to_linear(0.08, rng.uniform(0, 0.1), rng.uniform(0.4, 0.75))
        img = tx.mottled(rng, 256, c * 0.8, c * 1.15, cells=4, contrast=0.7)
        pal["floor"] = mat.roughplastic(mat.bitmap(img, 3.0), rng.uniform(0.05, 0.4))
    else:  # stone / marble slabs
        c = colors.random_color(rng, (0, 0.25), (0.5, 0.9))
        img = tx.marble(rng, 256, c, c * 0.3)
        tex = mat.bitmap(img, rng.uniform(0.8, 2.0))
        pal["floor"] = mat.plastic(tex) if rng.random() < glossy_floor else mat.roughplastic(tex, rng.uniform(0.02, 0.15))
    refl["floor"] = float(colors.luminance(img.reshape(-1, 3).mean(0)))

    trim_c = colors.hsv_to_linear(0.1, rng.uniform(0, 0.05), rng.uniform(0.8, 0.92)) if rng.random() < 0.7 else \
        colors.hsv_to_linear(rng.random(), rng.uniform(0, 0.3), rng.uniform(0.1, 0.4))
    pal["trim"] = mat.roughplastic(trim_c, 0.25)
    pal["frame_win"] = pal["trim"] if rng.random() < 0.6 else mat.roughconductor("Al", 0.3) if rng.random() < 0.5 \
        else mat.roughplastic(colors.hsv_to_linear(0, 0, 0.15), 0.3)
    pal["sill"] = pal["trim"] if rng.random() < 0.5 else mat.plastic(tx.marble(rng, 128, np.full(3, 0.8), np.full(3, 0.3)))
    pal["door"] = pal["trim"] if rng.random() < 0.5 else _wood(rng)
    pal["blinds"] = mat.diffuse(colors.hsv_to_linear(0.1, rng.uniform(0, 0.2), rng.uniform(0.6, 0.9)))
    pal["blind_angle"] = float(rng.uniform(-50, 50))
    pal["curtain"] = mat.twosided(mat.diffuse(mat.fabric_color(rng)))

    pal["wood"] = _wood(rng)
    pal["lacquer"] = mat.roughplastic(colors.random_color(rng, (0, 0.6), (0.1, 0.9)) if rng.random() < 0.6
                                      else colors.hsv_to_linear(0.1, 0.02, rng.choice([0.15, 0.9])), rng.uniform(0.05, 0.35))
    fab = mat.fabric_color(rng)
    if rng.random() < 0.3:
        pal["fabric"] = mat.diffuse(mat.bitmap(tx.weave(rng, 128, 32, fab, fab * 0.8), 0.1))
    else:
        pal["fabric"] = mat.diffuse(fab) if rng.random() < 0.8 else mat.principled(fab, roughness=0.7, sheen=1.0)
    pal["fabric2"] = mat.diffuse(mat.fabric_color(rng))
    pal["linen"] = mat.diffuse(colors.hsv_to_linear(rng.random(), rng.uniform(0, 0.15), rng.uniform(0.75, 0.9)))
    pal["metal"] = mat.metal(rng)
    pal["ceramic"] = mat.plastic(colors.random_color(rng, (0, 0.7), (0.2, 0.9)))
    pal["black"] = mat.roughplastic(np.full(3, 0.02), 0.25)
    pal["screen"] = mat.plastic(np.full(3, 0.005))
    pal["shade"] = mat.twosided(mat.diffuse(colors.hsv_to_linear(rng.uniform(0.05, 0.15), rng.uniform(0, 0.4), rng.uniform(0.6, 0.92))))
    pal["leaf"] = mat.diffuse(colors.hsv_to_linear(rng.uniform(0.2, 0.36), rng.uniform(0.4, 0.8), rng.uniform(0.2, 0.5)))
    rug_img, _ = tx.random_albedo_texture(rng, 256)
    pal["rug"] = mat.diffuse(mat.bitmap(rug_img, 1.0))
    pal["frame"] = _wood(rng) if rng.random() < 0.5 else mat.roughplastic(np.full(3, rng.choice([0.02, 0.8])), 0.3) \
        if rng.random() < 0.7 else mat.roughconductor("Au", 0.15)
    pal["mirror"] = mat.conductor("Ag")
    pal["radiator"] = mat.roughplastic(np.full(3, 0.8), 0.3)
    pal["worktop"] = mat.plastic(mat.bitmap(tx.marble(rng, 256, colors.random_color(rng, (0, 0.2), (0.5, 0.9)),
                                                      np.full(3, 0.1)), 1.0)) if rng.random() < 0.6 else _wood(rng)
    for k in range(6):
        c = colors.hsv_to_linear(rng.random(), rng.uniform(0.2, 0.8), rng.uniform(0.15, 0.85))
        pal[f"book{k}"] = mat.diffuse(c) if rng.random() < 0.6 else mat.roughplastic(c, 0.2)
    return pal, refl


def _wood(rng: np.random.Generator) -> dict:
    light, dark = tx.wood_colors(rng)
    img = tx.wood(rng, 256, light, dark, rings=rng.uniform(6, 20))
    return mat.roughplastic(mat.bitmap(img, rng.uniform(0.5, 1.2)), rng.uniform(0.05, 0.4))
