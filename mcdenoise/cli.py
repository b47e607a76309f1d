"""The `mcdenoise` command line: one subcommand per job, one dataclass per subcommand.

Each subcommand's flags map one-to-one onto its config dataclass; defaults are documented in
``--help``. Errors the user can fix (bad scene name, bad file) print one line and exit 2.
"""
from __future__ import annotations

import argparse
import functools
import os
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from mcdenoise import __version__

# OpenMP threads that spin while idle slow torch on small machines many times over; set
# before torch is first imported by any subcommand.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@dataclass
class RenderConfig:
    """`mcdenoise render`: one frame of a scene file or scene-family instance to EXR."""
    scene: str
    output: Path
    spp: int = 64
    seed: int = 0
    width: int | None = None
    height: int | None = None
    max_depth: int | None = None
    variant: str | None = None
    precision: str = "half"
    no_aux: bool = False
    preview: Path | None = None


@dataclass
class ScenesConfig:
    """`mcdenoise scenes`: list the scene families, or render a contact sheet of them."""
    preview: Path | None = None
    names: str | None = None
    size: int = 128
    spp: int = 64


def run_render(config: RenderConfig) -> int:
    from tqdm import tqdm

    from mcdenoise.core.color import preview_rgb8, save_png
    from mcdenoise.core.exr import write_frame
    from renderers import get_renderer

    renderer = get_renderer(variant=config.variant)
    with tqdm(total=config.spp, unit="spp", desc=f"render {config.scene}", leave=False,
              disable=None) as bar:
        frame = renderer.render(config.scene, spp=config.spp, seed=config.seed,
                                width=config.width, height=config.height,
                                max_depth=config.max_depth, aux=not config.no_aux,
                                progress=lambda done: bar.update(done - bar.n))
    write_frame(frame, config.output, precision=config.precision)
    if config.preview is not None:
        save_png(preview_rgb8(frame.color), config.preview)
    timings = frame.metadata["timings"]
    print(f"wrote {config.output} ({frame.width}x{frame.height}, {config.spp} spp, seed "
          f"{config.seed}, {renderer.variant}, colour {timings['render_s']:.2f} s, "
          f"aux {timings['aux_s']:.2f} s)")
    return 0


def run_scenes(config: ScenesConfig) -> int:
    import scenes

    if config.preview is None:
        print("Scene families (name an instance as family:index, e.g. interior:17):")
        for family in scenes.families():
            print(f"  {family.name:<10} {family.count:>6} instances  {family.description}")
        print("Splits (index ranges, the same for every family):")
        for split, indices in scenes.SPLITS.items():
            print(f"  {split:<10} {indices.start}-{indices.stop - 1}")
        print("Scene specs: 'interior:0-799,cornell:5', a split name, or a Mitsuba 3 .xml path.")
        return 0
    from tqdm import tqdm

    from scenes.preview import contact_sheet, default_preview_names

    names = scenes.parse_spec(config.names) if config.names else default_preview_names()
    path = Path(config.preview) / "contact_sheet.png"
    with tqdm(total=len(names), unit="scene", desc="contact sheet", disable=None) as bar:
        contact_sheet(names, path, size=config.size, spp=config.spp,
                      progress=lambda done, total: bar.update(done - bar.n))
    print(f"wrote {path} ({len(names)} instances)")
    return 0


def run_dataset(config) -> int:
    from mcdenoise.farm.driver import run_with_progress

    summary = run_with_progress(config)
    print(f"dataset {config.output}: {summary.rendered} rendered, {summary.skipped} skipped "
          f"(already done), {summary.failed} failed; {summary.samples_per_second / 1e6:.2f} "
          f"Msamples/s over {summary.seconds:.1f} s")
    return 1 if summary.failed else 0


