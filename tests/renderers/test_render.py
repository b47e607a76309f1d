"""The Mitsuba backend: real renders of real scene files, box filter, seeds, aux buffers."""
from __future__ import annotations

import subprocess
import sys
import types

import numpy as np
import pytest

from conftest import REPO, STAIRCASE, shared_path
from renderers import RenderError, get_renderer
from renderers import mitsuba3, mitsuba_variant


@pytest.fixture(scope="module")
def renderer():
    return get_renderer()


def neighbour_correlation(noise: np.ndarray) -> float:
    """Rank (Spearman) correlation of horizontally adjacent pixels of a (H, W) noise image;
    ranks, because Monte Carlo noise is heavy-tailed and a few fireflies swamp Pearson's."""
    left, right = noise[:, :-1].ravel(), noise[:, 1:].ravel()
    rank = lambda x: np.argsort(np.argsort(x))  # noqa: E731
    return float(np.corrcoef(rank(left), rank(right))[0, 1])


def test_scene_file_with_mesh_and_texture_renders_radiometrically(renderer, scene_file, tmp_path,
                                                                  monkeypatch):
    # Relative mesh/texture paths must resolve against the file, not the working directory
    # (monkeypatch restores it: later tests must not run elsewhere).
    monkeypatch.chdir(tmp_path)
    frame = renderer.render(str(scene_file), spp=16, seed=1)
    assert (frame.width, frame.height) == (48, 32)  # the scene's own film size
    assert np.isfinite(frame.color).all()
    centre = (16, 24)
    # A 0.5-albedo diffuse sphere facing a white sky of radiance 1 reflects about 0.5.
    assert frame.albedo[centre] == pytest.approx([0.5, 0.5, 0.5], abs=0.01)
    assert frame.color[centre] == pytest.approx([0.5, 0.5, 0.5], abs=0.08)
    assert frame.normal[centre] == pytest.approx([0, 0, 1], abs=0.1)
    assert frame.alpha[centre] == pytest.approx(1.0)
    assert frame.depth[centre] == pytest.approx(2.5, abs=0.05)  # camera at z=4, sphere front z=1.5
    # The checker texture shows as two albedo levels on the wall (corner pixels).
    wall = frame.albedo[:4, :, 0]
    assert wall.max() - wall.min() > 0.3
    assert frame.metadata["pixel_filter"] == "box" and frame.metadata["seed"] == 1


@pytest.mark.parametrize("bsdf, low, high", [
    ('<bsdf type="diffuse"><rgb name="reflectance" value="0.5"/></bsdf>', [0.5] * 3, [0.5] * 3),
    # Gold: its Fresnel colour, more red than blue; Mitsuba's AOV says black.
    ('<bsdf type="conductor"><string name="material" value="Au"/></bsdf>', [0.8, 0.5, 0.2],
     [1.0, 0.9, 0.5]),
    # Glass: reflection plus transmission (the latter scaled by 1/eta^2 for radiance).
    ('<bsdf type="dielectric"/>', [0.4] * 3, [1.0] * 3)], ids=["diffuse", "gold", "glass"])
def test_directional_albedo_is_what_the_first_surface_reflects(renderer, scene_file, tmp_path,
                                                               bsdf, low, high):
    grey = '<bsdf type="diffuse"><rgb name="reflectance" value="0.5"/></bsdf>'
    text = scene_file.read_text()
    assert text.count(grey) == 1
    path = scene_file.parent / f"sphere-{tmp_path.name}.xml"  # beside its mesh and texture
    path.write_text(text.replace(grey, bsdf))
    try:
        directional = renderer.render(str(path), spp=64, seed=3, albedo="directional")
        diffuse = renderer.render(str(path), spp=64, seed=3, albedo="diffuse")
    finally:
        path.unlink()
    assert directional.metadata["albedo"] == "directional"
    assert diffuse.metadata["albedo"] == "diffuse"
    centre = directional.albedo[12:20, 20:28].reshape(-1, 3).mean(axis=0)
    assert (centre >= np.array(low) - 0.02).all() and (centre <= np.array(high) + 0.02).all(), centre
    if "diffuse" not in bsdf:
        assert diffuse.albedo[12:20, 20:28].max() < 0.05  # what the AOV makes of it
    # The diffuse checker wall: the same albedo either way, noise-free (one lobe, weight = rho).
    assert np.allclose(directional.albedo[:4], diffuse.albedo[:4], atol=1e-3)
    assert np.array_equal(directional.color, diffuse.color)  # only the aux pass differs
    with pytest.raises(RenderError, match="albedo must be one of"):
        renderer.render(str(scene_file), spp=1, seed=3, albedo="specular")


