"""`mcdenoise train`: the Noise2Noise U-Net trained from noisy pairs (or references).

    train(TrainConfig(spp=64, output=Path("runs/quick")))   # renders data if needed, trains,
                                                            # writes runs/quick/model.safetensors

A run directory RUN holds everything a run writes:

    RUN/data/               the default dataset (when no --data was given), see farm.py
    RUN/checkpoint.pt       model, optimiser, step, RNG and config; written atomically
    RUN/train.csv           step, loss, lr, grad norm, skipped steps, throughput
    RUN/val.csv             per validation: PSNR of noisy input and of the denoised output
                            against the references, relMSE, output/input channel-mean ratios
    RUN/val/step_NNNNNN.png noisy | denoised | reference strips of a few validation scenes
    RUN/tb/                 the same scalars for TensorBoard
    RUN/model.safetensors   the result: weights + JSON card (modelfile.py)

Recipe (ANCHORS.md): colour tonemapped, albedo and normal as stored (clipped to their ranges),
the network's output mapped to linear HDR through the inverse tonemap (transform.py, the
"output map"); target linear HDR; L_HDR with the stopped, clamped denominator (loss.py); Adam
(0.9, 0.99, 1e-8), constant lr then a cos^2 ramp-down over the last 30 %; gradient-norm
clipping; a step whose loss or gradient is not finite is skipped and counted. On CUDA: bf16
autocast and channels_last. With ``workers >= 1`` the same loop runs data-parallel (DDP) in
Ray Train workers, one GPU each where the cluster has them; RUN must then be a path every
node sees (as for the farm).

Data order and crops are a function of (seed, step) (dataset.py), so ``--resume`` continues
exactly where a run stopped: k steps in one go equal k/2 + k/2 with a resume, bit for bit.

The loop, fit(), trains a Task: the data, the output map, the validation and the model file.
render_task() is the one above; `mcdenoise bench photo` (bench_photo.py) brings its own.
"""
from __future__ import annotations

import csv
import json
import logging
import math
import os
import platform
import shlex
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

# torch and the modules built on it are imported where used: `mcdenoise --help` and the
# other commands should not pay for them.
if TYPE_CHECKING:
    import torch

    from mcdenoise.train.dataset import SceneFiles
    from mcdenoise.nn.model import UNet, UNetConfig
    from mcdenoise.nn.transform import Transform

CHECKPOINT = "checkpoint.pt"
MODEL_FILE = "model.safetensors"
BETAS, ADAM_EPS = (0.9, 0.99), 1e-8
STRIP_ROWS = 4  # validation scenes shown in each PNG strip


@dataclass
class TrainConfig:
    """`mcdenoise train`: train the denoiser; flags map 1:1 onto these fields.

    Fields left None take their value from the preset (PRESETS).
    """
    spp: int = 64
    data: Path | None = None
    val_data: Path | None = None
    output: Path = Path("runs/train")
    preset: str = "quick"
    targets: str = "noisy"
    steps: int | None = None
    device: str = "auto"
    workers: int = 0
    address: str | None = None
    resume: bool = False
    width: int | None = None
    inputs: str = "full"
    loss: str = "hdr"
    crop: int | None = None
    batch: int | None = None
    lr: float | None = None
    rampdown: float = 0.3
    grad_clip: float = 1.0
    exposure: str = "auto"
    output_map: str = "untonemap"
    residual: bool = True
    kernel: int = 5
    kernel_space: str = "linear"
    aux_dropout: float = 0.15
    val_every: int | None = None
    val_images: int | None = None
    ckpt_every: int | None = None
    log_every: int = 10
    scenes: str | None = None
    val_scenes: str | None = None
    size: int | None = None
    reference_spp: int | None = None
    loader_workers: int | None = None
    cache_mb: int = 4096
    seed: int = 0


# What the presets fill in. "quick": minutes on a 2-core CPU, small images of both the
# training and the validation split. "full": the paper's network and crops, meant for GPUs.
# train_count / val_count are scene counts of the default dataset, spread over the families.
PRESETS: dict[str, dict[str, Any]] = {
    "quick": dict(steps=3000, width=16, crop=64, batch=8, lr=1e-3, val_every=500, val_images=8,
                  ckpt_every=500, size=128, reference_spp=1024, train_count=32, val_count=8),
    "full": dict(steps=100_000, width=48, crop=256, batch=4, lr=3e-4, val_every=5000,
                 val_images=32, ckpt_every=1000, size=512, reference_spp=16384,
                 train_count=1000, val_count=32),
}
# Fields that must not change when a run is resumed (steps may: it extends the run).
_FIXED_ON_RESUME = ("width", "inputs", "loss", "targets", "crop", "batch", "seed", "exposure",
                    "output_map", "residual", "kernel", "kernel_space", "aux_dropout",
                    "workers")


