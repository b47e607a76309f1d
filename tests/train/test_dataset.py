"""The training data on a tiny hand-made farm directory (no renderer, no Ray): scanning, crops,
aux dropout, the normals' path through frame_input, the on-disk cache and the step sampler."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from mcdenoise.core.exr import write_frame
from mcdenoise.core.frame import Frame
from mcdenoise.farm.layout import Item, Record
from mcdenoise.farm.manifest import ManifestWriter, sha256_file
from mcdenoise.nn.transform import exposure_scale, tonemap_input, transform_for
from mcdenoise.train.dataset import (PairDataset, SceneStore, StepBatches, crop_size, scan,
                                     split_scenes)

H, W, SPP = 40, 48, 8
FULL = replace(transform_for("full"), missing_aux="zeros")


def unit_normals(rng: np.random.Generator) -> np.ndarray:
    """(H, W, 3) random unit vectors, many of them with negative components."""
    v = rng.normal(size=(H, W, 3)).astype(np.float32)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def render(rng: np.random.Generator, encoded_normals: bool) -> Frame:
    normal = unit_normals(rng)
    brighter_right = np.linspace(0.2, 5.0, W, dtype=np.float32)[None, :, None]  # crops differ
    return Frame(color=rng.gamma(2.0, 0.5, size=(H, W, 3)).astype(np.float32) * brighter_right,
                 albedo=rng.uniform(0.05, 0.95, size=(H, W, 3)).astype(np.float32),
                 normal=0.5 * normal + 0.5 if encoded_normals else normal)


def write_farm(root: Path, encoded_normals: bool = True) -> None:
    """A farm directory as mcdenoise/farm/driver.py lays it out, written by hand:

    cornell:0     train, pair + reference         cornell:1  train, pair only
    cornell:8000  validation, pair + reference    cornell:8001 validation, pair, no reference
    cornell:2     only noisy_0 done (skipped)     cornell:3  noisy_1 file missing (skipped)
    cornell:4     noisy_1 failed (skipped)
    """
    rng = np.random.default_rng(0)
    with ManifestWriter(root) as manifest:
        def item(scene: str, kind: str, index: int, status: str = "done", write: bool = True):
            work = Item(scene, kind, index, SPP if kind == "noisy" else 0, seed=index)
            path = root / work.path  # scenes/<slug>/noisy_<index>.exr or reference.exr
            if write:
                frame = render(rng, encoded_normals)
                if kind == "reference":
                    frame = Frame(color=frame.color)
                write_frame(frame, path, precision="half" if kind == "noisy" else "float")
            values = {"sha256": sha256_file(path)} if write else {}
            if kind == "reference":
                values["spp"] = 64
            manifest.append(Record.of(work, status, **values))

        for scene in ("cornell:0", "cornell:1", "cornell:8000", "cornell:8001"):
            item(scene, "noisy", 0)
            item(scene, "noisy", 1)
            if scene in ("cornell:0", "cornell:8000"):
                item(scene, "reference", 0)
        item("cornell:2", "noisy", 0)
        item("cornell:3", "noisy", 0)
        item("cornell:3", "noisy", 1, write=False)
        item("cornell:4", "noisy", 0)
        item("cornell:4", "noisy", 1, status="failed", write=False)


@pytest.fixture(scope="module")
def farm(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("farm")
    write_farm(root)
    return root


def training_scenes(root: Path) -> list:
    with pytest.warns(UserWarning, match="no reference"):  # cornell:8001
        return split_scenes(scan(root))[0]


@pytest.fixture(scope="module")
def store(farm) -> SceneStore:
    return SceneStore(training_scenes(farm), FULL)


def test_scan_finds_finished_pairs_in_manifest_order(farm):
    found = scan(farm)
    assert [s.scene for s in found] == ["cornell:0", "cornell:1", "cornell:8000", "cornell:8001"]
    first = found[0]
    folder = farm / "scenes" / "cornell-0"
    assert first.noisy == (folder / "noisy_0.exr", folder / "noisy_1.exr")
    assert first.reference == folder / "reference.exr"
    assert found[1].reference is None
    assert [s.split for s in found] == ["train", "train", "validation", "validation"]
    assert {s.spp for s in found} == {SPP}
    assert len({s.digest for s in found}) == 4  # a digest per scene's files
    with pytest.warns(UserWarning, match="no reference"):
        train, val = split_scenes(found)
    assert [s.scene for s in train] == ["cornell:0", "cornell:1"]
    assert [s.scene for s in val] == ["cornell:8000"]  # 8001 has no reference
    with pytest.warns(UserWarning):
        assert [s.scene for s in split_scenes(found, {"cornell:1"})[0]] == ["cornell:1"]


def test_items_are_shaped_typed_and_a_function_of_seed_and_index(farm, store):
    dataset = PairDataset(store, FULL, crop=32, seed=7)
    # A second store and dataset (as in another loader worker or a resumed run) agree.
    twin = PairDataset(SceneStore(store.files, FULL), FULL, crop=32, seed=7)
    other_seed = PairDataset(store, FULL, crop=32, seed=8)
    differs = 0
    for index in (0, 1, 5, 1000, 2**40):
        item = dataset[index]
        assert item["input"].shape == (9, 32, 32) and item["target"].shape == (3, 32, 32)
        assert item["input"].dtype == item["target"].dtype == torch.float32
        again = twin[index]
        assert torch.equal(item["input"], again["input"])
        assert torch.equal(item["target"], again["target"])
        colour = item["input"][:3]
        assert colour.min() >= 0 and colour.max() < 1  # tonemapped
        differs += not torch.equal(item["input"], other_seed[index]["input"])
    assert differs == 5
    # Each epoch over the scenes visits every scene once.
    n = len(store)
    for epoch in range(3):
        assert sorted(dataset.scene_index(epoch * n + k) for k in range(n)) == list(range(n))


def test_targets_are_the_other_render_or_the_reference(farm, store):
    noisy = PairDataset(store, FULL, crop=32, seed=1)
    assert noisy[0]["target"].abs().sum() > 0
    with pytest.raises(ValueError, match="references"):
        PairDataset(store, FULL, crop=32, targets="clean")  # cornell:1 has none
    clean_store = SceneStore([s for s in store.files if s.reference is not None], FULL)
    clean = PairDataset(clean_store, FULL, crop=32, targets="clean", seed=1)
    assert clean[0]["target"].abs().sum() > 0


def test_aux_dropout_zeroes_albedo_and_normal_independently_and_nothing_else(store):
    kept = PairDataset(store, FULL, crop=32, seed=3, aux_dropout=0.0)
    dropping = PairDataset(store, FULL, crop=32, seed=3, aux_dropout=0.5)
    seen = set()
    for index in range(40):
        a, b = kept[index], dropping[index]
        # Crop, flip, rotation and swap are drawn before the dropout: the same sample.
        assert torch.equal(a["input"][:3], b["input"][:3]) and torch.equal(a["target"], b["target"])
        assert a["input"][3:].abs().amax(dim=(1, 2)).min() > 0  # nothing zero without dropout
        albedo_dropped = bool((b["input"][3:6] == 0).all())
        normal_dropped = bool((b["input"][6:9] == 0).all())
        if not albedo_dropped:
            assert torch.equal(a["input"][3:6], b["input"][3:6])
        if not normal_dropped:
            assert torch.equal(a["input"][6:9], b["input"][6:9])
        seen.add((albedo_dropped, normal_dropped))
    assert seen == {(False, False), (True, False), (False, True), (True, True)}


def test_encoded_normals_reach_the_network_in_minus_one_to_one(store):
    """Normals stored as 0.5 n + 0.5 go through signed_normals, as frame_input does at
    inference: the network sees unit vectors with negative components, not [0, 1] codes."""
    stored = np.asarray(store.arrays[0][..., 6:9], np.float32)
    assert stored.min() >= 0  # the fixture's normals are encoded
    dataset = PairDataset(store, FULL, crop=32, seed=0)
    for index in range(4):
        normal = dataset[index]["input"][6:9].numpy()
        assert normal.min() < -0.5 and normal.max() <= 1.0
        length = np.linalg.norm(normal, axis=0)
        np.testing.assert_allclose(length, 1.0, atol=0.01)  # half-float storage


def test_normals_stored_signed_are_kept(tmp_path):
    write_farm(tmp_path, encoded_normals=False)
    store = SceneStore(training_scenes(tmp_path), FULL)
    item = PairDataset(store, FULL, crop=32, seed=0)[0]
    normal = item["input"][6:9].numpy()
    np.testing.assert_allclose(np.linalg.norm(normal, axis=0), 1.0, atol=0.01)


def test_a_crop_is_exposed_with_its_whole_renders_scale(store):
    """Input colour = T(s * crop) with s of the whole render (as inference scales whole
    frames), found among every crop position, rotation, flip and swap of the pair."""
    dataset = PairDataset(store, FULL, crop=32, seed=4)
    for index in range(3):
        item, scene = dataset[index], dataset.scene_index(index)
        array = np.asarray(store.arrays[scene], np.float32)
        found = []
        for which in (0, 1):
            render = array[..., 9 * which:9 * which + 3]
            scale = store.scales[scene][which]
            assert scale == exposure_scale(render, FULL)
            for y in range(H - 32 + 1):
                for x in range(W - 32 + 1):
                    patch = render[y:y + 32, x:x + 32]
                    for k in range(4):
                        for flip in (False, True):
                            view = np.rot90(patch, k)
                            view = view[:, ::-1] if flip else view
                            if np.allclose(item["input"][:3], tonemap_input(view, scale)
                                           .transpose(2, 0, 1), atol=1e-6):
                                found.append((which, exposure_scale(patch, FULL) / scale))
        assert len(found) == 1, found
        assert abs(found[0][1] - 1) > 0.01  # the crop's own scale would have differed


def test_large_datasets_are_cached_on_disk_by_scene_folder(farm, store, tmp_path):
    cached = SceneStore(store.files, FULL, cache_mb=0, cache_dir=tmp_path / "cache")
    assert not cached.in_memory and store.in_memory
    names = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert names == sorted(f"{s.noisy[0].parent.name}-{s.digest}.npy" for s in store.files)
    assert names[0].startswith("cornell-0-")
    for memory, mapped in zip(store.arrays, cached.arrays):
        assert isinstance(mapped, np.memmap) and np.array_equal(memory, mapped)
    a = PairDataset(store, FULL, crop=32, seed=2)[3]
    b = PairDataset(cached, FULL, crop=32, seed=2)[3]
    assert torch.equal(a["input"], b["input"]) and torch.equal(a["target"], b["target"])


def test_crop_size_rounds_down_and_fits_the_smallest_image(store):
    assert crop_size(store, 64) == 32  # images are 40 high
    assert crop_size(store, 33) == 32
    with pytest.raises(ValueError, match="at least 32"):
        crop_size(store, 31)


def test_step_batches_are_disjoint_across_ranks_and_resume_where_they_stopped():
    world, batch, steps = 3, 4, 10
    ranks = [list(StepBatches(0, steps, batch, rank, world)) for rank in range(world)]
    assert all(len(r) == steps for r in ranks)
    everything = [i for r in ranks for b in r for i in b]
    assert sorted(everything) == list(range(steps * world * batch))  # disjoint and complete
    for step in range(steps):  # one step of all ranks is one contiguous block
        block = sorted(i for r in ranks for i in r[step])
        assert block == list(range(step * world * batch, (step + 1) * world * batch))
    for rank in range(world):
        assert list(StepBatches(6, steps, batch, rank, world)) == ranks[rank][6:]
    assert len(StepBatches(5, 5, batch)) == 0 and list(StepBatches(5, 5, batch)) == []
