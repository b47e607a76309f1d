"""The photographic benchmark: noise models and their statistics, the Anscombe inverse, the
training crops, the image sets, the command's flags (bench/photo/config.py), and `mcdenoise
bench photo --quick` end to end on the shared images for all five noises (tiny crops, a few
steps: it proves the wiring, not the quality)."""
from __future__ import annotations

import json
import math
import shlex
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import shared_path
from mcdenoise import cli
from mcdenoise.bench.photo import baselines
from mcdenoise.bench.photo import noise as noises
from mcdenoise.bench.photo.config import PRESETS, PhotoBenchConfig, command_line
from mcdenoise.bench.photo.images import NoisyCrops, load_test_set, psnr8, training_paths
from mcdenoise.flags import config_from_args


def flat(value: float, size: int = 256) -> np.ndarray:
    return np.full((size, size, 3), value, np.float32)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# -- noise models -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(noises.MODELS))
def test_every_noise_is_a_seeded_function(name):
    clean = rng(9).random((64, 64, 3), dtype=np.float32)
    value = noises.get(name).test_value
    a, mask_a = noises.corrupt(name, clean, value, rng(1))
    b, mask_b = noises.corrupt(name, clean, value, rng(1))
    c, _ = noises.corrupt(name, clean, value, rng(2))
    assert a.shape == clean.shape and a.dtype == np.float32 and mask_a.shape == (64, 64, 1)
    assert np.array_equal(a, b) and np.array_equal(mask_a, mask_b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a, clean)


def test_gaussian_is_zero_mean_with_sigma_in_8bit_levels():
    clean = flat(0.5)
    noisy, mask = noises.gaussian(clean, 25.0, rng())
    error = noisy - clean
    assert abs(error.mean()) < 1e-3
    assert error.std() == pytest.approx(25 / 255, rel=0.01)
    assert (noises.gaussian(flat(0.02), 25.0, rng())[0] < 0).any()  # no clipping at 0
    assert mask.min() == 1.0


@pytest.mark.parametrize("lam", [5.0, 30.0])
@pytest.mark.parametrize("x", [0.1, 0.7])
def test_poisson_mean_is_the_signal_and_variance_signal_over_lambda(lam, x):
    noisy, _ = noises.poisson(flat(x), lam, rng())
    assert noisy.mean() == pytest.approx(x, rel=0.01)
    assert noisy.var() == pytest.approx(x / lam, rel=0.03)
    counts = noisy * lam
    assert np.allclose(counts, np.round(counts), atol=1e-4)  # photon counts over lambda


def test_bernoulli_drops_whole_pixels_and_the_mask_marks_the_kept_ones():
    clean = rng(3).random((256, 256, 3), dtype=np.float32) * 0.9 + 0.1
    noisy, mask = noises.bernoulli(clean, 0.5, rng())
    dropped = (noisy == 0).all(axis=2)
    assert dropped.mean() == pytest.approx(0.5, abs=0.01)
    assert np.array_equal(mask[..., 0] == 0, dropped)
    assert np.array_equal(noisy[~dropped], clean[~dropped])
    assert not ((noisy == 0).any(axis=2) & ~dropped).any()  # all channels together


def test_impulse_replaces_a_fraction_p_by_uniform_colours():
    clean = flat(0.3)
    noisy, _ = noises.impulse(clean, 0.7, rng())
    hit = (noisy != clean).any(axis=2)
    assert hit.mean() == pytest.approx(0.7, abs=0.01)
    values = noisy[hit]
    assert values.mean() == pytest.approx(0.5, abs=0.01)
    assert values.var() == pytest.approx(1 / 12, rel=0.03)
    assert values.min() >= 0 and values.max() <= 1
    assert np.array_equal(noisy[~hit], clean[~hit])