# -- configuration -----------------------------------------------------------------------------
def resolve(config: TrainConfig) -> TrainConfig:
    """The config with every None filled from its preset, checked (ValueError names the flag)."""
    import torch

    from mcdenoise.nn import loss as losses
    from mcdenoise.nn.model import WIDTHS
    from mcdenoise.nn.transform import INPUT_SETS, OUTPUT_MAPS

    if config.preset not in PRESETS:
        raise ValueError(f"--preset must be one of {', '.join(PRESETS)}, not {config.preset!r}")
    preset = PRESETS[config.preset]
    filled = replace(config, **{k: preset[k] for k in preset
                                if hasattr(config, k) and getattr(config, k) is None})
    checks = [
        (filled.targets in ("noisy", "clean"), "--targets must be noisy or clean"),
        (filled.device in ("auto", "cpu", "cuda"), "--device must be auto, cpu or cuda"),
        (filled.width in WIDTHS, f"--width must be one of {', '.join(map(str, WIDTHS))}"),
        (filled.inputs in INPUT_SETS, f"--inputs must be one of {', '.join(INPUT_SETS)}"),
        (filled.loss in losses.NAMES and filled.loss != "masked_l2",
         f"--loss must be one of {', '.join(n for n in losses.NAMES if n != 'masked_l2')} "
         "(masked_l2 needs masks, which rendered data has not)"),
        (filled.steps >= 1, "--steps must be at least 1"),
        (filled.batch >= 1, "--batch must be at least 1"),
        (filled.crop >= 32, "--crop must be at least 32"),
        (filled.lr > 0, "--lr must be positive"),
        (0 <= filled.rampdown <= 1, "--rampdown must be in [0, 1]"),
        (filled.grad_clip >= 0, "--grad-clip must be >= 0 (0: off)"),
        (filled.workers >= 0, "--workers must be >= 0"),
        (filled.spp >= 1, "--spp must be at least 1"),
        (filled.val_every >= 0 and filled.ckpt_every >= 0 and filled.log_every >= 1,
         "--val-every and --ckpt-every must be >= 0, --log-every >= 1"),
        (filled.exposure in ("auto", "none"), "--exposure must be auto or none"),
        (0.0 <= filled.aux_dropout < 1.0, "--aux-dropout must be in [0, 1)"),
        (filled.kernel == 0 or (filled.kernel >= 3 and filled.kernel % 2 == 1),
         "--kernel must be 0 or an odd size of at least 3"),
        (filled.output_map in OUTPUT_MAPS, f"--output-map must be one of {', '.join(OUTPUT_MAPS)}"),
    ]
    for ok, message in checks:
        if not ok:
            raise ValueError(message)
    if filled.device == "cuda" and filled.workers == 0 and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is available here (use --device cpu)")
    return filled


def command_line(config: TrainConfig) -> str:
    """The `mcdenoise train` command that gives ``config`` (flags the user set, in field order)."""
    args = ["mcdenoise", "train", "--spp", str(config.spp)]
    for f in fields(TrainConfig):
        value = getattr(config, f.name)
        if f.name == "spp" or value == f.default:
            continue
        flag = "-o" if f.name == "output" else "--" + f.name.replace("_", "-")
        args += [flag] if value is True else [flag, str(value)]
    return shlex.join(args)


def config_dict(config: TrainConfig) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()}


def config_from_dict(values: dict[str, Any]) -> TrainConfig:
    paths = {"data", "val_data", "output"}
    known = {f.name for f in fields(TrainConfig)}
    return TrainConfig(**{k: Path(v) if k in paths and v is not None else v
                          for k, v in values.items() if k in known})


# -- data ------------------------------------------------------------------------------------
@dataclass
class DataPlan:
    """Which scenes train and which validate, and what the card says about them."""
    root: Path
    train: list[SceneFiles]
    val: list[SceneFiles]
    rendered: dict[str, Any] = field(default_factory=dict)

    def card(self) -> dict[str, Any]:
        def sizes(scenes: list[SceneFiles]) -> list[list[int]]:
            from mcdenoise.core.exr import read_header

            found = {(h["width"], h["height"]) for h in (read_header(s.noisy[0]) for s in scenes[:64])}
            return sorted([w, h] for w, h in found)

        families = sorted({s.scene.split(":")[0] if not s.scene.endswith(".xml") else "file"
                           for s in self.train})
        return {"root": str(self.root), "spp": self.train[0].spp if self.train else None,
                "train_scenes": len(self.train), "train_families": families,
                "train_with_reference": sum(s.reference is not None for s in self.train),
                "val_scenes": len(self.val), "image_sizes": sizes(self.train),
                "rendered": self.rendered}


