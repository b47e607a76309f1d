"""`mcdenoise render` (one frame of a scene to EXR) and `mcdenoise scenes` (the scene family)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mcdenoise.flags import add_command, flag
from renderers import albedo as albedos


@dataclass
class RenderConfig:
    """`mcdenoise render`: one frame of a scene file or scene-family instance to EXR."""
    scene: str = flag(positional=True,
                      help="Mitsuba 3 XML file, or a family instance such as interior:17")
    output: Path = flag(short="-o", help="output EXR path")
    spp: int = flag(64, help="samples per pixel")
    seed: int = flag(0, help="random seed")
    width: int | None = flag(None, help="image width (default: the scene's)")
    height: int | None = flag(None, help="image height (default: keeps the aspect)")
    max_depth: int | None = flag(None, help="path depth (default: the scene's)")
    variant: str | None = flag(None, help="Mitsuba variant (default: cuda_ad_rgb, llvm_ad_rgb "
                               "or scalar_rgb, whichever runs here; env MCDENOISE_MITSUBA_VARIANT)")
    precision: str = flag("half", choices=("half", "float"),
                          help="EXR pixel type for colour and buffers")
    no_aux: bool = flag(False, help="skip albedo/normal/depth")
    albedo: str = flag(albedos.DEFAULT, choices=albedos.KINDS, help=albedos.HELP)
    preview: Path | None = flag(None, help="also write a tonemapped PNG here")


@dataclass
class ScenesConfig:
    """`mcdenoise scenes`: list the scene families, or render a contact sheet of them."""
    preview: Path | None = flag(None, metavar="DIR",
                                help="render a contact sheet to DIR/contact_sheet.png")
    names: str | None = flag(None, help="scene spec for the sheet (default: 8 per family)")
    size: int = flag(128, help="tile size in pixels")
    spp: int = flag(64, help="samples per pixel")


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
                                albedo=config.albedo,
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


def register(commands) -> None:
    add_command(
        commands, "render", RenderConfig, run_render,
        help="render a scene file or scene-family instance to EXR",
        description="Render colour + albedo + normal (+ alpha, depth) with a box pixel filter.")
    add_command(
        commands, "scenes", ScenesConfig, run_scenes,
        help="list the scene families, or write a contact sheet of them",
        description="List the procedural scene families and their train/validation/test "
                    "splits; with --preview, render a contact sheet PNG.")