@pytest.mark.parametrize("p", [0.0, 0.1, 0.25, 0.5])
def test_text_touches_about_a_fraction_p_with_solid_coloured_antialiased_strings(p):
    clean = rng(4).random((128, 192, 3), dtype=np.float32)
    alpha, overlay = noises.text_mask((128, 192), p, rng(5))
    touched = alpha > 0
    assert p <= touched.mean() <= p + 0.08  # p counts every pixel a string touches
    assert alpha.min() >= 0 and alpha.max() <= 1
    noisy, _ = noises.text(clean, p, rng(5))
    assert np.array_equal(noisy[~touched], clean[~touched])
    assert np.allclose(noisy, clean * (1 - alpha[..., None]) + overlay, atol=1e-6)
    if p:
        # Anti-aliased: strokes have solid cores and soft edges...
        assert (alpha == 1).sum() > 0.2 * touched.sum()
        assert ((alpha > 0) & (alpha < 1)).sum() > 0.2 * touched.sum()
        # ...and solid colours: most core pixels share their exact colour with many others
        # (the rest are soft edges of one string over the core of another).
        core = alpha == 1
        _, counts = np.unique(overlay[core], axis=0, return_counts=True)
        assert counts[counts >= 10].sum() >= 0.6 * core.sum()


@pytest.fixture(scope="module")
def kodak() -> list[tuple[str, np.ndarray]]:
    return load_test_set(shared_path("data", "images"), "kodak24", limit=8)


def test_text_input_psnr_at_p_025_matches_the_papers_17_12_db(kodak):
    """Paper Figure 3: input 17.12 dB at p = 0.25. Counting only fully inked pixels as covered
    (as this project did before) gives about 14.5 dB on the same images."""
    from mcdenoise.bench.photo.images import TEST_SEED, test_noise_rng, to_float

    scores, coverage = [], []
    for stem, clean in kodak:
        alpha, _ = noises.text_mask(clean.shape[:2], 0.25, test_noise_rng(TEST_SEED, "kodak24", stem))
        coverage.append((alpha > 0).mean())
        noisy, _ = noises.corrupt("text", to_float(clean), 0.25,
                                  test_noise_rng(TEST_SEED, "kodak24", stem))
        scores.append(psnr8(noisy, clean))
    assert 0.25 <= min(coverage) and max(coverage) <= 0.252  # whole images: p almost exactly
    assert np.mean(scores) == pytest.approx(17.12, abs=0.6)


def test_impulse_input_psnr_is_what_uniform_replacement_predicts(kodak):
    """Random-valued impulse noise at p = 0.7: E[(u - x)^2] = 1/3 - x + x^2 for u ~ U(0, 1),
    so the input MSE of an image is p * mean(1/3 - x + x^2). The paper's 8.89 dB (Figure 4)
    is one example image's; over whole test images it ranges from about 7 to 12 dB."""
    from mcdenoise.bench.photo.images import to_float

    for k, (stem, clean) in enumerate(kodak[:4]):
        x = to_float(clean).astype(np.float64)
        predicted = 10 * np.log10(1 / (0.7 * np.mean(1 / 3 - x + x * x)))
        noisy, _ = noises.corrupt("impulse", to_float(clean), 0.7, rng(k))
        assert psnr8(noisy, clean) == pytest.approx(predicted, abs=0.1)
        assert 7 < psnr8(noisy, clean) < 12


def test_training_parameters_are_drawn_from_the_range():
    draws = [noises.get("gaussian").sample(rng(k)) for k in range(400)]
    assert 0 <= min(draws) < 5 and 45 < max(draws) <= 50
    assert all(2 <= noises.get("poisson").sample(rng(k), 2, 3) <= 3 for k in range(50))


# -- Anscombe ---------------------------------------------------------------------------------
def test_expected_anscombe_matches_sampling():
    for lam in (0.3, 2.0, 30.0):
        sampled = baselines.anscombe(rng().poisson(lam, 400_000)).mean()
        assert baselines.expected_anscombe(lam)[0] == pytest.approx(sampled, abs=3e-3)


