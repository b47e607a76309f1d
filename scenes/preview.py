"""Contact sheets: many scene instances rendered small, tonemapped and captioned on one PNG,
to judge the families by eye (variety, exposure, plausibility).

    python -m scenes.preview OUT.png [SPEC] [--size 128] [--spp 64] [--columns 8]
"""
from __future__ import annotations

import argparse
import sys
from typing import Callable

import numpy as np

CAPTION_H = 14  # pixels under each tile for its name (Pillow's default bitmap font)


def default_preview_names(per_family: int = 8) -> list[str]:
    """``per_family`` instances of every family spread over the index range (all splits)."""
    from scenes import FAMILY_SIZE, family_names

    step = FAMILY_SIZE // per_family
    return [f"{family}:{(k * step + 37 * j) % FAMILY_SIZE}" for j, family in enumerate(family_names())
            for k in range(per_family)]


def tile_size(width: int, height: int, size: int) -> tuple[int, int]:
    """(w, h) of a tile whose longer side is ``size`` pixels, keeping the aspect ratio."""
    if width >= height:
        return size, max(1, round(size * height / width))
    return max(1, round(size * width / height)), size


def contact_sheet(names: list[str], path, *, size: int = 128, spp: int = 64, renderer=None, columns: int = 8,
                  progress: Callable[[int, int], None] | None = None, seed: int = 0) -> None:
    """Render ``names`` at ``size`` pixels (longer side) and ``spp``, tonemapped with the
    project's preview curve, captioned, in a grid of ``columns``; write a PNG to ``path``.

    Cells are size x (size + caption) pixels; a non-square instance is centred in its cell.
    """
    from PIL import Image, ImageDraw

    from mcdenoise.core.color import preview_rgb8, save_png
    import scenes

    if not names:
        raise ValueError("contact_sheet needs at least one scene name")
    if renderer is None:
        from renderers import get_renderer
        renderer = get_renderer()
    columns = max(1, min(columns, len(names)))
    rows = (len(names) + columns - 1) // columns
    cell_w, cell_h = size, size + CAPTION_H
    sheet = Image.new("RGB", (columns * cell_w, rows * cell_h), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    for i, name in enumerate(names):
        desc = scenes.describe(name)
        w, h = tile_size(desc.width, desc.height, size)
        frame = renderer.render(desc, spp=spp, seed=seed, width=w, height=h, aux=False)
        tile = Image.fromarray(preview_rgb8(frame.color))
        x0, y0 = (i % columns) * cell_w, (i // columns) * cell_h
        sheet.paste(tile, (x0 + (size - w) // 2, y0 + (size - h) // 2))
        draw.text((x0 + 3, y0 + size + 1), desc.name, fill=(230, 230, 230))
        if progress is not None:
            progress(i + 1, len(names))
    save_png(np.asarray(sheet), path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render a contact sheet of scene-family instances.")
    parser.add_argument("output", help="PNG file to write")
    parser.add_argument("spec", nargs="?", default=None,
                        help="scene spec (e.g. 'cornell:0-7,interior:0-7'); default: 8 of every family")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--spp", type=int, default=64)
    parser.add_argument("--columns", type=int, default=8)
    args = parser.parse_args(argv)
    import scenes

    names = scenes.parse_spec(args.spec) if args.spec else default_preview_names()

    def report(i: int, n: int) -> None:
        print(f"\r{i}/{n} {names[i - 1]:<16}", end="", file=sys.stderr, flush=True)

    contact_sheet(names, args.output, size=args.size, spp=args.spp, columns=args.columns, progress=report)
    print(file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
