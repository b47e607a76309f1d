"""Training on a user's scene files: views of the file's camera, never the camera itself
(scenes/views.py), in the rendered dataset and in the stream, with a share of family scenes."""
from __future__ import annotations

from dataclasses import replace

from mcdenoise import cli
from mcdenoise.nn.modelfile import read_card
from mcdenoise.train.config import TrainConfig
from mcdenoise.train.data import training_names
from mcdenoise.train.dataset import scan
from mcdenoise.train.loop import MODEL_FILE
from mcdenoise.train.stream import stream_names
from scenes.views import split_view


def test_the_stream_draws_fresh_views_and_a_share_of_family_scenes():
    config = TrainConfig(scenes="sets/shot.xml,sets/other.xml", views=3, family_share=0.25, seed=2)
    dataset = training_names(config, config.scenes)
    assert len(dataset) == 6 and all(split_view(n)[1] is not None for n in dataset)
    names = stream_names(config, exclude=set(dataset))
    drawn = [next(names) for _ in range(400)]
    views = [n for n in drawn if "@" in n]
    assert len(set(drawn)) == 400 and not set(drawn) & set(dataset)
    assert 0.18 < 1 - len(views) / 400 < 0.32  # the family share
    assert {split_view(n)[0] for n in views} == {"sets/shot.xml", "sets/other.xml"}
    assert all(":" in n for n in drawn if "@" not in n)  # the rest are family instances
    again = stream_names(config, exclude=set(dataset))
    assert [next(again) for _ in range(400)] == drawn
    assert training_names(replace(config, seed=3), config.scenes) != dataset


def test_train_on_a_scene_file_renders_views_not_its_camera(scene_file, tmp_path):
    run = tmp_path / "run"
    code = cli.main(["train", "--spp", "2", "-o", str(run), "--width", "16", "--crop", "32",
                     "--batch", "2", "--size", "32", "--scenes", f"{scene_file},cornell:0",
                     "--views", "2", "--view-ranges", "6,2,1,0.05", "--val-scenes",
                     "cornell:8000", "--reference-spp", "8", "--steps", "2", "--val-every", "0"])
    assert code == 0
    trained = {s.scene for s in scan(run / "data") if s.split == "train"}
    assert len(trained) == 3 and "cornell:0" in trained and str(scene_file) not in trained
    assert {split_view(n)[0] for n in trained - {"cornell:0"}} == {str(scene_file)}
    views = read_card(run / MODEL_FILE)["data"]["views"]
    assert views["per_file"] == 2 and views["files"] == ["scene.xml"]
    assert views["ranges"] == {"orbit_deg": 6.0, "pan_deg": 2.0, "tilt_deg": 1.0, "dolly": 0.05}
    assert cli.main(["train", "-o", str(tmp_path / "bad"), "--view-ranges", "6,2"]) == 2
