"""Per scene: the shipped model on the diffuse-albedo inputs against a directional-albedo
model on the same renders with the directional albedo (same seeds, same colour noise, same
references). PSNR of x/(1+x), torch engine, whole frames.

    python benchmarks/training/diralbedo/compare.py MODEL validation,test,shared
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from mcdenoise.core.exr import read_frame
from mcdenoise.core.metrics import psnr
from mcdenoise.infer.denoise import denoise, load_denoiser
from mcdenoise.nn.modelfile import default_model_path

ROOT = Path("benchmarks/references")


def main(model: str, sets: list[str]) -> None:
    shipped = load_denoiser(default_model_path(), "cpu", engine="torch")
    directional = load_denoiser(model, "cpu", engine="torch")
    for name in sets:
        scores = []
        for folder in sorted((ROOT / name / "scenes").iterdir()):
            reference = read_frame(folder / "reference.exr").color
            diffuse_input = read_frame(folder / "noisy_0.exr")
            directional_input = read_frame(ROOT / f"{name}-directional" / "scenes" / folder.name
                                           / "noisy_0.exr")
            a = psnr(denoise(shipped, diffuse_input).color, reference)
            b = psnr(denoise(directional, directional_input).color, reference)
            scores.append((a, b))
            print(f"| {name} | {folder.name} | {a:.2f} | {b:.2f} | {b - a:+.2f} |", flush=True)
        a, b = np.mean(scores, axis=0)
        print(f"| {name} | **mean** | {a:.2f} | {b:.2f} | {b - a:+.2f} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2].split(","))
