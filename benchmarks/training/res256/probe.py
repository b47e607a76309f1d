"""Where a model's error lies: pyramid blend shares and error by spatial scale.

    .venv/bin/python benchmarks/training/res256/probe.py MODEL [SCENE ...]

For each test-split scene (default cornell-9000 lights-9000 interior-9000, read from
benchmarks/references/test: 64-spp noisy_0.exr and the 8,192-spp reference.exr) it prints
- the share of the next coarser level's result that each pyramid level takes (sigmoid of the
  blend logit; mean, min and max over the image's upper middle, the back wall in cornell), and
  the effective number of taps (1 / sum w^2) of each level's kernels there;
- the RMS error of x/(1+x) after a Gaussian blur of sigma 0, 1, 2, 4, 8, 16 pixels, x 1000,
  for the model and for OIDN high: the error left at each spatial scale (fine grain against
  blotches).
"""
from __future__ import annotations

import sys

import numpy as np
import torch
from scipy.ndimage import gaussian_filter

import mcdenoise.nn.model as model_module
from mcdenoise.bench.oidn import oidn_denoise
from mcdenoise.core.exr import read_frame
from mcdenoise.core.metrics import psnr
from mcdenoise.infer.denoise import denoise, load_denoiser

SIGMAS = (0, 1, 2, 4, 8, 16)


def error_by_scale(output: np.ndarray, reference: np.ndarray) -> list[float]:
    """RMS of the x/(1+x) error (H, W, 3) after blurring it with each of SIGMAS, x 1000."""
    error = np.maximum(output, 0) / (1 + np.maximum(output, 0)) - reference / (1 + reference)
    return [1e3 * float(np.sqrt((gaussian_filter(error, (s, s, 0)) ** 2).mean())) for s in SIGMAS]


def main(path: str, scenes: list[str]) -> None:
    torch.set_num_threads(1)
    denoiser = load_denoiser(path, "cpu", engine="torch")
    taps = denoiser.model.config.kernel ** 2
    captured: list[torch.Tensor] = []
    original = model_module.blend_pyramid

    def spy(heads, image, size, band_weights=False):
        captured[:] = [h.detach() for h in heads]
        return original(heads, image, size, band_weights)

    model_module.blend_pyramid = spy
    for scene in scenes:
        root = f"benchmarks/references/test/scenes/{scene}"
        frame, reference = read_frame(f"{root}/noisy_0.exr"), read_frame(f"{root}/reference.exr").color
        ours = denoise(denoiser, frame, tile=1024).color
        parts = []
        for level, head in enumerate(captured):
            h, w = head.shape[-2:]
            region = (slice(h // 8, h // 2), slice(w // 4, 3 * w // 4))
            weights = torch.softmax(head[0, :taps], 0)
            text = f"L{level} taps {(1 / (weights ** 2).sum(0))[region].mean():.1f}"
            if level < len(captured) - 1:
                share = torch.sigmoid(head[0, taps])[region]
                text += f" share {share.mean():.2f} [{share.min():.2f}, {share.max():.2f}]"
            parts.append(text)
        print(f"{scene}: " + "; ".join(parts))
        for name, output in (("ours", ours), ("oidn", oidn_denoise(frame).color)):
            rms = " ".join(f"{v:.2f}" for v in error_by_scale(output, reference))
            print(f"  {name}: PSNR {psnr(output, reference):.2f} dB; RMS x1000 at sigma "
                  f"{SIGMAS}: {rms}", flush=True)
    model_module.blend_pyramid = original


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:] or ["cornell-9000", "lights-9000", "interior-9000"])
