"""`mcdenoise bench mc`: our denoiser against the noisy input, OIDN and references.

    mcdenoise bench mc --scenes test --spp 64 --reference-spp 131072 --json out/mc.json

1. Renders, through the farm (resumable, cached in ``--data``), one noisy frame pair and a
   reference for every scene: the project's test split (or any spec / scene files).
2. Denoises the first frame of each pair with every method: the noisy input itself, Intel
   Open Image Denoise (``pyoidn``: HDR, ``--oidn-quality``) twice, with the noisy albedo and
   normal as they are and with them prefiltered (bench/oidn.py, OIDN's recommendation for
   noisy aux; the stronger row is the bar), our model (``--model``, default the shipped one)
   and, when given, a clean-target model of ours and the model as a self-ensemble
   (``--ensemble N``: averaged over N flipped/transposed copies, infer/ensemble.py).
3. Scores each against the reference: PSNR of x/(1+x), relMSE, SSIM (core/metrics.py), and
   reports the reference's true sample count beside them.
4. Times ours and OIDN on the same frames, and on one ``--speed-size`` frame (1920x1080 by
   default: the artists' case), in the same process, after a warm-up.

Writes the JSON (``--json``), a Markdown report beside it (same stem, ``.md``) and a contact
sheet PNG (noisy | OIDN | ours | reference, each with a 2x crop) beside it (``_sheet.png``).
"""
from __future__ import annotations

import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from mcdenoise.errors import ConfigError
from mcdenoise.flags import add_command, flag
from mcdenoise.infer import ENGINE_HELP, ENGINES, ENSEMBLE_HELP, ENSEMBLE_SIZES

CROP = 64  # contact-sheet crop, shown at 2x


@dataclass
class BenchMcConfig:
    """`mcdenoise bench mc`: flags map 1:1 onto these fields."""
    json: Path = flag(metavar="FILE", help="results JSON; the report (.md) and sheet "
                      "(_sheet.png) go beside it")
    scenes: str = flag("interior:9000-9001,hall:9000-9001,cornell:9000-9001,objects:9000-9001,"
                       "lights:9000-9001,detail:9000-9001", metavar="SPEC",
                       help="scene spec or scene files (default: two test-split instances per "
                            "family)")
    spp: int = flag(64, help="input spp")
    reference_spp: int = flag(131072, help="reference spp (the report states the true count)")
    chunk_spp: int = flag(4096, help="spp per reference pass")
    width: int = flag(256, help="image width")
    height: int | None = flag(None, help="image height (default: keeps the aspect)")
    model: Path | None = flag(None, help="our model (default: the shipped one)")
    clean_model: Path | None = flag(None, help="also score this model (trained with --targets clean)")
    data: Path = flag(Path("bench-data/mc"), metavar="DIR", help="render cache")
    oidn_quality: str = flag("high", choices=("fast", "balanced", "high"), help="OIDN quality")
    speed_size: str = flag("1920x1080", metavar="WxH",
                           help="also time one frame of this size; 0: skip")
    repeats: int = flag(3, help="timed runs per method on the speed frame")
    device: str = flag("auto", choices=("auto", "cpu", "cuda"), help="device for our model")
    engine: str = flag("auto", choices=ENGINES, help=ENGINE_HELP)
    ensemble: int = flag(1, choices=ENSEMBLE_SIZES,
                         help="also score our model as a self-ensemble, its own row (timed "
                              "too): " + ENSEMBLE_HELP)
    address: str | None = flag(None, help="Ray cluster for the renders (default: a local one)")
    num_cpus: int | None = flag(None, help="CPUs of the local Ray (default: all)")
    adapt_minutes: str = flag(
        "", metavar="M[,M...]", help="also fine-tune the model on each scene file for M "
        "wall-clock minutes (train --init --scenes FILE --minutes M --stream; views of the "
        "file, never its camera) and score it on the file's own view: one 'adapted' row per "
        "budget, a plot of PSNR against the minutes (bench/adapt.py)")
    adapt_val_data: Path | None = flag(
        None, metavar="DIR", help="validate each adaptation run on these scenes at its start "
        "and end (what adapting cost on the scene family)")
    adapt_size: int = flag(0, metavar="PX", help="width of the adaptation's training views "
                           "(default 0: the benchmark's --width, the size the shot is rendered "
                           "at; 128-pixel views of 256-pixel shots scored 0.7 dB lower)")


@dataclass
class Method:
    name: str
    label: str
    run: Callable[[Any, str], Any]  # (Frame, scene name) -> denoised Frame