def test_exact_inverse_is_unbiased_where_the_algebraic_one_is_not():
    lam = np.array([0.0, 0.05, 0.5, 1.0, 3.0, 10.0, 30.0, 150.0])
    expected = baselines.expected_anscombe(lam)
    assert np.allclose(baselines.inverse_anscombe_exact(expected), lam, atol=2e-3, rtol=1e-4)
    algebraic = baselines.inverse_anscombe_algebraic(expected)
    assert abs(algebraic[3] - 1.0) > 0.15  # the plain inverse is biased at low counts
    # Beyond the table the closed form takes over, continuously.
    top = baselines.expected_anscombe([baselines.EXACT_TABLE_MAX * 2])
    assert baselines.inverse_anscombe_exact(top)[0] == pytest.approx(2 * baselines.EXACT_TABLE_MAX, rel=1e-5)
    assert baselines.inverse_anscombe_exact(np.array([0.5]))[0] == 0.0  # below E[A | 0]
    assert baselines.anscombe(np.array([0.0]))[0] == pytest.approx(2 * math.sqrt(3 / 8))


def test_psnr8_rounds_and_clips_like_a_saved_image():
    clean = np.full((4, 4, 3), 100, np.uint8)
    assert psnr8(clean / 255.0 + 0.001, clean) == math.inf  # rounds back to 100
    estimate = np.full((4, 4, 3), 110 / 255.0)
    assert psnr8(estimate, clean) == pytest.approx(10 * math.log10(255 ** 2 / 100))
    assert psnr8(np.full((4, 4, 3), 2.0), clean) == psnr8(np.full((4, 4, 3), 1.0), clean)


# -- image sets and training crops --------------------------------------------------------------
@pytest.fixture
def images() -> Path:
    """The photographic test and training sets (shared data, not in the repository)."""
    return shared_path("data", "images")


def test_training_images_leave_out_the_bsd300_test_images(images):
    paths, dropped = training_paths(images, test_sets=["kodak24", "bsd300", "set14"])
    overlap = set((images / "train" / "cbsd432_overlap_with_bsd300_test.txt").read_text().split())
    test_names = {p.stem for p in (images / "bsd300_test").iterdir()}
    assert len(overlap) == 32 and set(dropped) == overlap
    assert len(paths) == 400 and not {p.stem for p in paths} & test_names
    grey = dict(load_test_set(images, "set14"))["bridge"]
    assert grey.shape[2] == 3 and grey.dtype == np.uint8


def test_noisy_crops_are_deterministic_and_share_the_input_across_target_kinds():
    images = [np.asarray(rng(k).integers(0, 256, (80, 96, 3)), np.uint8) for k in range(3)]
    noisy = NoisyCrops(images, "bernoulli", 32, "noisy", seed=7)
    clean = NoisyCrops(images, "bernoulli", 32, "clean", seed=7)
    for index in (0, 5, 11):
        a, b, c = noisy[index], noisy[index], clean[index]
        assert a["input"].shape == (3, 32, 32) and a["mask"].shape == (1, 32, 32)
        assert all(torch.equal(a[k], b[k]) for k in a)
        assert torch.equal(a["input"], c["input"])  # same input noise for both target kinds
        assert torch.equal(c["mask"], torch.ones(1, 32, 32))
        # The noisy target is the clean crop with its own dropped pixels, given by its mask.
        kept = a["mask"].bool().expand(3, -1, -1)
        assert torch.equal(a["target"][kept], c["target"][kept])
        assert (a["target"][~kept] == 0).all()
        assert not torch.equal(a["target"], a["input"])
        # The clean target is a rotated/mirrored window of one of the images.
        window = (c["target"].numpy().transpose(1, 2, 0) * 255).round().astype(np.uint8)
        found = False
        for image in images:
            for k in range(4):
                for flip in (False, True):
                    view = np.rot90(window, -k) if not flip else np.rot90(window[:, ::-1], -k)
                    for y in range(image.shape[0] - 31):
                        hits = np.where((image[y, :image.shape[1] - 31] == view[0, 0]).all(axis=1))[0]
                        found |= any(np.array_equal(image[y:y + 32, x:x + 32], view) for x in hits)
        assert found
    with pytest.raises(ValueError, match="crop"):
        NoisyCrops(images, "gaussian", 96, "noisy")


