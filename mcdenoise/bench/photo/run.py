"""`mcdenoise bench photo`: the paper's photographic experiments (Table 1, Figures 3 and 4).

    mcdenoise bench photo --noise gaussian --targets noisy,clean --data-root IMAGES \\
        --json out/gaussian.json                      # trains both, tests, writes the report

For each requested training variant (targets x losses) the U-Net trains through the render
trainer's loop (train/loop.fit: same optimiser, schedule, checkpoints, logs, resume) on random
crops of the training photographs with synthetic noise (bench/photo/images.py,
bench/photo/noise.py), then denoises every test image (noise fixed at the test parameter and
seeded per image, so all methods see the same inputs) and scores PSNR per set and on average
(the mean of the set means, as the paper). The classical baselines run on the same inputs
(baselines.py): BM3D for Gaussian noise, Anscombe + BM3D + exact unbiased inverse for Poisson
(when the optional ``bm3d`` package is installed), and the noisy input itself for every noise.

Writes FILE (--json), FILE.md (the report: table next to the paper's numbers, budget, notes;
report.py), FILE_crops.png (example crops) and FILE_curves.png (validation PSNR during
training). Training runs live in WORK/<targets>-<loss>/ (checkpoint.pt, train.csv, val.csv,
tb/, model.safetensors, photo.json); a finished run is reused when the command is repeated, an
interrupted one continues with --resume. BM3D outputs are cached in WORK/baselines/. The flags
and their checks are config.py's.

Loss studies (paper Figures 3 and 4) are one command each:

    mcdenoise bench photo --noise text --losses l2,l1 ...
    mcdenoise bench photo --noise impulse --losses l2,l1,l0 ...
"""
from __future__ import annotations

import json
import math
import platform
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mcdenoise.bench.figures import curves_figure
from mcdenoise.bench.photo.config import (PhotoBenchConfig, command_line, param_range, resolve,
                                          split_list, variants)
from mcdenoise.bench.photo.images import TEST_SEED, TestImage
from mcdenoise.bench.photo.report import (BASELINE_TITLES, PAPER, PAPER_FIGURES, SET_TITLES,
                                          crops_figure, report_markdown)
from mcdenoise.core.files import write_text
from mcdenoise.errors import ConfigError

if TYPE_CHECKING:
    import torch

    from mcdenoise.nn.model import UNet

VAL_CROP = 256  # validation during training: centre crops of the last images of the first set
VAL_FIELDS = ["step", "psnr_input", "psnr_output", "images", "elapsed_s"]


# -- data ------------------------------------------------------------------------------------
def load_tests(config: PhotoBenchConfig) -> dict[str, list[TestImage]]:
    """Every test set's images with their seeded test noise."""
    from mcdenoise.bench.photo import noise as noises
    from mcdenoise.bench.photo.images import load_test_set, test_noise_rng, to_float

    model = noises.get(config.noise)
    tests = {}
    for name in split_list(config.test_sets):
        images = []
        for stem, clean in load_test_set(config.data_root, name, config.test_limit, config.test_crop):
            noisy, _ = model.apply(to_float(clean), model.test_value, test_noise_rng(TEST_SEED, name, stem))
            images.append(TestImage(name, stem, clean, noisy))
        tests[name] = images
    return tests


def load_validation(config: PhotoBenchConfig) -> list[tuple[np.ndarray, np.ndarray]]:
    """[(clean uint8, noisy float32)] centre crops of the last images of the first test set,
    with noise seeded apart from the test noise. They only draw the training curves (no model
    is selected by them); with --test-limit they are not among the test images."""
    from mcdenoise.bench.photo import noise as noises
    from mcdenoise.bench.photo.images import load_test_set, test_noise_rng, to_float

    if not config.val_images:
        return []
    model = noises.get(config.noise)
    first = split_list(config.test_sets)[0]
    crop = min(VAL_CROP, config.test_crop or VAL_CROP)
    pairs = []
    for stem, clean in load_test_set(config.data_root, first, crop=crop)[-config.val_images:]:
        noisy, _ = model.apply(to_float(clean), model.test_value,
                               test_noise_rng(TEST_SEED + 1, first, stem))
        pairs.append((clean, noisy))
    return pairs


