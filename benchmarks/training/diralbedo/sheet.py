"""Contact sheet of the two albedo kinds (renderers/albedo.py) on benchmark inputs.

    python benchmarks/training/diralbedo/sheet.py OUT.png

One row per scene: the 64-spp colour (tonemapped), its diffuse albedo (Mitsuba's AOV, from
benchmarks/references/{test,shared}) and its directional albedo (from the -directional sets),
both gamma 2.2 and clipped to [0, 1].
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from mcdenoise.core.color import preview_rgb8
from mcdenoise.core.exr import read_frame

SCENES = [("test", "objects-9000"), ("test", "lights-9000"), ("shared", "test_envmap_path-05789e88"),
          ("shared", "test_homo_dielectric_envmap_volpath-94e4d3b5")]
ROOT = Path("benchmarks/references")


def gamma8(albedo: np.ndarray) -> np.ndarray:
    return (np.clip(albedo, 0, 1) ** (1 / 2.2) * 255 + 0.5).astype(np.uint8)


def main(out: Path) -> None:
    rows = []
    for group, slug in SCENES:
        diffuse = read_frame(ROOT / group / "scenes" / slug / "noisy_0.exr")
        directional = read_frame(ROOT / f"{group}-directional" / "scenes" / slug / "noisy_0.exr")
        assert np.array_equal(diffuse.color, directional.color)  # same seed, same colour noise
        row = np.concatenate([preview_rgb8(diffuse.color), gamma8(diffuse.albedo),
                              gamma8(directional.albedo)], axis=1)
        strip = Image.new("RGB", (row.shape[1], row.shape[0] + 14), "white")
        strip.paste(Image.fromarray(row), (0, 14))
        ImageDraw.Draw(strip).text((2, 1), f"{slug}: colour 64 spp | diffuse albedo (AOV) | "
                                           "directional albedo", fill="black")
        rows.append(strip)
    width = max(r.width for r in rows)
    sheet = Image.new("RGB", (width, sum(r.height for r in rows)), "white")
    y = 0
    for r in rows:
        sheet.paste(r, (0, y))
        y += r.height
    sheet.save(out)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
