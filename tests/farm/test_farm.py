"""The Ray render farm: pairs, references from passes, resume, failures, killed workers, Ctrl-C."""
from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import psutil
import pytest

from conftest import REPO, sigint_as_in_a_terminal
from mcdenoise.core.exr import read_frame
from mcdenoise.farm.driver import DatasetConfig, run_dataset
from mcdenoise.farm.layout import Item, item_seed
from mcdenoise.farm.manifest import MANIFEST, read_manifest


def manifest_lines(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root / MANIFEST).read_text().splitlines() if line]


def all_exrs_open(root: Path) -> int:
    paths = list(root.rglob("*.exr"))
    for path in paths:
        read_frame(path)
    return len(paths)


def test_pairs_references_resume_and_extend(ray_local, scene_file, tmp_path):
    scene = str(scene_file)
    config = DatasetConfig(output=tmp_path, scenes=f"{scene},cornell:3", spp=4, reference_spp=48,
                           chunk_spp=16, width=16, height=12)
    summary = run_dataset(config)
    assert (summary.rendered, summary.failed, summary.skipped) == (2 * (2 + 3 + 1), 0, 0)

    for name in (scene, "cornell:3"):
        a = read_frame(tmp_path / Item(name, "noisy", 0, 0, 0).path)
        b = read_frame(tmp_path / Item(name, "noisy", 1, 0, 0).path)
        assert a.has_aux and (a.width, a.height) == (16, 12)
        assert a.metadata["seed"] != b.metadata["seed"] and not np.array_equal(a.color, b.color)
        reference = read_frame(tmp_path / Item(name, "reference", 0, 0, 0).path)
        assert reference.metadata["spp"] == 48 and reference.metadata["passes"] == [0, 1, 2]
    assert not list(tmp_path.rglob("pass_*.exr"))  # merged passes are removed

    lines = len(manifest_lines(tmp_path))
    again = run_dataset(config)
    assert (again.rendered, again.skipped) == (0, 12)
    assert len(manifest_lines(tmp_path)) == lines  # nothing re-rendered, nothing re-recorded

    more = run_dataset(DatasetConfig(**{**config.__dict__, "reference_spp": 80}))
    assert more.rendered == 2 * (2 + 1)  # two new passes and a merge per scene
    reference = read_frame(tmp_path / Item(scene, "reference", 0, 0, 0).path)
    assert reference.metadata["spp"] == 80 and reference.metadata["passes"] == [0, 1, 2, 3, 4]

    # The reference is exactly the sample-weighted mean of its five passes, none twice.
    from renderers import get_renderer

    renderer = get_renderer()
    expected = sum(renderer.render(scene, spp=16, seed=item_seed(0, scene, "pass", k), width=16,
                                   height=12, aux=False).color.astype(np.float64)
                   for k in range(5)) / 5
    np.testing.assert_allclose(reference.color, expected, rtol=1e-5, atol=1e-6)


def test_failed_scene_is_recorded_and_others_finish(ray_local, scene_file, tmp_path):
    broken = tmp_path / "broken.xml"
    broken.write_text("<scene version='3.0.0'><shape type='nosuchshape'/></scene>")
    out = tmp_path / "data"
    summary = run_dataset(DatasetConfig(output=out, scenes=f"{broken},{scene_file}", spp=2,
                                        width=8, height=8))
    assert summary.rendered == 2 and summary.failed == 2
    assert "nosuchshape" in summary.errors[str(broken)]
    records = read_manifest(out)
    assert {r.status for r in records.values() if r.scene == str(broken)} == {"failed"}
    with pytest.raises(ValueError, match="other settings"):
        run_dataset(DatasetConfig(output=out, scenes=str(scene_file), spp=8, width=8, height=8))


def test_the_albedo_kind_is_a_dataset_setting(ray_local, scene_file, tmp_path):
    """A dataset holds one albedo kind (renderers/albedo.py); datasets from before the kind
    was recorded hold Mitsuba's AOV, "diffuse"."""
    from mcdenoise.farm.settings import dataset_albedo

    config = DatasetConfig(output=tmp_path, scenes=str(scene_file), spp=2, width=16, height=12,
                           albedo="directional")
    assert dataset_albedo(tmp_path) is None
    assert run_dataset(config).rendered == 2
    assert dataset_albedo(tmp_path) == "directional"
    assert read_frame(tmp_path / Item(str(scene_file), "noisy", 0, 0, 0).path).metadata["albedo"] \
        == "directional"
    with pytest.raises(ValueError, match="albedo was directional, now diffuse"):
        run_dataset(DatasetConfig(**{**config.__dict__, "albedo": "diffuse"}))
    settings = json.loads((tmp_path / "dataset.json").read_text())
    del settings["albedo"]  # as written before the kind was recorded
    (tmp_path / "dataset.json").write_text(json.dumps(settings))
    assert dataset_albedo(tmp_path) == "diffuse"
    with pytest.raises(ValueError, match="albedo was diffuse, now directional"):
        run_dataset(config)
    assert run_dataset(DatasetConfig(**{**config.__dict__, "albedo": "diffuse"})).skipped == 2