def load_training(config: PhotoBenchConfig) -> tuple[list[np.ndarray], dict[str, Any]]:
    from tqdm import tqdm

    from mcdenoise.bench.photo.images import load_image, training_paths

    paths, dropped = training_paths(config.data_root, config.train_dir, split_list(config.test_sets))
    paths = paths[:config.train_limit]
    images = [load_image(p) for p in tqdm(paths, desc="load training images", unit="image",
                                          leave=False, disable=None)]
    folder = Path(config.train_dir) if config.train_dir else Path(config.data_root) / "train" / "cbsd432"
    card = {"folder": folder.name, "images": len(images), "excluded_test_images": len(dropped),
            "pixels": int(sum(a.shape[0] * a.shape[1] for a in images))}
    return images, card


# -- inference -------------------------------------------------------------------------------
def denoise_image(net: UNet, noisy: np.ndarray, device: torch.device) -> np.ndarray:
    """(H, W, 3) float32 noisy -> (H, W, 3) float32 estimate (not clipped): the network's
    output is the image itself. fp32 on every device, as the runs were scored."""
    import torch

    from mcdenoise.infer.denoise import forward

    x = torch.from_numpy(np.ascontiguousarray(noisy.transpose(2, 0, 1)))[None].to(device)
    return forward(net, x, bf16=False)[0].permute(1, 2, 0).cpu().numpy()


def score(estimates: dict[str, dict[str, np.ndarray]], tests: dict[str, list[TestImage]]
          ) -> dict[str, Any]:
    """{"sets": {set: {"psnr": mean dB, "images": {name: dB}}}, "average": mean of set means}."""
    from mcdenoise.bench.photo.images import psnr8

    sets = {}
    for name, images in tests.items():
        per = {im.name: round(psnr8(estimates[name][im.name], im.clean), 4) for im in images}
        sets[name] = {"psnr": float(np.mean(list(per.values()))), "images": per}
    return {"sets": sets, "average": float(np.mean([s["psnr"] for s in sets.values()]))}


def example_names(tests: dict[str, list[TestImage]]) -> list[tuple[str, str]]:
    """The images shown in the crops figure: the first of each set."""
    return [(name, images[0].name) for name, images in tests.items() if images]


# -- training --------------------------------------------------------------------------------
def _as_float(z: torch.Tensor) -> torch.Tensor:
    return z.float()  # photographs: the network's output is the image itself, in [0, 1] units