def test_impulse_targets_are_as_corrupted_as_their_inputs_unless_drawn_independently():
    """Impulse noise defaults to "same": the target's p is its input's (the paper's L1 result
    at p = 0.7 needs it); "independent" draws it again, as for Gaussian noise."""
    images = [np.asarray(rng(k).integers(0, 256, (80, 96, 3)), np.uint8) for k in range(3)]

    def replaced(a: torch.Tensor, clean: torch.Tensor) -> float:
        return float((a != clean).any(dim=0).float().mean())

    clean = NoisyCrops(images, "impulse", 64, "clean", seed=3)
    gaps = {}
    for level in (None, "independent"):
        noisy = NoisyCrops(images, "impulse", 64, "noisy", seed=3, target_level=level)
        gaps[level] = [abs(replaced(noisy[i]["input"], clean[i]["target"])
                           - replaced(noisy[i]["target"], clean[i]["target"])) for i in range(40)]
        # The input is the same whatever the target's level (resumed runs stay exact).
        assert torch.equal(noisy[5]["input"], clean[5]["input"])
    assert NoisyCrops(images, "impulse", 64).target_level == "same"
    assert NoisyCrops(images, "gaussian", 64).target_level == "independent"
    assert max(gaps[None]) < 0.06  # 4,096 pixels: the two fractions differ by sampling alone
    assert max(gaps["independent"]) > 0.3
    with pytest.raises(ValueError, match="target_level"):
        NoisyCrops(images, "impulse", 64, target_level="half")


# -- the command --------------------------------------------------------------------------------
def test_bench_photo_command_line_parses_back_to_its_config():
    config = PhotoBenchConfig(noise="text", json=Path("out/text.json"), targets="noisy,clean",
                              data_root=Path("images"), preset="quick", steps=8, residual=False,
                              baselines=False, resume=True, seed=3)
    words = shlex.split(command_line(config))
    assert words[:3] == ["mcdenoise", "bench", "photo"]
    args = vars(cli.build_parser().parse_args(words[1:]))
    assert args["command"] == "bench"
    assert config_from_args(args)[0] == config
    shortcut = vars(cli.build_parser().parse_args(["bench", "photo", "--noise", "gaussian",
                                                   "--json", "x.json", "--paper"]))
    assert shortcut["preset"] == "paper" and shortcut["steps"] is None


