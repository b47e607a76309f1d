"""The Mitsuba 3 backend: scene files or scene-family instances in, frames out.

Whatever camera and film a scene declares, we render through a replacement sensor with the
same type, pose (or, for a view of a scene file, that pose moved: scenes/views.py) and field
of view, a box-filtered float32 ``hdrfilm`` at the requested size
and an ``independent`` sampler, so that pixel noise is uncorrelated between pixels and
between seeds. The scene's own integrator is kept (its ``max_depth`` can be overridden).
Albedo, normal and depth come from a second, cheap ``aov`` render through the same sensor
(the directional albedo, renderers/albedo.py, from a third).

Loaded scenes and sensors are cached per renderer, so a farm worker that renders many seeds
of one scene pays the (JIT and file) loading cost once.
"""
from __future__ import annotations

import os
import time
from collections import OrderedDict
from typing import Any, Callable

import numpy as np

from mcdenoise.core.frame import Frame
from renderers import albedo as albedos
from renderers.interface import RenderError
from renderers.mitsuba_variant import choose_variant
from scenes.views import View, apply_view, split_view

# One pass renders at most this many samples: Mitsuba refuses wavefronts of 2^32 samples
# (131,072 spp at 256^2), and smaller passes keep memory flat and allow progress reports.
MAX_PASS_SAMPLES = 1 << 26
# Albedo and normals converge fast; more samples only buy anti-aliasing at edges.
MAX_AUX_SPP = 64
AOV_SPEC = "albedo:albedo,nn:sh_normal,dd:depth"

_SENSOR_TYPES = {"PerspectiveCamera": "perspective", "ThinLensCamera": "thinlens"}
_mi = None


def mitsuba(variant: str | None = None):
    """The mitsuba module with a variant set (chosen safely on first use)."""
    global _mi
    if _mi is None or (variant and _mi.variant() != variant):
        variant = choose_variant(variant)
        import mitsuba as mi
        try:
            mi.set_variant(variant)
        except (AttributeError, ImportError, RuntimeError) as error:
            raise RenderError(f"Mitsuba variant {variant!r} is not usable here: {error}") from error
        _mi = mi
    return _mi


