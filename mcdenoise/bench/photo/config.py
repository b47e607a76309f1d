"""`mcdenoise bench photo`'s configuration: its flags (one dataclass field each), the presets,
the checks of ``resolve``, and ``register``, which adds the command to the `bench` group.

Nothing here imports torch (only numpy, through noise.py), so ``mcdenoise --help`` stays
fast; the command itself (``run.run_photo_bench``) is imported only when it runs.
"""
from __future__ import annotations

import argparse
import os
import textwrap
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mcdenoise import flags
from mcdenoise.bench.photo import noise as noises  # numpy only
from mcdenoise.errors import ConfigError
from mcdenoise.flags import flag

DEFAULT_PRESET = "small"

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


@dataclass
class PhotoBenchConfig:
    """`mcdenoise bench photo`; flags map 1:1 onto these fields (None: from the preset)."""
    noise: str = flag(help="noise model", choices=tuple(noises.MODELS))
    json: Path = flag(help="results JSON; the report and figures go beside it", metavar="FILE")
    targets: str = flag("noisy", metavar="LIST",
                        help="noisy, clean or noisy,clean: one training run each")
    losses: str | None = flag(None, metavar="LIST",
                              help="training losses, e.g. l2,l1,l0 (default: the paper's for the "
                                   "noise: l2, masked_l2 for bernoulli, l1 for text, annealed l0 "
                                   "for impulse)")
    data_root: Path | None = flag(None, metavar="DIR",
                                  help="folder with kodak24/, bsd300_test/, set14/, train/ "
                                       "(default: $MCDENOISE_IMAGES)")
    train_dir: Path | None = flag(None, metavar="DIR",
                                  help="training images (default DIR/train/cbsd432; images named "
                                       "in train/cbsd432_overlap_with_bsd300_test.txt or in a "
                                       "test set are left out)")
    test_sets: str = flag("kodak24,bsd300,set14", metavar="LIST", help="test sets")
    # The help says "defaults", which stops flags from adding the suffix: it is spelled here.
    preset: str = flag(DEFAULT_PRESET, choices=tuple(PRESETS),
                       help=f"defaults for the flags marked 'preset' (default {DEFAULT_PRESET})")
    steps: int | None = flag(None, preset=True, help="training steps per run")
    stop_at: int | None = flag(None, metavar="N",
                               help="train only up to step N of the --steps schedule, then test "
                                    "and report that (a partial result, marked so); repeat with "
                                    "--resume and a larger N (or none) to continue")
    crop: int | None = flag(None, preset=True, help="training crop side")
    batch: int | None = flag(None, preset=True, help="crops per step")
    width: int | None = flag(None, preset=True, choices=(48, 32, 16), help="U-Net width")
    lr: float | None = flag(None, preset=True, help="Adam learning rate")
    residual: bool | None = flag(None, preset=True, help="add the input to the network's output")
    noise_range: str | None = flag(None, metavar="LOW,HIGH",
                                   help="training range of the noise parameter (default: the "
                                        "paper's)")
    target_level: str | None = flag(None, choices=noises.TARGET_LEVELS,
                                    help="a noisy target's noise parameter: drawn again "
                                         "(independent) or the input's own (same); default "
                                         "the paper's: same for impulse, independent otherwise")
    l0_eps: float | None = flag(None, metavar="EPS",
                                help="the annealed L0's epsilon in (|f - y| + EPS)^gamma (default "
                                     "0.01; the paper's 1e-8 lets the gradient explode as gamma "
                                     "nears 0, see nn/loss.py)")
    test_limit: int | None = flag(None, preset=True, metavar="N",
                                  help="test on the first N images of each set by name")
    test_crop: int | None = flag(None, preset=True, metavar="PX",
                                 help="test on centre crops of this side")
    train_limit: int | None = flag(None, preset=True, metavar="N",
                                   help="train on the first N images only")
    val_every: int | None = flag(None, preset=True, help="validate every N steps")
    val_images: int | None = flag(None, preset=True,
                                  help="validation images: centre crops of the last images of "
                                       "the first test set")
    ckpt_every: int | None = flag(None, preset=True, help="checkpoint every N steps")
    work: Path | None = flag(None, metavar="DIR",
                             help="training runs and baseline cache (default runs/photo/NOISE)")
    baselines: bool = flag(True, help="run BM3D / Anscombe + BM3D where they apply and bm3d is "
                                      "installed (default on)")
    resume: bool = flag(False, help="continue unfinished runs in --work")
    device: str = flag("auto", choices=("auto", "cpu", "cuda"),
                       help="auto: CUDA when available")
    # flags adds no suffix to a default of 0 (0 == False), so this help spells it.
    seed: int = flag(0, help="training seed (default 0)")