def test_directional_albedo_looks_through_the_holes_of_a_cut_out(renderer, scene_file):
    """A fully transparent mask over the sphere: the albedo there is the wall's behind it."""
    grey = '<bsdf type="diffuse"><rgb name="reflectance" value="0.5"/></bsdf>'
    hole = ('<bsdf type="mask"><float name="opacity" value="0"/>'
            '<bsdf type="diffuse"><rgb name="reflectance" value="0.9"/></bsdf></bsdf>')
    text = scene_file.read_text()
    frames = {}
    for name, scene in (("hole", text.replace(grey, hole)),
                        ("wall", text[:text.index('<shape type="sphere">')]
                         + text[text.index("</shape>", text.index('<shape type="sphere">')) + 8:])):
        path = scene_file.parent / f"{name}.xml"
        path.write_text(scene)
        try:
            frames[name] = renderer.render(str(path), spp=16, seed=3, albedo="directional")
        finally:
            path.unlink()
    assert np.allclose(frames["hole"].albedo, frames["wall"].albedo, atol=1e-3)


def test_same_seed_identical_other_seed_independent(renderer, scene_file):
    a = renderer.render(str(scene_file), spp=4, seed=7, width=32)
    b = renderer.render(str(scene_file), spp=4, seed=7, width=32)
    c = renderer.render(str(scene_file), spp=4, seed=8, width=32)
    assert (a.width, a.height) == (32, 21)  # width alone keeps the 3:2 aspect
    assert np.array_equal(a.color, b.color)
    assert not np.array_equal(a.color, c.color)


def test_box_filter_gives_uncorrelated_pixel_noise(renderer):
    """Noise of two seeds' difference must not correlate between neighbours; the scene's own
    Gaussian filter (rendered directly with Mitsuba as a control) does correlate it."""
    mi = renderer.mi
    spec = mi.cornell_box()
    spec["sensor"]["film"].update(width=64, height=64)
    scene = types.SimpleNamespace(name="cornell_box", scene=spec)
    a = renderer.render(scene, spp=4, seed=1, aux=False).color.mean(axis=2)
    b = renderer.render(scene, spp=4, seed=2, aux=False).color.mean(axis=2)
    ours = neighbour_correlation(a - b)

    gaussian = mi.load_dict(spec)
    c = np.array(mi.render(gaussian, spp=4, seed=1))[..., :3].mean(axis=2)
    d = np.array(mi.render(gaussian, spp=4, seed=2))[..., :3].mean(axis=2)
    control = neighbour_correlation(c - d)
    assert abs(ours) < 0.06
    assert control > 0.25


def test_many_passes_average_to_the_same_image(renderer, scene_file, monkeypatch):
    one = renderer.render(str(scene_file), spp=64, seed=3, width=24, aux=False)
    monkeypatch.setattr(mitsuba3, "MAX_PASS_SAMPLES", 24 * 16 * 8)  # 8 spp per pass
    passes = []
    many = renderer.render(str(scene_file), spp=64, seed=3, width=24, aux=False,
                           progress=passes.append)
    assert passes == [8, 16, 24, 32, 40, 48, 56, 64]
    assert not np.array_equal(one.color, many.color)  # different pass seeds...
    assert abs(one.color.mean() - many.color.mean()) < 0.01  # ...same expectation


def test_pass_splitting_and_seeds():
    assert sum(mitsuba3.split_passes(131072, 256 * 256)) == 131072
    assert max(mitsuba3.split_passes(131072, 256 * 256)) * 256 * 256 <= mitsuba3.MAX_PASS_SAMPLES
    seeds = {mitsuba3.pass_seed(s, i) for s in range(50) for i in range(50)}
    assert len(seeds) == 2500
    assert mitsuba3.pass_seed(12, 0) == 12


def test_third_party_scene_with_meshes_and_textures(renderer):
    frame = renderer.render(str(shared_path(*STAIRCASE)), spp=4, seed=1, width=32, max_depth=6)
    assert frame.height == round(32 * 1280 / 720)
    assert np.isfinite(frame.color).all() and frame.color.mean() > 0.01
    assert frame.albedo.max() > 0.1 and frame.metadata["max_depth"] == 6


