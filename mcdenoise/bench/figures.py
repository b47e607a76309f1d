"""Figures shared by the benchmarks: PSNR-against-steps curves, drawn with Pillow."""
from __future__ import annotations

import math
from pathlib import Path

from mcdenoise.core.color import save_png


def label_font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):
        return ImageFont.load_default()


COLOURS = [(40, 80, 200), (200, 40, 40), (30, 150, 60), (150, 60, 170), (230, 140, 20),
           (20, 160, 170)]


def curves_figure(path: Path, series: dict[str, list[tuple[float, float]]],
                  reference: tuple[str, float] | None, title: str, x_label: str = "steps") -> None:
    """Validation PSNR against steps (or ``x_label``), one line per variant, the input's (or
    another reference's) level dashed."""
    from PIL import Image, ImageDraw

    width, height, left, right, top, bottom = 760, 440, 70, 20, 34, 50
    points = {k: [p for p in v if math.isfinite(p[1])] for k, v in series.items()}
    points = {k: v for k, v in points.items() if v}
    values = [y for v in points.values() for _, y in v] + ([reference[1]] if reference else [])
    steps = [x for v in points.values() for x, _ in v]
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = label_font(12)
    draw.text((left, 10), title, fill="black", font=font)
    if not values or not steps:
        draw.text((left, height // 2), "no validation points", fill="black", font=font)
        save_png(image, path)
        return
    x_max = max(max(steps), 1)
    y_min, y_max = min(values) - 0.5, max(values) + 0.5

    def xy(step: float, value: float) -> tuple[float, float]:
        return (left + (width - left - right) * step / x_max,
                top + (height - top - bottom) * (y_max - value) / (y_max - y_min))

    draw.rectangle([left, top, width - right, height - bottom], outline="black")
    for k in range(6):
        value = y_min + (y_max - y_min) * k / 5
        _, y = xy(0, value)
        draw.line([left - 4, y, left, y], fill="black")
        draw.text((6, y - 7), f"{value:.1f} dB", fill="black", font=font)
        step = x_max * k / 5
        x, _ = xy(step, y_min)
        draw.line([x, height - bottom, x, height - bottom + 4], fill="black")
        draw.text((x - 12, height - bottom + 8), f"{step:.0f}", fill="black", font=font)
    draw.text((width // 2 - 20, height - 22), x_label, fill="black", font=font)
    legend = []
    if reference:
        _, y = xy(0, reference[1])
        for x in range(left, width - right, 12):
            draw.line([x, y, x + 6, y], fill=(120, 120, 120))
        legend.append((f"{reference[0]} {reference[1]:.2f} dB", (120, 120, 120)))
    for k, (name, pts) in enumerate(points.items()):
        colour = COLOURS[k % len(COLOURS)]
        line = [xy(s, v) for s, v in pts]
        if len(line) > 1:
            draw.line(line, fill=colour, width=2)
        for x, y in line:
            draw.ellipse([x - 2.5, y - 2.5, x + 2.5, y + 2.5], fill=colour)
        legend.append((f"{name}: {pts[-1][1]:.2f} dB", colour))
    lx, ly = width - right - 230, height - bottom - 16 * len(legend) - 10
    draw.rectangle([lx - 6, ly - 6, width - right - 4, height - bottom - 4], fill="white",
                   outline=(200, 200, 200))
    for k, (text, colour) in enumerate(legend):
        draw.rectangle([lx, ly + 16 * k, lx + 12, ly + 10 + 16 * k], fill=colour)
        draw.text((lx + 18, ly - 2 + 16 * k), text, fill="black", font=font)
    save_png(image, path)