def preset_defaults(presets: dict[str, dict], key: str, unit: str = "") -> str:
    """Help text for a flag whose default comes from a preset: each preset's value."""
    values = ", ".join(f"{name} {values[key]}{unit}" for name, values in presets.items())
    return f"(default: preset; {values})"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcdenoise", description="Noise2Noise Monte Carlo rendering denoiser.")
    parser.add_argument("--version", action="version", version=f"mcdenoise {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    render = commands.add_parser(
        "render", help="render a scene file or scene-family instance to EXR",
        description="Render colour + albedo + normal (+ alpha, depth) with a box pixel filter.")
    render.add_argument("scene", help="Mitsuba 3 XML file, or a family instance such as interior:17")
    render.add_argument("-o", "--output", type=Path, required=True, help="output EXR path")
    render.add_argument("--spp", type=int, default=64, help="samples per pixel (default 64)")
    render.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    render.add_argument("--width", type=int, help="image width (default: the scene's)")
    render.add_argument("--height", type=int, help="image height (default: keeps the aspect)")
    render.add_argument("--max-depth", type=int, help="path depth (default: the scene's)")
    render.add_argument("--variant", help="Mitsuba variant (default: cuda_ad_rgb, llvm_ad_rgb "
                        "or scalar_rgb, whichever runs here; env MCDENOISE_MITSUBA_VARIANT)")
    render.add_argument("--precision", choices=("half", "float"), default="half",
                        help="EXR pixel type for colour and buffers (default half)")
    render.add_argument("--no-aux", action="store_true", help="skip albedo/normal/depth")
    render.add_argument("--preview", type=Path, help="also write a tonemapped PNG here")
    render.set_defaults(config=RenderConfig, run=run_render)

    listing = commands.add_parser(
        "scenes", help="list the scene families, or write a contact sheet of them",
        description="List the procedural scene families and their train/validation/test "
                    "splits; with --preview, render a contact sheet PNG.")
    listing.add_argument("--preview", type=Path, metavar="DIR",
                         help="render a contact sheet to DIR/contact_sheet.png")
    listing.add_argument("--names", help="scene spec for the sheet (default: 8 per family)")
    listing.add_argument("--size", type=int, default=128, help="tile size in pixels (default 128)")
    listing.add_argument("--spp", type=int, default=64, help="samples per pixel (default 64)")
    listing.set_defaults(config=ScenesConfig, run=run_scenes)

    from mcdenoise.farm.driver import DatasetConfig

    dataset = commands.add_parser(
        "dataset", help="render noisy pairs (and references) for many scenes on Ray",
        description="Render a Noise2Noise dataset: for every scene two independent noisy "
                    "renders at --spp (colour + albedo + normal) and, with --reference-spp, a "
                    "reference accumulated from passes of --chunk-spp. Resumable: re-running "
                    "skips what is done; more --reference-spp extends references.")
    dataset.add_argument("-o", "--output", type=Path, required=True, metavar="DIR",
                         help="dataset directory (on a path every node sees)")
    dataset.add_argument("--scenes", required=True, metavar="SPEC",
                         help="e.g. 'interior:0-799,cornell:0-99,path/to/scene.xml' or a split "
                              "name (train, validation, test)")
    dataset.add_argument("--spp", type=int, default=64, help="spp of each noisy render (default 64)")
    dataset.add_argument("--reference-spp", type=int, default=0,
                         help="spp of the references (default 0: none; the paper used 131072)")
    dataset.add_argument("--chunk-spp", type=int, default=4096,
                         help="spp of one reference pass, one Ray task each (default 4096)")
    dataset.add_argument("--width", type=int, help="image width (default: the scene's)")
    dataset.add_argument("--height", type=int, help="image height (default: keeps the aspect)")
    dataset.add_argument("--max-depth", type=int, help="path depth (default: the scene's)")
    dataset.add_argument("--seed", type=int, default=0, help="dataset seed (default 0)")
    dataset.add_argument("--address", help="join a Ray cluster: auto, host:port or "
                         "ray://host:port (default: start a local Ray)")
    dataset.add_argument("--num-cpus", type=int, help="CPUs of the local Ray (default: all)")
    dataset.add_argument("--gpus-per-task", type=float, default=0.0,
                         help="GPUs per render task; > 0 renders with Mitsuba's CUDA variant")
    dataset.add_argument("--variant", help="Mitsuba variant (default: chosen per worker)")
    dataset.add_argument("--max-in-flight", type=int,
                         help="tasks submitted at once (default: 2 per cluster CPU)")
    dataset.add_argument("--retries", type=int, default=3,
                         help="retries of a task whose worker died (default 3)")
    dataset.set_defaults(config=DatasetConfig, run=run_dataset)

    add_train_parser(commands)
    add_denoise_parser(commands)
    add_serve_parser(commands)
    add_bench_parser(commands)
    return parser


