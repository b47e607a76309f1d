"""`mcdenoise train`'s configuration: the flags, the presets, and checking them.

Every field of TrainConfig is one flag of `mcdenoise train` (mcdenoise/flags.py), so its
type, default and help text are written here once; register() builds the subcommand from
them. Fields left None are filled from the preset (PRESETS) by resolve(), which also checks
every value and names the flag that is wrong (ConfigError).

This module imports neither torch nor the training code: `mcdenoise --help` stays quick.
"""
from __future__ import annotations

import argparse
import textwrap
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from mcdenoise import flags
from mcdenoise.errors import ConfigError
from mcdenoise.flags import flag
from renderers import albedo as albedos

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
FIXED_ON_RESUME = ("width", "inputs", "loss", "targets", "crop", "batch", "seed", "exposure",
                   "output_map", "residual", "kernel", "kernel_space", "scales", "demodulate",
                   "separate_kernels", "band_weights", "aux_dropout", "workers", "albedo")

# Fields added with a default other than what runs saved before them did: a run saved
# without the field used this value.
BEFORE_FIELD = {"scales": 1, "albedo": albedos.LEGACY}


@dataclass
class TrainConfig:
    """`mcdenoise train`: train the denoiser; flags map 1:1 onto these fields.

    Fields left None take their value from the preset (PRESETS).
    """
    spp: int = flag(64, help="spp of the noisy pairs")
    data: Path | None = flag(
        None, metavar="DIR", help="farm dataset directory (default: RUN/data, rendered by the "
        "preset); rendered first when DIR holds no pairs")
    val_data: Path | None = flag(
        None, metavar="DIR", help="validate on every scene with a reference in DIR (default: "
        "the validation-split scenes of the data)")
    albedo: str | None = flag(
        None, choices=albedos.KINDS, help="the albedo buffer the model learns from "
        "(renderers/albedo.py): the kind --data and --val-data hold (default: theirs; for data "
        f"rendered by the run, {albedos.DEFAULT})")
    output: Path = flag(Path("runs/train"), short="-o", metavar="RUN", help="run directory")
    preset: str = flag("quick", choices=tuple(PRESETS),
                       help="fills in the flags below marked 'preset'")
    targets: str = flag(
        "noisy", choices=("noisy", "clean"), help="noisy: the pair's other render (Noise2Noise, "
        "default); clean: the reference (the control experiment)")
    steps: int | None = flag(None, preset=True, help="training steps")
    minutes: float | None = flag(
        None, metavar="M", help="wall-clock budget of this invocation, rendering included: "
        "training stops and writes the model M minutes after the start (--steps is then an "
        "upper bound, and the learning-rate schedule follows whichever of steps and time is "
        "further along)")
    device: str = flag("auto", choices=("auto", "cpu", "cuda"), help="auto: CUDA when available")
    workers: int = flag(0, help="data-parallel Ray Train workers (DDP, one GPU each where "
                                "present); 0: train in this process")
    address: str | None = flag(None, help="Ray cluster to run --workers on (default: a local Ray)")
    resume: bool = flag(False, help="continue RUN from its checkpoint (model, optimiser, "
                                    "schedule, data order)")
    init: str | None = flag(
        None, metavar="MODEL", help="start from this model file's weights ('default': the "
        "shipped model) instead of random ones: its network and transform are kept (width, "
        "inputs, head, exposure and output map come from its card) and its card's lineage "
        "continues in the new card; a larger --width grows the network around the same "
        "function (nn/widen.py)")
    width: int | None = flag(None, preset=True, choices=(48, 32, 24, 16),
                             help="U-Net width: 48 the paper's, 32 and 24 lighter, 16 tiny")
    inputs: str = flag("full", choices=("color", "albedo", "full"),
                       help="network inputs: colour, + albedo, + albedo + normal")
    loss: str = flag("hdr", choices=("hdr", "l2", "l1", "l0"),
                     help="hdr: L_HDR; l2, l1, l0 (annealed) for experiments")
    crop: int | None = flag(None, preset=True, help="training crop side in pixels, rounded down "
                                                    "to a multiple of 32")
    batch: int | None = flag(None, preset=True, help="crops per step and worker")
    lr: float | None = flag(None, preset=True, help="Adam learning rate")
    rampdown: float = flag(0.3, help="fraction of training with the cos^2 lr ramp-down")
    grad_clip: float = flag(1.0, help="clip the gradient norm to this; 0: off")
    ema: float = flag(
        0.0, metavar="DECAY", help="keep an exponential moving average of the weights (decay "
        "per step, e.g. 0.999; warmed up as min(DECAY, (1+step)/(10+step))): validation and the "
        "model file use it, which steadies the noise of noisy-target gradients (0: off)")
    distill: float = flag(
        0.0, metavar="SHARE", help="blend this share of the network's own prediction into each "
        "noisy target: the --ema average (else the network) run on the input's 8 flips and "
        "transposes, turned back and averaged (infer/ensemble.py), a target of the same mean "
        "and less variance, still from noisy renders only (0: off)")
    exposure: str = flag(
        "auto", choices=("auto", "none"), help="auto: scale each input so its block-luminance "
        "geometric mean is 0.18, undone on the output")
    output_map: str = flag(
        "untonemap", choices=("untonemap", "linear", "exp"),
        help="how the last conv's output z becomes linear HDR: untonemap: T^-1(z) (the network "
             "predicts the tonemapped image; exponential above 4 stops over the key), linear: z "
             "itself (the paper's), exp: exp(z); the loss is L_HDR on linear HDR in every case")
    residual: bool = flag(
        True, help="add the tonemapped input colour to the output (the last conv starts at "
                   "zero, so training starts from the input, not from noise; default on)")
    kernel: int = flag(5, help="predict per-pixel size x size filter kernels applied to the "
                               "input colour instead of the colour itself; 0: predict the "
                               "colour (the paper's network)")
    kernel_space: str = flag(
        "linear", choices=("tonemapped", "linear"), help="average the linear HDR input colour "
        "(keeps energy; the output map is then linear) or the tonemapped one")
    scales: int = flag(
        5, help="apply the kernels at this many levels of a pyramid of the colour (full, "
                "1/2, ... 1/16 resolution, blended per pixel; 1: full resolution only, as "
                "models before the architecture study in benchmarks/results/train_study.md)")
    demodulate: bool = flag(
        False, help="the kernels also filter the colour divided by the albedo (texture "
        "removed, noise left) and a per-pixel share of that result, times the albedo, "
        "replaces the plain one: a textured surface can then be averaged widely without "
        "blurring its texture (needs --kernel, linear kernels and an albedo input; with --init "
        "it grows the model's head around the same function)")
    separate_kernels: bool = flag(
        False, help="with --demodulate: the demodulated image gets kernels of its own instead "
        "of sharing the plain image's (with --init from a --demodulate model they start as "
        "copies of the shared ones)")
    band_weights: bool = flag(
        False, help="every pyramid level but the coarsest also predicts how much of its own "
        "frequency band a pixel keeps, so a flat wall can take all its frequencies from the "
        "coarser levels instead of keeping the full-resolution kernel's grain (needs --scales "
        "above 1; with --init the new weights start keeping every band whole)")
    aux_dropout: float = flag(
        0.15, help="probability that a crop's albedo, and separately its normal, is replaced "
                   "by zeros, so the model also denoises frames without them (0: never)")
    val_every: int | None = flag(None, preset=True,
                                 help="validate every N steps; 0: only at the end")
    val_images: int | None = flag(None, preset=True, help="validation scenes used at most")
    ckpt_every: int | None = flag(None, preset=True,
                                  help="checkpoint every N steps (and at the end)")
    log_every: int = flag(10, help="write train.csv / TensorBoard every N steps")
    scenes: str | None = flag(
        None, metavar="SPEC", help="training scenes: rendered for the default dataset, or "
        "selected from --data (default: the preset's mix of every family's training split)")
    val_scenes: str | None = flag(
        None, metavar="SPEC",
        help="validation scenes, likewise (default: the preset's, validation split; 'none': "
             "no validation, nothing rendered for it)")
    views: int = flag(
        16, metavar="N", help="training views rendered per scene file in --scenes: the file's "
        "camera moved within --view-ranges, never the camera itself (scenes/views.py); a "
        "streaming run keeps drawing new ones")
    view_ranges: str = flag(
        "8,3,2,0.08", metavar="O,P,T,D", help="largest orbit about the scene's centre, pan and "
        "tilt (degrees) and dolly (fraction of the distance to the centre) of a training view")
    family_share: float = flag(
        0.25, help="with scene files in --scenes, the share of scene-family instances among "
                   "streamed scenes, so that fine-tuning on them does not forget the rest")
    stream: int = flag(
        0, metavar="N", help="streaming mode: train on a pool of N scenes that background Ray "
        "tasks keep refilling with fresh scene-family pairs, oldest out (0: off; the data "
        "order of a streaming run cannot be replayed exactly)")
    stream_cpus: int | None = flag(
        None, metavar="K", help="cores that render the stream (default: half of them, at "
                                "least 1); the trainer keeps the rest")
    size: int | None = flag(None, preset=True, help="image side of the default dataset, pixels "
                                                    "(streamed scenes take the data's size)")
    reference_spp: int | None = flag(
        None, preset=True, help="spp of the default dataset's references (validation scenes; "
                                "training scenes too with --targets clean)")
    loader_workers: int | None = flag(
        None, help="data-loader processes (default: 0 on CPU, 4 on CUDA)")
    cache_mb: int = flag(4096, help="decoded training scenes stay in memory up to this size, "
                                    "else are memory-mapped from RUN/cache/*.npy")
    seed: int = flag(0, help="seed of the initial weights, the data order and the dataset")


