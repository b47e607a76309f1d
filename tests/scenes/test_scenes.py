"""The procedural scene families: naming, splits, specs, determinism, geometry, and that every
family renders to a plausibly exposed image through the real Mitsuba backend (tiny renders)."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import scenes
from scenes import SPLITS, SceneNameError, describe, families, parse_spec, split_of
from scenes import geometry as g

ROOT = Path(__file__).resolve().parents[2]
FAMILIES = [f.name for f in families()]


def equal(a, b) -> bool:
    """Deep equality of scene dicts with numpy leaves."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b)
    return type(a) is type(b) and a == b


def digest(value) -> str:
    """A stable hash of a scene dict (keys, numbers, strings and array bytes)."""
    h = hashlib.sha256()

    def feed(v):
        if isinstance(v, dict):
            for k in v:
                h.update(repr(k).encode())
                feed(v[k])
        elif isinstance(v, (list, tuple)):
            for x in v:
                feed(x)
        elif isinstance(v, np.ndarray):
            h.update(str(v.dtype).encode() + str(v.shape).encode())
            h.update(np.ascontiguousarray(v).tobytes())
        else:
            h.update(repr(v).encode())

    feed(value)
    return h.hexdigest()


# --------------------------------------------------------------------------- registry


def test_families_listed_with_ten_thousand_instances_each():
    info = families()
    assert len(info) >= 4
    assert {"interior", "cornell", "objects", "lights"} <= set(FAMILIES)
    for f in info:
        assert f.name == f.name.lower() and f.description and f.count == 10_000


def test_splits_are_disjoint_and_cover_every_index():
    seen = np.zeros(10_000, dtype=int)
    for indices in SPLITS.values():
        seen[list(indices)] += 1
    assert (seen == 1).all()
    assert split_of("cornell:0") == "train" and split_of("cornell:7999") == "train"
    assert split_of("interior:8000") == "validation" and split_of("lights:9999") == "test"


def test_parse_spec_expands_ranges_lists_and_splits():
    assert parse_spec("cornell:0-2, interior:5,cornell:1") == ["cornell:0", "cornell:1", "cornell:2", "interior:5"]
    assert parse_spec("cornell:*") == [f"cornell:{i}" for i in range(10_000)]
    assert parse_spec("objects:test") == [f"objects:{i}" for i in range(9000, 10_000)]
    val = parse_spec("validation")
    assert len(val) == 1000 * len(FAMILIES)
    assert {name.split(":")[0] for name in val} == set(FAMILIES)
    assert all(split_of(name) == "validation" for name in val[::97])
    assert parse_spec("scenes/box.xml,cornell:3") == ["scenes/box.xml", "cornell:3"]


@pytest.mark.parametrize("spec, words", [
    ("cornell:abc", ["abc"]),
    ("nosuch:1", ["nosuch", "families"]),
    ("cornell:10000", ["10000", "out of range"]),
    ("cornell:5-2", ["5-2"]),
    ("", ["empty"]),
    ("cornell", ["cornell:*"]),
    ("cornell:1,,cornell:2", ["empty item"]),
])
def test_parse_spec_rejects_garbage_with_a_clear_message(spec, words):
    with pytest.raises(SceneNameError) as error:
        parse_spec(spec)
    assert isinstance(error.value, ValueError)
    for word in words:
        assert word in str(error.value)


@pytest.mark.parametrize("name", ["nosuch:1", "cornell:10000", "cornell:-1", "cornell", "cornell:1:2", "interior: x"])
def test_describe_rejects_bad_names(name):
    with pytest.raises(ValueError):
        describe(name)


# --------------------------------------------------------------------------- instances


@pytest.mark.parametrize("family", FAMILIES)
def test_describe_is_deterministic_and_indices_differ(family):
    a, b = describe(f"{family}:12"), describe(f"{family}:12")
    assert a.name == f"{family}:12"
    assert equal(a.scene, b.scene)
    assert not equal(a.scene, describe(f"{family}:13").scene)
    sensor = a.scene["sensor"]
    assert sensor["type"] in ("perspective", "thinlens")
    assert (sensor["film"]["width"], sensor["film"]["height"]) == (a.width, a.height)
    assert a.scene["integrator"]["type"] in ("path", "volpath")
    assert "emitter" in json.dumps(a.scene, default=lambda v: None) or any(
        isinstance(v, dict) and v.get("type") in ("envmap", "directional", "spot") for v in a.scene.values())