def available_families() -> list[str]:
    """Scene families that can build an instance here (families still being written are
    listed by `scenes` before their module exists)."""
    import scenes

    found = []
    for name in scenes.family_names():
        try:
            scenes.describe(f"{name}:{scenes.SPLITS['train'].start}")
        except (ImportError, AttributeError):
            continue
        found.append(name)
    if not found:
        raise RuntimeError("no scene family can be built; is the scenes package installed?")
    return found


def default_spec(split: str, count: int, families: list[str]) -> str:
    """``count`` scenes of ``split`` spread over ``families`` (the first ones get one more when
    it does not divide), e.g. 'interior:0-5,cornell:0-4'."""
    import scenes

    start = scenes.SPLITS[split].start
    items = []
    for k, family in enumerate(families):
        n = count // len(families) + (1 if k < count % len(families) else 0)
        if n:
            items.append(f"{family}:{start}" if n == 1 else f"{family}:{start}-{start + n - 1}")
    return ",".join(items)


def render_default_dataset(config: TrainConfig, root: Path) -> dict[str, Any]:
    """Render the preset's training and validation scenes into ``root`` through the farm
    (resumable: what is there is kept). Returns the specs, for the card."""
    import ray

    from mcdenoise.farm.driver import DatasetConfig, start_ray

    preset = PRESETS[config.preset]
    families = None if (config.scenes and config.val_scenes) else available_families()
    train_spec = config.scenes or default_spec("train", preset["train_count"], families)
    val_spec = config.val_scenes or default_spec("validation", preset["val_count"], families)
    common = dict(output=root, spp=config.spp, width=config.size, height=config.size,
                  seed=config.seed, chunk_spp=min(4096, config.reference_spp))
    jobs = [("train", train_spec, config.reference_spp if config.targets == "clean" else 0),
            ("validation", val_spec, config.reference_spp)]
    owns_ray = not ray.is_initialized()
    start_ray(config.address)  # once for both
    try:
        for label, spec, reference_spp in jobs:
            _render(label, spec, DatasetConfig(scenes=spec, reference_spp=reference_spp, **common))
    finally:
        if owns_ray:
            ray.shutdown()
    return {"train_spec": train_spec, "val_spec": val_spec, "size": config.size,
            "spp": config.spp, "reference_spp": config.reference_spp}


def _render(label: str, spec: str, dataset: Any) -> None:
    """One farm run (a farm.DatasetConfig) with a progress bar and a one-line summary."""
    from mcdenoise.farm.driver import run_with_progress

    summary = run_with_progress(dataset, f"render {label} scenes")
    print(f"data {dataset.output}: {label} scenes {spec!r}: {summary.rendered} items rendered, "
          f"{summary.skipped} already there, {summary.failed} failed "
          f"({summary.seconds:.0f} s)", flush=True)


def plan_data(config: TrainConfig) -> DataPlan:
    """Find (rendering first where needed) the training and validation scenes."""
    import scenes

    from mcdenoise.train.dataset import scan, split_scenes

    root = Path(config.data) if config.data is not None else Path(config.output) / "data"
    found = scan(root) if root.exists() else []
    rendered: dict[str, Any] = {}
    if not found or config.data is None:
        rendered = render_default_dataset(config, root)
        found = scan(root)
    train_filter = set(scenes.parse_spec(config.scenes)) if config.scenes else None
    train, val = split_scenes(found, train_filter)
    if config.val_data is not None:
        val = [s for s in scan(config.val_data) if s.reference is not None]
    elif config.val_scenes:
        wanted = set(scenes.parse_spec(config.val_scenes))
        val = [s for s in val if s.scene in wanted]
    if not train:
        raise ValueError(f"{root}: no training scenes with a finished noisy pair "
                         "(render some with `mcdenoise dataset`)")
    spps = {s.spp for s in train}
    if spps != {config.spp}:
        raise ValueError(f"{root} holds {'/'.join(map(str, sorted(spps)))}-spp pairs, not "
                         f"{config.spp} (--spp); train with --spp {min(spps)} or use other data")
    if not val:
        warnings.warn(f"{root}: no validation scenes with references: the run is not validated")
    return DataPlan(root, train, val, rendered)


# -- schedule, checkpoints, logs ----------------------------------------------------------------
def lr_at(step: int, steps: int, base: float, rampdown: float) -> float:
    """Constant ``base``, then cos^2 down to 0 over the last ``rampdown`` fraction."""
    start = (1.0 - rampdown) * steps
    if rampdown <= 0 or step < start:
        return base
    t = (step - start) / (rampdown * steps)
    return base * math.cos(0.5 * math.pi * min(t, 1.0)) ** 2


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """torch.save, atomically: a crash never leaves half a checkpoint."""
    import torch

    from mcdenoise.core.files import atomic_path

    with atomic_path(path) as temp:
        torch.save(state, temp)