def photo_task(config: PhotoBenchConfig, run: Path, targets: str, loss: str,
               images: list[np.ndarray], data_card: dict[str, Any],
               val_pairs: list[tuple[np.ndarray, np.ndarray]], device: torch.device):
    """The train/loop.Task of one variant: noisy crops in, [0, 1] images out, validation PSNR."""
    from mcdenoise.bench.photo.images import NoisyCrops, psnr8
    from mcdenoise.nn.model import UNetConfig
    from mcdenoise.nn.modelfile import save_model
    from mcdenoise.train.loop import MODEL_FILE, Task

    dataset = NoisyCrops(images, config.noise, config.crop, targets, config.seed, param_range(config),
                         config.target_level)
    input_psnr = float(np.mean([psnr8(n, c) for c, n in val_pairs])) if val_pairs else math.nan

    def validate(net: UNet, step: int) -> dict[str, Any]:
        scores = [psnr8(denoise_image(net, noisy, device), clean) for clean, noisy in val_pairs]
        return {"psnr_input": input_psnr, "psnr_output": float(np.mean(scores)),
                "images": len(val_pairs)}

    def describe(step: int, result: dict[str, Any]) -> str:
        return (f"step {step}: validation PSNR noisy {result['psnr_input']:.2f} dB -> denoised "
                f"{result['psnr_output']:.2f} dB ({result['images']} images)")

    net_config = UNetConfig(3, 3, config.width, bool(config.residual))

    def finish(net: UNet, summary: dict[str, Any], history: list[dict]) -> str:
        import torch

        from mcdenoise.nn.model import parameter_count

        path = run / MODEL_FILE
        save_model(path, net, {
            "architecture": net_config.to_dict() | {"parameters": parameter_count(net)},
            # Not an EXR denoiser: `mcdenoise denoise/serve` refuse this card (no such inputs).
            "transform": {"inputs": ["photo"], "range": "8-bit sRGB / 255, not linearised",
                          "output": "the denoised image in the same units",
                          "pad": {"multiple": 32, "mode": "reflect"}},
            "task": "photo", "noise": config.noise, "noise_range": list(param_range(config)),
            "training": {"steps": config.steps, "targets": targets, "loss": loss,
                         "target_level": config.target_level if targets == "noisy" else None,
                         "l0_eps": config.l0_eps if loss == "l0" else None,
                         "batch": config.batch, "crop": config.crop, "lr": config.lr,
                         "seed": config.seed, "skipped_steps": summary["skipped"],
                         "seconds": round(summary["seconds"], 1), "device": device.type},
            "data": data_card,
            "validation": history[-1] if history else None,
            "versions": {"torch": torch.__version__, "python": platform.python_version()}})
        return str(path)

    about = (f"on {len(images)} photographs, {config.noise} noise, {targets} targets, {loss} "
             f"loss, {config.crop}x{config.crop} crops")
    return Task(net_config, dataset, _as_float, validate if val_pairs else None, VAL_FIELDS,
                describe, finish, about, l0_eps=config.l0_eps if loss == "l0" else None)


def fingerprint(config: PhotoBenchConfig, targets: str, loss: str, data_card: dict) -> dict:
    """What must not change between invocations that continue or reuse a run."""
    # steps: the lr ramp-down and the L0 exponent (2 -> 0) follow the whole schedule, so a run
    # is continued only with the --steps it started with (--stop-at trains part of it).
    stamp = {"noise": config.noise, "targets": targets, "loss": loss, "steps": config.steps,
             "crop": config.crop,
             "batch": config.batch, "width": config.width, "lr": config.lr,
             "residual": config.residual, "seed": config.seed,
             "noise_range": list(param_range(config)), "train_images": data_card["images"],
             "train_pixels": data_card["pixels"]}
    if targets == "noisy":  # a clean target has no noise level (one clean run serves both)
        stamp["target_level"] = config.target_level
    if loss == "l0":
        stamp["l0_eps"] = config.l0_eps
    return stamp