def add_bench_parser(commands) -> argparse._SubParsersAction:
    """The `bench` group; returns its subparsers so other benchmarks can add theirs."""
    bench = commands.add_parser(
        "bench", help="benchmarks: 'bench mc' (renders, against OIDN and references), "
                 "'bench photo' (the paper's photographic experiments)",
        description="Benchmarks that train, test and write a report (JSON + Markdown + figures).")
    benchmarks = bench.add_subparsers(metavar="BENCHMARK", required=True)  # no dest: main()
    add_bench_mc_parser(benchmarks)                                          # sees config/run
    add_bench_photo_parser(benchmarks)
    return benchmarks


def add_bench_photo_parser(benchmarks) -> None:
    from mcdenoise.bench.photo.run import PRESETS, PhotoBenchConfig, run_photo_bench
    from mcdenoise.bench.photo.noise import MODELS

    small, paper = PRESETS["small"], PRESETS["paper"]
    preset = functools.partial(preset_defaults, PRESETS)

    noises = "; ".join(f"{m.name}: {m.parameter} in [{m.train_range[0]:g}, {m.train_range[1]:g}], "
                       f"{m.test_value:g} at test, loss {m.loss}" for m in MODELS.values())
    photo = benchmarks.add_parser(
        "photo", help="the paper's photographic experiments (Table 1, Figures 3 and 4)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=textwrap.fill(
            "Train the U-Net on photographs with synthetic noise, with noisy (Noise2Noise) "
            "and/or clean targets, through the same trainer as the renders; test on Kodak, "
            "BSD300 and Set14 with fixed, seeded test noise; compare with the noisy input, "
            "BM3D (Gaussian) and Anscombe + BM3D (Poisson) when the optional bm3d package is "
            "installed, and with the paper's numbers. Writes FILE (--json), FILE.md (report), "
            "FILE_crops.png and FILE_curves.png; runs live in --work and are reused or resumed.",
            88) + "\n\nnoise models: " + textwrap.fill(noises, 88, subsequent_indent="  "),
        epilog="presets:\n"
               "  quick  a few steps on 32x32 crops of 8 images, 64x64 test crops: proves the wiring\n"
               f"  small  {small['steps']} steps of batch {small['batch']} x 32x32 crops, width "
               f"{small['width']} (the student report's scale): about an hour on one CPU core\n"
               f"  paper  {paper['steps']} steps of batch {paper['batch']} x 256x256, width 48, "
               "lr 3e-4: for a GPU\n"
               "loss studies: --noise text --losses l2,l1; --noise impulse --losses l2,l1,l0")
    photo.add_argument("--noise", required=True, choices=tuple(MODELS), help="noise model")
    photo.add_argument("--json", type=Path, required=True, metavar="FILE",
                       help="results JSON; the report and figures go beside it")
    photo.add_argument("--targets", default="noisy", metavar="LIST",
                       help="noisy, clean or noisy,clean: one training run each (default noisy)")
    photo.add_argument("--losses", metavar="LIST",
                       help="training losses, e.g. l2,l1,l0 (default: the paper's for the noise: "
                            "l2, masked_l2 for bernoulli, l1 for text, annealed l0 for impulse)")
    photo.add_argument("--data-root", type=Path, metavar="DIR",
                       help="folder with kodak24/, bsd300_test/, set14/, train/ (default: "
                            "$MCDENOISE_IMAGES)")
    photo.add_argument("--train-dir", type=Path, metavar="DIR",
                       help="training images (default DIR/train/cbsd432; images named in "
                            "train/cbsd432_overlap_with_bsd300_test.txt or in a test set are left out)")
    photo.add_argument("--test-sets", default="kodak24,bsd300,set14", metavar="LIST",
                       help="test sets (default kodak24,bsd300,set14)")
    photo.add_argument("--preset", choices=tuple(PRESETS), default="small",
                       help="defaults for the flags marked 'preset' (default small)")
    for name in PRESETS:
        photo.add_argument(f"--{name}", dest="preset", action="store_const", const=name,
                           help=f"--preset {name}")
    photo.add_argument("--steps", type=int, help="training steps per run " + preset("steps"))
    photo.add_argument("--crop", type=int, help="training crop side " + preset("crop"))
    photo.add_argument("--batch", type=int, help="crops per step " + preset("batch"))
    photo.add_argument("--width", type=int, choices=(48, 32, 16), help="U-Net width " + preset("width"))
    photo.add_argument("--lr", type=float, help="Adam learning rate " + preset("lr"))
    photo.add_argument("--residual", action=argparse.BooleanOptionalAction, default=None,
                       help="add the input to the network's output " + preset("residual"))
    photo.add_argument("--noise-range", metavar="LOW,HIGH",
                       help="training range of the noise parameter (default: the paper's)")
    photo.add_argument("--test-limit", type=int, metavar="N",
                       help="test on the first N images of each set by name " + preset("test_limit"))
    photo.add_argument("--test-crop", type=int, metavar="PX",
                       help="test on centre crops of this side " + preset("test_crop"))
    photo.add_argument("--train-limit", type=int, metavar="N",
                       help="train on the first N images only " + preset("train_limit"))
    photo.add_argument("--val-every", type=int, help="validate every N steps " + preset("val_every"))
    photo.add_argument("--val-images", type=int,
                       help="validation images: centre crops of the last images of the first "
                            "test set " + preset("val_images"))
    photo.add_argument("--ckpt-every", type=int, help="checkpoint every N steps " + preset("ckpt_every"))
    photo.add_argument("--work", type=Path, metavar="DIR",
                       help="training runs and baseline cache (default runs/photo/NOISE)")
    photo.add_argument("--baselines", action=argparse.BooleanOptionalAction, default=True,
                       help="run BM3D / Anscombe + BM3D where they apply and bm3d is installed "
                            "(default on)")
    photo.add_argument("--resume", action="store_true", help="continue unfinished runs in --work")
    photo.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                       help="auto: CUDA when available (default auto)")
    photo.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    photo.set_defaults(config=PhotoBenchConfig, run=run_photo_bench)


