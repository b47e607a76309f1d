"""`mcdenoise bench mc` end to end on a tiny render: scores, report, sheet, timing."""
from __future__ import annotations

import json

import numpy as np
from PIL import Image

from mcdenoise.bench.adapt import run_folder
from mcdenoise.bench.mc import detail_crop, parse_size
from mcdenoise.cli import main
from mcdenoise.core.metrics import ssim
from service_support import make_model


def test_bench_mc_scores_noisy_oidn_and_ours_against_references(tmp_path, capsys):
    import ray

    # ours: the shipped model (no --model); the "clean" row: an untrained one, so the two rows
    # are two models and the report must keep them apart; and the shipped one as a
    # self-ensemble of 2, a row of its own with its own bar lines and timing.
    untrained = make_model(tmp_path / "untrained.safetensors", width=16)
    out = tmp_path / "report" / "mc.json"
    try:
        code = main(["bench", "mc", "--json", str(out), "--scenes", "cornell:9000,interior:9000",
                     "--spp", "8", "--reference-spp", "64", "--chunk-spp", "64", "--width", "32",
                     "--data", str(tmp_path / "data"), "--clean-model", str(untrained),
                     "--speed-size", "64x32", "--repeats", "1", "--num-cpus", "2",
                     "--ensemble", "2"])
    finally:
        ray.shutdown()
    assert code == 0
    result = json.loads(out.read_text())
    assert [r["scene"] for r in result["scenes"]] == ["cornell:9000", "interior:9000"]
    for row in result["scenes"]:
        assert row["reference_spp"] == 64 and row["width"] == 32
        for method in ("noisy", "oidn", "oidn_best", "ours", "ours_clean", "ours_ensemble2"):
            assert np.isfinite([row[method]["psnr"], row[method]["relmse"], row[method]["ssim"]]).all()
        # OIDN and the shipped model on 8 spp are far better than the input (against 64-spp
        # references, themselves noisy, so the margin is modest); the untrained model is not.
        assert row["oidn"]["psnr"] > row["noisy"]["psnr"] + 2
        assert row["oidn_best"]["psnr"] > row["noisy"]["psnr"] + 2
        assert row["oidn_best"]["psnr"] != row["oidn"]["psnr"]  # the prefilter did something
        assert row["ours"]["psnr"] > row["noisy"]["psnr"] + 2
        assert row["ours"]["psnr"] > row["ours_clean"]["psnr"] + 1
        assert row["ours_ensemble2"]["psnr"] > row["noisy"]["psnr"] + 2
        assert row["ours_ensemble2"]["psnr"] != row["ours"]["psnr"]
    assert result["mean"]["oidn"]["psnr"] > result["mean"]["noisy"]["psnr"]
    assert result["speed"]["size"] == "64x32" and result["speed"]["ours"]["median_s"] > 0
    assert result["speed"]["oidn"]["median_s"] > 0 and result["speed"]["oidn_best"]["median_s"] > 0
    assert result["speed"]["ours_ensemble2"]["median_s"] > 0
    report = out.with_suffix(".md").read_text()
    assert "| OIDN (high) |" in report and "| OIDN (high, prefiltered aux) |" in report
    assert "Ours minus the stronger OIDN row" in report
    assert "| ours x2 (self-ensemble) |" in report
    assert "Ours x2 (self-ensemble) minus the stronger OIDN row" in report
    assert "cornell:9000" in report and "mc_sheet.png" in report
    sheet = Image.open(out.with_name("mc_sheet.png"))
    assert sheet.width >= 7 * 32 and sheet.height >= 2 * (32 + 2 * 32)  # 7 columns, 2 rows
    assert "ours (noisy targets)" in capsys.readouterr().out


def test_bench_mc_helpers():
    assert parse_size("1920x1080") == (1920, 1080) and parse_size("0") is None
    image = np.zeros((128, 128, 3), np.uint8)
    image[80:90, 20:30] = 255  # the only detail
    y, x = detail_crop(image)
    assert y <= 80 and y + 64 >= 90 and x <= 20 and x + 64 >= 30
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 2, (32, 32, 3))
    assert ssim(a, a) > 0.9999 and ssim(a + rng.normal(0, 0.3, a.shape).clip(-a, None), a) < 0.9


def test_adaptation_runs_of_another_starting_model_go_to_another_folder(tmp_path):
    first = make_model(tmp_path / "a.safetensors", width=16)
    second = make_model(tmp_path / "b.safetensors", width=16, seed=1)
    folders = [run_folder(tmp_path, "scenes/shot.xml", 10, 256, m) for m in (first, second)]
    assert folders[0] != folders[1] and folders[0].name.startswith("shot-") and "-10min-256px-" in folders[0].name
    assert run_folder(tmp_path, "scenes/shot.xml", 10, 256, first) == folders[0]  # reused
    assert run_folder(tmp_path, "scenes/shot.xml", 5, 256, first) != folders[0]


def test_bench_mc_without_a_model_says_what_to_do(tmp_path, capsys, monkeypatch):
    import mcdenoise.nn.modelfile

    monkeypatch.setattr(mcdenoise.nn.modelfile, "DEFAULT_MODEL", tmp_path / "none.safetensors")
    assert main(["bench", "mc", "--json", str(tmp_path / "x.json")]) == 2
    assert "--model" in capsys.readouterr().err


def test_bench_mc_adapts_the_model_to_each_scene_file(tmp_path, scene_file, capsys):
    """--adapt-minutes: a fine-tuning run per scene file from --model, within its budget, on
    views of the file (not its camera), scored on the file's own view, reported and plotted."""
    import ray

    from mcdenoise.nn.modelfile import read_card

    model = make_model(tmp_path / "ours.safetensors", width=16)
    out = tmp_path / "report" / "mc.json"
    args = ["bench", "mc", "--json", str(out), "--spp", "4", "--reference-spp", "32",
            "--chunk-spp", "32", "--width", "32", "--data", str(tmp_path / "data"),
            "--model", str(model), "--speed-size", "0", "--num-cpus", "2"]
    try:
        assert main([*args, "--scenes", str(scene_file), "--adapt-minutes", "0.5"]) == 0
    finally:
        ray.shutdown()
    result = json.loads(out.read_text())
    [(scene, run)] = result["adaptation"]["0.5"].items()
    assert scene == str(scene_file) and run["steps"] > 0 and run["seconds"] < 30 + 60
    assert np.isfinite(result["scenes"][0]["adapted_0.5"]["psnr"])
    [card_path] = (tmp_path / "data" / "adapt").glob("*-0.5min-32px-*/model.safetensors")  # views at --width
    card = read_card(card_path)
    assert card["lineage"][-1]["model"] == "ours.safetensors" and card["training"]["minutes"] == 0.5
    trained = {s for s in card["data"]["views"]["files"]}
    assert trained == {"scene.xml"} and not card["data"]["views"]["own_camera_trained"]
    assert "## Adaptation runs" in out.with_suffix(".md").read_text()
    assert Image.open(out.with_name("mc_adapt.png")).size[0] > 100
    assert main([*args, "--scenes", "cornell:9000", "--adapt-minutes", "1"]) == 2
    assert "--scenes must list only .xml files" in capsys.readouterr().err