def dataset_command(scene: Path, out: Path) -> list[str]:
    # 6 passes of 1024 spp at 48x32, about a second each with one thread: long enough to hit.
    return [sys.executable, "-m", "mcdenoise.cli", "dataset", "-o", str(out), "--scenes",
            str(scene), "--spp", "16", "--reference-spp", "6144", "--chunk-spp", "1024",
            "--num-cpus", "2", "--retries", "3"]


def render_workers(driver: subprocess.Popen) -> list[psutil.Process]:
    """The render workers of this test's own farm (the driver's Ray is its descendant): never
    another farm's running on the same machine."""
    found = []
    try:
        processes = psutil.Process(driver.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return found
    for process in processes:
        try:
            cmdline = " ".join(process.cmdline())
        except psutil.Error:
            continue
        if cmdline.startswith("ray::render_item"):
            found.append(process)
    return found


def wait_for(condition, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def test_killed_worker_is_retried_and_nothing_is_duplicated(scene_file, tmp_path):
    out = tmp_path / "data"
    proc = subprocess.Popen(dataset_command(scene_file, out), cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    victim = wait_for(lambda: render_workers(proc), timeout=120)[0]
    victim.kill()  # SIGKILL in the middle of a render
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    # The kill hit a busy worker: the driver resubmitted its item (and says so).
    assert re.search(r"\b[1-9]\d* retried", stdout), stdout
    lines = manifest_lines(out)
    assert Counter(r["key"] for r in lines if r["status"] == "done") == Counter(
        {k: 1 for k in {r["key"] for r in lines}})
    assert {r["status"] for r in lines} == {"done"}
    assert all_exrs_open(out) == 3  # noisy pair + reference
    assert read_frame(out / Item(str(scene_file), "reference", 0, 0, 0).path).metadata["spp"] == 6144


def test_ctrl_c_leaves_no_partial_file_and_resumes(scene_file, tmp_path):
    out = tmp_path / "data"
    proc = subprocess.Popen(dataset_command(scene_file, out), cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=sigint_as_in_a_terminal)
    wait_for(lambda: (out / MANIFEST).exists() and len(manifest_lines(out)) >= 3, timeout=120)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert not [p for p in out.rglob("*") if ".tmp-" in p.name]
    all_exrs_open(out)
    finished = len(manifest_lines(out))
    assert finished < 9  # interrupted before the end

    result = subprocess.run(dataset_command(scene_file, out), cwd=REPO, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"{9 - finished} rendered" in result.stdout
    assert all_exrs_open(out) == 3, sorted(str(p.relative_to(out)) for p in out.rglob("*.exr"))


def test_a_second_driver_on_the_same_dir_refuses_naming_the_first(scene_file, tmp_path):
    """Two real drivers on one DIR: the second is refused at once and touches nothing; the
    first finishes a whole dataset, its reference holding every pass once."""
    out = tmp_path / "data"
    first = subprocess.Popen(dataset_command(scene_file, out), cwd=REPO, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    wait_for(lambda: render_workers(first), timeout=120)  # it holds the lock and renders
    second = subprocess.run(dataset_command(scene_file, out), cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert second.returncode == 2, second.stderr
    assert "another driver" in second.stderr and f"pid {first.pid}" in second.stderr
    stdout, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr
    lines = manifest_lines(out)
    assert {r["status"] for r in lines} == {"done"} and len(lines) == 9
    assert all_exrs_open(out) == 3
    assert read_frame(out / Item(str(scene_file), "reference", 0, 0, 0).path).metadata["spp"] == 6144

    # Once the first has ended, the lock is free: a third run finds everything done.
    third = subprocess.run(dataset_command(scene_file, out), cwd=REPO, capture_output=True,
                           text=True, timeout=120)
    assert third.returncode == 0 and "0 rendered, 9 skipped" in third.stdout, third.stderr


def test_one_cpu_farm_renders_an_envmap_scene_file(tmp_path):
    """With one CPU per task the workers' Dr.Jit pool used to be one thread, which deadlocks
    on this third-party scene (an environment map and spheres): the render never ended."""
    from conftest import ENVMAP_SPHERES, shared_path

    scene = shared_path(*ENVMAP_SPHERES)
    out = tmp_path / "data"
    result = subprocess.run([sys.executable, "-m", "mcdenoise.cli", "dataset", "-o", str(out),
                             "--scenes", str(scene), "--spp", "4", "--width", "32",
                             "--num-cpus", "1"], cwd=REPO, capture_output=True, text=True,
                            timeout=240)
    assert result.returncode == 0, result.stderr
    assert all_exrs_open(out) == 2
