"""The `mcdenoise` command line: one subcommand per job, one dataclass per subcommand.

Each subcommand's flags map one-to-one onto its config dataclass; defaults are documented in
``--help``. Errors the user can fix (bad scene name, bad file) print one line and exit 2.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from mcdenoise import __version__


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

    from mcdenoise.color import preview_rgb8, save_png
    from mcdenoise.exr import write_frame
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
    return parser


def main(argv: list[str] | None = None) -> int:
    from mcdenoise.exr import ExrError
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