def train_variant(config: PhotoBenchConfig, targets: str, loss: str, images: list[np.ndarray],
                  data_card: dict[str, Any], val_pairs: list, device: torch.device
                  ) -> tuple[UNet, dict[str, Any]]:
    """Train (or reuse, or continue) one variant's run; returns the trained network in eval
    mode and {"run", "steps", "seconds", "skipped", "val": history, "reused"}."""
    import torch

    from mcdenoise.nn import loss as losses
    from mcdenoise.nn.model import UNet, UNetConfig
    from mcdenoise.train.config import TrainConfig
    from mcdenoise.train.loop import CHECKPOINT, MODEL_FILE, fit, load_checkpoint

    run = Path(config.work) / f"{targets}-{loss}"
    stamp = fingerprint(config, targets, loss, data_card)
    checkpoint = run / CHECKPOINT
    state = load_checkpoint(checkpoint, torch.device("cpu")) if checkpoint.exists() else None
    if state is not None:
        saved = json.loads((run / "photo.json").read_text()) if (run / "photo.json").exists() else {}
        # Runs from before a key was stamped: no "steps"; no "target_level" (always
        # independent); no "l0_eps" (always the paper's).
        saved.setdefault("target_level", "independent")
        if loss == "l0":
            saved.setdefault("l0_eps", losses.L0_EPS_PAPER)
        changed = [k for k in stamp if saved.get(k) != stamp[k]
                   and not (k == "steps" and "steps" not in saved)]
        if "steps" in changed:
            raise ConfigError(f"{run} holds a run of {saved['steps']} steps: --resume continues it "
                              f"only with --steps {saved['steps']} (its lr ramp-down and L0 "
                              "exponent follow that schedule; use --stop-at for part of it), or "
                              "choose another --work")
        if changed:
            raise ConfigError(f"{run} holds a run with other settings ({', '.join(changed)}); "
                              "choose another --work")
    goal = min(config.stop_at or config.steps, config.steps)  # the step to reach now
    finished = state is not None and int(state["step"]) == config.steps and (run / MODEL_FILE).exists()
    reached = finished or (state is not None and goal < config.steps and int(state["step"]) >= goal)
    if state is not None and not reached and not config.resume:
        raise ConfigError(f"{run} holds an unfinished run (step {state['step']} of {config.steps}): "
                          "pass --resume to continue it, or choose another --work")
    if not reached:
        run.mkdir(parents=True, exist_ok=True)
        (run / "photo.json").write_text(json.dumps(stamp, indent=1) + "\n")
        train_config = TrainConfig(
            output=run, preset="photo", targets=targets, loss=loss, steps=config.steps,
            width=config.width, crop=config.crop, batch=config.batch, lr=config.lr,
            residual=bool(config.residual), val_every=config.val_every,
            ckpt_every=config.ckpt_every, resume=state is not None, loader_workers=0,
            seed=config.seed, device=config.device)
        task = photo_task(config, run, targets, loss, images, data_card, val_pairs, device)
        fit(train_config, task, device, stop_at=goal)
        state = load_checkpoint(checkpoint, torch.device("cpu"))
    elif finished:
        print(f"{run}: finished run ({config.steps} steps) reused", flush=True)
    else:
        print(f"{run}: run at step {state['step']} of {config.steps} reused (--stop-at {goal}); "
              "it is tested as a partial result", flush=True)
    net = UNet(UNetConfig(3, 3, config.width, bool(config.residual))).to(device)
    net.load_state_dict(state["model"])
    return net.eval(), {"run": str(run), "steps": int(state["step"]),
                        "partial": int(state["step"]) < config.steps,
                        "seconds": round(float(state["elapsed_s"]), 1),
                        "skipped": int(state["skipped"]), "val": json.loads(state["history"]),
                        "reused": finished}


# -- the command -------------------------------------------------------------------------------
def machine(device: torch.device) -> str:
    import torch

    from mcdenoise.bench.machine import describe

    where = (torch.cuda.get_device_name(device) if device.type == "cuda"
             else f"CPU, {torch.get_num_threads()} torch thread(s)")
    return f"{describe()}; trained on {where}; torch {torch.__version__}"


