"""Mitsuba 3 BSDF dicts, plain and random: the material vocabulary of the scene families.

Colours are linear RGB reflectances in [0, 1]. Textures are ``bitmap`` dicts carrying a
numpy image (see textures.py); ``repeat`` is the texture's period in UV units, which are
metres on boxes, panels and walls (geometry.py), so a 0.6 m floor tile stays 0.6 m.
Reflectances are kept below about 0.9: real materials absorb, and albedos near 1 make
interiors converge very slowly and look unnatural.
"""
from __future__ import annotations

import numpy as np

from scenes import colors
from scenes import textures as tx
from scenes.geometry import scale as _scale

CONDUCTORS = ("Au", "Ag", "Al", "Cu", "Cr", "W", "Ni_palik", "TiN", "Rh", "Ir", "Mo", "Ta", "V_palik")
# Metals you meet in rooms and on tables, weighted towards them
COMMON_CONDUCTORS = ("Al", "Al", "Ag", "Cr", "Cr", "Au", "Cu", "Ni_palik", "W", "Rh")


def rgb(color) -> dict:
    """Constant colour texture from a linear RGB triple."""
    return {"type": "rgb", "value": [float(c) for c in np.broadcast_to(np.asarray(color, float), (3,))]}


def _tex(value) -> dict:
    """A texture dict from a dict (kept), an (H, W, C) image (bitmap) or a colour (rgb)."""
    if isinstance(value, dict):
        return value
    if isinstance(value, np.ndarray) and value.ndim == 3:
        return bitmap(value)
    return rgb(value)


def bitmap(data: np.ndarray, repeat: float = 1.0, raw: bool = False, filter_type: str = "bilinear") -> dict:
    """Image texture from (H, W, C) float32 ``data`` repeating every ``repeat`` UV units."""
    out = {"type": "bitmap", "data": np.asarray(data, dtype=np.float32), "raw": raw,
           "wrap_mode": "repeat", "filter_type": filter_type}
    if repeat != 1.0:
        out["to_uv"] = _scale(1.0 / repeat, 1.0 / repeat, 1.0)
    return out


# --------------------------------------------------------------------------- plain BSDFs


def diffuse(reflectance) -> dict:
    return {"type": "diffuse", "reflectance": _tex(reflectance)}


def plastic(reflectance, ior: float = 1.5) -> dict:
    """Smooth coated material (varnish, glazed ceramics, polished plastics)."""
    return {"type": "plastic", "diffuse_reflectance": _tex(reflectance), "int_ior": ior}


def roughplastic(reflectance, alpha: float, ior: float = 1.5) -> dict:
    """Rough coated material; alpha is the GGX roughness (0.01 glossy .. 0.5 matte)."""
    return {"type": "roughplastic", "diffuse_reflectance": _tex(reflectance), "alpha": float(alpha),
            "int_ior": ior, "distribution": "ggx"}


def conductor(material: str = "Al", tint=None) -> dict:
    out = {"type": "conductor", "material": material}
    if tint is not None:
        out["specular_reflectance"] = _tex(tint)
    return out


def roughconductor(material: str = "Al", alpha: float = 0.1, alpha_v: float | None = None, tint=None) -> dict:
    """Rough metal; with ``alpha_v`` the roughness is anisotropic (brushed metal)."""
    out = {"type": "roughconductor", "material": material, "distribution": "ggx"}
    if alpha_v is None:
        out["alpha"] = float(alpha)
    else:
        out["alpha_u"], out["alpha_v"] = float(alpha), float(alpha_v)
    if tint is not None:
        out["specular_reflectance"] = _tex(tint)
    return out


def glass(ior: float = 1.5, alpha: float = 0.0, tint=None) -> dict:
    """Smooth (alpha 0) or frosted dielectric; ``tint`` colours the transmission."""
    out = {"type": "dielectric", "int_ior": float(ior)} if alpha <= 0 else \
        {"type": "roughdielectric", "int_ior": float(ior), "alpha": float(alpha), "distribution": "ggx"}
    if tint is not None:
        out["specular_transmittance"] = _tex(tint)
    return out