def test_bad_scenes_raise_clear_errors(renderer, tmp_path):
    with pytest.raises(RenderError, match="no such scene file"):
        renderer.render(str(tmp_path / "missing.xml"), spp=1, seed=0)
    broken = tmp_path / "broken.xml"
    broken.write_text("<scene version='3.0.0'><shape type='nosuchshape'/></scene>")
    with pytest.raises(RenderError, match="broken.xml: failed to load"):
        renderer.render(str(broken), spp=1, seed=0)
    with pytest.raises(RenderError, match="spp"):
        renderer.render(str(broken), spp=0, seed=0)


def test_variant_choice(monkeypatch):
    assert mitsuba_variant.llvm_version_from_name("/usr/lib/libLLVM-15.so.1") == 15
    assert mitsuba_variant.llvm_version_from_name("libLLVM.so.19.1") == 19
    assert mitsuba_variant.llvm_version_from_name("libLLVM-19.so") == 19
    assert mitsuba_variant.llvm_version_from_name("libfoo.so") is None
    monkeypatch.delenv(mitsuba_variant.ENV_VARIANT, raising=False)
    monkeypatch.setattr(mitsuba_variant, "cuda_usable", lambda: False)
    for found, expected in (((("x/libLLVM-15.so.1", 15)), "scalar_rgb"),
                            (None, "scalar_rgb"),
                            (("x/libLLVM.so.19.1", 19), "llvm_ad_rgb")):
        monkeypatch.setattr(mitsuba_variant, "find_libllvm", lambda found=found: found)
        assert mitsuba_variant.choose_variant() == expected
    monkeypatch.setenv(mitsuba_variant.ENV_VARIANT, "scalar_rgb")
    assert mitsuba_variant.choose_variant() == "scalar_rgb"
    monkeypatch.setattr(mitsuba_variant, "cuda_usable", lambda: True)
    monkeypatch.delenv(mitsuba_variant.ENV_VARIANT)
    assert mitsuba_variant.choose_variant() == "cuda_ad_rgb"


def test_render_command_writes_exr_and_preview(scene_file, tmp_path):
    from mcdenoise.core.exr import read_frame

    out, png = tmp_path / "new" / "frame.exr", tmp_path / "frame.png"  # folder made on demand
    result = subprocess.run(
        [sys.executable, "-m", "mcdenoise.cli", "render", str(scene_file), "-o", str(out),
         "--spp", "4", "--seed", "5", "--width", "24", "--preview", str(png)],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    frame = read_frame(out)
    assert (frame.width, frame.height) == (24, 16) and frame.has_aux
    assert frame.metadata["spp"] == 4 and frame.metadata["seed"] == 5
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    result = subprocess.run([sys.executable, "-m", "mcdenoise.cli", "render", "nosuch.xml",
                             "-o", str(tmp_path / "x.exr")], cwd=REPO, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 2 and "nosuch.xml" in result.stderr
    assert not (tmp_path / "x.exr").exists()


def test_views_of_a_scene_file_move_its_camera(renderer, scene_file):
    """The identity view is the scene's own camera, bit for bit; dollying forward shortens the
    depth at the centre in proportion to the move; an orbit sees another image."""
    from scenes.views import View, with_view

    path = str(scene_file)
    own = renderer.render(path, spp=4, seed=3)
    same = renderer.render(with_view(path, View()), spp=4, seed=3)
    assert np.array_equal(own.color, same.color) and np.array_equal(own.depth, same.depth)
    centre = (16, 24)
    near = renderer.render(with_view(path, View(dolly=0.05)), spp=1, seed=3).depth[centre]
    nearer = renderer.render(with_view(path, View(dolly=0.1)), spp=1, seed=3).depth[centre]
    assert own.depth[centre] > near > nearer
    assert own.depth[centre] - nearer == pytest.approx(2 * (own.depth[centre] - near), rel=0.02)
    orbit = renderer.render(with_view(path, View(orbit=8.0)), spp=4, seed=3)
    assert np.abs(orbit.albedo - own.albedo).mean() > 0.01
    with pytest.raises(RenderError, match="bad view"):
        renderer.render(path + "@sideways", spp=1, seed=0)