def add_bench_mc_parser(kinds) -> None:
    from mcdenoise.bench.mc import BenchMcConfig, run_bench_mc

    default = BenchMcConfig(json=Path("bench.json"))
    mc = kinds.add_parser(
        "mc", help="our model vs the noisy input and OIDN, against references",
        description="Render (cached, through the farm) noisy frames and references, denoise "
                    "them with OIDN and our model, and score PSNR of x/(1+x), relMSE and SSIM; "
                    "time both on the same frames and on one large frame. Writes the JSON, a "
                    "Markdown report and a contact sheet PNG beside it.")
    mc.add_argument("--json", type=Path, required=True, metavar="FILE",
                    help="results JSON; the report (.md) and sheet (_sheet.png) go beside it")
    mc.add_argument("--scenes", default=default.scenes, metavar="SPEC",
                    help="scene spec or scene files (default: two test-split instances per "
                         "family)")
    mc.add_argument("--spp", type=int, default=default.spp, help="input spp (default 64)")
    mc.add_argument("--reference-spp", type=int, default=default.reference_spp,
                    help=f"reference spp (default {default.reference_spp}; the report states "
                         "the true count)")
    mc.add_argument("--chunk-spp", type=int, default=default.chunk_spp,
                    help=f"spp per reference pass (default {default.chunk_spp})")
    mc.add_argument("--width", type=int, default=default.width,
                    help=f"image width (default {default.width})")
    mc.add_argument("--height", type=int, help="image height (default: keeps the aspect)")
    mc.add_argument("--model", type=Path, help="our model (default: the shipped one)")
    mc.add_argument("--clean-model", type=Path,
                    help="also score this model (trained with --targets clean)")
    mc.add_argument("--data", type=Path, default=default.data, metavar="DIR",
                    help=f"render cache (default {default.data})")
    mc.add_argument("--oidn-quality", choices=("fast", "balanced", "high"), default="high",
                    help="OIDN quality (default high)")
    mc.add_argument("--speed-size", default=default.speed_size, metavar="WxH",
                    help=f"also time one frame of this size; 0: skip (default {default.speed_size})")
    mc.add_argument("--repeats", type=int, default=default.repeats,
                    help=f"timed runs per method on the speed frame (default {default.repeats})")
    mc.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                    help="device for our model (default auto)")
    mc.add_argument("--address", help="Ray cluster for the renders (default: a local one)")
    mc.add_argument("--num-cpus", type=int, help="CPUs of the local Ray (default: all)")
    mc.set_defaults(config=BenchMcConfig, run=run_bench_mc)


