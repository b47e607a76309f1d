"""`mcdenoise bench photo`: the paper's photographic experiments (Table 1, Figures 3 and 4).

    mcdenoise bench photo --noise gaussian --targets noisy,clean --data-root IMAGES \\
        --json out/gaussian.json                      # trains both, tests, writes the report

For each requested training variant (targets x losses) the U-Net trains through the render
trainer's loop (train.fit: same optimiser, schedule, checkpoints, logs, resume) on random crops
of the training photographs with synthetic noise (photos.py, noise.py), then denoises every
test image (noise fixed at the test parameter and seeded per image, so all methods see the
same inputs) and scores PSNR per set and on average (the mean of the set means, as the paper).
The classical baselines run on the same inputs: BM3D for Gaussian noise, Anscombe + BM3D +
exact unbiased inverse for Poisson (when the optional ``bm3d`` package is installed), and the
noisy input itself for every noise.

Writes FILE (--json), FILE.md (the report: table next to the paper's numbers, budget, notes),
FILE_crops.png (example crops) and FILE_curves.png (validation PSNR during training). Training
runs live in WORK/<targets>-<loss>/ (checkpoint.pt, train.csv, val.csv, tb/, model.safetensors,
photo.json); a finished run is reused when the command is repeated, an interrupted one
continues with --resume. BM3D outputs are cached in WORK/baselines/.

Loss studies (paper Figures 3 and 4) are one command each:

    mcdenoise bench photo --noise text --losses l2,l1 ...
    mcdenoise bench photo --noise impulse --losses l2,l1,l0 ...
"""
from __future__ import annotations

import json
import math
import os
import platform
import shlex
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mcdenoise.bench.figures import curves_figure, label_font
from mcdenoise.core.color import save_png
from mcdenoise.core.files import write_text

if TYPE_CHECKING:
    import torch

    from mcdenoise.nn.model import UNet

TEST_SEED = 2018  # test noise is fixed by (this, set, image name): the same for every run
VAL_CROP = 256  # validation during training: centre crops of the last images of the first set
VAL_FIELDS = ["step", "psnr_input", "psnr_output", "images", "elapsed_s"]
SET_TITLES = {"kodak24": "Kodak", "bsd300": "BSD300", "set14": "Set14"}

# The paper's Table 1 (dB): Kodak / BSD300 / Set14 / average. Gaussian rows are the RED30
# network's; the U-Net scores 0.1-0.2 dB lower (official code: Kodak 32.38 / 32.39).
_SETS = ("kodak24", "bsd300", "set14", "average")
PAPER: dict[str, dict[str, dict[str, float]]] = {
    "gaussian": {"clean": dict(zip(_SETS, (32.50, 31.07, 31.31, 31.63))),
                 "noisy": dict(zip(_SETS, (32.48, 31.06, 31.28, 31.61))),
                 "bm3d": dict(zip(_SETS, (31.82, 30.34, 30.50, 30.89)))},
    "poisson": {"clean": dict(zip(_SETS, (31.52, 30.18, 30.07, 30.59))),
                "noisy": dict(zip(_SETS, (31.50, 30.16, 30.06, 30.57))),
                "anscombe_bm3d": dict(zip(_SETS, (29.15, 27.56, 28.36, 28.36)))},
    "bernoulli": {"clean": dict(zip(_SETS, (33.01, 31.04, 31.51, 31.85))),
                  "noisy": dict(zip(_SETS, (33.17, 31.16, 31.72, 32.02))),
                  "dip": dict(zip(_SETS, (30.78, 28.97, 30.67, 30.14)))},
}
# Figures 3 and 4: one number per method (as quoted in the project's anchors), not per set.
PAPER_FIGURES: dict[str, dict[str, float]] = {
    "text": {"input": 17.12, "noisy-l2": 26.89, "noisy-l1": 35.75, "clean": 35.82},
    "impulse": {"input": 8.89, "noisy-l2": 13.02, "noisy-l1": 16.36, "noisy-l0": 28.43,
                "clean": 28.86},
}
BASELINE_TITLES = {"input": "noisy input", "bm3d": "BM3D", "anscombe_bm3d": "Anscombe+BM3D",
                   "dip": "DIP"}


