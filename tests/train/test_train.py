"""Training end to end on a tiny real dataset rendered by the farm (32x32, a few spp).

One CLI run renders the default dataset from nothing and trains a few steps; the other tests
train on that data: exact resume, the non-finite-loss guard, the model file and its card,
the data sampling, and data-parallel training on two Ray Train CPU workers.
"""
from __future__ import annotations

import csv
import hashlib
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from mcdenoise import cli
from mcdenoise.core.exr import read_frame
from mcdenoise.infer.denoise import denoise, load_denoiser
from mcdenoise.nn.model import UNetConfig
from mcdenoise.nn.modelfile import read_card
from mcdenoise.nn.transform import tonemap_input, transform_for
from mcdenoise.train.config import TrainConfig
from mcdenoise.train.dataset import PairDataset, SceneStore, StepBatches, scan
from mcdenoise.train.loop import CHECKPOINT, MODEL_FILE, load_checkpoint, lr_at
from mcdenoise.train.mc import train

SPP = 4
TINY = ["--spp", str(SPP), "--width", "16", "--crop", "32", "--batch", "2"]


@pytest.fixture(scope="module")
def first_run(tmp_path_factory) -> Path:
    """`mcdenoise train` from nothing: renders 2 training + 1 validation scene, trains 4 steps."""
    run = tmp_path_factory.mktemp("train") / "run"
    code = cli.main(["train", "-o", str(run), *TINY, "--size", "32", "--scenes",
                     "cornell:0-1", "--val-scenes", "cornell:8000", "--reference-spp", "16",
                     "--steps", "4", "--val-every", "2", "--ckpt-every", "2"])
    assert code == 0
    return run


def tiny_config(data: Path, output: Path, **changes) -> TrainConfig:
    base = TrainConfig(spp=SPP, data=data, output=output, width=16, crop=32, batch=2, steps=6,
                       val_every=0, ckpt_every=0, loader_workers=0, seed=3)
    return replace(base, **changes)