def parse_size(text: str) -> tuple[int, int] | None:
    """'1920x1080' -> (1920, 1080); '' or '0' -> None (no speed test)."""
    if text in ("", "0", "none"):
        return None
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--speed-size must look like 1920x1080, not {text!r}") from None
    if width < 1 or height < 1:
        raise ConfigError(f"--speed-size must be positive, not {text!r}")
    return width, height


def render_inputs(config: BenchMcConfig) -> list:
    """Render (or find, cached) the pairs and references; the scenes' SceneFiles."""
    import scenes as scene_family
    from mcdenoise.train.dataset import scan
    from mcdenoise.farm.driver import DatasetConfig, run_with_progress
    from mcdenoise.nn.modelfile import albedo_kind, default_model_path, read_card

    # The inputs carry the albedo the model learnt from (renderers/albedo.py); --data must
    # hold that kind (the farm refuses a directory of the other).
    summary = run_with_progress(DatasetConfig(
        output=config.data, scenes=config.scenes, spp=config.spp,
        reference_spp=config.reference_spp, chunk_spp=min(config.chunk_spp, config.reference_spp),
        width=config.width, height=config.height, address=config.address,
        num_cpus=config.num_cpus,
        albedo=albedo_kind(read_card(config.model or default_model_path()))), desc="render")
    if summary.failed:
        print(f"{summary.failed} renders failed; scoring the scenes that are complete",
              file=sys.stderr)
    wanted = scene_family.parse_spec(config.scenes)
    by_name = {s.scene: s for s in scan(config.data) if s.reference is not None}
    found = [by_name[name] for name in wanted if name in by_name]
    if not found:
        raise ConfigError(f"no scene of {config.scenes!r} has a reference in {config.data}")
    return found


def methods(config: BenchMcConfig) -> list[Method]:
    from mcdenoise.bench import oidn
    from mcdenoise.infer.denoise import denoise, load_denoiser
    from mcdenoise.nn.modelfile import default_model_path

    device = None if config.device == "auto" else config.device
    ours = load_denoiser(config.model or default_model_path(), device, engine=config.engine)
    found = [Method("noisy", f"noisy {config.spp} spp", lambda frame, _: frame)]
    if oidn.available():
        found.append(Method("oidn", f"OIDN ({config.oidn_quality})",
                            lambda frame, _: oidn.oidn_denoise(frame, config.oidn_quality)))
        found.append(Method("oidn_best", f"OIDN ({config.oidn_quality}, prefiltered aux)",
                            lambda frame, _: oidn.oidn_denoise(frame, config.oidn_quality,
                                                               prefilter_aux=True)))
    else:
        print("pyoidn is not installed: OIDN is left out (pip install pyoidn)", file=sys.stderr)
    found.append(Method("ours", "ours (noisy targets)", lambda frame, _: denoise(ours, frame)))
    if config.clean_model:
        clean = load_denoiser(config.clean_model, device, engine=config.engine)
        found.append(Method("ours_clean", "ours (clean targets)",
                            lambda frame, _: denoise(clean, frame)))
    if (n := config.ensemble) > 1:
        many = replace(ours, ensemble=n)
        found.append(Method(f"ours_ensemble{n}", f"ours x{n} (self-ensemble)",
                            lambda frame, _: denoise(many, frame)))
    return found


def adapted_methods(config: BenchMcConfig, scenes: list) -> tuple[list[Method], dict]:
    """One Method per --adapt-minutes budget, denoising each scene with the model adapted to
    it, and the runs' records for the report."""
    from mcdenoise.bench.adapt import adapt, parse_budgets
    from mcdenoise.infer.denoise import denoise, load_denoiser

    device = None if config.device == "auto" else config.device
    found, records = [], {}
    for minutes in parse_budgets(config.adapt_minutes):
        runs = {files.scene: adapt(files.scene, minutes, config.model, config.spp,
                                   config.data / "adapt", config.adapt_val_data,
                                   size=config.adapt_size or config.width)
                for files in scenes}
        models = {scene: load_denoiser(run.model, device, engine=config.engine)
                  for scene, run in runs.items()}
        found.append(Method(f"adapted_{minutes:g}", f"ours adapted {minutes:g} min",
                            lambda frame, scene, models=models: denoise(models[scene], frame)))
        records[f"{minutes:g}"] = {scene: {k: str(v) if isinstance(v, Path) else v
                                           for k, v in asdict(run).items() if k != "model"}
                                   for scene, run in runs.items()}
    return found, records