def thin_glass(ior: float = 1.5) -> dict:
    """A pane with no thickness modelled (windows): refraction cancels out."""
    return {"type": "thindielectric", "int_ior": float(ior)}


def principled(base_color, metallic: float = 0.0, roughness: float = 0.5, specular: float = 0.5,
               anisotropic: float = 0.0, clearcoat: float = 0.0, sheen: float = 0.0,
               spec_trans: float = 0.0) -> dict:
    """Disney-style principled BSDF (the 'material preview' look of modern renderers)."""
    return {"type": "principled", "base_color": _tex(base_color), "metallic": float(metallic),
            "roughness": float(roughness), "specular": float(specular), "anisotropic": float(anisotropic),
            "clearcoat": float(clearcoat), "clearcoat_gloss": 0.9, "sheen": float(sheen),
            "spec_trans": float(spec_trans)}


def twosided(bsdf: dict) -> dict:
    """The same BSDF on both sides (open surfaces: shades, curtains, leaves, paper)."""
    return {"type": "twosided", "bsdf": bsdf}


# BSDFs that bumpmap can wrap without producing NaNs in Mitsuba 3.9 (see random_material).
BUMP_SAFE = ("diffuse", "conductor", "roughconductor", "plastic", "twosided")


def bump(bsdf: dict, height: np.ndarray, repeat: float = 1.0, strength: float = 0.5) -> dict:
    """``bsdf`` with a bump map from a (S, S, 1) height image (raw, non-colour data); keep
    ``bsdf`` to the BUMP_SAFE types."""
    return {"type": "bumpmap", "arbitrary": bitmap(height, repeat, raw=True), "scale": float(strength),
            "bsdf": bsdf}


def masked(bsdf: dict, opacity: np.ndarray, repeat: float = 1.0) -> dict:
    """``bsdf`` cut out where the (S, S, 1) ``opacity`` image is 0 (leaves, grilles, lace)."""
    return {"type": "mask", "opacity": bitmap(opacity, repeat, raw=True, filter_type="nearest"), "bsdf": bsdf}


def blend(bsdf_a: dict, bsdf_b: dict, weight) -> dict:
    """Mix of two BSDFs, ``weight`` (scalar or texture) towards ``bsdf_b``."""
    return {"type": "blendbsdf", "weight": weight if isinstance(weight, dict) else float(weight),
            "bsdf_0": bsdf_a, "bsdf_1": bsdf_b}


def emitter(radiance) -> dict:
    """Area light of constant ``radiance`` (linear RGB, W/(m^2 sr) in scene units)."""
    return {"type": "area", "radiance": rgb(radiance)}


# --------------------------------------------------------------------------- random choices


def paint_color(rng: np.random.Generator) -> np.ndarray:
    """Wall paint: mostly off-whites and light neutrals, sometimes a muted or bold colour."""
    r = rng.random()
    if r < 0.55:
        return colors.hsv_to_linear(rng.uniform(0.05, 0.15), rng.uniform(0.0, 0.12), rng.uniform(0.82, 0.95))
    if r < 0.85:
        return colors.hsv_to_linear(rng.random(), rng.uniform(0.1, 0.35), rng.uniform(0.6, 0.9))
    return colors.hsv_to_linear(rng.random(), rng.uniform(0.3, 0.7), rng.uniform(0.35, 0.75))


def fabric_color(rng: np.random.Generator) -> np.ndarray:
    return colors.hsv_to_linear(rng.random(), rng.uniform(0.05, 0.7), rng.uniform(0.2, 0.85))