def test_instances_are_identical_across_processes():
    """No salted hash or process state leaks in: another interpreter builds the same bytes."""
    names = [f"{f}:{i}" for f in FAMILIES for i in (3, 8123)]
    code = ("import json, sys; sys.path.insert(0, %r); sys.path.insert(0, %r)\n"
            "import scenes, test_scenes\n"
            "print(json.dumps([test_scenes.digest(scenes.describe(n).scene) for n in %r]))"
            % (str(ROOT), str(ROOT / "tests" / "scenes"), names))
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    assert json.loads(out.stdout) == [digest(describe(n).scene) for n in names]


def test_generated_meshes_are_closed_and_face_outwards():
    rng = np.random.default_rng(1)
    for mesh in (g.box((1, 2, 3)), g.cylinder(0.5, 1.0), g.sphere(1.0), g.torus(1.0, 0.3), g.blob(rng),
                 g.superquadric((1, 1, 1), 0.2, 0.5), g.torus_knot(), g.twisted_prism(5, 0.5, 1.0, 90, 0.3),
                 g.lathe(*scenes.props.vessel_profile(rng, 1.0, 0.3, "vase"))):
        assert mesh.signed_volume() > 0
        tri = mesh.vertices[mesh.faces]
        face_n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        assert (np.einsum("ij,ij->i", face_n, mesh.normals[mesh.faces].mean(1)) > 0).mean() > 0.99
    assert np.isclose(g.box((1, 2, 3)).signed_volume(), 6.0)
    assert abs(g.sphere(1.0).signed_volume() - 4 / 3 * np.pi) < 0.05


def test_look_at_matches_mitsuba():
    from renderers.mitsuba3 import mitsuba

    mi = mitsuba()
    ours = g.look_at([1.0, 2.0, 3.0], [0.5, 0.0, -1.0], [0.0, 1.0, 0.0])
    theirs = np.array(mi.ScalarTransform4f().look_at([1.0, 2.0, 3.0], [0.5, 0.0, -1.0], [0.0, 1.0, 0.0]).matrix)
    assert np.allclose(ours, theirs, atol=1e-5)


def test_textures_tile_and_stay_in_range():
    from scenes import colors, envmaps
    from scenes import textures as tx

    rng = np.random.default_rng(0)
    for _ in range(12):
        img, kind = tx.random_albedo_texture(rng, 64)
        assert img.shape == (64, 64, 3) and img.dtype == np.float32, kind
        assert 0.0 <= img.min() and img.max() <= 1.0, kind
    sky = envmaps.sky(rng, envmaps.direction(30, 40), "clear", 32)
    assert sky.shape == (32, 64, 3) and np.isfinite(sky).all()
    upper = np.where(envmaps.latlong_directions(32)[0][..., 1:2] > 0, sky, 0)
    assert np.isclose(colors.luminance(envmaps.irradiance(upper)), np.pi, rtol=0.05)


# --------------------------------------------------------------------------- rendering


@pytest.fixture(scope="module")
def renderer():
    from renderers import get_renderer

    return get_renderer()


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_renders_plausibly(renderer, family):
    from mcdenoise.core.color import tonemap

    frame = renderer.render(f"{family}:7", spp=4, seed=3, width=32, height=32)
    assert frame.color.shape == (32, 32, 3)
    assert np.isfinite(frame.color).all() and frame.color.min() >= 0
    mean = float(tonemap(frame.color).mean())
    assert 0.03 < mean < 0.9, f"{family}:7 tonemapped mean {mean:.3f}: black or blown out"
    assert frame.has_aux and np.isfinite(frame.albedo).all() and np.isfinite(frame.normal).all()
    assert frame.albedo.max() > 0 and np.abs(frame.normal).max() > 0.5


def test_contact_sheet_writes_a_grid_png(renderer, tmp_path):
    from PIL import Image

    from scenes.preview import CAPTION_H, contact_sheet, default_preview_names

    calls = []
    out = tmp_path / "sheet.png"
    contact_sheet(["cornell:1", "objects:2", "lights:3"], out, size=24, spp=2, columns=2, renderer=renderer,
                  progress=lambda i, n: calls.append((i, n)))
    image = np.asarray(Image.open(out).convert("RGB"))
    assert image.shape == (2 * (24 + CAPTION_H), 2 * 24, 3)
    assert calls == [(1, 3), (2, 3), (3, 3)]
    assert image[:24, :24].std() > 1  # a rendered tile, not the empty background
    names = default_preview_names()
    assert len(names) >= 24 and {n.split(":")[0] for n in names} == set(FAMILIES)
    assert parse_spec(",".join(names)) == names