def resolve(config: TrainConfig) -> TrainConfig:
    """The config with every None filled from its preset, checked (ConfigError names the flag)."""
    import torch

    from mcdenoise.nn import loss as losses
    from mcdenoise.nn.model import WIDTHS
    from mcdenoise.nn.transform import INPUT_SETS, OUTPUT_MAPS

    if config.preset not in PRESETS:
        raise ConfigError(f"--preset must be one of {', '.join(PRESETS)}, not {config.preset!r}")
    preset = PRESETS[config.preset]
    if config.init is not None:
        config = replace(config, **init_fields(config))
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
        (filled.minutes is None or (filled.minutes > 0 and filled.workers == 0),
         "--minutes must be positive and trains in this process (--workers 0)"),
        (filled.batch >= 1, "--batch must be at least 1"),
        (filled.crop >= 32, "--crop must be at least 32"),
        (filled.lr > 0, "--lr must be positive"),
        (0 <= filled.rampdown <= 1, "--rampdown must be in [0, 1]"),
        (filled.grad_clip >= 0, "--grad-clip must be >= 0 (0: off)"),
        (0.0 <= filled.ema < 1.0, "--ema must be in [0, 1) (0: off)"),
        (0.0 <= filled.distill <= 1.0, "--distill must be in [0, 1] (0: off)"),
        (filled.workers >= 0, "--workers must be >= 0"),
        (filled.spp >= 1, "--spp must be at least 1"),
        (filled.val_every >= 0 and filled.ckpt_every >= 0 and filled.log_every >= 1,
         "--val-every and --ckpt-every must be >= 0, --log-every >= 1"),
        (filled.exposure in ("auto", "none"), "--exposure must be auto or none"),
        (0.0 <= filled.aux_dropout < 1.0, "--aux-dropout must be in [0, 1)"),
        (filled.kernel == 0 or (filled.kernel >= 3 and filled.kernel % 2 == 1),
         "--kernel must be 0 or an odd size of at least 3"),
        (1 <= filled.scales <= 5 and (filled.scales == 1 or filled.kernel > 0),
         "--scales must be 1 to 5, and more than 1 needs --kernel"),
        (not filled.demodulate or (filled.kernel > 0 and filled.kernel_space == "linear"
                                   and filled.inputs != "color"),
         "--demodulate needs --kernel, --kernel-space linear and an albedo input (--inputs "
         "albedo or full)"),
        (not filled.separate_kernels or filled.demodulate,
         "--separate-kernels needs --demodulate"),
        (not filled.band_weights or filled.scales > 1, "--band-weights needs --scales above 1"),
        (filled.stream >= 0, "--stream must be >= 0 (0: off)"),
        (filled.views >= 1, "--views must be at least 1"),
        (0.0 <= filled.family_share < 1.0, "--family-share must be in [0, 1)"),
        (not filled.stream or (filled.workers == 0 and filled.targets == "noisy"),
         "--stream trains in this process on noisy targets: it needs --workers 0 and "
         "--targets noisy"),
        (filled.stream_cpus is None or filled.stream_cpus >= 1, "--stream-cpus must be >= 1"),
        (not filled.stream or not filled.loader_workers,
         "--stream reads its pool in this process: --loader-workers must be 0"),
        (filled.output_map in OUTPUT_MAPS, f"--output-map must be one of {', '.join(OUTPUT_MAPS)}"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)
    view_ranges(filled)  # raises ConfigError when malformed
    filled = replace(filled, albedo=data_albedo(filled))
    if filled.device == "cuda" and filled.workers == 0 and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA device is available here (use --device cpu)")
    return filled


