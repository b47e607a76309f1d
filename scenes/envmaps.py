"""Procedural latitude-longitude HDR environment maps (daylight skies, a photo studio, a
stand-in interior HDRI) and the direction / irradiance helpers that go with them.

Maps are (H, 2H, 3) float32 linear radiance in Mitsuba's lat-long layout: row i, column j
look along d = (sin t sin p, cos t, -sin t cos p) with t = pi (i + 0.5) / H,
p = 2 pi (j + 0.5) / W. The direction grid of each height is cached per process.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from scenes.colors import blackbody_tint, luminance, srgb_to_linear
from scenes.fbm import noise


@lru_cache(maxsize=4)
def latlong_directions(height: int) -> tuple[np.ndarray, np.ndarray]:
    """World directions (H, 2H, 3) of lat-long pixel centres and their solid angles (H, 1)."""
    width = 2 * height
    theta = (np.arange(height) + 0.5) / height * np.pi
    phi = (np.arange(width) + 0.5) / width * 2 * np.pi
    t, p = np.meshgrid(theta, phi, indexing="ij")
    d = np.stack([np.sin(t) * np.sin(p), np.cos(t), -np.sin(t) * np.cos(p)], -1)
    omega = (np.sin(theta) * (np.pi / height) * (2 * np.pi / width))[:, None]
    d.setflags(write=False)
    omega.setflags(write=False)
    return d, omega


def direction(elevation_deg: float, azimuth_deg: float) -> np.ndarray:
    """Unit vector at ``elevation`` above the XZ plane, ``azimuth`` from +X towards +Z."""
    e, a = np.radians(elevation_deg), np.radians(azimuth_deg)
    return np.array([np.cos(e) * np.cos(a), np.sin(e), np.cos(e) * np.sin(a)])


def irradiance(env: np.ndarray, normal=(0.0, 1.0, 0.0)) -> np.ndarray:
    """Irradiance (3,) from an environment map onto a surface facing ``normal`` (W/m^2 units
    of the map's radiance), ignoring occlusion."""
    d, omega = latlong_directions(env.shape[0])
    cos = np.clip(d @ np.asarray(normal, dtype=np.float64), 0, None)
    return np.einsum("ijc,ij->c", env, cos * omega)


def _sample_periodic(field: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear lookup of a periodic (S, S) field at continuous texel coordinates."""
    s = field.shape[0]
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = x - x0, y - y0
    x0, y0 = x0 % s, y0 % s
    x1, y1 = (x0 + 1) % s, (y0 + 1) % s
    return ((field[y0, x0] * (1 - fx) + field[y0, x1] * fx) * (1 - fy)
            + (field[y1, x0] * (1 - fx) + field[y1, x1] * fx) * fy)


def add_sun_disk(env: np.ndarray, sun_dir, irradiance_normal: float, radius_deg: float, color) -> None:
    """Paint a sun disk of angular radius ``radius_deg`` whose irradiance at normal incidence
    is ``irradiance_normal`` (per channel times ``color``), in place. Exact in total whatever
    the pixel size, so the light a scene receives does not depend on the map resolution."""
    d, omega = latlong_directions(env.shape[0])
    cos = d @ np.asarray(sun_dir, dtype=np.float64)
    radius = np.radians(max(radius_deg, 180.0 / env.shape[0] * 0.75))
    inside = cos > np.cos(radius)
    if not inside.any():
        inside = cos >= cos.max()
    weight = (omega * np.ones_like(cos))[inside] * cos[inside]
    env[inside] += (np.asarray(color) * irradiance_normal / weight.sum()).astype(np.float32)


def sky(rng: np.random.Generator, sun_dir, kind: str, height: int = 128, sun_disk: bool = False,
        sun_irradiance: float = 0.0, sun_radius_deg: float = 1.5, ground_albedo=(0.2, 0.2, 0.2)) -> np.ndarray:
    """Procedural daylight sky (H, 2H, 3), normalised to horizontal sky irradiance pi (so a
    white horizontal surface under the sky alone has radiance about 1), before the sun disk.

    kind: 'clear', 'hazy', 'sunset', 'overcast' or 'night'. The lower hemisphere is a dim
    ground lit by the sky (and by the sun, ``sun_irradiance`` at normal incidence). With
    ``sun_disk`` the sun is painted into the map (soft shadows, visible sun glints); otherwise
    the caller adds a ``directional`` emitter along ``sun_dir``.
    """
    d, omega = latlong_directions(height)
    sun = np.asarray(sun_dir, dtype=np.float64)
    sun = sun / np.linalg.norm(sun)
    up = np.clip(d[..., 1], 0, 1)
    cos_sun = np.clip(d @ sun, -1, 1)
    angle = np.arccos(cos_sun)
    sun_elev = np.degrees(np.arcsin(np.clip(sun[1], -1, 1)))
    horizon_t = (1 - up) ** rng.uniform(2.5, 5.0)

    if kind == "overcast":
        grey = np.array([0.9, 0.93, 1.0]) * rng.uniform(0.9, 1.05, 3)
        lum = (1 + 2 * up) / 3  # CIE overcast sky luminance distribution
        env = lum[..., None] * grey
        clouds = 0.8 + 0.4 * _sky_clouds(rng, d, scale=0.5)
        env *= clouds[..., None]
    elif kind == "night":
        zenith = np.array([0.01, 0.015, 0.04])
        horizon = np.array([0.04, 0.04, 0.06]) * rng.uniform(0.5, 2.0)
        env = zenith * (1 - horizon_t[..., None]) + horizon * horizon_t[..., None]
    else:
        if kind == "sunset":
            zenith = np.array([0.06, 0.1, 0.3]) * rng.uniform(0.8, 1.2, 3)
            horizon = np.array([1.0, 0.55, 0.25]) * rng.uniform(0.8, 1.2, 3)
            glow_color = np.array([1.0, 0.5, 0.2])
        elif kind == "hazy":
            zenith = np.array([0.3, 0.45, 0.75])
            horizon = np.array([0.85, 0.88, 0.92])
            glow_color = np.array([1.0, 0.9, 0.75])
        else:  # clear
            zenith = np.array([0.12, 0.25, 0.75]) * rng.uniform(0.8, 1.2, 3)
            horizon = np.array([0.65, 0.78, 0.95]) * rng.uniform(0.9, 1.1, 3)
            glow_color = np.array([1.0, 0.92, 0.8])
        env = zenith * (1 - horizon_t[..., None]) + horizon * horizon_t[..., None]
        # aureole around the sun and a broad brightening towards it
        glow = 3.0 * np.exp(-angle / np.radians(rng.uniform(4, 10))) + 0.6 * np.exp(-angle / np.radians(35))
        env = env + glow[..., None] * glow_color * (0.4 if kind == "hazy" else 0.25)
        if rng.random() < 0.6:  # fair-weather clouds, lit from the sun side
            cover = rng.uniform(0.2, 0.7)
            c = _sky_clouds(rng, d, scale=rng.uniform(0.3, 1.2))
            mask = np.clip((c - (1 - cover)) * 4, 0, 1) * np.clip(up * 8, 0, 1)
            cloud_col = np.array([1.0, 1.0, 1.0]) * (0.6 + 0.5 * np.clip(cos_sun, 0, 1))[..., None]
            if kind == "sunset":
                cloud_col = cloud_col * np.array([1.0, 0.6, 0.45])
            env = env * (1 - mask[..., None]) + cloud_col * mask[..., None] * 1.2
    # below the horizon: a dim ground, brightened by a haze band near the horizon
    below = d[..., 1] < 0
    sky_e = float(luminance(irradiance(np.where(below[..., None], 0.0, env).astype(np.float32))))
    scale = np.pi / max(sky_e, 1e-9)
    env = env * scale
    sun_h = sun_irradiance * max(sun[1], 0.0)
    ground = np.asarray(ground_albedo) * (np.pi + sun_h) / np.pi
    haze = np.exp(d[..., 1] * 12)[..., None]  # 1 at the horizon, ~0 straight down
    ground_env = ground * (1 - haze) + env[np.argmin(np.abs(d[:, 0, 1]))][None] * haze
    env = np.where(below[..., None], ground_env, env).astype(np.float32)
    if sun_disk and sun_irradiance > 0 and sun[1] > -0.05:
        color = np.array([1.0, 0.95, 0.88]) if kind != "sunset" else np.array([1.0, 0.65, 0.35])
        add_sun_disk(env, sun, sun_irradiance, sun_radius_deg, color)
    return env


def _sky_clouds(rng: np.random.Generator, d: np.ndarray, scale: float) -> np.ndarray:
    """Cloud density in [0, 1] projected on a plane above the viewer (H, W)."""
    field = noise(rng, 256, cells=4)
    y = np.maximum(d[..., 1], 0.03)
    x = d[..., 0] / y * scale * 40
    z = d[..., 2] / y * scale * 40
    c = _sample_periodic(field, x, z)
    return np.clip((c - 0.5) * 3 + 0.5, 0, 1)


def studio(rng: np.random.Generator, height: int = 128) -> np.ndarray:
    """A photo-studio light map (H, 2H, 3): dark gradient walls, a dim floor and 2-5 soft
    boxes / strip lights of colour temperatures 3000-7500 K. Normalised so that horizontal
    irradiance is pi (radiance about 1 on a white floor)."""
    d, omega = latlong_directions(height)
    base = rng.uniform(0.01, 0.12)
    up = d[..., 1]
    wall = base * (0.6 + 0.4 * np.clip(up, 0, 1)) + 0.3 * base * np.exp(-np.abs(up) * 8)
    tint = blackbody_tint(rng.uniform(4000, 8000))
    env = wall[..., None] * tint
    env = np.where(up[..., None] < 0, env * 0.5, env)
    n_lights = int(rng.integers(2, 6))
    for k in range(n_lights):
        kind = rng.choice(["softbox", "strip", "disk"])
        elev = rng.uniform(5, 80) if kind != "strip" else rng.uniform(0, 40)
        az = rng.uniform(0, 360)
        centre = direction(elev, az)
        # local frame around the light's centre direction
        right = np.cross([0.0, 1.0, 0.0], centre)
        right /= max(np.linalg.norm(right), 1e-9)
        upv = np.cross(centre, right)
        a = np.degrees(np.arctan2(d @ right, d @ centre))
        b = np.degrees(np.arctan2(d @ upv, d @ centre))
        front = (d @ centre) > 0
        if kind == "softbox":
            w, h = rng.uniform(8, 30), rng.uniform(8, 30)
        elif kind == "strip":
            w, h = rng.uniform(3, 8), rng.uniform(25, 60)
        else:
            w = h = rng.uniform(5, 20)
        soft = rng.uniform(0.5, 3.0)
        if kind == "disk":
            shape = np.clip((w / 2 - np.sqrt(a ** 2 + b ** 2)) / soft + 0.5, 0, 1)
        else:
            shape = (np.clip((w / 2 - np.abs(a)) / soft + 0.5, 0, 1) * np.clip((h / 2 - np.abs(b)) / soft + 0.5, 0, 1))
        shape = shape * front
        strength = rng.uniform(3, 30) * (1.0 if k == 0 else rng.uniform(0.2, 1.0))
        color = blackbody_tint(rng.uniform(3000, 7500))
        env = env + (shape * strength)[..., None] * color
    e = float(luminance(irradiance(env.astype(np.float32))))
    return (env * (np.pi / max(e, 1e-9))).astype(np.float32)


def indoor_hdri(rng: np.random.Generator, height: int = 128) -> np.ndarray:
    """A stand-in for a captured interior HDRI (H, 2H, 3): the inside of a box room seen from
    its middle, with bright windows showing sky, lit walls, a floor and ceiling lamps.
    Normalised so that horizontal irradiance is pi."""
    d, _ = latlong_directions(height)
    half = np.array([rng.uniform(2, 5), 1.0, rng.uniform(2, 5)])  # room half-extents (x, ., z)
    eye_h, ceil_h = rng.uniform(0.8, 1.6), rng.uniform(2.5, 3.5)
    # distance to the room boundary along each direction
    with np.errstate(divide="ignore", invalid="ignore"):
        tx = half[0] / np.abs(d[..., 0])
        tz = half[2] / np.abs(d[..., 2])
        ty = np.where(d[..., 1] > 0, (ceil_h - eye_h) / d[..., 1], eye_h / -d[..., 1])
    t = np.minimum(np.minimum(tx, tz), ty)
    p = d * t[..., None]
    wall_x, wall_z = tx <= np.minimum(tz, ty), tz <= np.minimum(tx, ty)
    ceiling, floor = (ty <= np.minimum(tx, tz)) & (d[..., 1] > 0), (ty <= np.minimum(tx, tz)) & (d[..., 1] <= 0)
    wall_col = srgb_to_linear(np.clip([0.85, 0.8, 0.72] * rng.uniform(0.8, 1.1, 3), 0, 1)) * rng.uniform(0.15, 0.4)
    floor_col = srgb_to_linear(np.clip([0.55, 0.4, 0.28] * rng.uniform(0.7, 1.2, 3), 0, 1)) * rng.uniform(0.2, 0.5)
    env = np.zeros(d.shape)
    height_y = p[..., 1] + eye_h
    env[wall_x | wall_z] = wall_col
    env[..., :] *= (0.6 + 0.4 * np.clip(height_y / ceil_h, 0, 1))[..., None]
    env[ceiling] = wall_col * 0.7
    env[floor] = floor_col
    # windows on one or two walls: sky gradient seen through them
    sky_col = np.array([0.6, 0.75, 1.0]) * rng.uniform(4, 15)
    for _ in range(int(rng.integers(1, 4))):
        axis = int(rng.integers(2))
        sign = rng.choice([-1, 1])
        on_wall = (wall_x if axis == 0 else wall_z) & (np.sign(d[..., 0 if axis == 0 else 2]) == sign)
        along = p[..., 2 if axis == 0 else 0]
        c = rng.uniform(-0.6, 0.6) * half[2 if axis == 0 else 0]
        w = rng.uniform(0.5, 1.5)
        y0, y1 = rng.uniform(0.3, 1.0), rng.uniform(1.9, ceil_h - 0.1)
        win = on_wall & (np.abs(along - c) < w) & (height_y > y0) & (height_y < y1)
        grad = np.clip((height_y - y0) / (y1 - y0), 0, 1)[..., None]
        env[win] = (sky_col * (0.6 + 0.4 * grad) + np.array([1.0, 0.95, 0.85]) * 0.5)[win]
    for _ in range(int(rng.integers(0, 4))):  # ceiling lamps
        lx, lz = rng.uniform(-0.8, 0.8) * half[0], rng.uniform(-0.8, 0.8) * half[2]
        lamp = ceiling & ((p[..., 0] - lx) ** 2 + (p[..., 2] - lz) ** 2 < rng.uniform(0.02, 0.1))
        env[lamp] = blackbody_tint(rng.uniform(2700, 4500)) * rng.uniform(20, 80)
    env = env.astype(np.float32)
    e = float(luminance(irradiance(env)))
    return (env * (np.pi / max(e, 1e-9))).astype(np.float32)