@dataclass
class PhotoBenchConfig:
    """`mcdenoise bench photo`; flags map 1:1 onto these fields (None: from the preset)."""
    noise: str
    json: Path
    targets: str = "noisy"
    losses: str | None = None
    data_root: Path | None = None
    train_dir: Path | None = None
    test_sets: str = "kodak24,bsd300,set14"
    preset: str = "small"
    steps: int | None = None
    crop: int | None = None
    batch: int | None = None
    width: int | None = None
    lr: float | None = None
    residual: bool | None = None
    noise_range: str | None = None
    test_limit: int | None = None
    test_crop: int | None = None
    train_limit: int | None = None
    val_every: int | None = None
    val_images: int | None = None
    ckpt_every: int | None = None
    work: Path | None = None
    baselines: bool = True
    resume: bool = False
    device: str = "auto"
    seed: int = 0


# quick: proves the wiring in seconds (CI). small: the student report's scale (32x32 crops),
# minutes to an hour on a CPU core. paper: the full protocol (256^2 crops, batch 4, the
# paper's width and 300k iterations with lr 3e-4 as in the official code), for a GPU.
PRESETS: dict[str, dict[str, Any]] = {
    "quick": dict(steps=6, crop=32, batch=2, width=16, lr=1e-3, residual=True, test_limit=1,
                  test_crop=64, train_limit=8, val_every=3, val_images=1, ckpt_every=3),
    "small": dict(steps=3000, crop=32, batch=16, width=32, lr=1e-3, residual=True,
                  test_limit=None, test_crop=None, train_limit=None, val_every=250,
                  val_images=4, ckpt_every=250),
    "paper": dict(steps=300_000, crop=256, batch=4, width=48, lr=3e-4, residual=False,
                  test_limit=None, test_crop=None, train_limit=None, val_every=5000,
                  val_images=24, ckpt_every=1000),
}


# -- configuration ---------------------------------------------------------------------------
def split_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def resolve(config: PhotoBenchConfig) -> PhotoBenchConfig:
    """Fill Nones from the preset and check every flag (ValueError names it)."""
    from mcdenoise.nn import loss as losses
    from mcdenoise.bench.photo import noise as noises
    from mcdenoise.nn.model import WIDTHS
    from mcdenoise.bench.photo.images import TEST_SETS

    if config.preset not in PRESETS:
        raise ValueError(f"--preset must be one of {', '.join(PRESETS)}, not {config.preset!r}")
    preset = PRESETS[config.preset]
    filled = replace(config, **{k: v for k, v in preset.items() if getattr(config, k) is None})
    model = noises.get(config.noise)  # ValueError for an unknown noise
    if filled.losses is None:
        filled = replace(filled, losses=model.loss)
    if filled.data_root is None:
        env = os.environ.get("MCDENOISE_IMAGES")
        if not env:
            raise ValueError("--data-root is needed: a folder holding kodak24/, bsd300_test/, "
                             "set14/ and train/ (or set MCDENOISE_IMAGES)")
        filled = replace(filled, data_root=Path(env))
    if filled.work is None:
        filled = replace(filled, work=Path("runs") / "photo" / config.noise)
    targets, loss_names, sets = (split_list(filled.targets), split_list(filled.losses),
                                 split_list(filled.test_sets))
    checks = [
        (targets and set(targets) <= {"noisy", "clean"}, "--targets: noisy, clean or noisy,clean"),
        (loss_names and set(loss_names) <= set(losses.NAMES) - {"hdr"},
         f"--losses: a list of {', '.join(n for n in losses.NAMES if n != 'hdr')}"),
        (sets and set(sets) <= set(TEST_SETS), f"--test-sets: a list of {', '.join(TEST_SETS)}"),
        (Path(filled.data_root).is_dir(), f"--data-root {filled.data_root}: no such folder"),
        (filled.steps >= 1 and filled.batch >= 1, "--steps and --batch must be at least 1"),
        (filled.crop >= 32 and filled.crop % 32 == 0, "--crop must be a multiple of 32"),
        (filled.width in WIDTHS, f"--width must be one of {', '.join(map(str, WIDTHS))}"),
        (filled.lr > 0, "--lr must be positive"),
        (filled.test_limit is None or filled.test_limit >= 1, "--test-limit must be at least 1"),
        (filled.test_crop is None or filled.test_crop >= 8, "--test-crop must be at least 8"),
        (filled.device in ("auto", "cpu", "cuda"), "--device must be auto, cpu or cuda"),
        (filled.val_every >= 0 and filled.ckpt_every >= 0, "--val-every, --ckpt-every >= 0"),
    ]
    for ok, message in checks:
        if not ok:
            raise ValueError(message)
    if "masked_l2" in loss_names and config.noise != "bernoulli":
        raise ValueError("--losses masked_l2 is for Bernoulli noise (the only one with masks)")
    param_range(filled)  # checks --noise-range
    return filled