def data_albedo(config: TrainConfig) -> str:
    """The albedo kind of the run: --albedo, else that of --data / --val-data, else that of
    the --init model, else the default; ConfigError when the datasets hold another kind (a
    model must see one)."""
    from mcdenoise.farm.settings import dataset_albedo
    from mcdenoise.nn.modelfile import albedo_kind, read_card

    held = {str(d): dataset_albedo(Path(d)) for d in (config.data, config.val_data) if d}
    held = {d: k for d, k in held.items() if k is not None}
    kind = (config.albedo or next(iter(held.values()), None)
            or (albedo_kind(read_card(init_path(config.init))) if config.init else albedos.DEFAULT))
    other = [f"{d} holds {k}" for d, k in held.items() if k != kind]
    if other:
        raise ConfigError(f"--albedo {kind}: {', '.join(other)} albedo renders; a model learns "
                          "one kind (renderers/albedo.py): render data of that kind")
    return kind


def view_ranges(config: TrainConfig):
    """--view-ranges as a scenes.views.ViewRanges; ConfigError when malformed."""
    from scenes.views import ViewRanges

    try:
        values = [float(v) for v in config.view_ranges.split(",")]
        if len(values) != 4:
            raise ValueError(f"{len(values)} values")
        return ViewRanges(*values)
    except ValueError as error:
        raise ConfigError(f"--view-ranges must be ORBIT,PAN,TILT,DOLLY (degrees, degrees, "
                          f"degrees, a fraction), not {config.view_ranges!r}: {error}") from None