def add_denoise_parser(commands) -> None:
    from mcdenoise.infer.files import DenoiseConfig, run_denoise

    denoise = commands.add_parser(
        "denoise", help="denoise EXR files, folders and frame sequences",
        description="Denoise EXR frames. Every layer and header attribute is kept; only the "
                    "colour changes. Albedo and normal layers are used when the file has them. "
                    "Large frames are denoised in overlapping tiles at bounded memory.")
    denoise.add_argument("inputs", nargs="+", type=Path, metavar="IN",
                         help="EXR file, folder of EXRs, or sequence such as shot/frame.####.exr")
    denoise.add_argument("-o", "--output", type=Path, required=True, metavar="OUT",
                         help="output EXR (one input) or folder (outputs keep the input names)")
    denoise.add_argument("--model", type=Path, metavar="M",
                         help="model file from 'mcdenoise train' (default: the shipped model)")
    denoise.add_argument("--no-aux", action="store_true",
                         help="ignore albedo and normal layers, denoise from the colour alone")
    denoise.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                         help="auto: CUDA when available (default auto)")
    denoise.add_argument("--precision", choices=("auto", "half", "float"), default="auto",
                         help="output pixel type; auto: as the input's colour (default auto)")
    denoise.add_argument("--tile", type=int, default=512,
                         help="largest tile side in pixels; bounds memory (default 512)")
    denoise.add_argument("--overlap", type=int, default=96,
                         help="overlap of neighbouring tiles in pixels (default 96)")
    denoise.add_argument("--workers", type=int, default=0,
                         help="spread frames over N Ray workers (default 0: in this process)")
    denoise.add_argument("--address", help="Ray cluster to join with --workers (default: a "
                         "local one)")
    denoise.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    denoise.set_defaults(config=DenoiseConfig, run=run_denoise)


