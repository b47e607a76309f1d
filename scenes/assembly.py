"""Putting a scene dict together: shapes grouped by material, lights, camera, integrator.

Generated meshes that share a material are merged into one mesh (fewer shapes load faster
and a texture is converted once), primitives and emitters are kept as they are. Every
emitter is registered with the radiant power it adds to the scene, so a family can set its
exposure by construction: estimate the mean radiance of the surfaces from the total power,
then scale all lights at once (no test render needed).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from scenes.geometry import MeshData, concat, look_at

# Some instances get a thin-lens camera (depth of field); off, every camera is a pinhole.
DEPTH_OF_FIELD = True


@dataclass
class Assembly:
    """A scene under construction. ``shapes`` holds finished entries; ``groups`` holds meshes
    to merge per material name; ``lights`` holds (emitter dict, key holding its strength)."""

    shapes: dict = field(default_factory=dict)
    materials: dict = field(default_factory=dict)
    groups: dict = field(default_factory=dict)
    lights: list = field(default_factory=list)
    powers: dict = field(default_factory=dict)  # group -> radiant power (luminance, scene units)

    def material(self, name: str, bsdf: dict) -> str:
        """Register ``bsdf`` under ``name`` (first definition wins) and return the name."""
        self.materials.setdefault(name, bsdf)
        return name

    def mesh(self, material: str, mesh: MeshData) -> None:
        """Add ``mesh`` to the merged mesh of ``material`` (registered with :meth:`material`)."""
        self.groups.setdefault(material, []).append(mesh)

    def add(self, prefix: str, shape: dict) -> str:
        """Add a finished shape (or emitter) entry under a unique key and return the key."""
        key = f"{prefix}_{len(self.shapes)}"
        if shape.get("type") == "mesh":
            shape = {**shape, "id": key}
        self.shapes[key] = shape
        return key

    def light(self, emitter: dict, power: float, key: str = "radiance", group: str = "main") -> dict:
        """Register an emitter dict whose ``key`` entry (rgb dict or number) sets its strength,
        with its radiant power (W, luminance) in ``group``, for :meth:`scale_lights`."""
        self.lights.append((emitter, key, group))
        self.powers[group] = self.powers.get(group, 0.0) + float(power)
        return emitter

    @property
    def power(self) -> float:
        """Total radiant power of all registered lights."""
        return float(sum(self.powers.values()))

    def scale_lights(self, factor: float, group: str | None = None) -> None:
        """Multiply the strength of every registered light (of ``group``) by ``factor``."""
        for emitter, key, g in self.lights:
            if group is not None and g != group:
                continue
            value = emitter[key]
            if isinstance(value, dict):
                value["value"] = [float(v) * factor for v in value["value"]]
            else:
                emitter[key] = float(value) * factor
        for g in self.powers:
            if group is None or g == group:
                self.powers[g] *= factor

    def finish(self, sensor: dict, integrator: dict) -> dict:
        """The Mitsuba scene dict: merged meshes, other shapes, sensor and integrator."""
        scene = {"type": "scene", "integrator": integrator, "sensor": sensor}
        for name, meshes in self.groups.items():
            merged = concat(meshes) if len(meshes) > 1 else meshes[0]
            scene[f"mesh_{name}"] = merged.to_shape(self.materials[name], id=f"mesh_{name}")
        scene.update(self.shapes)
        return scene


def camera(origin, target, fov: float, width: int, height: int, up=(0.0, 1.0, 0.0),
           aperture: float = 0.0, focus_distance: float | None = None) -> dict:
    """Perspective camera (thin lens when ``aperture`` > 0, radius in metres) with ``fov``
    degrees across the longer image side, and an hdrfilm of width x height pixels."""
    if height > width:  # Mitsuba's fov is along x: convert from the longer (vertical) side
        fov = float(np.degrees(2 * np.arctan(np.tan(np.radians(fov) / 2) * width / height)))
    origin, target = np.asarray(origin, float), np.asarray(target, float)
    sensor = {
        "type": "perspective", "fov": float(fov), "fov_axis": "x",
        "to_world": look_at(origin, target, up),
        "near_clip": 0.01, "far_clip": 1000.0,
        "film": {"type": "hdrfilm", "width": int(width), "height": int(height),
                 "rfilter": {"type": "box"}, "pixel_format": "rgb"},
        "sampler": {"type": "independent", "sample_count": 16},
    }
    if aperture > 0 and DEPTH_OF_FIELD:
        sensor["type"] = "thinlens"
        sensor["aperture_radius"] = float(aperture)
        sensor["focus_distance"] = float(focus_distance if focus_distance is not None
                                         else np.linalg.norm(target - origin))
    return sensor


def integrator(max_depth: int = 10, kind: str = "path") -> dict:
    """Path tracer (or volpath) with Russian roulette from depth 5 (Mitsuba's default)."""
    return {"type": kind, "max_depth": int(max_depth), "rr_depth": 5}


def sphere_power(radius: float, radiance: float) -> float:
    """Radiant power (W) of a uniformly emitting sphere of ``radius`` and ``radiance``."""
    return 4 * np.pi ** 2 * radius ** 2 * radiance


def area_power(area: float, radiance: float) -> float:
    """Radiant power (W) of a one-sided Lambertian emitter of ``area`` and ``radiance``."""
    return np.pi * area * radiance