def init_path(init: str) -> Path:
    """The model file of ``--init`` ('default': the shipped model)."""
    from mcdenoise.nn.modelfile import default_model_path

    return default_model_path() if init == "default" else Path(init)


def init_fields(config: TrainConfig) -> dict[str, Any]:
    """The fields ``--init``'s model fixes (its network and transform), from its card; a
    ConfigError before any work when the file is no model of this project, or when --width
    asks for another network than the one it holds."""
    from mcdenoise.nn.model import UNetConfig
    from mcdenoise.nn.modelfile import ModelFileError, read_card
    from mcdenoise.nn.transform import INPUT_SETS, Transform

    path = init_path(config.init)
    try:
        card = read_card(path)
        network = UNetConfig.from_dict(card["architecture"])
        transform = Transform.from_dict(card["transform"])
    except ModelFileError as error:
        raise ConfigError(f"--init: {error}") from None
    except (KeyError, TypeError, ValueError) as error:
        raise ConfigError(f"--init {path}: not a model of this project's network ({error})") from None
    inputs = [name for name, names in INPUT_SETS.items() if names == tuple(transform.inputs)]
    if not inputs or network.out_channels != 3:
        raise ConfigError(f"--init {path}: inputs {list(transform.inputs)} and "
                          f"{network.out_channels} outputs are no network `train` makes")
    if config.width is not None and config.width < network.width:
        raise ConfigError(f"--init {path} holds a {network.width}-wide network; it can grow "
                          f"(--width larger), not shrink to --width {config.width}")
    return {"width": config.width or network.width, "inputs": inputs[0], "kernel": network.kernel,
            "kernel_space": network.kernel_space, "scales": network.scales,
            "demodulate": config.demodulate or network.demodulate,
            "separate_kernels": config.separate_kernels or network.separate_kernels,
            "band_weights": config.band_weights or network.band_weights,
            "residual": network.residual or bool(network.kernel), "exposure": transform.exposure,
            "output_map": config.output_map if network.kernel and network.kernel_space == "linear"
            else transform.output}


