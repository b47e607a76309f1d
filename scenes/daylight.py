"""Daylight for architectural scenes: the outdoors seen through the windows (ground,
buildings, trees), a procedural sky with the sun as a directional light or painted into the
map, bright panels outside the windows instead (the blown-out look), and the radiant power
the openings let in, from which rooms.exposure_scale sets the exposure.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scenes import colors
from scenes import envmaps
from scenes import geometry as g
from scenes import materials as mat
from scenes import textures as tx
from scenes.assembly import Assembly, area_power
from scenes.rooms import Room


def outdoors(a: Assembly, rng: np.random.Generator, room: Room) -> float:
    """Ground, and sometimes buildings and trees, around the room; returns the ground albedo
    (luminance) for the sky map's lower hemisphere."""
    kind = rng.choice(["grass", "paving", "sand"])
    if kind == "grass":
        c0, c1 = colors.hsv_to_linear(0.25, 0.6, 0.35), colors.hsv_to_linear(0.18, 0.5, 0.5)
    elif kind == "paving":
        c0, c1 = colors.hsv_to_linear(0.08, 0.05, 0.45), colors.hsv_to_linear(0.08, 0.08, 0.6)
    else:
        c0, c1 = colors.hsv_to_linear(0.1, 0.3, 0.6), colors.hsv_to_linear(0.09, 0.35, 0.75)
    img = tx.mottled(rng, 128, c0, c1, cells=8)
    a.material("ground", mat.diffuse(mat.bitmap(img, repeat=8.0)))
    a.mesh("ground", g.ground(400.0, -0.05))
    # buildings on the horizon (facades with window grids) and trees nearer
    reach = float(np.hypot(room.W, room.D)) / 2 + room.t  # the room's half-diagonal
    for k in range(int(rng.integers(0, 7))):
        ang = rng.uniform(0, 2 * np.pi)
        bw, bh, bd = rng.uniform(8, 30), rng.uniform(6, 35), rng.uniform(8, 20)
        # far enough that the building's box can never cut into the room
        dist = reach + float(np.hypot(bw, bd)) / 2 + rng.uniform(5, 50)
        base = colors.hsv_to_linear(rng.uniform(0.03, 0.12), rng.uniform(0.05, 0.4), rng.uniform(0.4, 0.85))
        fac = tx.tiles(rng, 64, 8, 8, base, base * 0.15, grout_width=0.5, variation=0.05)
        x, z = np.cos(ang) * dist, np.sin(ang) * dist
        name = a.material(f"building{k}", mat.diffuse(mat.bitmap(fac, repeat=3.0 * 8)))
        a.mesh(name, g.box((bw, bh, bd), (x, bh / 2 - 0.05, z)))
    a.material("trunk", mat.diffuse(colors.hsv_to_linear(0.07, 0.5, 0.3)))
    a.material("foliage", mat.diffuse(colors.hsv_to_linear(rng.uniform(0.2, 0.33), 0.6, rng.uniform(0.25, 0.45))))
    for k in range(int(rng.integers(0, 6))):
        ang = rng.uniform(0, 2 * np.pi)
        dist = reach + rng.uniform(3, 20)
        x, z = np.cos(ang) * dist, np.sin(ang) * dist
        h = rng.uniform(3, 9)
        a.mesh("trunk", g.cylinder(0.15, h * 0.6, 8).transformed(g.translate(x, -0.05, z)))
        a.mesh("foliage", g.blob(rng, h * 0.3, 0.3, 6, 24, 13).transformed(g.translate(x, h * 0.7, z)))
    return float(colors.luminance((c0 + c1) / 2))


@dataclass
class Daylight:
    env: dict          # the envmap emitter dict (its 'scale' is the light's strength)
    sun_dir: np.ndarray
    sun_irradiance: float  # normal-incidence irradiance of a directional sun (0: none or in the map)
    sun_emitter: dict | None


