"""Streaming training data (mcdenoise/train/stream.py): fresh scenes rendered by the farm on
Ray while training runs, into a bounded pool whose oldest scenes leave (and, when the stream
rendered them, are deleted)."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from mcdenoise import cli
from mcdenoise.core.exr import read_frame
from mcdenoise.farm.driver import DatasetConfig, run_dataset, start_ray
from mcdenoise.nn.modelfile import read_card
from mcdenoise.nn.transform import transform_for
from mcdenoise.train.dataset import SceneStore, scan
from mcdenoise.train.loop import MODEL_FILE
from mcdenoise.train.stream import STREAM_DIR, ScenePool, SceneStream, fresh_scenes

SPP, SIZE = 4, 32


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """One training scene and one validation scene with a reference, 32x32, with the
    directional albedo (not the default: the stream must follow the data's kind)."""
    root = tmp_path_factory.mktemp("stream") / "data"
    run_dataset(DatasetConfig(output=root, scenes="cornell:0", spp=SPP, width=SIZE, height=SIZE,
                              albedo="directional"))
    run_dataset(DatasetConfig(output=root, scenes="cornell:8000", spp=SPP, reference_spp=16,
                              chunk_spp=16, width=SIZE, height=SIZE, albedo="directional"))
    return root


def test_fresh_scenes_mix_the_families_of_the_training_split_and_skip_known_ones():
    names = fresh_scenes(0, ["cornell", "hall"], exclude={"cornell:5"})
    first = [next(names) for _ in range(40)]
    assert len(set(first)) == 40 and "cornell:5" not in first
    assert [n.split(":")[0] for n in first[:4]] == ["cornell", "hall", "cornell", "hall"]
    assert all(0 <= int(n.split(":")[1]) < 8000 for n in first)  # the training split only
    again = fresh_scenes(0, ["cornell", "hall"], exclude={"cornell:5"})
    assert [next(again) for _ in range(40)] == first  # the seed fixes the order


def test_the_stream_fills_a_bounded_pool_and_deletes_only_what_it_rendered(data, tmp_path):
    import ray

    transform = transform_for("full", "auto")
    train = [s for s in scan(data) if s.split == "train"]
    pool = ScenePool(2, transform, SceneStore(train, transform), owned_root=tmp_path / STREAM_DIR)
    dataset = DatasetConfig(output=tmp_path / STREAM_DIR, scenes="", spp=SPP, width=SIZE, height=SIZE)
    names = fresh_scenes(0, ["cornell"], exclude={"cornell:0"})
    record: dict = {}
    start_ray(num_cpus=1)
    try:
        stream = SceneStream(pool, dataset, names, cpus=1, record=record).start()
        deadline = time.monotonic() + 240
        while pool.added < 4 and time.monotonic() < deadline and stream.error is None:
            time.sleep(0.5)
        stream.stop()
    finally:
        ray.shutdown()
    assert stream.error is None and pool.added >= 4
    assert len(pool) == 2 and pool.evicted == pool.added - 1  # one initial scene, capacity 2
    in_pool = {f.scene for f in pool.files}
    assert "cornell:0" not in in_pool
    assert train[0].noisy[0].exists()  # the run's own data is never deleted
    on_disk = {f.scene for f in scan(tmp_path / STREAM_DIR) if f.noisy[0].exists()}
    assert in_pool <= on_disk and len(on_disk) <= 2 + 2  # pool, plus at most a batch in flight
    assert record["rendered"] == pool.added and record["evicted"] == pool.evicted
    array, scales = pool.item(5)  # any index: taken modulo the pool's size
    assert array.shape == (SIZE, SIZE, 21) and all(s > 0 for s in scales)


def test_train_with_a_stream_records_it_and_resumes_from_the_pool_on_disk(data, tmp_path):
    run = tmp_path / "run"
    args = ["train", "--spp", str(SPP), "--data", str(data), "-o", str(run), "--width", "16",
            "--crop", "32", "--batch", "2", "--stream", "3", "--stream-cpus", "1",
            "--val-every", "0", "--ckpt-every", "20"]
    assert cli.main([*args, "--steps", "40"]) == 0
    stream = read_card(run / MODEL_FILE)["data"]["stream"]
    assert stream["pool"] == 3 and stream["cpus"] == 1 and stream["size"] == [SIZE, SIZE]
    assert (run / STREAM_DIR).is_dir()
    # The fresh scenes carry the albedo of the data, and the card says which the model learnt.
    streamed = [s for s in scan(run / STREAM_DIR) if s.noisy[0].exists()]
    assert streamed and {read_frame(s.noisy[0]).metadata["albedo"] for s in streamed} \
        == {"directional"}
    assert read_card(run / MODEL_FILE)["albedo"] == "directional"
    assert cli.main([*args, "--steps", "60", "--resume"]) == 0
    card = read_card(run / MODEL_FILE)
    assert card["training"]["steps"] == 60 and card["data"]["stream"]["pool"] == 3


def test_stream_flags_are_checked(capsys, tmp_path):
    assert cli.main(["train", "-o", str(tmp_path), "--stream", "4", "--workers", "2"]) == 2
    assert "--stream trains in this process" in capsys.readouterr().err
    assert cli.main(["train", "-o", str(tmp_path), "--stream", "4", "--loader-workers", "2"]) == 2
    assert "--loader-workers must be 0" in capsys.readouterr().err