def pass_seed(seed: int, index: int) -> int:
    """Seed of pass ``index`` of a render with ``seed``: the seed itself for the first pass,
    a 32-bit hash (splitmix64) for later ones, so passes of one render never share noise."""
    if index == 0:
        return seed & 0xFFFFFFFF
    z = (seed * 0x9E3779B97F4A7C15 + index * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return (z ^ (z >> 31)) & 0xFFFFFFFF


def split_passes(spp: int, pixels: int) -> list[int]:
    """Samples per pixel of each pass so that no pass exceeds MAX_PASS_SAMPLES samples."""
    per_pass = max(1, MAX_PASS_SAMPLES // max(1, pixels))
    full, rest = divmod(spp, per_pass)
    return [per_pass] * full + ([rest] if rest else [])


def to_mitsuba(value: Any, mi) -> Any:
    """Convert a scene description (Mitsuba dict with numpy leaves) into a load_dict dict.

    Numpy conventions used by the scene family: ``{'type': 'bitmap'|'envmap', 'data': (H, W, C)
    float32}`` becomes a texture/emitter on an in-memory ``mi.Bitmap``; ``{'type': 'mesh',
    'vertices': (N, 3), 'faces': (M, 3), 'normals'?: (N, 3), 'uvs'?: (N, 2), 'bsdf'?, 'emitter'?}``
    becomes an ``mi.Mesh``; a (4, 4) array under ``to_world`` becomes a transform.
    """
    if isinstance(value, dict):
        kind = value.get("type")
        if kind == "mesh":
            return _mesh(value, mi)
        out = {key: to_mitsuba(item, mi) for key, item in value.items() if key != "data"}
        if kind in ("bitmap", "envmap") and "data" in value:
            out["bitmap"] = mi.Bitmap(np.ascontiguousarray(value["data"], dtype=np.float32))
        return out
    if isinstance(value, np.ndarray):
        if value.shape == (4, 4):
            return mi.ScalarTransform4f(value.astype(np.float64).tolist())
        return value.astype(np.float64).tolist()
    if isinstance(value, (list, tuple)):
        return [to_mitsuba(item, mi) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _mesh(spec: dict, mi):
    vertices = np.asarray(spec["vertices"], dtype=np.float32)
    faces = np.asarray(spec["faces"], dtype=np.uint32)
    normals, uvs = spec.get("normals"), spec.get("uvs")
    props = mi.Properties()
    for key in ("bsdf", "emitter"):
        if key in spec:
            props[key] = mi.load_dict(to_mitsuba(spec[key], mi))
    mesh = mi.Mesh(spec.get("id", "mesh"), len(vertices), len(faces),
                   has_vertex_normals=normals is not None, has_vertex_texcoords=uvs is not None,
                   props=props)
    params = mi.traverse(mesh)
    params["vertex_positions"] = mi.Float(vertices.ravel())
    params["faces"] = mi.UInt32(faces.ravel())
    if normals is not None:
        params["vertex_normals"] = mi.Float(np.asarray(normals, dtype=np.float32).ravel())
    if uvs is not None:
        params["vertex_texcoords"] = mi.Float(np.asarray(uvs, dtype=np.float32).ravel())
    params.update()
    return mesh


class MitsubaRenderer:
    """Renders frames with Mitsuba 3. ``variant`` None picks one safely (mitsuba_variant)."""

    name = "mitsuba"

    def __init__(self, variant: str | None = None, cache_size: int = 4):
        self.mi = mitsuba(variant)
        self.variant = self.mi.variant()
        self.cache_size = cache_size
        self._scenes: OrderedDict[tuple, tuple] = OrderedDict()
        self._sensors: dict[tuple, Any] = {}
        self._aov = self._directional = None

    # -- loading ---------------------------------------------------------------------------
    def load(self, scene, max_depth: int | None = None) -> tuple[Any, str, tuple[int, int]]:
        """(mi.Scene, scene name, (width, height) the scene declares), cached."""
        if isinstance(scene, str):
            try:
                scene = split_view(scene)[0]  # every view of a file shares the loaded scene
            except ValueError as error:
                raise RenderError(str(error)) from None
        key = (scene if isinstance(scene, str) else scene.name, max_depth)
        if key in self._scenes:
            self._scenes.move_to_end(key)
            return self._scenes[key][:3]
        started = time.perf_counter()
        if isinstance(scene, str) and scene.lower().endswith(".xml"):
            loaded = self._load_file(scene, max_depth), scene
        else:
            loaded = self._load_description(scene, max_depth)
        mi_scene, name = loaded
        if not mi_scene.sensors():
            raise RenderError(f"{name}: the scene has no camera")
        size = mi_scene.sensors()[0].film().size()
        entry = (mi_scene, name, (int(size[0]), int(size[1])), time.perf_counter() - started)
        self._scenes[key] = entry
        if len(self._scenes) > self.cache_size:
            old, _ = self._scenes.popitem(last=False)
            self._sensors = {k: v for k, v in self._sensors.items() if k[0] != old}
        return entry[:3]

    def _load_file(self, path: str, max_depth: int | None):
        if not os.path.isfile(path):
            raise RenderError(f"{path}: no such scene file")
        try:
            if max_depth is None:
                return self.mi.load_file(path)
            try:
                return self.mi.load_file(path, max_depth=max_depth)
            except RuntimeError as error:
                if "unused parameters" not in str(error).lower():
                    raise
            # Rebuilding an arbitrary integrator would silently drop its other settings.
            raise RenderError(f"{path}: the file has no $max_depth parameter to override; "
                              "render it with its own depth (no max_depth)")
        except RenderError:
            raise
        except Exception as error:  # Mitsuba raises RuntimeError/ValueError with parser detail
            raise RenderError(f"{path}: failed to load: {error}") from error

    def _load_description(self, scene, max_depth: int | None):
        if isinstance(scene, str):
            import scenes
            try:
                scene = scenes.describe(scene)
            except ValueError as error:
                raise RenderError(str(error)) from error
        spec = dict(scene.scene)
        if max_depth is not None:
            spec["integrator"] = {**spec.get("integrator", {"type": "path"}), "max_depth": max_depth}
        try:
            return self.mi.load_dict(to_mitsuba(spec, self.mi)), scene.name
        except Exception as error:
            raise RenderError(f"{scene.name}: failed to build the scene: {error}") from error

    def sensor(self, scene_key, mi_scene, width: int, height: int, view: View | None = None):
        """A box-filtered replacement of the scene's first camera at width x height, moved by
        ``view`` (scenes/views.py; pivot at the distance to the scene's centre), cached."""
        key = (scene_key, width, height, view)
        if key not in self._sensors:
            spec = self._sensor_dict(mi_scene.sensors()[0], width, height)
            if view is not None:
                matrix = np.array(spec["to_world"].matrix, dtype=np.float64)
                centre = np.array(mi_scene.bbox().center(), dtype=np.float64).reshape(3)
                distance = float(np.linalg.norm(centre - matrix[:3, 3])) or 1.0
                spec["to_world"] = self.mi.ScalarTransform4f(
                    apply_view(matrix, view, distance).tolist())
            self._sensors[key] = self.mi.load_dict(spec)
        return self._sensors[key]

    def _sensor_dict(self, sensor, width: int, height: int) -> dict:
        kind = _SENSOR_TYPES.get(sensor.class_name())
        if kind is None:
            raise RenderError(f"camera type {sensor.class_name()} is not supported "
                              f"(supported: {', '.join(_SENSOR_TYPES.values())})")
        params = self.mi.traverse(sensor)
        matrix = np.array(params["to_world"].matrix, dtype=np.float64).reshape(4, 4, -1)[..., 0]
        out = {
            "type": kind, "fov_axis": "x", "fov": _scalar(params["x_fov"]),
            "to_world": self.mi.ScalarTransform4f(matrix.tolist()),
            "near_clip": _scalar(params["near_clip"]), "far_clip": _scalar(params["far_clip"]),
            "film": {"type": "hdrfilm", "width": width, "height": height,
                     "rfilter": {"type": "box"}, "pixel_format": "rgba",
                     "component_format": "float32"},
            "sampler": {"type": "independent", "sample_count": 1},
        }
        if kind == "perspective":  # thinlens has no principal point offset
            out["principal_point_offset_x"] = _scalar(params["principal_point_offset_x"])
            out["principal_point_offset_y"] = _scalar(params["principal_point_offset_y"])
        if kind == "thinlens":
            out["aperture_radius"] = _scalar(params["aperture_radius"])
            out["focus_distance"] = _scalar(params["focus_distance"])
        return out

    # -- rendering -------------------------------------------------------------------------
    def render(self, scene, spp: int, seed: int, width: int | None = None,
               height: int | None = None, max_depth: int | None = None, aux: bool = True,
               progress: Callable[[int], None] | None = None,
               albedo: str = albedos.DEFAULT) -> Frame:
        """Render ``scene`` at ``spp`` samples per pixel with ``seed``.

        Returns a Frame: colour (H, W, 3) linear HDR radiance averaged over all passes, alpha,
        and with ``aux`` albedo (H, W, 3; of the kind ``albedo`` names, renderers/albedo.py),
        normal (H, W, 3, world space, [-1, 1]) and depth (H, W, distance along the ray; 0
        where nothing was hit). ``progress(n)`` is called with the samples per pixel finished
        after each pass.
        """
        try:
            albedos.check(albedo)
        except ValueError as error:
            raise RenderError(str(error)) from None
        if spp < 1:
            raise RenderError(f"spp must be >= 1, got {spp}")
        if not 0 <= seed < 2**32:
            raise RenderError(f"seed must be in [0, 2^32), got {seed}")
        mi_scene, name, (scene_w, scene_h) = self.load(scene, max_depth)
        width, height = _resolution(width, height, scene_w, scene_h)
        view = split_view(scene)[1] if isinstance(scene, str) else None
        sensor = self.sensor((name, max_depth), mi_scene, width, height, view)

        started = time.perf_counter()
        total = np.zeros((height, width, 4), dtype=np.float64)
        done = 0
        for index, count in enumerate(split_passes(spp, width * height)):
            image = self._render(mi_scene, sensor, None, pass_seed(seed, index), count, name)
            total += image[..., :4].astype(np.float64) * count
            done += count
            if progress is not None:
                progress(done)
        rgba = (total / spp).astype(np.float32)
        render_s = time.perf_counter() - started

        buffers: dict[str, np.ndarray] = {}
        aux_spp = min(spp, MAX_AUX_SPP)
        aux_s = 0.0
        if aux:
            started = time.perf_counter()
            if self._aov is None:
                self._aov = self.mi.load_dict({"type": "aov", "aovs": AOV_SPEC})
            # A seed of its own: aux noise must not correlate with the colour's.
            aux_seed = pass_seed(seed, 0xA0A)
            image = self._render(mi_scene, sensor, self._aov, aux_seed, aux_spp, name)
            buffers = {"albedo": image[..., 0:3], "normal": image[..., 3:6], "depth": image[..., 6]}
            if albedo == "directional":
                if self._directional is None:
                    self._directional = albedos.directional_albedo_integrator(self.mi)
                # The aov pass's seed: the same camera rays, so edges match the normals'.
                buffers["albedo"] = self._render(mi_scene, sensor, self._directional, aux_seed,
                                                 aux_spp, name)[..., :3]
            aux_s = time.perf_counter() - started

        metadata = {
            "scene": name, "spp": spp, "seed": seed, "width": width, "height": height,
            "max_depth": max_depth, "pixel_filter": "box", "renderer": "mitsuba",
            "renderer_version": self.mi.__version__, "variant": self.variant,
            "aux_spp": aux_spp if aux else 0, **({"albedo": albedo} if aux else {}),
            "timings": {"render_s": round(render_s, 4), "aux_s": round(aux_s, 4)},
        }
        return Frame(color=rgba[..., :3], alpha=rgba[..., 3], metadata=metadata, **buffers)

    def _render(self, mi_scene, sensor, integrator, seed: int, spp: int, name: str) -> np.ndarray:
        try:
            image = self.mi.render(mi_scene, sensor=sensor, integrator=integrator, seed=seed, spp=spp)
            return np.array(image, dtype=np.float32)
        except Exception as error:
            raise RenderError(f"{name}: render failed: {error}") from error


def _scalar(value) -> float:
    return float(np.array(value).ravel()[0])


def _resolution(width, height, scene_w: int, scene_h: int) -> tuple[int, int]:
    """Requested size; one side given keeps the scene's aspect ratio."""
    if width is None and height is None:
        return scene_w, scene_h
    if width is None:
        width = max(1, round(height * scene_w / scene_h))
    if height is None:
        height = max(1, round(width * scene_h / scene_w))
    if width < 1 or height < 1:
        raise RenderError(f"image size must be positive, got {width}x{height}")
    return int(width), int(height)