def score_scenes(scenes: list, found: list[Method]) -> tuple[list[dict], dict]:
    """Per-scene metrics and timings of every method, and the images for the sheet."""
    from tqdm import tqdm

    from mcdenoise.core.exr import read_frame
    from mcdenoise.core.metrics import psnr, relmse, ssim

    rows, images = [], {}
    for files in tqdm(scenes, desc="score", unit="scene", disable=None):
        frame, reference = read_frame(files.noisy[0]), read_frame(files.reference)
        row: dict[str, Any] = {"scene": files.scene, "width": frame.width, "height": frame.height,
                               "spp": files.spp, "reference_spp": int(reference.metadata.get("spp", 0))}
        images[files.scene] = {"reference": reference.color, "noisy": frame.color}
        for method in found:
            began = time.perf_counter()
            color = method.run(frame, files.scene).color
            seconds = time.perf_counter() - began
            row[method.name] = {"psnr": psnr(color, reference.color),
                                "relmse": relmse(color, reference.color),
                                "ssim": ssim(color, reference.color),
                                "seconds": seconds if method.name != "noisy" else 0.0}
            images[files.scene][method.name] = color
        rows.append(row)
    return rows, images


def means(rows: list[dict], found: list[Method]) -> dict[str, dict[str, float]]:
    return {m.name: {k: float(np.mean([r[m.name][k] for r in rows]))
                     for k in ("psnr", "relmse", "ssim", "seconds")} for m in found}


def speed(config: BenchMcConfig, scene: str, found: list[Method]) -> dict[str, Any] | None:
    """Median seconds per method on one frame of --speed-size (albedo and normal included)."""
    size = parse_size(config.speed_size)
    if size is None:
        return None
    from mcdenoise.core.exr import read_frame
    from mcdenoise.farm.driver import DatasetConfig, run_with_progress

    folder = config.data / "speed"
    # A real render (a few spp: content matters little for timing) through the farm's cache.
    run_with_progress(DatasetConfig(output=folder, scenes=scene, spp=4, width=size[0],
                                    height=size[1], address=config.address,
                                    num_cpus=config.num_cpus), desc="render speed frame")
    path = next(folder.glob("scenes/*/noisy_0.exr"))
    frame = read_frame(path)
    result: dict[str, Any] = {"size": f"{frame.width}x{frame.height}", "repeats": config.repeats,
                              "aux": ["albedo", "normal"]}
    for method in found:
        if method.name == "noisy" or method.name.startswith("adapted"):
            continue  # an adapted model runs the same network as ours
        method.run(frame, scene)  # warm-up: first-call allocations, OIDN device creation
        times = []
        for _ in range(config.repeats):
            began = time.perf_counter()
            method.run(frame, scene)
            times.append(time.perf_counter() - began)
        result[method.name] = {"median_s": statistics.median(times), "all_s": times}
        print(f"speed {result['size']}: {method.label} {statistics.median(times):.3f} s",
              file=sys.stderr)
    return result


def contact_sheet(rows: list[dict], images: dict, found: list[Method], path: Path) -> None:
    """One row per scene: every method and the reference, each over a 2x crop of the area
    where the reference has most detail (the same crop for all), labelled with PSNRs."""
    from PIL import Image, ImageDraw

    from mcdenoise.core.color import preview_rgb8, save_png
    from mcdenoise.nn.transform import Transform, exposure_scale

    columns = [m.name for m in found] + ["reference"]
    labels = {m.name: m.label for m in found} | {"reference": "reference"}
    tiles = []
    for row in rows:
        scene = images[row["scene"]]
        exposure = exposure_scale(scene["noisy"], Transform(exposure="auto"))
        ref = preview_rgb8(scene["reference"], exposure)
        y, x = detail_crop(ref)
        panels = []
        for name in columns:
            full = preview_rgb8(scene[name], exposure)
            crop = full[y:y + CROP, x:x + CROP].repeat(2, axis=0).repeat(2, axis=1)
            canvas = Image.new("RGB", (full.shape[1], full.shape[0] + 2 * CROP + 16), "white")
            canvas.paste(Image.fromarray(full), (0, 0))
            canvas.paste(Image.fromarray(crop), (0, full.shape[0] + 2))
            draw = ImageDraw.Draw(canvas)
            draw.rectangle([x, y, x + CROP, y + CROP], outline=(255, 64, 64))
            text = labels[name] if name == "reference" else f"{labels[name]} {row[name]['psnr']:.2f} dB"
            draw.text((2, full.shape[0] + 2 * CROP + 3), text, fill="black")
            panels.append(canvas)
        strip = Image.new("RGB", (sum(p.width + 4 for p in panels), max(p.height for p in panels) + 14),
                          "white")
        ImageDraw.Draw(strip).text((2, 0), row["scene"] + f"  (reference {row['reference_spp']} spp)",
                                   fill="black")
        offset = 0
        for panel in panels:
            strip.paste(panel, (offset, 14))
            offset += panel.width + 4
        tiles.append(strip)
    sheet = Image.new("RGB", (max(t.width for t in tiles), sum(t.height + 6 for t in tiles)), "white")
    offset = 0
    for tile in tiles:
        sheet.paste(tile, (0, offset))
        offset += tile.height + 6
    save_png(sheet, path)