def test_train_from_nothing_writes_a_model_that_loads_alone(first_run, capsys):
    data = first_run / "data"
    assert len(scan(data)) == 3
    card = read_card(first_run / MODEL_FILE)
    architecture = card["architecture"]
    assert {k: architecture[k] for k in ("name", "in_channels", "out_channels", "width")} == {
        "name": "n2n-unet", "in_channels": 9, "out_channels": 3, "width": 16}
    assert UNetConfig.from_dict(architecture).kernel == architecture["kernel"]
    assert card["transform"]["inputs"] == ["color", "albedo", "normal"]
    assert card["transform"]["exposure"] == "auto"
    assert card["training"]["steps"] == 4 and card["training"]["targets"] == "noisy"
    assert card["data"]["train_scenes"] == 2 and card["data"]["val_scenes"] == 1
    assert card["data"]["rendered"]["train_spec"] == "cornell:0-1"
    validation = card["validation"]
    assert math.isfinite(validation["psnr_noisy_db"]) and math.isfinite(validation["psnr_denoised_db"])
    assert len(validation["channel_ratio_output_over_input"]) == 3
    assert len(validation["tonemapped_channel_ratio_output_over_input"]) == 3
    # Default recipe: 5x5 kernels averaging linear HDR colour, so the output map is linear,
    # and aux dropout, so the model takes frames without albedo/normal.
    assert card["architecture"]["kernel"] == 5 and card["transform"]["output_map"] == "linear"
    assert card["transform"]["missing_aux"] == "zeros"
    assert card["command"].startswith("mcdenoise train --spp 4 -o ")
    assert "--scenes cornell:0-1" in card["command"]

    with open(first_run / "val.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["step"]) for r in rows] == [0, 2, 4]  # untrained, every 2 steps, the end
    assert all(float(r["psnr_input"]) > 0 for r in rows)
    assert sorted(p.name for p in (first_run / "val").iterdir()) == [
        "step_000000.png", "step_000002.png", "step_000004.png"]
    assert list((first_run / "tb").glob("events.out.tfevents.*"))

    frame = read_frame(next((data / "scenes").glob("cornell-8000/noisy_0.exr")))
    out = denoise(load_denoiser(first_run / MODEL_FILE, device="cpu"), frame)
    assert out.color.shape == frame.color.shape and np.isfinite(out.color).all()

    # A second run into the same directory must not silently overwrite it.
    capsys.readouterr()
    assert cli.main(["train", "-o", str(first_run), "--data", str(data), *TINY, "--steps", "4"]) == 2
    assert "--resume" in capsys.readouterr().err


def test_resume_gives_the_same_weights(first_run, tmp_path):
    data = first_run / "data"
    train(tiny_config(data, tmp_path / "once"))
    halves = tiny_config(data, tmp_path / "halves")
    first = train(halves, stop_at=3)
    assert first["model"] is None and first["step"] == 3
    assert not (tmp_path / "halves" / MODEL_FILE).exists()
    train(replace(halves, resume=True))
    once = load_checkpoint(tmp_path / "once" / CHECKPOINT, torch.device("cpu"))
    resumed = load_checkpoint(tmp_path / "halves" / CHECKPOINT, torch.device("cpu"))
    assert once["step"] == resumed["step"] == 6
    for name, tensor in once["model"].items():
        assert torch.equal(tensor, resumed["model"][name]), name
    for key, state in once["optimizer"]["state"].items():
        for name in ("exp_avg", "exp_avg_sq"):
            assert torch.equal(state[name], resumed["optimizer"]["state"][key][name])
    with open(tmp_path / "halves" / "train.csv") as handle:
        steps = [int(r["step"]) for r in csv.DictReader(handle)]
    assert steps == sorted(set(steps))  # no duplicated rows after the resume
    sessions = read_card(tmp_path / "halves" / MODEL_FILE)["training"]["sessions"]
    assert [(s["from_step"], s["to_step"]) for s in sessions] == [(0, 3), (3, 6)]
    with pytest.raises(ValueError, match="--width"):
        train(replace(halves, resume=True, width=32, steps=8))


def test_the_weight_average_resumes_exactly_and_is_the_model_file(first_run, tmp_path):
    """--ema: the model file holds the average, not the last weights; the average goes into
    the checkpoint, so 3 + 3 steps with a resume average exactly as 6 in one go."""
    from mcdenoise.nn.modelfile import load_model
    from mcdenoise.train.loop import ema_decay

    assert ema_decay(0, 0.999) == pytest.approx(0.1) and ema_decay(10**6, 0.999) == 0.999
    data = first_run / "data"
    train(tiny_config(data, tmp_path / "once", ema=0.5))
    halves = tiny_config(data, tmp_path / "halves", ema=0.5)
    train(halves, stop_at=3)
    train(replace(halves, resume=True))
    once = load_checkpoint(tmp_path / "once" / CHECKPOINT, torch.device("cpu"))
    resumed = load_checkpoint(tmp_path / "halves" / CHECKPOINT, torch.device("cpu"))
    for name, tensor in once["ema"].items():
        assert torch.equal(tensor, resumed["ema"][name]), name
    written = load_model(tmp_path / "once" / MODEL_FILE)[0].state_dict()
    assert all(torch.equal(written[name], t) for name, t in once["ema"].items())
    assert not all(torch.equal(written[name], t) for name, t in once["model"].items())
    # Without --ema the checkpoint has no average and the file holds the last weights.
    plain = train(tiny_config(data, tmp_path / "plain"))
    assert "ema" not in load_checkpoint(tmp_path / "plain" / CHECKPOINT, torch.device("cpu"))
    assert plain["model"]


def test_init_starts_from_the_model_and_continues_its_lineage(first_run, tmp_path):
    """--init: the run's step-0 network is the model's (its validation output is identical to
    the one the model's own run wrote at its last step), the network comes from the card even
    where the flags' defaults differ, and each generation adds itself to the card's lineage."""
    model = first_run / MODEL_FILE
    tuned = train(tiny_config(first_run / "data", tmp_path / "tuned", init=str(model), width=None,
                              scales=1, steps=2, val_every=2, seed=0))
    assert (tmp_path / "tuned" / "val" / "step_000000.png").read_bytes() == \
        (first_run / "val" / "step_000004.png").read_bytes()
    with open(first_run / "val.csv") as a, open(tmp_path / "tuned" / "val.csv") as b:
        assert list(csv.DictReader(b))[0]["psnr_output"] == list(csv.DictReader(a))[-1]["psnr_output"]
    card, parent = read_card(tuned["model"]), read_card(model)
    assert card["architecture"] == parent["architecture"]  # 5 scales kept, not --scales 1
    [origin] = card["lineage"]
    assert origin["command"] == parent["command"] and origin["steps"] == 4
    assert origin["sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
    again = train(tiny_config(first_run / "data", tmp_path / "again", init=tuned["model"],
                              width=None, steps=1))
    assert [g["steps"] for g in read_card(again["model"])["lineage"]] == [4, 2]


def test_distill_blends_the_networks_own_ensemble_into_the_targets(first_run, tmp_path):
    """--distill 1: each target is the network's own 8-copy prediction for the input, which
    is far closer to its output than a 4-spp render is, so the loss drops; the card says so."""
    def losses(run: Path) -> list[float]:
        with open(run / "train.csv") as rows:
            return [float(r["loss"]) for r in csv.DictReader(rows)]

    model, data = first_run / MODEL_FILE, first_run / "data"
    runs = {share: train(tiny_config(data, tmp_path / f"d{share}", init=str(model), width=None,
                                     steps=2, log_every=1, distill=share))
            for share in (0.0, 1.0)}
    plain, distilled = losses(tmp_path / "d0.0"), losses(tmp_path / "d1.0")
    assert len(plain) == len(distilled) == 2
    assert distilled[0] < 0.5 * plain[0]  # the same first step, on its own prediction
    assert read_card(runs[1.0]["model"])["training"]["distill"] == 1.0
    assert "distill" not in read_card(runs[0.0]["model"])["training"]
    with pytest.raises(ValueError, match="--distill must be in"):
        train(tiny_config(data, tmp_path / "bad", distill=1.5))


def test_init_with_a_larger_width_grows_the_model_around_the_same_function(first_run, tmp_path):
    """--init MODEL --width 24 on a 16-wide model: a 24-wide network whose step-0 validation
    output is the model's own (nn/widen.py keeps the function), then trained; a 24-wide model
    cannot be shrunk back to 16."""
    from mcdenoise.nn.modelfile import load_model
    from mcdenoise.train.config import resolve

    grown = train(tiny_config(first_run / "data", tmp_path / "grown",
                              init=str(first_run / MODEL_FILE), width=24, steps=2, val_every=2))
    assert (tmp_path / "grown" / "val" / "step_000000.png").read_bytes() == \
        (first_run / "val" / "step_000004.png").read_bytes()
    model, _, card = load_model(grown["model"])
    parent = read_card(first_run / MODEL_FILE)["architecture"]
    assert model.config.width == 24 and card["architecture"]["parameters"] > 2 * parent["parameters"]
    assert {k: v for k, v in card["architecture"].items() if k not in ("width", "parameters")} == \
        {k: v for k, v in parent.items() if k not in ("width", "parameters")}
    with pytest.raises(ValueError, match="24-wide.*shrink"):
        resolve(tiny_config(first_run / "data", tmp_path / "a", init=grown["model"], width=16))


@pytest.mark.parametrize("separate", [False, True])
def test_init_with_demodulate_grows_the_head_and_keeps_the_validation_score(first_run, tmp_path,
                                                                              separate):
    """--init MODEL --demodulate [--separate-kernels --band-weights]: the model's network plus
    the demodulated head (with its own kernels, copies of the shared ones, and band weights
    that keep every band), whose share starts near 0, so step 0 validates as the model did at
    its last step; the card says so, and a run without an albedo input refuses the flag
    before any work."""
    import csv

    from mcdenoise.train.config import resolve

    grown = train(tiny_config(first_run / "data", tmp_path / "demod",
                              init=str(first_run / MODEL_FILE), demodulate=True, steps=2,
                              val_every=2, separate_kernels=separate, band_weights=separate))
    card = read_card(grown["model"])
    assert card["architecture"]["demodulate"] is True
    assert card["architecture"]["separate_kernels"] is separate
    assert card["architecture"]["band_weights"] is separate
    assert card["config"]["demodulate"] is True and "--demodulate" in card["command"]
    assert ("--separate-kernels" in card["command"]) is ("--band-weights" in card["command"]) is separate
    with open(tmp_path / "demod" / "val.csv") as f:
        start = next(row for row in csv.DictReader(f) if row["step"] == "0")
    parent = read_card(first_run / MODEL_FILE)["validation"]["psnr_denoised_db"]
    assert abs(float(start["psnr_output"]) - parent) < 0.05
    with pytest.raises(ValueError, match="--demodulate"):
        resolve(tiny_config(first_run / "data", tmp_path / "c", inputs="color", demodulate=True))
    with pytest.raises(ValueError, match="--separate-kernels needs --demodulate"):
        resolve(tiny_config(first_run / "data", tmp_path / "d", separate_kernels=True))
    with pytest.raises(ValueError, match="--band-weights needs --scales above 1"):
        resolve(tiny_config(first_run / "data", tmp_path / "e", band_weights=True, scales=1))


def test_widen_keeps_the_output_and_trains_the_new_channels():
    from mcdenoise.nn.model import UNet
    from mcdenoise.nn.widen import widen

    torch.manual_seed(0)
    narrow = UNet(UNetConfig(in_channels=9, width=16, kernel=5, kernel_space="linear", scales=5))
    for p in narrow.parameters():  # a "trained" network: no zero heads
        p.data.normal_(0, 0.05)
    wide = widen(narrow, 24)
    assert sum(p.numel() for p in wide.parameters()) > 2 * sum(p.numel() for p in narrow.parameters())
    x = torch.rand(2, 9, 32, 64)
    with torch.no_grad():
        a, b = narrow(x), wide(x)
    assert torch.allclose(a, b, rtol=1e-5, atol=1e-6)
    (wide(x) - 1).square().mean().backward()
    # the zero weights from new channels into old ones get a gradient at once
    assert wide.dec_b[0].weight.grad[:32, 32:].abs().sum() > 0
    with pytest.raises(ValueError, match="narrow"):
        widen(wide, 16)


def test_init_refuses_a_file_that_is_no_model(first_run, tmp_path):
    from mcdenoise.train.config import resolve

    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="--init"):
        resolve(tiny_config(first_run / "data", tmp_path / "b", init=str(junk)))
    assert not (tmp_path / "b").exists()


def test_a_nonfinite_loss_skips_the_step_and_is_counted(first_run, tmp_path, monkeypatch):
    from mcdenoise.nn import loss as losses

    real_get = losses.get
    calls = {"n": 0}

    def poisoned(name):
        loss = real_get(name)

        def wrapped(*args, **kwargs):
            calls["n"] += 1
            value = loss(*args, **kwargs)
            return value * float("nan") if calls["n"] == 2 else value

        return wrapped

    monkeypatch.setattr(losses, "get", poisoned)
    summary = train(tiny_config(first_run / "data", tmp_path / "run", steps=4))
    assert summary["skipped"] == 1
    state = load_checkpoint(tmp_path / "run" / CHECKPOINT, torch.device("cpu"))
    assert all(torch.isfinite(t).all() for t in state["model"].values())
    assert read_card(tmp_path / "run" / MODEL_FILE)["training"]["skipped_steps"] == 1


def test_clean_targets_need_references(first_run, tmp_path):
    with pytest.raises(ValueError, match="references"):
        train(tiny_config(first_run / "data", tmp_path / "run", targets="clean"))


def test_samples_are_deterministic_and_augment_input_and_target_alike(first_run):
    transform = transform_for("full")
    files = [s for s in scan(first_run / "data") if s.split == "train"]
    store = SceneStore(files, transform)
    dataset = PairDataset(store, transform, crop=32, targets="noisy", seed=5)
    seen_swaps = set()
    for index in range(8):
        item = dataset[index]
        again = dataset[index]
        assert torch.equal(item["input"], again["input"]) and torch.equal(item["target"], again["target"])
        assert item["input"].shape == (9, 32, 32) and item["target"].shape == (3, 32, 32)
        scene = dataset.scene_index(index)
        renders = [read_frame(p).color for p in files[scene].noisy]
        # The crop is the whole 32x32 image: find the flip/rotation and the swap.
        matches = []
        for which in (0, 1):
            scale = store.scales[scene][which]
            for k in range(4):
                for flip in (False, True):
                    def view(a):
                        a = np.rot90(a, k)
                        return a[:, ::-1] if flip else a
                    inp = tonemap_input(view(renders[which]), scale).transpose(2, 0, 1)
                    tgt = (view(renders[1 - which]) * scale).transpose(2, 0, 1)
                    if np.allclose(item["input"][:3], inp, atol=1e-6) and np.allclose(
                            item["target"], tgt, rtol=1e-6, atol=1e-7):
                        matches.append(which)
        assert matches, f"sample {index} is no flip/rotation of the pair"
        seen_swaps.update(matches)
    assert seen_swaps == {0, 1}  # both renders serve as input


def test_step_batches_are_disjoint_across_ranks_and_the_schedule_ramps_down():
    rank0 = list(StepBatches(2, 4, batch=3, rank=0, world=2))
    rank1 = list(StepBatches(2, 4, batch=3, rank=1, world=2))
    assert rank0 == [[12, 13, 14], [18, 19, 20]] and rank1 == [[15, 16, 17], [21, 22, 23]]
    assert lr_at(0, 100, 1.0, 0.3) == 1.0 and lr_at(69, 100, 1.0, 0.3) == 1.0
    assert math.isclose(lr_at(85, 100, 1.0, 0.3), 0.5)  # cos^2 of pi/4
    assert lr_at(100, 100, 1.0, 0.3) < 1e-30


def test_two_ray_train_workers_synchronise_their_gradients(first_run, tmp_path):
    """Two DDP workers with batches of 3 take, step by step, the samples of one batch of 6
    (StepBatches) and average their gradients: the model must be the one-process batch-6
    model. Unsynchronised workers would each follow their own 3 samples and end elsewhere."""
    from safetensors.torch import load_file

    summary = train(tiny_config(first_run / "data", tmp_path / "ddp", workers=2, batch=3, steps=4))
    assert summary["step"] == 4 and summary["model"] is not None
    card = read_card(tmp_path / "ddp" / MODEL_FILE)
    assert card["training"]["workers"] == 2 and card["validation"]["scenes"] == 1
    load_denoiser(tmp_path / "ddp" / MODEL_FILE, device="cpu")

    train(tiny_config(first_run / "data", tmp_path / "one", batch=6, steps=4))
    train(tiny_config(first_run / "data", tmp_path / "half", batch=3, steps=4))
    ddp, one, half = (load_file(tmp_path / run / MODEL_FILE) for run in ("ddp", "one", "half"))
    gap = max((ddp[k] - one[k]).abs().max().item() for k in ddp)
    apart = max((half[k] - one[k]).abs().max().item() for k in half)
    assert gap < 1e-4 < apart, (gap, apart)  # synchronised; and the check can tell


def test_a_time_budget_ends_the_run_with_a_model(first_run, tmp_path):
    began = time.monotonic()
    summary = train(tiny_config(first_run / "data", tmp_path / "run", steps=100_000,
                                minutes=0.3, val_every=0))
    assert time.monotonic() - began < 0.3 * 60 + 40  # the budget, plus the final validation
    card = read_card(summary["model"])
    assert 0 < card["training"]["steps"] == summary["step"] < 100_000
    assert card["training"]["minutes"] == 0.3
    state = load_checkpoint(tmp_path / "run" / CHECKPOINT, torch.device("cpu"))
    assert state["step"] == summary["step"]
    with open(tmp_path / "run" / "train.csv") as handle:
        lrs = [float(r["lr"]) for r in csv.DictReader(handle)]
    assert lrs[-1] < 0.5 * lrs[0]  # the ramp-down followed the clock, not the 100,000 steps


def test_ctrl_c_leaves_a_checkpoint_and_a_model_of_the_last_step(first_run, tmp_path, monkeypatch):
    from mcdenoise.nn import loss as losses

    real_get, calls = losses.get, {"n": 0}

    def interrupted(name):
        loss = real_get(name)

        def wrapped(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == 4:
                raise KeyboardInterrupt
            return loss(*args, **kwargs)

        return wrapped

    monkeypatch.setattr(losses, "get", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(first_run / "data", tmp_path / "run", steps=10))
    assert read_card(tmp_path / "run" / MODEL_FILE)["training"]["steps"] == 3
    assert load_checkpoint(tmp_path / "run" / CHECKPOINT, torch.device("cpu"))["step"] == 3
    load_denoiser(tmp_path / "run" / MODEL_FILE)  # usable


def test_sigterm_stops_a_background_streaming_run_like_ctrl_c(first_run, tmp_path):
    """A farm manager's SIGTERM, or `kill PID` of a background run (where the shell ignores
    SIGINT): a streaming run (Ray, whose init installs its own exit-at-once SIGTERM handler)
    still writes a checkpoint and a model of its last step and exits 143."""
    import os
    import signal
    import subprocess
    import sys

    run = tmp_path / "run"
    command = [sys.executable, "-m", "mcdenoise.cli", "train", "-o", str(run), *TINY,
               "--data", str(first_run / "data"), "--stream", "4", "--stream-cpus", "1",
               "--steps", "100000", "--val-every", "0", "--ckpt-every", "0", "--log-every", "1"]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),  # as `cmd &` does
        # Its own local cluster: not the one this process's earlier tests started (RAY_ADDRESS).
        env={**{k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}, "TQDM_DISABLE": "1"})
    deadline = time.monotonic() + 600  # Ray's start on a loaded machine
    while not (run / "train.csv").exists() or len((run / "train.csv").read_text().splitlines()) < 4:
        assert process.poll() is None and time.monotonic() < deadline, process.stdout.read()
        time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=300)[0]
    assert process.returncode == 143, output
    step = load_checkpoint(run / CHECKPOINT, torch.device("cpu"))["step"]
    assert step >= 3 and read_card(run / MODEL_FILE)["training"]["steps"] == step, output
    assert "--resume" in output


def test_bad_scene_files_and_budgets_fail_before_any_work(first_run, tmp_path):
    with pytest.raises(ValueError, match="nosuch.xml: no such scene file"):
        train(tiny_config(None, tmp_path / "a", scenes=str(tmp_path / "nosuch.xml")))
    with pytest.raises(ValueError, match="takes about"):
        train(tiny_config(first_run / "data", tmp_path / "b", minutes=0.0005, size=32))
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