def add_train_parser(commands) -> None:
    from mcdenoise.train.mc import PRESETS, TrainConfig, run_train

    quick, full = PRESETS["quick"], PRESETS["full"]
    preset = functools.partial(preset_defaults, PRESETS)

    train = commands.add_parser(
        "train", help="train the Noise2Noise denoiser (renders a dataset first if needed)",
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
    train.add_argument("--spp", type=int, default=64, help="spp of the noisy pairs (default 64)")
    train.add_argument("--data", type=Path, metavar="DIR",
                       help="farm dataset directory (default: RUN/data, rendered by the preset); "
                            "rendered first when DIR holds no pairs")
    train.add_argument("--val-data", type=Path, metavar="DIR",
                       help="validate on every scene with a reference in DIR (default: the "
                            "validation-split scenes of the data)")
    train.add_argument("-o", "--output", type=Path, default=Path("runs/train"), metavar="RUN",
                       help="run directory (default runs/train)")
    train.add_argument("--preset", choices=tuple(PRESETS), default="quick",
                       help="defaults for the flags below marked 'preset' (default quick)")
    train.add_argument("--targets", choices=("noisy", "clean"), default="noisy",
                       help="noisy: the pair's other render (Noise2Noise, default); clean: the "
                            "reference (the control experiment)")
    train.add_argument("--steps", type=int, help="training steps " + preset("steps"))
    train.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                       help="auto: CUDA when available (default auto)")
    train.add_argument("--workers", type=int, default=0,
                       help="data-parallel Ray Train workers (DDP, one GPU each where present); "
                            "0: train in this process (default 0)")
    train.add_argument("--address", help="Ray cluster to run --workers on (default: a local Ray)")
    train.add_argument("--resume", action="store_true",
                       help="continue RUN from its checkpoint (model, optimiser, schedule, data order)")
    train.add_argument("--width", type=int, choices=(48, 32, 16),
                       help="U-Net width: 48 the paper's, 32 lighter, 16 tiny " + preset("width"))
    train.add_argument("--inputs", choices=("color", "albedo", "full"), default="full",
                       help="network inputs: colour, + albedo, + albedo + normal (default full)")
    train.add_argument("--loss", choices=("hdr", "l2", "l1", "l0"), default="hdr",
                       help="hdr: L_HDR (default); l2, l1, l0 (annealed) for experiments")
    train.add_argument("--crop", type=int, help="training crop side, rounded down to a multiple "
                       "of 32 " + preset("crop", " px"))
    train.add_argument("--batch", type=int, help="crops per step and worker " + preset("batch"))
    train.add_argument("--lr", type=float, help="Adam learning rate " + preset("lr"))
    train.add_argument("--rampdown", type=float, default=0.3,
                       help="fraction of training with the cos^2 lr ramp-down (default 0.3)")
    train.add_argument("--grad-clip", type=float, default=1.0,
                       help="clip the gradient norm to this; 0: off (default 1.0)")
    train.add_argument("--exposure", choices=("auto", "none"), default="auto",
                       help="auto: scale each input so its block-luminance geometric mean is 0.18, "
                            "undone on the output (default auto)")
    train.add_argument("--output-map", choices=("untonemap", "linear", "exp"), default="untonemap",
                       help="how the last conv's output z becomes linear HDR: untonemap: T^-1(z) "
                            "(the network predicts the tonemapped image; exponential above 4 "
                            "stops over the key), linear: z itself (the paper's), exp: exp(z) "
                            "(default untonemap; the loss is L_HDR on linear HDR in every case)")
    train.add_argument("--residual", action=argparse.BooleanOptionalAction, default=True,
                       help="add the tonemapped input colour to the output (the last conv starts "
                            "at zero, so training starts from the input, not from noise; "
                            "default on)")
    train.add_argument("--kernel", type=int, default=5,
                       help="predict per-pixel size x size filter kernels applied to the input "
                            "colour instead of the colour itself; 0: predict the colour "
                            "(the paper's network) (default 5)")
    train.add_argument("--kernel-space", choices=("tonemapped", "linear"), default="linear",
                       help="average the linear HDR input colour (keeps energy; the output map "
                            "is then linear) or the tonemapped one (default linear)")
    train.add_argument("--aux-dropout", type=float, default=0.15,
                       help="probability that a crop's albedo, and separately its normal, is "
                            "replaced by zeros, so the model also denoises frames without them "
                            "(0: never; default 0.15)")
    train.add_argument("--val-every", type=int, help="validate every N steps; 0: only at the end "
                       + preset("val_every"))
    train.add_argument("--val-images", type=int, help="validation scenes used at most "
                       + preset("val_images"))
    train.add_argument("--ckpt-every", type=int, help="checkpoint every N steps (and at the end) "
                       + preset("ckpt_every"))
    train.add_argument("--log-every", type=int, default=10,
                       help="write train.csv / TensorBoard every N steps (default 10)")
    train.add_argument("--scenes", metavar="SPEC",
                       help="training scenes: rendered for the default dataset, or selected from "
                            "--data (default: the preset's mix of every family's training split)")
    train.add_argument("--val-scenes", metavar="SPEC",
                       help="validation scenes, likewise (default: the preset's, validation split)")
    train.add_argument("--size", type=int,
                       help="image side of the default dataset, pixels " + preset("size"))
    train.add_argument("--reference-spp", type=int,
                       help="spp of the default dataset's references (validation scenes; training "
                            "scenes too with --targets clean) " + preset("reference_spp"))
    train.add_argument("--loader-workers", type=int,
                       help="data-loader processes (default: 0 on CPU, 4 on CUDA)")
    train.add_argument("--cache-mb", type=int, default=4096,
                       help="decoded training scenes stay in memory up to this size, else are "
                            "memory-mapped from RUN/cache/*.npy (default 4096)")
    train.add_argument("--seed", type=int, default=0,
                       help="seed of the initial weights, the data order and the dataset (default 0)")
    train.set_defaults(config=TrainConfig, run=run_train)