def load_checkpoint(path: Path, device: torch.device) -> dict[str, Any]:
    import torch

    # Only tensors and plain Python values inside: the safe loader suffices.
    return torch.load(path, map_location=device, weights_only=True)


class RunLog:
    """CSV files and TensorBoard scalars of rank 0. On resume, rows past the checkpoint's step
    (written before a crash) are dropped so the logs describe one consistent run."""

    TRAIN = ["step", "loss", "lr", "grad_norm", "skipped", "steps_per_s", "crops_per_s", "elapsed_s"]
    VAL = ["step", "psnr_input", "psnr_output", "relmse_input", "relmse_output",
           "ratio_r", "ratio_g", "ratio_b", "tm_ratio_r", "tm_ratio_g", "tm_ratio_b",
           "psnr_output_no_aux", "scenes",
           "elapsed_s"]

    def __init__(self, run: Path, start: int, val_fields: list[str] | None = None):
        self.run = run
        self.val = list(val_fields or self.VAL)
        for name, header in (("train.csv", self.TRAIN), ("val.csv", self.val)):
            _truncate_csv(run / name, header, start)
        self.tb = None
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(run / "tb"), purge_step=start if start else None)
        except ImportError:  # pragma: no cover - tensorboard is a dependency
            warnings.warn("tensorboard is not installed: scalars go to CSV only")

    def write(self, name: str, row: dict[str, Any]) -> None:
        header = self.TRAIN if name == "train" else self.val
        with open(self.run / f"{name}.csv", "a", newline="") as handle:
            csv.DictWriter(handle, header).writerow({k: row.get(k) for k in header})
        if self.tb is not None:
            for key, value in row.items():
                if key != "step" and isinstance(value, (int, float)) and math.isfinite(value):
                    self.tb.add_scalar(f"{name}/{key}", value, row["step"])
            self.tb.flush()

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def _truncate_csv(path: Path, header: list[str], start: int) -> None:
    rows = []
    if path.exists() and start > 0:
        with open(path, newline="") as handle:
            rows = [r for r in csv.DictReader(handle) if r.get("step") and int(r["step"]) <= start]
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, header)
        writer.writeheader()
        writer.writerows({k: r.get(k) for k in header} for r in rows)


# -- validation ------------------------------------------------------------------------------
def validate(net: UNet, transform: Transform, items: list, device: torch.device,
             strip_path: Path | None = None) -> dict[str, Any]:
    """Denoise every validation frame whole; PSNR (x/(1+x)) and relMSE of the noisy input and
    of the output against the references, and the output/input channel-mean ratios (R, G, B).
    Writes a noisy | denoised | reference strip of the first scenes to ``strip_path``."""
    from mcdenoise.core.color import preview_rgb8, save_png
    from mcdenoise.infer.denoise import Denoiser, denoise
    from mcdenoise.core.metrics import channel_ratio, psnr, relmse
    from mcdenoise.nn.transform import Transform, exposure_scale

    denoiser = Denoiser(net, transform, device=device)
    scores: dict[str, list] = {k: [] for k in ("pi", "po", "ri", "ro", "ratio", "tm", "pn")}
    rows = []
    for item in items:
        out = denoise(denoiser, item.frame).color
        noisy = item.frame.color
        if transform.missing_aux == "zeros" and len(transform.inputs) > 1:
            # The same model with its albedo and normal withheld, as for frames without them.
            scores["pn"].append(psnr(denoise(denoiser, item.frame, use_aux=False).color,
                                     item.reference))
        scores["pi"].append(psnr(noisy, item.reference))
        scores["po"].append(psnr(out, item.reference))
        scores["ri"].append(relmse(noisy, item.reference))
        scores["ro"].append(relmse(out, item.reference))
        scores["ratio"].append(channel_ratio(out, noisy))
        scores["tm"].append(channel_ratio(out, noisy, tonemapped=True))
        if strip_path is not None and len(rows) < STRIP_ROWS:
            # One exposure for the three panels, so they compare; auto-exposed for dark scenes.
            exposure = exposure_scale(noisy, Transform(exposure="auto"))
            rows.append(np.concatenate([preview_rgb8(a, exposure)
                                        for a in (noisy, out, item.reference)], axis=1))
    if strip_path is not None and rows:
        width = max(r.shape[1] for r in rows)
        rows = [np.pad(r, ((0, 2), (0, width - r.shape[1]), (0, 0))) for r in rows]
        save_png(np.concatenate(rows, axis=0), strip_path)
    ratio = np.nanmean(np.array(scores["ratio"]), axis=0)
    tm = np.nanmean(np.array(scores["tm"]), axis=0)
    return {"psnr_input": float(np.mean(scores["pi"])), "psnr_output": float(np.mean(scores["po"])),
            "relmse_input": float(np.mean(scores["ri"])), "relmse_output": float(np.mean(scores["ro"])),
            "ratio_r": float(ratio[0]), "ratio_g": float(ratio[1]), "ratio_b": float(ratio[2]),
            "tm_ratio_r": float(tm[0]), "tm_ratio_g": float(tm[1]), "tm_ratio_b": float(tm[2]),
            "psnr_output_no_aux": float(np.mean(scores["pn"])) if scores["pn"] else float("nan"),
            "scenes": len(items)}


