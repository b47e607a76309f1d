"""How much the demodulated result helps or hurts each benchmark scene.

    .venv/bin/python benchmarks/training/band256/share_probe.py [MODEL]

For every scene of the test split and the third-party set whose 64-spp noisy_0.exr and
reference are in benchmarks/references/{test,shared} (bench mc renders them), it denoises
with the model (default: the shipped one) as trained, then with the demodulated share's
logit shifted for every pixel: -1, -2, -3, forced to 0 (plain kernels only, logit -30) and to
1 (logit +30), and prints the PSNR of x/(1+x) of each. A probe, not a tuning: a shift chosen
on these scenes would be fitted to the benchmark.
"""
from __future__ import annotations

import glob
import sys

import torch

from mcdenoise.core.exr import read_frame
from mcdenoise.core.metrics import psnr
from mcdenoise.infer.denoise import denoise, load_denoiser

SHIFTS = (("trained", 0.0), ("-1", -1.0), ("-2", -2.0), ("-3", -3.0))
FORCED = (("plain only", -30.0), ("demodulated only", 30.0))


def main(path: str) -> None:
    torch.set_num_threads(1)
    denoiser = load_denoiser(path, "cpu", engine="torch")
    if not denoiser.model.config.demodulate:
        raise SystemExit(f"{path}: not a demodulating model (train --demodulate)")
    bias = denoiser.model.out_c.bias.data
    trained = bias[-1].item()
    settings = [(name, trained + shift) for name, shift in SHIFTS] + list(FORCED)
    print("| scene | " + " | ".join(name for name, _ in settings) + " |")
    print("|---" * (len(settings) + 1) + "|")
    for root in sorted(glob.glob("benchmarks/references/test/scenes/*")) + \
            sorted(glob.glob("benchmarks/references/shared/scenes/*")):
        frame, reference = read_frame(f"{root}/noisy_0.exr"), read_frame(f"{root}/reference.exr").color
        scores = []
        for _, logit in settings:
            bias[-1] = logit
            scores.append(psnr(denoise(denoiser, frame, tile=1024).color, reference))
        bias[-1] = trained
        print(f"| {root.rsplit('/', 1)[-1]} | " + " | ".join(f"{s:.2f}" for s in scores) + " |",
              flush=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "mcdenoise/models/default.safetensors")