def run_photo_bench(config: PhotoBenchConfig) -> int:
    """The CLI's `bench photo`: train, test, baselines, JSON + Markdown report + figures.

    SIGTERM (kill PID) acts as Ctrl-C (cli.main): the trainer checkpoints the last finished
    step, so a background run (nohup ... &, where SIGINT is ignored) continues with --resume
    from there."""
    from mcdenoise.bench.photo import baselines
    from mcdenoise.bench.photo import noise as noises
    from mcdenoise.core.files import choose_device

    command = command_line(config)
    config = resolve(config)
    model = noises.get(config.noise)
    device = choose_device(config.device)  # ConfigError for cuda without a device
    tests = load_tests(config)
    images, data_card = load_training(config)
    val_pairs = load_validation(config)
    print(f"bench photo: {config.noise} noise, {len(images)} training images "
          f"({data_card['excluded_test_images']} left out as test images), test sets "
          + ", ".join(f"{n} ({len(v)})" for n, v in tests.items()), flush=True)

    examples = set(example_names(tests))
    variant_panels: list[tuple[str, dict]] = []
    result_variants: dict[str, Any] = {}
    for targets, loss in variants(config):  # before the baselines: BM3D is the slow part
        name = f"{targets}-{loss}"
        net, info = train_variant(config, targets, loss, images, data_card, val_pairs, device)
        started = time.perf_counter()
        outputs = {n: {im.name: denoise_image(net, im.noisy, device) for im in ims}
                   for n, ims in tests.items()}
        scores = score(outputs, tests)
        result_variants[name] = {"targets": targets, "loss": loss, **scores, **info,
                                 "test_seconds": round(time.perf_counter() - started, 1)}
        print(f"{name}: " + ", ".join(f"{SET_TITLES[s]} {v['psnr']:.2f}"
                                       for s, v in scores["sets"].items())
              + f", average {scores['average']:.2f} dB", flush=True)
        variant_panels.append((f"{targets} targets, {loss}",
                               {k: outputs[k[0]][k[1]] for k in examples}))

    input_estimates = {n: {im.name: im.noisy for im in ims} for n, ims in tests.items()}
    result_baselines: dict[str, Any] = {"input": score(input_estimates, tests)}
    panels = [("noisy input", {k: input_estimates[k[0]][k[1]] for k in examples})]
    for method in baselines.baseline_methods(config.noise):
        if not config.baselines:
            result_baselines[method] = {"unavailable": "--no-baselines"}
        elif not baselines.bm3d_available():
            result_baselines[method] = {"unavailable": "the optional bm3d package is not "
                                                       "installed (pip install 'mcdenoise[bm3d]')"}
        else:
            started = time.perf_counter()
            outputs = baselines.run_baseline(config, method, tests)
            result_baselines[method] = score(outputs, tests) | {
                "seconds": round(time.perf_counter() - started, 1)}
            panels.append((BASELINE_TITLES[method], {k: outputs[k[0]][k[1]] for k in examples}))
    panels += variant_panels

    json_path = Path(config.json)
    stem = json_path.with_suffix("")
    crops, curves, report = (stem.with_name(stem.name + "_crops.png"),
                             stem.with_name(stem.name + "_curves.png"), json_path.with_suffix(".md"))
    result = {
        "noise": config.noise, "parameter": model.parameter, "test_value": model.test_value,
        "train_range": list(param_range(config)), "command": command,
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()
                   if k not in ("data_root", "work", "json", "train_dir")},
        "machine": machine(device), "date": time.strftime("%Y-%m-%d"),
        "data": data_card, "test_seed": TEST_SEED,
        "validation": {"set": split_list(config.test_sets)[0], "images": len(val_pairs),
                       "crop": min(VAL_CROP, config.test_crop or VAL_CROP)},
        "test_sets": {n: [im.name for im in ims] for n, ims in tests.items()},
        "baselines": result_baselines, "variants": result_variants,
        "paper": PAPER.get(config.noise) or PAPER_FIGURES.get(config.noise),
    }
    json_path.parent.mkdir(parents=True, exist_ok=True)
    crops_figure(crops, tests, panels)
    first_val = next((v["val"] for v in result_variants.values() if v["val"]), [])
    curves_figure(curves, {n: [(h["step"], h["psnr_output"]) for h in v["val"]]
                           for n, v in result_variants.items()},
                  ("noisy input", first_val[0]["psnr_input"]) if first_val else None,
                  f"validation PSNR, {config.noise} noise ({len(val_pairs)} centre crops of the "
                  f"last images of {split_list(config.test_sets)[0]})")
    write_text(json_path, json.dumps(result, indent=1) + "\n")
    write_text(report, report_markdown(result, crops, curves))
    print(f"wrote {json_path}, {report}, {crops.name}, {curves.name}")
    return 0
