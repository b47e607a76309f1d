"""What a re-run trusts: every finished file is checked before it is skipped, and the renderer
is part of the dataset's settings."""
from __future__ import annotations

import json

import numpy as np
import pytest

from mcdenoise.core.exr import read_frame
from mcdenoise.errors import ConfigError
from mcdenoise.farm.driver import DatasetConfig, run_dataset
from mcdenoise.farm.layout import Item
from mcdenoise.farm.manifest import read_manifest
from mcdenoise.farm.settings import SETTINGS, DatasetSettings, local_renderer


def small(out, scene, **values) -> DatasetConfig:
    return DatasetConfig(output=out, scenes=str(scene), spp=4, width=16, height=12,
                         **{"reference_spp": 32, "chunk_spp": 16, **values})


def test_broken_files_are_found_and_rendered_again(ray_local, scene_file, tmp_path):
    config = small(tmp_path, scene_file)
    assert run_dataset(config).rendered == 2 + 2 + 1
    noisy0, noisy1, reference = (tmp_path / Item(str(scene_file), kind, index, 0, 0).path
                                 for kind, index in (("noisy", 0), ("noisy", 1), ("reference", 0)))
    good = noisy0.read_bytes()
    pixels = read_frame(noisy0).color

    noisy0.write_bytes(good[: len(good) // 2])  # truncated: the size check catches it
    again = run_dataset(config)
    assert again.rendered == 1 and again.skipped == 4
    assert [p.split(":")[0] for p in again.broken] == [Item(str(scene_file), "noisy", 0, 0, 0).path]
    np.testing.assert_array_equal(read_frame(noisy0).color, pixels)  # same seed, same image

    # A flipped byte in the pixel data keeps size and structure: only --verify sees it.
    data = bytearray(noisy1.read_bytes())
    data[-20] ^= 0xFF
    noisy1.write_bytes(bytes(data))
    assert run_dataset(config).rendered == 0
    verified = run_dataset(small(tmp_path, scene_file, verify=True))
    assert verified.rendered == 1 and "SHA-256" in verified.broken[0]
    read_frame(noisy1)

    # A broken reference takes its merged passes with it: they are rendered again, in full.
    reference.write_bytes(reference.read_bytes()[:-100])
    redone = run_dataset(config)
    assert redone.rendered == 2 + 1 and len(redone.broken) == 1
    assert read_frame(reference).metadata["spp"] == 32


def test_another_renderer_is_refused(ray_local, scene_file, tmp_path):
    config = small(tmp_path, scene_file, reference_spp=0)
    run_dataset(config)
    recorded = json.loads((tmp_path / SETTINGS).read_text())
    assert recorded["renderer"] == local_renderer(None)  # what the workers reported

    recorded["renderer"] = {**recorded["renderer"], "renderer_version": "3.0.0"}
    (tmp_path / SETTINGS).write_text(json.dumps(recorded))
    with pytest.raises(ConfigError, match=r"mitsuba 3\.0\.0 .* one dataset must not mix"):
        run_dataset(DatasetConfig(**{**config.__dict__, "scenes": "cornell:1"}))
    assert not (tmp_path / Item("cornell:1", "noisy", 0, 0, 0).path).exists()

    # A dataset from before dataset.json recorded the renderer takes it from its manifest.
    del recorded["renderer"]
    (tmp_path / SETTINGS).write_text(json.dumps(recorded))
    settings = DatasetSettings(tmp_path, recorded)
    settings.check([r.details for r in read_manifest(tmp_path).values()], None)
    assert json.loads((tmp_path / SETTINGS).read_text())["renderer"] == local_renderer(None)
    # On a cluster the first worker's report is checked instead: another variant is refused.
    assert "must not mix" in settings.accept({**local_renderer(None), "variant": "other_rgb"})
    assert settings.accept(local_renderer(None)) is None