def metal(rng: np.random.Generator, rough: float | None = None) -> dict:
    """A random metal: smooth, rough or brushed (anisotropic)."""
    name = str(rng.choice(COMMON_CONDUCTORS if rng.random() < 0.8 else CONDUCTORS))
    r = rng.random() if rough is None else rough
    if r < 0.25:
        return conductor(name)
    alpha = float(np.exp(rng.uniform(np.log(0.02), np.log(0.4))))
    if r < 0.45:
        return roughconductor(name, alpha, alpha * rng.uniform(0.05, 0.3))  # brushed
    return roughconductor(name, alpha)


def textured_reflectance(rng: np.random.Generator, size: int = 256, repeat: float | None = None) -> tuple[dict, str]:
    """A random procedural albedo texture as a bitmap dict, and its kind."""
    img, kind = tx.random_albedo_texture(rng, size)
    return bitmap(img, repeat if repeat is not None else float(rng.choice([0.25, 0.5, 1.0]))), kind


def random_material(rng: np.random.Generator, color=None, allow_glass: bool = True, textures: bool = True,
                    bumps: bool = True, cutouts: bool = True) -> dict:
    """Any material of the vocabulary with random parameters, for objects on display.

    Weights favour the materials denoisers meet most (diffuse, coated, metal), with enough
    glass for caustics and specular chains; a few get bump maps or alpha cut-outs (a cage of
    holes, made two-sided so that the inside shows).
    """
    color = colors.random_color(rng) if color is None else color
    kinds = ["diffuse", "plastic", "roughplastic", "metal", "principled", "glass", "textured"]
    weights = np.array([0.16, 0.1, 0.18, 0.2, 0.14, 0.1 if allow_glass else 0.0, 0.12 if textures else 0.0])
    kind = rng.choice(kinds, p=weights / weights.sum())
    if kind == "diffuse":
        out = diffuse(color)
    elif kind == "plastic":
        out = plastic(color, ior=rng.uniform(1.4, 1.7))
    elif kind == "roughplastic":
        out = roughplastic(color, np.exp(rng.uniform(np.log(0.03), np.log(0.5))))
    elif kind == "metal":
        out = metal(rng)
    elif kind == "principled":
        out = principled(color, metallic=float(rng.choice([0.0, 0.0, 1.0, rng.random()])),
                         roughness=rng.uniform(0.05, 0.8), anisotropic=float(rng.choice([0.0, rng.random()])),
                         clearcoat=float(rng.choice([0.0, rng.random()])), sheen=float(rng.choice([0.0, rng.random()])))
    elif kind == "glass":
        out = random_glass(rng)
    else:
        tex, _ = textured_reflectance(rng, repeat=1.0)
        out = diffuse(tex) if rng.random() < 0.4 else roughplastic(tex, rng.uniform(0.05, 0.4))
    # Mitsuba 3.9's bumpmap over roughplastic or principled returns NaNs on some meshes with
    # vertex normals (seen on box faces): bump only the BSDFs where it stays finite.
    if bumps and out["type"] in BUMP_SAFE and rng.random() < 0.2:
        out = bump(out, tx.height_map(rng), repeat=float(rng.choice([0.25, 0.5, 1.0])),
                   strength=rng.uniform(0.2, 1.0))
    if cutouts and kind != "glass" and rng.random() < 0.06:
        out = masked(twosided(out) if out["type"] != "twosided" else out, tx.cutout(rng), repeat=float(rng.choice([0.25, 0.5])))
    return out


def random_glass(rng: np.random.Generator) -> dict:
    """Clear, tinted or frosted glass, or another dielectric (water, crystal)."""
    ior = float(rng.choice([1.33, 1.5, 1.5, 1.5, 1.6, 1.9]))
    tint = None
    if rng.random() < 0.35:
        tint = colors.hsv_to_linear(rng.random(), rng.uniform(0.2, 0.6), rng.uniform(0.75, 1.0))
    alpha = 0.0 if rng.random() < 0.7 else float(rng.uniform(0.03, 0.3))
    return glass(ior, alpha, tint)
