"""The report of `mcdenoise bench photo`: the paper's numbers, the Markdown report beside the
results JSON, and the figure of example crops (the training curves are bench/figures.py's).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mcdenoise.bench.figures import label_font
from mcdenoise.core.color import save_png

if TYPE_CHECKING:
    from mcdenoise.bench.photo.images import TestImage

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
# Figures 3 and 4: one number per method, not per set.
PAPER_FIGURES: dict[str, dict[str, float]] = {
    "text": {"input": 17.12, "noisy-l2": 26.89, "noisy-l1": 35.75, "clean": 35.82},
    "impulse": {"input": 8.89, "noisy-l2": 13.02, "noisy-l1": 16.36, "noisy-l0": 28.43,
                "clean": 28.86},
}
BASELINE_TITLES = {"input": "noisy input", "bm3d": "BM3D", "anscombe_bm3d": "Anscombe+BM3D",
                   "dip": "DIP"}


def crops_figure(path: Path, tests: dict[str, list[TestImage]],
                 panels: list[tuple[str, dict[tuple[str, str], np.ndarray]]],
                 size: int = 128) -> None:
    """Rows: the first image of each set; columns: clean, then each (title, outputs) panel
    (outputs keyed by (set, image name)); a size x size window at the image centre, each tile
    labelled with its PSNR."""
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
             f"[{result['train_range'][0]:g}, {result['train_range'][1]:g}] per training example"
             + ("; a noisy target's parameter is its input's" if cfg.get("target_level") == "same"
                else "; a noisy target's parameter is drawn again")
             + (f"; the annealed L0's epsilon {cfg['l0_eps']:g}"
                if "l0" in cfg.get("losses", "") and cfg.get("l0_eps") else "") + ". "
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
        f"{name} {v['seconds']:.0f} s ({v['steps']} of {cfg['steps']} steps, {v['skipped']} skipped)"
        for name, v in result["variants"].items()) + ".", ""]
    partial = [f"{name} at step {v['steps']}" for name, v in result["variants"].items()
               if v.get("partial")]
    if partial:
        lines += [f"**Partial result** (the {cfg['steps']}-step schedule is not finished): "
                  + ", ".join(partial) + ". The same command with `--resume` (and a larger "
                  "`--stop-at`, or none) continues the runs.", ""]
    lines += [f"![example crops]({crops.name})", "",
              f"![validation PSNR during training]({curves.name})", ""]
    return "\n".join(lines)
