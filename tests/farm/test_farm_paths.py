"""Workers get absolute paths: a relative -o DIR or scene path means what it meant to the
driver, wherever the workers run (a Ray of its own: they get another working directory)."""
from __future__ import annotations

import os
import shutil

from mcdenoise.farm.driver import DatasetConfig, run_dataset
from mcdenoise.farm.manifest import read_manifest


def test_relative_paths_reach_workers_absolute(scene_file, tmp_path, monkeypatch):
    """Workers that run elsewhere (here: in a Ray working_dir of their own, as on a cluster)
    still read the scene and write into DIR as the driver named them."""
    import ray

    project = tmp_path / "project"
    shutil.copytree(scene_file.parent, project / "shots")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "README").write_text("the workers' working directory\n")
    monkeypatch.chdir(project)
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"working_dir": str(elsewhere)})
    try:
        summary = run_dataset(DatasetConfig(output="data", scenes="shots/scene.xml", spp=4,
                                            width=16, height=12))
    finally:
        ray.shutdown()
    assert (summary.rendered, summary.failed) == (2, 0), summary.errors
    assert len(list((project / "data" / "scenes").rglob("noisy_*.exr"))) == 2
    assert set(read_manifest(project / "data")) == {"shots/scene.xml|noisy|0",
                                                    "shots/scene.xml|noisy|1"}