def detail_crop(image: np.ndarray) -> tuple[int, int]:
    """Top-left corner of the CROP x CROP window with the most gradient energy."""
    grey = image.astype(np.float32).mean(axis=-1)
    energy = np.abs(np.diff(grey, axis=0))[:, :-1] + np.abs(np.diff(grey, axis=1))[:-1]
    h, w = energy.shape
    size = min(CROP, h, w)
    best, corner = -1.0, (0, 0)
    for y in range(0, max(h - size, 0) + 1, size // 4 or 1):
        for x in range(0, max(w - size, 0) + 1, size // 4 or 1):
            total = float(energy[y:y + size, x:x + size].sum())
            if total > best:
                best, corner = total, (y, x)
    return corner


def bar_lines(result: dict[str, Any], names: list[str], labels: dict[str, str]) -> list[str]:
    """Ours (and our self-ensemble, when scored) against the stronger OIDN row (mean PSNR) and,
    per scene, against OIDN's default row: the two conditions for beating OIDN."""
    rows = [n for n in ("oidn", "oidn_best") if n in names]
    if "ours" not in names or not rows:
        return []
    bar = max(rows, key=lambda n: result["mean"][n]["psnr"])
    lines = [""]
    for ours in [n for n in names if n == "ours" or n.startswith("ours_ensemble")]:
        gap = result["mean"][ours]["psnr"] - result["mean"][bar]["psnr"]
        who = "Ours" if ours == "ours" else labels[ours].capitalize()
        lines.append(f"{who} minus the stronger OIDN row ({labels[bar]}): "
                     f"**{gap:+.2f} dB** mean PSNR.")
        if "oidn" in names:
            worst = min(result["scenes"], key=lambda r: r[ours]["psnr"] - r["oidn"]["psnr"])
            lines.append(f"Largest per-scene shortfall of {who.lower()} against {labels['oidn']}: "
                         f"{worst['scene']} {worst[ours]['psnr'] - worst['oidn']['psnr']:+.2f} dB.")
    return lines


def report(result: dict[str, Any], found: list[Method], sheet: Path) -> str:
    """The Markdown report: quality per scene and mean, then timing."""
    names = [m.name for m in found]
    labels = {m.name: m.label for m in found}
    lines = [f"# `mcdenoise bench mc`: {len(result['scenes'])} scenes", "",
             f"- Command: `{result['command']}`", f"- Machine: {result['machine']}",
             f"- Model: {result['model']}",
             f"- Inputs: {result['config']['spp']} spp; references: "
             + ", ".join(sorted({str(r['reference_spp']) for r in result['scenes']})) + " spp "
             f"(asked for {result['config']['reference_spp']})",
             "- PSNR of x/(1+x) (dB, higher is better), relMSE (lower), SSIM of x/(1+x) (higher).",
             "", "## Mean over scenes", "",
             "| method | PSNR dB | relMSE | SSIM | s/frame |", "|---|---|---|---|---|"]
    for name in names:
        mean = result["mean"][name]
        lines.append(f"| {labels[name]} | {mean['psnr']:.2f} | {mean['relmse']:.4f} | "
                     f"{mean['ssim']:.4f} | {mean['seconds']:.3f} |")
    lines += bar_lines(result, names, labels)
    lines += ["", "## Per scene (PSNR dB)", "",
              "| scene | size | ref spp | " + " | ".join(labels[n] for n in names) + " |",
              "|---|---|---|" + "---|" * len(names)]
    for row in result["scenes"]:
        lines.append(f"| {row['scene']} | {row['width']}x{row['height']} | {row['reference_spp']} | "
                     + " | ".join(f"{row[n]['psnr']:.2f}" for n in names) + " |")
    if result.get("speed"):
        speed_result = result["speed"]
        lines += ["", f"## Speed, one {speed_result['size']} frame with albedo and normal "
                      f"(median of {speed_result['repeats']}, after a warm-up)", "",
                  "| method | seconds |", "|---|---|"]
        for name in names:
            if name in speed_result:
                lines.append(f"| {labels[name]} | {speed_result[name]['median_s']:.3f} |")
    if result.get("adaptation"):
        lines += adaptation_lines(result, labels)
    lines += ["", f"![contact sheet]({sheet.name})", ""]
    return "\n".join(lines)


def adaptation_lines(result: dict[str, Any], labels: dict[str, str]) -> list[str]:
    """The adaptation runs per scene and budget: PSNR on the own view, the run's time, steps
    and scenes, and validation on the scene family before and after."""
    def db(value) -> str:
        return "" if value is None else f"{value:.2f}"

    lines = ["", "## Adaptation runs", "",
             "| scene | budget min | wall s | steps | training scenes rendered | own view PSNR dB "
             "| shipped on it | family validation before -> after dB |", "|---|---|---|---|---|---|---|---|"]
    rows = {r["scene"]: r for r in result["scenes"]}
    for minutes, runs in result["adaptation"].items():
        for scene, run in runs.items():
            lines.append(f"| {scene} | {minutes} | {run['seconds']:.0f} | {run['steps']} | "
                         f"{run['scenes_rendered']} | {rows[scene][f'adapted_{minutes}']['psnr']:.2f} | "
                         f"{rows[scene]['ours']['psnr']:.2f} | {db(run['val_before_db'])} -> "
                         f"{db(run['val_after_db'])} |")
    stem = Path(result["config"]["json"]).stem
    return lines + ["", f"![PSNR against the minutes of adaptation]({stem}_adapt.png)"]


def adaptation_figure(result: dict[str, Any], found: list[Method], path: Path) -> None:
    """Mean PSNR of the adapted rows against their budgets, the stronger OIDN row dashed."""
    from mcdenoise.bench.figures import curves_figure

    mean = result["mean"]
    series = {"adapted": [(float(m), mean[f"adapted_{m}"]["psnr"]) for m in result["adaptation"]]}
    series["shipped"] = [(x, mean["ours"]["psnr"]) for x, _ in series["adapted"]]
    bars = [n for n in ("oidn", "oidn_best") if n in mean]
    bar = max(bars, key=lambda n: mean[n]["psnr"]) if bars else None
    curves_figure(path, series, (next(m.label for m in found if m.name == bar), mean[bar]["psnr"])
                  if bar else None, "mean PSNR (x/(1+x)) on the scenes' own views", "minutes")


def run_bench_mc(config: BenchMcConfig) -> int:
    from mcdenoise.bench.machine import describe
    from mcdenoise.core.files import write_text

    from mcdenoise.bench.adapt import parse_budgets
    from scenes import parse_spec
    from scenes.views import is_scene_file

    config.data = Path(config.data)
    parse_size(config.speed_size)
    if parse_budgets(config.adapt_minutes) and not all(map(is_scene_file, parse_spec(config.scenes))):
        raise ConfigError("--adapt-minutes fine-tunes on scene files: --scenes must list only "
                          ".xml files")
    found = methods(config)
    scenes = render_inputs(config)
    adapted, adaptation = adapted_methods(config, scenes)
    found += adapted
    rows, images = score_scenes(scenes, found)
    json_path = Path(config.json)
    sheet = json_path.with_name(json_path.stem + "_sheet.png")
    model_path = config.model or "the shipped default model"
    result: dict[str, Any] = {
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),  # no machine paths
        "machine": describe(), "model": str(model_path),
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
        "scenes": rows, "mean": means(rows, found)}
    if adaptation:
        result["adaptation"] = adaptation
        adaptation_figure(result, found, json_path.with_name(json_path.stem + "_adapt.png"))
    result["speed"] = speed(config, scenes[0].scene, found)
    contact_sheet(rows, images, found, sheet)
    write_text(json_path, json.dumps(result, indent=1))
    markdown = report(result, found, sheet)
    write_text(json_path.with_suffix(".md"), markdown)
    print(markdown.split("## Per scene")[0].rstrip())
    print(f"wrote {json_path}, {json_path.with_suffix('.md')} and {sheet}")
    return 0


def register(benchmarks) -> None:
    add_command(
        benchmarks, "mc", BenchMcConfig, run_bench_mc,
        help="our model vs the noisy input and OIDN, against references",
        description="Render (cached, through the farm) noisy frames and references, denoise "
                    "them with OIDN and our model, and score PSNR of x/(1+x), relMSE and SSIM; "
                    "time both on the same frames and on one large frame. Writes the JSON, a "
                    "Markdown report and a contact sheet PNG beside it.")