def command_line(config: TrainConfig) -> str:
    """The `mcdenoise train` command that gives ``config``: ``--spp N`` first, then the flags
    the user set (those that differ from their defaults), in field order."""
    return flags.command_line(["mcdenoise", "train", "--spp", str(config.spp)],
                              replace(config, spp=TrainConfig.spp))  # spp: said already


def config_dict(config: TrainConfig) -> dict[str, Any]:
    """JSON-ready fields (paths as strings), for checkpoints and the model card."""
    return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()}


def config_from_dict(values: dict[str, Any]) -> TrainConfig:
    """The inverse of config_dict; keys that are no field (older or newer runs) are ignored."""
    paths = {"data", "val_data", "output"}
    known = {f.name for f in fields(TrainConfig)}
    values = {**BEFORE_FIELD, **values}
    return TrainConfig(**{k: Path(v) if k in paths and v is not None else v
                          for k, v in values.items() if k in known})


def register(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `train` subcommand to ``commands`` (the CLI's subparsers); returns its parser."""
    quick, full = PRESETS["quick"], PRESETS["full"]
    return flags.add_command(
        commands, "train", TrainConfig, "mcdenoise.train.mc:run_train", presets=PRESETS,
        help="train the Noise2Noise denoiser (renders a dataset first if needed)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=textwrap.fill(
            "Train the Noise2Noise U-Net on noisy pairs (or, with --targets clean, on "
            "references): tonemapped colour (+ albedo, normal) in, linear HDR out, L_HDR "
            "loss. Without --data (or with an empty DIR) the preset's default dataset is "
            "rendered through the farm first: scenes of every scene family, training "
            "split for training and validation split, with references, for validation. "
            "Writes RUN/model.safetensors (weights + JSON card), RUN/checkpoint.pt, "
            "RUN/train.csv, RUN/val.csv, RUN/val/*.png strips and RUN/tb (TensorBoard).",
            88),
        epilog="presets:\n"
               f"  quick  {quick['train_count']} training + {quick['val_count']} validation scenes at "
               f"{quick['size']}x{quick['size']} ({quick['reference_spp']}-spp references), width "
               f"{quick['width']}, {quick['steps']} steps of batch {quick['batch']} x {quick['crop']}^2: "
               "minutes on a 2-core CPU\n"
               f"  full   {full['train_count']} + {full['val_count']} scenes at "
               f"{full['size']}x{full['size']} ({full['reference_spp']}-spp references), width "
               f"{full['width']}, {full['steps']} steps of batch {full['batch']} x {full['crop']}^2: "
               "meant for GPUs")