def add_serve_parser(commands) -> None:
    from service.config import (DEFAULT_MAX_PIXELS, DEFAULT_MAX_UPLOAD_MB, DEFAULT_QUEUE,
                                DEFAULT_TIMEOUT_S, ServeConfig)
    from service.serve import run_serve

    serve = commands.add_parser(
        "serve", help="serve the denoiser over HTTP (API, web page, metrics)",
        description="Serve the denoiser with FastAPI on uvicorn: POST /v1/denoise (EXR in, "
                    "denoised EXR out), GET /v1/models, /healthz, /readyz, /metrics "
                    "(Prometheus), the API docs at /docs and a web page at /. Any --host that "
                    "is not loopback requires --api-key-file.")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1, this machine only)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--model", action="append", metavar="[NAME=]PATH",
                       help="model file (RUN/model.safetensors); repeat to serve several, the "
                            "first is the default (default: the shipped default model)")
    serve.add_argument("--api-key-file", type=Path, metavar="FILE",
                       help="file of API keys, one per line; required unless --host is "
                            "loopback, and when given every /v1 route and /metrics need a key")
    serve.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, metavar="N",
                       help=f"largest frame, width x height, checked from the EXR header before "
                            f"decoding (default {DEFAULT_MAX_PIXELS}, 4096x4096)")
    serve.add_argument("--max-upload-mb", type=float, default=DEFAULT_MAX_UPLOAD_MB, metavar="N",
                       help=f"largest request body, MiB (default {DEFAULT_MAX_UPLOAD_MB})")
    serve.add_argument("--queue", type=int, default=DEFAULT_QUEUE, metavar="N",
                       help=f"requests that may wait for the denoiser; more get 503 with "
                            f"Retry-After (default {DEFAULT_QUEUE})")
    serve.add_argument("--workers", type=int, default=1, help="inference threads (default 1)")
    serve.add_argument("--batch", type=int, metavar="N",
                       help="small frames of one size denoised together (default: 8 on a GPU, "
                            "1 on a CPU)")
    serve.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="S",
                       help=f"seconds per request, upload to response (default {DEFAULT_TIMEOUT_S:g})")
    serve.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                       help="auto: CUDA when available (default auto)")
    serve.add_argument("--log-level", choices=("debug", "info", "warning", "error"),
                       default="info", help="log level (default info)")
    serve.set_defaults(config=ServeConfig, run=run_serve)


def main(argv: list[str] | None = None) -> int:
    from mcdenoise.core.exr import ExrError
    from renderers import RenderError

    args = vars(build_parser().parse_args(argv))
    args.pop("command")
    config_type, run = args.pop("config"), args.pop("run")
    try:
        return run(config_type(**args))
    except (RenderError, ExrError, ValueError) as error:
        print(f"mcdenoise: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