def daylight(a: Assembly, rng: np.random.Generator, mood: str, sun_dir: np.ndarray, ground_albedo: float) -> Daylight:
    """Sky map and sun for ``mood`` ('sun', 'overcast', 'dusk', 'night'); sky normalised to
    horizontal irradiance pi before scaling."""
    sun_dir = sun_dir / np.linalg.norm(sun_dir)
    elev = np.degrees(np.arcsin(sun_dir[1]))
    kind = {"overcast": "overcast", "night": "night", "dusk": "sunset"}.get(mood)
    if kind is None:
        kind = "sunset" if elev < 12 and rng.random() < 0.6 else str(rng.choice(["clear", "clear", "hazy"]))
    # sun normal irradiance relative to the sky's horizontal irradiance (pi); real clear skies
    # reach 5-10, but a milder sun keeps the room's indirect light from being all fireflies
    ratio = {"clear": rng.uniform(2.5, 6), "hazy": rng.uniform(1.0, 3), "sunset": rng.uniform(1.5, 4)}.get(kind, 0.0)
    if mood != "sun" or elev < 1:
        ratio = 0.0
    e_sun = ratio * np.pi  # normal irradiance, relative to the sky's horizontal irradiance pi
    in_map = ratio > 0 and rng.random() < 0.4
    env_img = envmaps.sky(rng, sun_dir, kind, 128, sun_disk=in_map, sun_irradiance=e_sun,
                     sun_radius_deg=rng.uniform(1.0, 3.0), ground_albedo=(ground_albedo,) * 3)
    # the ground disk hides the lower hemisphere: black there, so no light sample is wasted on it
    d, _ = envmaps.latlong_directions(env_img.shape[0])
    env_img[d[..., 1] < -0.02] = 0.0
    env = {"type": "envmap", "data": env_img, "scale": 1.0}
    a.light(env, 0.0, key="scale", group="sky")
    a.add("sky", env)
    sun = None
    if ratio > 0 and not in_map:
        color = np.array([1.0, 0.95, 0.88]) if kind != "sunset" else np.array([1.0, 0.65, 0.4])
        sun = {"type": "directional", "direction": [float(-c) for c in sun_dir], "irradiance": mat.rgb(color * e_sun)}
        a.light(sun, 0.0, key="irradiance", group="sky")
        a.add("sun", sun)
    return Daylight(env, sun_dir, e_sun if sun is not None else 0.0, sun)


def window_panels(a: Assembly, rng: np.random.Generator, room: Room) -> None:
    """Bright diffuse panels just outside every opening (the 'blown-out window' look of many
    interior photographs and test scenes): area lights that next-event estimation finds
    easily, unlike a sky seen through a small hole. Power counts what enters the opening."""
    color = colors.blackbody_tint(rng.uniform(5500, 9000))
    for o in room.openings:
        dist = rng.uniform(0.3, 1.2)
        grow = 0.4 + dist * 1.5
        u0, u1, v0, v1 = o.u0 - grow, o.u1 + grow, o.v0 - grow, o.v1 + grow
        m = room.to_world(o.side)
        corners = [g.apply_points(m, np.array([[u, v, -room.t - dist]]))[0] for u, v in ((u0, v0), (u1, v0), (u1, v1), (u0, v1))]
        inside = g.apply_points(m, np.array([[(o.u0 + o.u1) / 2, (o.v0 + o.v1) / 2, 1.0]]))[0]
        mesh = g.quad(*corners, towards=inside)
        em = mat.emitter(color)
        a.light(em, area_power(o.area, float(colors.luminance(color))) * 0.8, group="sky")
        shape = mesh.to_shape(mat.diffuse(0.0), em)
        a.add("window_light", shape)


def window_power(room: Room, light: Daylight) -> float:
    """Radiant power (luminance) entering through all openings for the sky and sun as built:
    each opening collects the map's irradiance on its plane (facing out) and the sun's; frames,
    reveals and blinds cut it down."""
    env = light.env["data"] * light.env["scale"]
    total = 0.0
    for o in room.openings:
        n_out = -g.SIDE_NORMALS[o.side]
        e = float(colors.luminance(envmaps.irradiance(env, n_out)))
        if light.sun_irradiance > 0:
            e += light.sun_irradiance * max(0.0, float(np.dot(light.sun_dir, n_out)))
        factor = 0.75 * (0.35 if o.blinds else 1.0) * (0.85 if o.glass else 1.0)
        total += o.area * e * factor
    return total


def light_through_main_wall(a: Assembly, rng: np.random.Generator, room: Room, main: int,
                            mood: str, spread: float, p_facing: float,
                            sun_elevation: tuple[float, float]) -> float:
    """Sky, sun and ground for a room whose windows are in wall ``main``: the sun's azimuth is
    within ``spread`` degrees of facing that wall with probability ``p_facing`` (else any), its
    elevation in ``sun_elevation`` degrees for a sunny mood. Sets ``a.powers["sky"]``; returns
    the sun's elevation in degrees."""
    n_out = -g.SIDE_NORMALS[main]
    base_az = np.degrees(np.arctan2(n_out[2], n_out[0]))
    az = base_az + rng.uniform(-spread, spread) if rng.random() < p_facing else rng.uniform(0, 360)
    elev = rng.uniform(*sun_elevation) if mood == "sun" else rng.uniform(-4, 6) if mood == "dusk" else rng.uniform(20, 60)
    ground = outdoors(a, rng, room)
    light = daylight(a, rng, "night" if mood == "panel" else mood, envmaps.direction(elev, az), ground)
    a.powers["sky"] = window_power(room, light)
    if mood == "panel":
        window_panels(a, rng, room)
    return float(elev)