def param_range(config: PhotoBenchConfig) -> tuple[float, float]:
    from mcdenoise.bench.photo import noise as noises

    if config.noise_range is None:
        return noises.get(config.noise).train_range
    try:
        low, high = (float(v) for v in config.noise_range.split(","))
    except ValueError:
        raise ValueError(f"--noise-range must be LOW,HIGH, not {config.noise_range!r}") from None
    if not 0 <= low <= high:
        raise ValueError(f"--noise-range must have 0 <= LOW <= HIGH, not {config.noise_range!r}")
    return low, high


def variants(config: PhotoBenchConfig) -> list[tuple[str, str]]:
    """(targets, loss) of every training run, in report order (clean targets first)."""
    targets = sorted(split_list(config.targets), key=lambda t: t != "clean")
    return [(t, loss) for t in targets for loss in split_list(config.losses)]


def command_line(config: PhotoBenchConfig) -> str:
    args = ["mcdenoise", "bench", "photo"]
    defaults = PhotoBenchConfig(noise=config.noise, json=config.json)
    for name, value in asdict(config).items():
        if name != "noise" and name != "json" and value == getattr(defaults, name):
            continue
        flag = "--" + name.replace("_", "-")
        if value is True:
            args.append(flag)
        elif value is False:
            args.append("--no-" + name.replace("_", "-"))
        else:
            args += [flag, str(value)]
    return shlex.join(args)


# -- data ------------------------------------------------------------------------------------
@dataclass
class TestImage:
    set: str
    name: str
    clean: np.ndarray  # (H, W, 3) uint8
    noisy: np.ndarray  # (H, W, 3) float32 [0, 1] units, not clipped


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
    """The train.Task of one variant: noisy crops in, [0, 1] images out, validation PSNR."""
    from mcdenoise.nn.model import UNetConfig
    from mcdenoise.nn.modelfile import save_model
    from mcdenoise.bench.photo.images import NoisyCrops, psnr8
    from mcdenoise.train.mc import MODEL_FILE, Task

    dataset = NoisyCrops(images, config.noise, config.crop, targets, config.seed, param_range(config))
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
                describe, finish, about)


def fingerprint(config: PhotoBenchConfig, targets: str, loss: str, data_card: dict) -> dict:
    """What must not change between invocations that continue or reuse a run."""
    return {"noise": config.noise, "targets": targets, "loss": loss, "crop": config.crop,
            "batch": config.batch, "width": config.width, "lr": config.lr,
            "residual": config.residual, "seed": config.seed,
            "noise_range": list(param_range(config)), "train_images": data_card["images"],
            "train_pixels": data_card["pixels"]}