# -- configuration ---------------------------------------------------------------------------
def split_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def resolve(config: PhotoBenchConfig) -> PhotoBenchConfig:
    """Fill Nones from the preset and check every flag (ConfigError names it)."""
    from mcdenoise.bench.photo.images import TEST_SETS
    from mcdenoise.nn import loss as losses
    from mcdenoise.nn.model import WIDTHS

    if config.preset not in PRESETS:
        raise ConfigError(f"--preset must be one of {', '.join(PRESETS)}, not {config.preset!r}")
    preset = PRESETS[config.preset]
    filled = replace(config, **{k: v for k, v in preset.items() if getattr(config, k) is None})
    model = noises.get(config.noise)  # ConfigError for an unknown noise
    if filled.losses is None:
        filled = replace(filled, losses=model.loss)
    if filled.target_level is None:
        filled = replace(filled, target_level=model.target_level)
    if filled.l0_eps is None:
        filled = replace(filled, l0_eps=losses.L0_EPS)
    if filled.data_root is None:
        env = os.environ.get("MCDENOISE_IMAGES")
        if not env:
            raise ConfigError("--data-root is needed: a folder holding kodak24/, bsd300_test/, "
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
        (filled.stop_at is None or filled.stop_at >= 1, "--stop-at must be at least 1"),
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
            raise ConfigError(message)
    if "masked_l2" in loss_names and config.noise != "bernoulli":
        raise ConfigError("--losses masked_l2 is for Bernoulli noise (the only one with masks)")
    param_range(filled)  # checks --noise-range
    return filled


def param_range(config: PhotoBenchConfig) -> tuple[float, float]:
    """The training range of the noise parameter: --noise-range, or the noise model's."""
    if config.noise_range is None:
        return noises.get(config.noise).train_range
    try:
        low, high = (float(v) for v in config.noise_range.split(","))
    except ValueError:
        raise ConfigError(f"--noise-range must be LOW,HIGH, not {config.noise_range!r}") from None
    if not 0 <= low <= high:
        raise ConfigError(f"--noise-range must have 0 <= LOW <= HIGH, not {config.noise_range!r}")
    return low, high


def variants(config: PhotoBenchConfig) -> list[tuple[str, str]]:
    """(targets, loss) of every training run, in report order (clean targets first)."""
    targets = sorted(split_list(config.targets), key=lambda t: t != "clean")
    return [(t, loss) for t in targets for loss in split_list(config.losses)]


def command_line(config: PhotoBenchConfig) -> str:
    """The `mcdenoise bench photo` command that gives ``config`` (flags off their defaults)."""
    return flags.command_line(["mcdenoise", "bench", "photo"], config)


# -- the command line ------------------------------------------------------------------------
def _description() -> str:
    models = "; ".join(f"{m.name}: {m.parameter} in [{m.train_range[0]:g}, {m.train_range[1]:g}], "
                       f"{m.test_value:g} at test, loss {m.loss}" for m in noises.MODELS.values())
    return textwrap.fill(
        "Train the U-Net on photographs with synthetic noise, with noisy (Noise2Noise) "
        "and/or clean targets, through the same trainer as the renders; test on Kodak, "
        "BSD300 and Set14 with fixed, seeded test noise; compare with the noisy input, "
        "BM3D (Gaussian) and Anscombe + BM3D (Poisson) when the optional bm3d package is "
        "installed, and with the paper's numbers. Writes FILE (--json), FILE.md (report), "
        "FILE_crops.png and FILE_curves.png; runs live in --work and are reused or resumed.",
        88) + "\n\nnoise models: " + textwrap.fill(models, 88, subsequent_indent="  ")


def _epilog() -> str:
    small, paper = PRESETS["small"], PRESETS["paper"]
    return ("presets:\n"
            "  quick  a few steps on 32x32 crops of 8 images, 64x64 test crops: proves the wiring\n"
            f"  small  {small['steps']} steps of batch {small['batch']} x 32x32 crops, width "
            f"{small['width']} (the student report's scale): about an hour on one CPU core\n"
            f"  paper  {paper['steps']} steps of batch {paper['batch']} x 256x256, width 48, "
            "lr 3e-4: for a GPU\n"
            "loss studies: --noise text --losses l2,l1; --noise impulse --losses l2,l1,l0")


def _add_preset_shortcuts(photo: argparse.ArgumentParser) -> None:
    """--quick, --small, --paper for --preset NAME."""
    for name in PRESETS:
        photo.add_argument(f"--{name}", dest="preset", action="store_const", const=name,
                           help=f"--preset {name}")


def register(benchmarks: argparse._SubParsersAction) -> None:
    """Add `photo` to the `bench` group's subparsers."""
    photo = flags.add_command(
        benchmarks, "photo", PhotoBenchConfig, "mcdenoise.bench.photo.run:run_photo_bench",
        presets=PRESETS, formatter_class=argparse.RawDescriptionHelpFormatter,
        help="the paper's photographic experiments (Table 1, Figures 3 and 4)",
        description=_description(), epilog=_epilog())
    _add_preset_shortcuts(photo)