def describe_validation(step: int, result: dict[str, Any]) -> str:
    gain = result["psnr_output"] - result["psnr_input"]
    return (f"step {step}: validation PSNR noisy {result['psnr_input']:.2f} dB -> denoised "
            f"{result['psnr_output']:.2f} dB ({gain:+.2f}); relMSE {result['relmse_input']:.4g} -> "
            f"{result['relmse_output']:.4g}; output/input channel means R {result['ratio_r']:.3f} "
            f"G {result['ratio_g']:.3f} B {result['ratio_b']:.3f} (of x/(1+x): "
            f"{result['tm_ratio_r']:.3f} {result['tm_ratio_g']:.3f} {result['tm_ratio_b']:.3f})"
            + (f"; without albedo/normal {result['psnr_output_no_aux']:.2f} dB"
               if math.isfinite(result.get("psnr_output_no_aux", math.nan)) else "")
            + f" ({result['scenes']} scenes)")


# -- the loop ----------------------------------------------------------------------------------
def pick_device(config: TrainConfig) -> "torch.device":
    import torch

    if config.device == "cuda" or (config.device == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


@dataclass
class Task:
    """What fit() trains on and how it scores it: the part that differs between the renders
    and the photographic benchmark (bench_photo.py). fit() owns everything else: the
    optimiser, the schedule, the step order, non-finite skipping, logs, checkpoints, resume.

    ``dataset`` is map-style and indexed by the global sample number (StepBatches), each item
    {"input": (C_in, H, W), "target": (C_out, H, W)[, "mask": (1, H, W)]} float32, and a
    function of (seed, index) alone so that resuming is exact. ``decode`` maps the network's
    raw (N, C_out, H, W) output to the space of the target and the loss. ``validate(net, step)``
    (rank 0, None: no validation) returns scalars for val.csv with keys ``val_fields``;
    ``describe(step, scores)`` is its one-line summary. ``finish(net, summary, history)`` writes
    the model file at the last step and returns its path.
    """
    net: UNetConfig
    dataset: Any
    decode: Callable[[torch.Tensor], torch.Tensor]
    validate: Callable[[UNet, int], dict[str, Any]] | None
    val_fields: list[str]
    describe: Callable[[int, dict[str, Any]], str]
    finish: Callable[[UNet, dict[str, Any], list[dict]], str]
    about: str  # the start-of-run line's words on the data, e.g. "on 32 scenes, ..."


def render_task(config: TrainConfig, plan: DataPlan, device: torch.device, lead: bool = True,
                world: int = 1, command: str = "") -> Task:
    """The Monte Carlo task: crops of rendered pairs (dataset.py), L_HDR space through the
    output map, validation on whole frames against references, the EXR denoiser's model file."""
    from functools import partial

    from mcdenoise.train.dataset import PairDataset, SceneStore, crop_size, validation_items
    from mcdenoise.nn.model import UNetConfig
    from mcdenoise.nn.modelfile import save_model
    from mcdenoise.nn.transform import decode_output, transform_for

    run = Path(config.output)
    linear_kernels = config.kernel and config.kernel_space == "linear"
    transform = replace(transform_for(config.inputs, config.exposure),
                        output="linear" if linear_kernels else config.output_map,
                        missing_aux="zeros" if config.aux_dropout > 0 else "error")
    store = SceneStore(plan.train, transform, config.cache_mb, cache_dir=run / "cache")
    crop = crop_size(store, config.crop)
    dataset = PairDataset(store, transform, crop, config.targets, config.seed, config.aux_dropout)
    val_items = validation_items(plan.val, config.val_images) if lead else []

    def run_validation(net: UNet, step: int) -> dict[str, Any]:
        return validate(net, transform, val_items, device, run / "val" / f"step_{step:06d}.png")

    def finish(net: UNet, summary: dict[str, Any], history: list[dict]) -> str:
        path = run / MODEL_FILE
        save_model(path, net, make_card(config, plan, net, transform, summary, history, world,
                                        device, crop, command))
        return str(path)

    network = UNetConfig(transform.channels, 3, config.width, config.residual and not config.kernel,
                         config.kernel, config.kernel_space)
    return Task(network, dataset,
                partial(decode_output, transform), run_validation if val_items else None,
                RunLog.VAL, describe_validation, finish,
                f"on {len(store)} scenes, {config.targets} targets, {crop}x{crop} crops")


def fit(config: TrainConfig, task: Task, device: torch.device, rank: int = 0, world: int = 1,
        stop_at: int | None = None) -> dict[str, Any]:
    """Train ``task`` from scratch or from RUN's checkpoint up to ``stop_at`` (default:
    config.steps). Of the config, fit uses the run directory, the optimisation fields (steps,
    batch, lr, rampdown, grad_clip, loss, seed) and the logging/checkpoint cadence.

    Every rank runs this; with world > 1 the process group must exist (Ray Train makes it).
    Rank 0 validates, logs, checkpoints and, at the last step, writes the model file.
    Returns a summary (steps done, skipped, last validation, model path or None).
    """
    import torch

    from mcdenoise.nn import loss as losses
    from mcdenoise.train.dataset import StepBatches
    from mcdenoise.nn.model import UNet, parameter_count

    distributed = world > 1
    run = Path(config.output)
    run.mkdir(parents=True, exist_ok=True)
    lead = rank == 0
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True  # fixed crop sizes: let cuDNN pick its kernels
    torch.manual_seed(config.seed)
    net = UNet(task.net).to(device)
    # channels_last is faster for these convs on CUDA and on CPU (ANCHORS.md: 5.9 vs 9.6 s).
    net = net.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr, betas=BETAS, eps=ADAM_EPS)
    start, skipped, elapsed, history = 0, 0, 0.0, []
    checkpoint = run / CHECKPOINT
    if config.resume and checkpoint.exists():  # check_run has vetted the config
        state = load_checkpoint(checkpoint, device)
        net.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start, skipped, elapsed = int(state["step"]), int(state["skipped"]), float(state["elapsed_s"])
        history = json.loads(state["history"])
        torch.set_rng_state(state["rng"]["torch"].cpu())
        if cuda and state["rng"].get("cuda") is not None:
            torch.cuda.set_rng_state(state["rng"]["cuda"].cpu())
    elif config.resume and lead:
        print(f"{run}: no checkpoint to resume from; starting from step 0", flush=True)
    model = net
    if distributed:
        model = torch.nn.parallel.DistributedDataParallel(net, device_ids=[device.index] if cuda else None)

    stop = min(stop_at or config.steps, config.steps)
    workers = config.loader_workers if config.loader_workers is not None else (4 if cuda else 0)
    loader = torch.utils.data.DataLoader(
        task.dataset, batch_sampler=StepBatches(start, stop, config.batch, rank, world),
        num_workers=workers, pin_memory=cuda, persistent_workers=False)
    loss_fn = losses.get(config.loss)
    validating = lead and task.validate is not None
    log = RunLog(run, start, task.val_fields) if lead else None
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda)

    def save(step: int) -> None:
        rng = {"torch": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state() if cuda else None}
        save_checkpoint(checkpoint, {
            "step": step, "model": net.state_dict(), "optimizer": optimizer.state_dict(),
            "skipped": skipped, "elapsed_s": elapsed + time.perf_counter() - began,
            "history": json.dumps(history), "config": config_dict(config), "rng": rng})

    def run_validation(step: int) -> None:
        result = task.validate(net, step)
        result["step"] = step
        result["elapsed_s"] = round(elapsed + time.perf_counter() - began, 2)
        history.append(result)
        log.write("val", result)
        message = task.describe(step, result)
        bar.write(message) if bar is not None else print(message, flush=True)

    if lead:
        print(f"training {task.net.width}-wide U-Net ({parameter_count(net) / 1e6:.2f} M parameters, "
              f"{task.net.in_channels} input channels) {task.about}, "
              f"batch {config.batch} x {world} worker(s), {device}, "
              f"steps {start} -> {stop} of {config.steps}", flush=True)
    began = time.perf_counter()
    bar = None
    if lead:
        from tqdm import tqdm

        bar = tqdm(total=config.steps, initial=start, unit="step", desc="train", disable=None,
                   dynamic_ncols=True)
        if start == 0 and validating and config.val_every:
            run_validation(0)  # the untrained network: the first point of the PSNR curve
    window_loss, window_count, window_start, grad_norm = 0.0, 0, time.perf_counter(), float("nan")
    completed = start
    try:
        for step, batch in enumerate(loader, start):
            lr = lr_at(step, config.steps, config.lr, config.rampdown)
            for group in optimizer.param_groups:
                group["lr"] = lr
            x = batch["input"].to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
            y = batch["target"].to(device, non_blocking=True)
            mask = batch["mask"].to(device, non_blocking=True) if "mask" in batch else None
            with autocast:
                out = task.decode(model(x))
            loss = loss_fn(out, y, progress=step / config.steps, mask=mask)
            finite = torch.isfinite(loss.detach()).float()
            if distributed:  # every rank must skip together, or DDP's all-reduce deadlocks
                torch.distributed.all_reduce(finite, op=torch.distributed.ReduceOp.MIN)
            ok = bool(finite.item())
            optimizer.zero_grad(set_to_none=True)
            if ok:
                loss.backward()
                norm = torch.nn.utils.clip_grad_norm_(
                    net.parameters(), config.grad_clip if config.grad_clip > 0 else math.inf)
                grad_norm = float(norm)
                ok = math.isfinite(grad_norm)  # gradients are all-reduced: ranks agree
                if ok:
                    optimizer.step()
                else:
                    optimizer.zero_grad(set_to_none=True)
            if not ok:
                skipped += 1
            else:
                window_loss += float(loss.detach())
                window_count += 1
            done = step + 1
            if not lead:
                continue
            bar.update(1)
            if done % config.log_every == 0 or done == stop:
                now = time.perf_counter()
                rate = (done - max(start, done - config.log_every)) / max(now - window_start, 1e-9)
                mean = window_loss / window_count if window_count else float("nan")
                log.write("train", {"step": done, "loss": mean, "lr": lr, "grad_norm": grad_norm,
                                    "skipped": skipped, "steps_per_s": round(rate, 4),
                                    "crops_per_s": round(rate * config.batch * world, 3),
                                    "elapsed_s": round(elapsed + now - began, 2)})
                bar.set_postfix(loss=f"{mean:.4g}", lr=f"{lr:.2g}", skipped=skipped, refresh=False)
                window_loss, window_count, window_start = 0.0, 0, now
            if validating and config.val_every and (done % config.val_every == 0 or done == config.steps):
                run_validation(done)
            if (config.ckpt_every and done % config.ckpt_every == 0) or done == stop:
                save(done)
            completed = done
    except KeyboardInterrupt:
        if lead and completed > start:
            save(completed)  # the step in progress is lost, the ones before it are not
            print(f"\ninterrupted: checkpoint at step {completed} in {checkpoint}; continue with "
                  "--resume", file=sys.stderr, flush=True)
        raise
    finally:
        if bar is not None:
            bar.close()
        if log is not None:
            log.close()
    if start >= stop and lead:
        print(f"{run}: already at step {start} of {config.steps}; nothing to train", flush=True)
    summary = {"step": max(start, stop), "skipped": skipped,
               "validation": history[-1] if history else None, "model": None,
               "seconds": elapsed + time.perf_counter() - began}
    if lead and max(start, stop) >= config.steps:
        if validating and (not history or history[-1]["step"] != config.steps):
            run_validation(config.steps)
            summary["validation"] = history[-1]
        summary["model"] = task.finish(net, summary, history)
    return summary