def train_variant(config: PhotoBenchConfig, targets: str, loss: str, images: list[np.ndarray],
                  data_card: dict[str, Any], val_pairs: list, device: torch.device
                  ) -> tuple[UNet, dict[str, Any]]:
    """Train (or reuse, or continue) one variant's run; returns the trained network in eval
    mode and {"run", "steps", "seconds", "skipped", "val": history, "reused"}."""
    import torch

    from mcdenoise.nn.model import UNet, UNetConfig
    from mcdenoise.train.mc import CHECKPOINT, MODEL_FILE, TrainConfig, fit, load_checkpoint

    run = Path(config.work) / f"{targets}-{loss}"
    stamp = fingerprint(config, targets, loss, data_card)
    checkpoint = run / CHECKPOINT
    state = load_checkpoint(checkpoint, torch.device("cpu")) if checkpoint.exists() else None
    if state is not None:
        saved = json.loads((run / "photo.json").read_text()) if (run / "photo.json").exists() else {}
        changed = [k for k in stamp if saved.get(k) != stamp[k]]
        if changed:
            raise ValueError(f"{run} holds a run with other settings ({', '.join(changed)}); "
                             "choose another --work")
    finished = state is not None and int(state["step"]) == config.steps and (run / MODEL_FILE).exists()
    if state is not None and not finished and not config.resume:
        raise ValueError(f"{run} holds an unfinished run (step {state['step']} of {config.steps}): "
                         "pass --resume to continue it, or choose another --work")
    if not finished:
        run.mkdir(parents=True, exist_ok=True)
        (run / "photo.json").write_text(json.dumps(stamp, indent=1) + "\n")
        train_config = TrainConfig(
            output=run, preset="photo", targets=targets, loss=loss, steps=config.steps,
            width=config.width, crop=config.crop, batch=config.batch, lr=config.lr,
            residual=bool(config.residual), val_every=config.val_every,
            ckpt_every=config.ckpt_every, resume=state is not None, loader_workers=0,
            seed=config.seed, device=config.device)
        task = photo_task(config, run, targets, loss, images, data_card, val_pairs, device)
        fit(train_config, task, device)
        state = load_checkpoint(checkpoint, torch.device("cpu"))
    else:
        print(f"{run}: finished run ({config.steps} steps) reused", flush=True)
    net = UNet(UNetConfig(3, 3, config.width, bool(config.residual))).to(device)
    net.load_state_dict(state["model"])
    return net.eval(), {"run": str(run), "steps": int(state["step"]),
                        "seconds": round(float(state["elapsed_s"]), 1),
                        "skipped": int(state["skipped"]), "val": json.loads(state["history"]),
                        "reused": finished}


# -- baselines -------------------------------------------------------------------------------
def baseline_methods(noise: str) -> list[str]:
    return {"gaussian": ["bm3d"], "poisson": ["anscombe_bm3d"]}.get(noise, [])


def run_baseline(config: PhotoBenchConfig, method: str, tests: dict[str, list[TestImage]]
                 ) -> dict[str, dict[str, np.ndarray]]:
    """Outputs of a BM3D baseline for every test image, cached in WORK/baselines/ as 8-bit
    PNGs (what PSNR is taken of anyway) keyed by method, test parameter, seed and crop."""
    from tqdm import tqdm

    from mcdenoise.bench.photo import baselines
    from mcdenoise.bench.photo import noise as noises
    from mcdenoise.bench.photo.images import load_image, to_float

    value = noises.get(config.noise).test_value
    cache = (Path(config.work) / "baselines" /
             f"{method}-{value:g}-seed{TEST_SEED}-crop{config.test_crop or 'none'}")
    outputs: dict[str, dict[str, np.ndarray]] = {}
    total = sum(len(images) for images in tests.values())
    with tqdm(total=total, desc=f"baseline {method}", unit="image", disable=None) as bar:
        for name, images in tests.items():
            outputs[name] = {}
            for image in images:
                path = cache / name / f"{image.name}.png"
                if not path.exists():
                    if method == "bm3d":
                        out = baselines.bm3d_gaussian(image.noisy, value / 255.0)
                    else:
                        out = baselines.anscombe_bm3d(image.noisy, value)
                    save_png(np.round(np.clip(out, 0, 1) * 255).astype(np.uint8), path)
                outputs[name][image.name] = to_float(load_image(path))
                bar.update(1)
    return outputs