def test_bench_photo_help_lists_each_presets_values_and_the_shortcuts(capsys):
    with pytest.raises(SystemExit):
        cli.main(["bench", "photo", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    quick, small, paper = (PRESETS[name]["steps"] for name in PRESETS)
    assert f"--steps STEPS training steps per run (default: preset; quick {quick}, " \
           f"small {small}, paper {paper})" in out
    assert "--quick --preset quick --small --preset small --paper --preset paper" in out
    assert "--seed SEED training seed (default 0)" in out


def bench(tmp_path, noise: str, *extra: str) -> tuple[int, dict]:
    out = tmp_path / f"{noise}.json"
    code = cli.main(["bench", "photo", "--noise", noise, "--quick", "--data-root",
                     str(shared_path("data", "images")),
                     "--work", str(tmp_path / "work" / noise), "--json", str(out), *extra])
    return code, json.loads(out.read_text()) if out.exists() else {}


def check_outputs(tmp_path, noise: str, result: dict, variants: list[str]) -> str:
    assert list(result["variants"]) == variants
    for variant in result["variants"].values():
        assert variant["steps"] == 6 and variant["skipped"] == 0
        assert set(variant["sets"]) == {"kodak24", "bsd300", "set14"}
        assert all(math.isfinite(s["psnr"]) for s in variant["sets"].values())
        assert [h["step"] for h in variant["val"]] == [0, 3, 6]
    assert math.isfinite(result["baselines"]["input"]["average"])
    for suffix in ("_crops.png", "_curves.png"):
        with Image.open(tmp_path / f"{noise}{suffix}") as image:
            assert image.size[0] > 300 and image.size[1] > 150
    report = (tmp_path / f"{noise}.md").read_text()
    assert "| Kodak |" in report and "| Average |" in report
    return report


def test_bench_photo_gaussian_noisy_and_clean_targets_with_bm3d(tmp_path, capsys):
    code, result = bench(tmp_path, "gaussian", "--targets", "noisy,clean")
    assert code == 0
    report = check_outputs(tmp_path, "gaussian", result, ["clean-l2", "noisy-l2"])
    assert "paper: clean targets" in report and "32.50" in report
    assert "noisy minus clean targets" in report
    # Six steps barely move the residual net from its input: it scores near the input.
    clean_run = result["variants"]["clean-l2"]
    assert abs(clean_run["average"] - result["baselines"]["input"]["average"]) < 1.0
    # bm3d comes with the test extras: the baseline really runs, and removes noise.
    assert baselines.bm3d_available(), "pip install -e '.[test]' installs bm3d"
    bm3d = result["baselines"]["bm3d"]
    assert bm3d["average"] > result["baselines"]["input"]["average"] + 3
    assert "| BM3D" in report or "BM3D |" in report
    # Repeating the command reuses the finished runs: same numbers, no training.
    capsys.readouterr()
    code, again = bench(tmp_path, "gaussian", "--targets", "noisy,clean")
    assert code == 0 and "reused" in capsys.readouterr().out
    assert again["variants"]["noisy-l2"]["average"] == result["variants"]["noisy-l2"]["average"]
    # Another --steps would change the schedule under a run: refused, even with --resume.
    code, _ = bench(tmp_path, "gaussian", "--targets", "noisy", "--steps", "8", "--resume")
    assert code == 2 and "--steps 6" in capsys.readouterr().err


def test_bench_photo_poisson_has_the_anscombe_baseline(tmp_path):
    code, result = bench(tmp_path, "poisson", "--test-sets", "kodak24,bsd300,set14")
    assert code == 0
    check_outputs(tmp_path, "poisson", result, ["noisy-l2"])
    assert baselines.bm3d_available(), "pip install -e '.[test]' installs bm3d"
    assert result["baselines"]["anscombe_bm3d"]["average"] > result["baselines"]["input"]["average"] + 3


@pytest.mark.parametrize("noise, losses, variants", [
    ("bernoulli", None, ["noisy-masked_l2"]),
    ("text", "l2,l1", ["noisy-l2", "noisy-l1"]),
    ("impulse", "l0", ["noisy-l0"]),
])
def test_bench_photo_other_noises_and_loss_studies(tmp_path, capsys, noise, losses, variants):
    code, result = bench(tmp_path, noise, *(["--losses", losses] if losses else []))
    assert code == 0
    report = check_outputs(tmp_path, noise, result, variants)
    level = "same" if noise == "impulse" else "independent"
    assert result["config"]["target_level"] == level
    assert ("parameter is its input's" in report) == (level == "same")
    if noise == "impulse":  # runs of other target levels or L0 epsilons are kept apart
        assert "L0's epsilon 0.01" in report and result["config"]["l0_eps"] == 0.01
        capsys.readouterr()
        code, _ = bench(tmp_path, noise, "--losses", losses, "--target-level", "independent")
        assert code == 2 and "other settings (target_level)" in capsys.readouterr().err
        code, _ = bench(tmp_path, noise, "--losses", losses, "--l0-eps", "1e-8")
        assert code == 2 and "other settings (l0_eps)" in capsys.readouterr().err


def test_bench_photo_refuses_bad_flags(tmp_path, capsys):
    assert bench(tmp_path, "gaussian", "--losses", "masked_l2")[0] == 2
    assert "masked_l2" in capsys.readouterr().err
    assert bench(tmp_path, "gaussian", "--test-sets", "kodak24,urban100")[0] == 2
    assert "--test-sets" in capsys.readouterr().err
    assert bench(tmp_path, "gaussian", "--crop", "48")[0] == 2


def test_annealed_l0_schedule_is_the_same_after_stop_at_and_resume(tmp_path, monkeypatch):
    """gamma goes 2 -> 0 linearly over the run's --steps: a run trained to --stop-at 3, tested
    as a partial result, then continued with --resume sees at every step the exponent of the
    run done in one go, and ends with the same weights."""
    from mcdenoise.nn import loss as losses

    seen: list[float] = []
    real_get = losses.get

    def recording_get(name, l0_eps):
        assert l0_eps == losses.L0_EPS  # the default epsilon reaches the loss
        inner = real_get(name, l0_eps)

        def loss(output, target, progress=0.0, mask=None):
            seen.append(losses.l0_gamma(progress))
            return inner(output, target, progress=progress, mask=mask)
        return loss

    monkeypatch.setattr(losses, "get", recording_get)
    one_go = tmp_path / "one"
    one_go.mkdir()
    code, whole = bench(one_go, "impulse", "--losses", "l0")
    assert code == 0
    straight, seen[:] = list(seen), []
    assert straight == pytest.approx([2 * (1 - k / 6) for k in range(6)])

    split = tmp_path / "split"
    split.mkdir()
    code, part = bench(split, "impulse", "--losses", "l0", "--stop-at", "3")
    assert code == 0 and part["variants"]["noisy-l0"]["steps"] == 3
    assert part["variants"]["noisy-l0"]["partial"] is True
    assert "Partial result" in (split / "impulse.md").read_text()
    code, part_again = bench(split, "impulse", "--losses", "l0", "--stop-at", "3")  # reused
    assert code == 0 and seen == pytest.approx(straight[:3])
    code, resumed = bench(split, "impulse", "--losses", "l0", "--resume")
    assert code == 0 and resumed["variants"]["noisy-l0"]["partial"] is False
    assert seen == pytest.approx(straight)  # steps 3-5 after the resume: 1.0, 0.667, 0.333
    a = torch.load(one_go / "work" / "impulse" / "noisy-l0" / "checkpoint.pt", weights_only=False)
    b = torch.load(split / "work" / "impulse" / "noisy-l0" / "checkpoint.pt", weights_only=False)
    assert a["step"] == b["step"] == 6
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert resumed["variants"]["noisy-l0"]["average"] == whole["variants"]["noisy-l0"]["average"]


def test_sigterm_checkpoints_a_background_run(tmp_path):
    """kill PID (SIGTERM) stops `bench photo` like Ctrl-C: a checkpoint at the last finished
    step, and --resume continues from it."""
    import os
    import signal
    import subprocess
    import sys
    import time

    work = tmp_path / "work"
    command = [str(Path(sys.executable).parent / "mcdenoise"), "bench", "photo", "--noise", "gaussian",
               "--quick", "--steps", "100000", "--ckpt-every", "0", "--val-every", "0",
               "--no-baselines", "--data-root", str(shared_path("data", "images")),
               "--work", str(work), "--json", str(tmp_path / "g.json")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=os.environ | {"TQDM_DISABLE": "1"})
    run = work / "noisy-l2"
    deadline = time.monotonic() + 120
    while not (run / "train.csv").exists() or len((run / "train.csv").read_text().splitlines()) < 2:
        assert process.poll() is None and time.monotonic() < deadline, process.stdout.read()
        time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=60)[0]
    assert process.returncode != 0 and "--resume" in output, output
    state = torch.load(run / "checkpoint.pt", weights_only=False)
    assert state["step"] > 0