def make_card(config: TrainConfig, plan: DataPlan, net: UNet, transform: Transform,
              summary: dict[str, Any], history: list[dict], world: int, device: torch.device,
              crop: int, command: str) -> dict[str, Any]:
    import torch

    import mcdenoise
    from mcdenoise.nn.model import parameter_count

    last = summary["validation"]
    return {
        "architecture": net.config.to_dict() | {"parameters": parameter_count(net)},
        "transform": transform.to_dict(),
        "training": {"steps": config.steps, "targets": config.targets, "loss": config.loss,
                     "batch": config.batch, "workers": max(world, 1), "crop": crop,
                     "lr": config.lr, "rampdown": config.rampdown, "grad_clip": config.grad_clip,
                     "optimizer": {"name": "adam", "betas": list(BETAS), "eps": ADAM_EPS},
                     "seed": config.seed, "skipped_steps": summary["skipped"],
                     "seconds": round(summary["seconds"], 1), "device": device.type,
                     "preset": config.preset},
        "data": plan.card(),
        "validation": None if last is None else {
            "scenes": last["scenes"], "psnr_noisy_db": last["psnr_input"],
            "psnr_denoised_db": last["psnr_output"], "relmse_noisy": last["relmse_input"],
            "relmse_denoised": last["relmse_output"],
            "channel_ratio_output_over_input": [last["ratio_r"], last["ratio_g"], last["ratio_b"]],
            "tonemapped_channel_ratio_output_over_input": [
                last["tm_ratio_r"], last["tm_ratio_g"], last["tm_ratio_b"]],
            "metric": "PSNR of x/(1+x) against the references, mean over scenes",
            "history": [{"step": h["step"], "psnr_denoised_db": round(h["psnr_output"], 3)}
                        for h in history]},
        "command": command or command_line(config),
        "config": config_dict(config),
        "versions": {"mcdenoise": mcdenoise.__version__, "torch": torch.__version__,
                     "numpy": np.__version__, "python": platform.python_version()},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


# -- entry points ------------------------------------------------------------------------------
def train(config: TrainConfig, stop_at: int | None = None) -> dict[str, Any]:
    """Render data if needed, then train (in this process, or on Ray Train with ``workers``).

    ``stop_at`` ends this invocation after that step with a checkpoint (a later ``resume``
    continues); the model file is written only when ``config.steps`` is reached.
    """
    command = command_line(config)
    resolved = resolve(config)
    check_run(resolved)
    plan = plan_data(resolved)
    if resolved.workers >= 1:
        return _train_ray(resolved, plan, stop_at, command)
    device = pick_device(resolved)
    return fit(resolved, render_task(resolved, plan, device, command=command), device,
               stop_at=stop_at)


def check_run(config: TrainConfig) -> None:
    """Refuse to overwrite a run without --resume, or to resume it with another recipe."""
    import torch

    checkpoint = Path(config.output) / CHECKPOINT
    if not checkpoint.exists():
        return
    state = load_checkpoint(checkpoint, torch.device("cpu"))
    if not config.resume:
        raise ValueError(f"{config.output} already holds a run (checkpoint at step {state['step']}): "
                         "pass --resume to continue it, or choose another -o")
    saved = state["config"]
    changed = [k for k in _FIXED_ON_RESUME if saved.get(k) != getattr(config, k)]
    if changed:
        raise ValueError(f"{checkpoint}: cannot resume with other " + ", ".join(
            f"--{k.replace('_', '-')} ({saved.get(k)} -> {getattr(config, k)})" for k in changed))


def _ray_worker(loop_config: dict[str, Any]) -> None:
    """One Ray Train worker: the same loop, with DDP across the workers."""
    import ray.train
    import ray.train.torch

    context = ray.train.get_context()
    config = config_from_dict(loop_config["config"])
    device = ray.train.torch.get_device()
    rank, world = context.get_world_rank(), context.get_world_size()
    task = render_task(config, loop_config["plan"], device, lead=rank == 0, world=world,
                       command=loop_config["command"])
    fit(config, task, device, rank=rank, world=world, stop_at=loop_config["stop_at"])


def _train_ray(config: TrainConfig, plan: DataPlan, stop_at: int | None, command: str) -> dict[str, Any]:
    import ray
    import torch
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    run = Path(config.output).resolve()
    config = replace(config, output=run, data=config.data and Path(config.data).resolve(),
                     val_data=config.val_data and Path(config.val_data).resolve())
    owns = not ray.is_initialized()
    if owns:
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a private, local cluster
        if config.address:
            ray.init(address=config.address, logging_level=logging.ERROR)
        else:
            ray.init(num_cpus=max(os.cpu_count() or 1, config.workers), include_dashboard=False,
                     logging_level=logging.ERROR)
    try:
        gpus = ray.cluster_resources().get("GPU", 0)
        use_gpu = config.device == "cuda" or (config.device == "auto" and gpus >= config.workers)
        trainer = TorchTrainer(
            _ray_worker,
            train_loop_config={"config": config_dict(config), "plan": plan, "stop_at": stop_at,
                               "command": command},
            scaling_config=ScalingConfig(num_workers=config.workers, use_gpu=use_gpu),
            run_config=RunConfig(name="ray", storage_path=str(run / "ray")))
        trainer.fit()
    finally:
        if owns:
            ray.shutdown()
    state = load_checkpoint(run / CHECKPOINT, torch.device("cpu"))
    history = json.loads(state["history"])
    model = run / MODEL_FILE
    return {"step": int(state["step"]), "skipped": int(state["skipped"]),
            "validation": history[-1] if history else None,
            "model": str(model) if int(state["step"]) >= config.steps and model.exists() else None,
            "seconds": float(state["elapsed_s"])}


def run_train(config: TrainConfig) -> int:
    """The CLI's `train`: prints where the model went and how it scores."""
    summary = train(config)
    if summary["model"]:
        print(f"wrote {summary['model']} after {summary['step']} steps "
              f"({summary['skipped']} skipped, {summary['seconds']:.0f} s)")
        if summary["validation"]:
            print(describe_validation(summary["step"], summary["validation"]))
    return 0