# -- figures and report ------------------------------------------------------------------------
def crops_figure(path: Path, tests: dict[str, list[TestImage]],
                 panels: list[tuple[str, dict[tuple[str, str], np.ndarray]]],
                 size: int = 128) -> None:
    """Rows: the first image of each set; columns: clean, then each (title, outputs) panel
    (outputs keyed by (set, image name)); a size x size window at the image centre, each tile labelled with its PSNR."""
    from PIL import Image, ImageDraw

    from mcdenoise.bench.photo.images import center_crop, psnr8

    rows = [(n, images[0]) for n, images in tests.items() if images]
    label, pad = 34, 4
    columns = 1 + len(panels)
    sheet = Image.new("RGB", (columns * (size + pad) + pad, len(rows) * (size + label + pad) + label),
                      "white")
    draw = ImageDraw.Draw(sheet)
    font = label_font(12)
    for c, title in enumerate(["clean"] + [p[0] for p in panels]):
        draw.text((pad + c * (size + pad), 6), title, fill="black", font=font)
    for r, (set_name, image) in enumerate(rows):
        top = label + r * (size + label + pad)
        tiles = [(image.clean.astype(np.float32) / 255.0, f"{SET_TITLES[set_name]} {image.name}")]
        for _, outputs in panels:
            estimate = outputs[(set_name, image.name)]
            tiles.append((estimate, f"{psnr8(estimate, image.clean):.2f} dB"))
        for c, (array, caption) in enumerate(tiles):
            window = center_crop(np.round(np.clip(array, 0, 1) * 255).astype(np.uint8), size)
            left = pad + c * (size + pad)
            sheet.paste(Image.fromarray(np.ascontiguousarray(window)), (left, top))
            draw.text((left, top + window.shape[0] + 2), caption, fill="black", font=font)
    save_png(sheet, path)


def _cell(value: float | None) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.2f}"


