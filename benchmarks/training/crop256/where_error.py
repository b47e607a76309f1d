"""Where a model's error lies, per scene, beside OIDN with prefiltered aux: the squared error of
x/(1+x) split into bands by the size of its blotches (under 8 pixels, 8 to 32, over 32: the
signed error box-blurred over 8 and over 32 pixels), and how much each pyramid level takes from
the next coarser one (the median blend share over the frame).

    python benchmarks/training/crop256/where_error.py MODEL [SETS [ENSEMBLE]]
    (SETS: test,shared; ENSEMBLE: the model as a self-ensemble of 1, 2, 4 or 8 copies)

Reads the benchmark sets in benchmarks/references/ (noisy_0.exr, reference.exr per scene).
Band figures are mean squared errors x 1e6, so they add up to the frame's MSE.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from mcdenoise.bench.oidn import oidn_denoise
from mcdenoise.core.exr import read_frame
from mcdenoise.infer.denoise import denoise, load_denoiser
from mcdenoise.nn import model as unet

ROOT = Path("benchmarks/references")


def tonemap(x: np.ndarray) -> np.ndarray:
    x = np.maximum(x, 0.0)
    return x / (1.0 + x)


def box(error: np.ndarray, size: int) -> np.ndarray:
    """(H, W, C) -> the same, each pixel the mean of the size x size box around it."""
    t = torch.from_numpy(np.ascontiguousarray(error)).permute(2, 0, 1)[None]
    lo, hi = size // 2, size - 1 - size // 2
    t = F.avg_pool2d(F.pad(t, (lo, hi, lo, hi), mode="replicate"), size, stride=1)
    return t[0].permute(1, 2, 0).numpy()


def bands(output: np.ndarray, reference: np.ndarray) -> tuple[float, float, float]:
    """MSE x 1e6 of x/(1+x) in blotches under 8 px, 8-32 px and over 32 px (they sum to it)."""
    error = tonemap(output) - tonemap(reference)
    mse, low8, low32 = ((e ** 2).mean() for e in (error, box(error, 8), box(error, 32)))
    return 1e6 * (mse - low8), 1e6 * (low8 - low32), 1e6 * low32


def main(model_path: str, sets: list[str], ensemble: int = 1) -> None:
    shares: list[list[float]] = []
    real = unet.blend_pyramid

    def spy(heads, image, size, band_weights=False):
        shares.append([float(torch.sigmoid(h[:, size * size]).median()) for h in heads[:-1]])
        return real(heads, image, size, band_weights)

    unet.blend_pyramid = spy
    model = load_denoiser(model_path, "cpu", engine="torch", ensemble=ensemble)
    print("| set | scene | ours dB | OIDN-P dB | ours <8 / 8-32 / >32 px | OIDN-P <8 / 8-32 / >32 px "
          "| median share from the coarser level, L0..L3 |")
    print("|---|---|---|---|---|---|---|")
    for name in sets:
        for folder in sorted((ROOT / name / "scenes").iterdir()):
            reference = read_frame(folder / "reference.exr").color
            noisy = read_frame(folder / "noisy_0.exr")
            shares.clear()
            ours = bands(denoise(model, noisy).color, reference)
            theirs = bands(oidn_denoise(noisy, prefilter_aux=True).color, reference)
            db = [10 * np.log10(1e6 / sum(b)) for b in (ours, theirs)]
            print(f"| {name} | {folder.name[:28]} | {db[0]:.2f} | {db[1]:.2f} | "
                  + " / ".join(f"{b:.1f}" for b in ours) + " | "
                  + " / ".join(f"{b:.1f}" for b in theirs) + " | "
                  + " ".join(f"{s:.2f}" for s in shares[0]) + " |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "test,shared").split(","),
         int(sys.argv[3]) if len(sys.argv) > 3 else 1)
