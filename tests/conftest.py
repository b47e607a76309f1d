"""Shared fixtures: small real scene files, and where the project's shared data lives."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Busy-waiting OpenMP threads make torch up to 20x slower on a shared 2-core machine; the
# policy is read when torch loads, so it must be set before any test imports it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# OpenVINO's converted models (the default engine on the CPU) go to a cache of this test run,
# not the user's; servers and commands the tests start inherit it.
os.environ.setdefault("MCDENOISE_CACHE", tempfile.mkdtemp(prefix="mcdenoise-test-cache-"))

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
# shared/ sits beside the checkout (CI clones main with shared/ next to it).
SHARED = Path(os.environ.get("MCDENOISE_SHARED", REPO.parent / "shared"))
SCENES = SHARED / "data" / "scenes"
# CI sets it: there a test whose shared data is missing fails instead of skipping.
REQUIRE_SHARED = os.environ.get("MCDENOISE_REQUIRE_SHARED") == "1"


def sigint_as_in_a_terminal() -> None:
    """``preexec_fn`` for a command a test stops with Ctrl-C's SIGINT: the default disposition,
    as a terminal's foreground job has it. A test run started in the background (``cmd &`` in
    a script, as CI may be) inherits an ignored SIGINT, which Python then keeps ignoring, so
    the signal would never arrive (the commands take SIGTERM for that case)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def shared_path(*parts: str) -> Path:
    """``SHARED/parts...``, for a test that needs the project's shared data (photographic test
    sets, third-party scenes: not in the repository). Skips the test, saying what to set, when
    it is missing; fails it instead under MCDENOISE_REQUIRE_SHARED=1 (.ci/run)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        message = (f"needs {path}, part of the project's shared data (not in the repository): "
                   "set MCDENOISE_SHARED to the folder that holds data/ (by default ../shared "
                   "beside the checkout)")
        if REQUIRE_SHARED:
            pytest.fail(message + "; MCDENOISE_REQUIRE_SHARED=1 makes its absence a failure")
        pytest.skip(message)
    return path


STAIRCASE = ("data", "scenes", "staircase", "scene.xml")
ENVMAP_SPHERES = ("data", "scenes", "mi_bsdf_spheres_envmap", "tests", "scenes", "bsdf_spheres",
                  "test_envmap_path.xml")

SCENE_XML = """<scene version="3.0.0">
    <default name="max_depth" value="6"/>
    <integrator type="path"><integer name="max_depth" value="$max_depth"/></integrator>
    <sensor type="perspective">
        <float name="fov" value="40"/>
        <transform name="to_world"><lookat origin="0, 0, 4" target="0, 0, 0" up="0, 1, 0"/></transform>
        <film type="hdrfilm">
            <integer name="width" value="48"/><integer name="height" value="32"/>
            <rfilter type="gaussian"/>
        </film>
        <sampler type="independent"><integer name="sample_count" value="16"/></sampler>
    </sensor>
    <bsdf type="diffuse" id="checker">
        <texture type="bitmap" name="reflectance">
            <string name="filename" value="textures/checker.png"/>
            <string name="filter_type" value="nearest"/>
        </texture>
    </bsdf>
    <shape type="obj">
        <string name="filename" value="meshes/wall.obj"/>
        <ref id="checker"/>
    </shape>
    <shape type="sphere">
        <point name="center" x="0" y="0" z="1"/>
        <float name="radius" value="0.5"/>
        <bsdf type="diffuse"><rgb name="reflectance" value="0.5"/></bsdf>
    </shape>
    <emitter type="constant"><rgb name="radiance" value="1.0"/></emitter>
</scene>
"""

WALL_OBJ = """v -3 -3 0
v 3 -3 0
v 3 3 0
v -3 3 0
vt 0 0
vt 1 0
vt 1 1
vt 0 1
vn 0 0 1
f 1/1/1 2/2/1 3/3/1
f 1/1/1 3/3/1 4/4/1
"""


@pytest.fixture(scope="session")
def scene_file(tmp_path_factory) -> Path:
    """A Mitsuba 3 XML scene with an OBJ mesh and a PNG texture referenced by relative paths:
    a checker-textured wall behind a grey (0.5) diffuse sphere under a white sky of radiance 1,
    so a sphere point facing the camera has radiance close to 0.5."""
    from PIL import Image

    root = tmp_path_factory.mktemp("scene")
    (root / "meshes").mkdir()
    (root / "textures").mkdir()
    (root / "meshes" / "wall.obj").write_text(WALL_OBJ)
    cells = (np.indices((8, 8)).sum(axis=0) % 2).astype(np.uint8)
    checker = np.where(cells[..., None] == 1, 200, 40).astype(np.uint8).repeat(3, axis=2)
    Image.fromarray(checker).save(root / "textures" / "checker.png")
    path = root / "scene.xml"
    path.write_text(SCENE_XML)
    return path


@pytest.fixture(scope="module")
def ray_local():
    """One local Ray for a module's in-process farm tests (run_dataset leaves a Ray it did not
    start running, and uses one that is)."""
    import ray

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