def report_markdown(result: dict[str, Any], crops: Path, curves: Path) -> str:
    """The Markdown report of one `bench photo` run."""
    noise, cfg = result["noise"], result["config"]
    sets = list(result["test_sets"])
    columns: list[tuple[str, dict]] = []  # (title, scores)
    paper = PAPER.get(noise, {})
    for name, scores in result["baselines"].items():
        if scores.get("sets"):
            columns.append((BASELINE_TITLES.get(name, name), scores))
    for name, variant in result["variants"].items():
        columns.append((f"ours, {variant['targets']} targets, {variant['loss']}", variant))
    lines = [f"# Photographic benchmark: {noise} noise",
             "",
             f"Noise: {result['parameter']} {result['test_value']:g} at test, drawn from "
             f"[{result['train_range'][0]:g}, {result['train_range'][1]:g}] per training example. "
             f"Command: `{result['command']}`",
             "",
             f"Machine: {result['machine']}; {result['date']}.",
             "",
             f"Training (each variant): {cfg['steps']} steps of batch {cfg['batch']} x "
             f"{cfg['crop']}x{cfg['crop']} crops, {cfg['width']}-wide U-Net "
             f"({'residual' if cfg['residual'] else 'plain'}), Adam lr {cfg['lr']:g} with a cos^2 "
             f"ramp-down over the last 30 %, {result['data']['images']} training images "
             f"({result['data']['folder']}; {result['data']['excluded_test_images']} left out as "
             f"test images), preset `{cfg['preset']}`.",
             "",
             "Testing: " + ", ".join(f"{SET_TITLES[s]} {len(result['test_sets'][s])} images"
                                     for s in sets)
             + (f" (the first {cfg['test_limit']} of each set by name)" if cfg["test_limit"] else "")
             + (f", centre {cfg['test_crop']}x{cfg['test_crop']} crops" if cfg["test_crop"] else
                ", whole images")
             + ". PSNR of 8-bit outputs (clipped, rounded) against the originals, mean over "
               "the images of a set; Average is the mean of the set means, as in the paper.",
             "",
             f"Validation during training (the curves only; nothing is selected by it): "
             f"{result['validation']['images']} centre {result['validation']['crop']}-pixel crops "
             f"of the last images of {result['validation']['set']}, with their own noise seeds.",
             ""]
    if noise == "gaussian":
        lines += ["The paper's Gaussian numbers are its RED30 network's; its U-Net (ours) scores "
                  "0.1-0.2 dB lower (official code: Kodak 32.38 / 32.39, BSD300 31.01 / 31.02 "
                  "for clean / noisy targets).", ""]
    unavailable = [f"{BASELINE_TITLES.get(n, n)}: {s['unavailable']}"
                   for n, s in result["baselines"].items() if s.get("unavailable")]
    header = "| set | " + " | ".join(c[0] for c in columns)
    paper_columns = list(paper.items())
    header += "".join(f" | paper: {BASELINE_TITLES.get(k, k + ' targets')}" for k, _ in paper_columns)
    lines += ["## PSNR (dB)", "", header + " |",
              "|---" * (1 + len(columns) + len(paper_columns)) + "|"]
    for s in sets + ["average"]:
        row = [SET_TITLES.get(s, "Average")]
        for _, scores in columns:
            row.append(_cell(scores["average"] if s == "average" else scores["sets"][s]["psnr"]))
        for _, values in paper_columns:
            row.append(_cell(values.get(s)))
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    if unavailable:
        lines += ["Not run: " + "; ".join(unavailable) + ".", ""]
    if noise in PAPER_FIGURES:
        figure = PAPER_FIGURES[noise]
        lines += ["The paper's numbers for this noise (Figure " + ("3" if noise == "text" else "4")
                  + "): " + ", ".join(f"{k} {v:.2f} dB" for k, v in figure.items()) + ".", ""]
    by_targets = {(v["targets"], v["loss"]): v for v in result["variants"].values()}
    gaps = []
    for (targets, loss), variant in by_targets.items():
        clean = by_targets.get(("clean", loss))
        if targets == "noisy" and clean is not None:
            gap = variant["average"] - clean["average"]
            gaps.append(f"{loss}: noisy minus clean targets {gap:+.2f} dB on average ("
                        + ", ".join(f"{SET_TITLES[s]} {variant['sets'][s]['psnr'] - clean['sets'][s]['psnr']:+.2f}"
                                    for s in sets) + ")")
            if "noisy" in paper and "clean" in paper:
                gaps[-1] += f"; paper {paper['noisy']['average'] - paper['clean']['average']:+.2f} dB"
    if gaps:
        lines += ["Noise2Noise against clean targets: " + "; ".join(gaps) + ".", ""]
    lines += ["Training time per variant: " + ", ".join(
        f"{name} {v['seconds']:.0f} s ({v['steps']} steps, {v['skipped']} skipped)"
        for name, v in result["variants"].items()) + ".", ""]
    lines += [f"![example crops]({crops.name})", "",
              f"![validation PSNR during training]({curves.name})", ""]
    return "\n".join(lines)


# -- the command -------------------------------------------------------------------------------
def machine(device: torch.device) -> str:
    import torch

    from mcdenoise.bench.machine import describe

    where = (torch.cuda.get_device_name(device) if device.type == "cuda"
             else f"CPU, {torch.get_num_threads()} torch thread(s)")
    return f"{describe()}; trained on {where}; torch {torch.__version__}"


def run_photo_bench(config: PhotoBenchConfig) -> int:
    """The CLI's `bench photo`: train, test, baselines, JSON + Markdown report + figures."""
    from mcdenoise.bench.photo import baselines
    from mcdenoise.bench.photo import noise as noises
    from mcdenoise.train.mc import TrainConfig, pick_device

    command = command_line(config)
    config = resolve(config)
    model = noises.get(config.noise)
    device = pick_device(TrainConfig(device=config.device))
    if config.device == "cuda" and device.type != "cuda":
        raise ValueError("--device cuda: no CUDA device is available here (use --device cpu)")
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
    for method in baseline_methods(config.noise):
        if not config.baselines:
            result_baselines[method] = {"unavailable": "--no-baselines"}
        elif not baselines.bm3d_available():
            result_baselines[method] = {"unavailable": "the optional bm3d package is not "
                                                       "installed (pip install 'mcdenoise[bm3d]')"}
        else:
            started = time.perf_counter()
            outputs = run_baseline(config, method, tests)
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


if __name__ == "__main__":  # pragma: no cover
    from mcdenoise.cli import main

    sys.exit(main(["bench", "photo", *sys.argv[1:]]))
