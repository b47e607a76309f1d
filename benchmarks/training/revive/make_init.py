"""The shipped model with its level-2 blend gate reset to the untrained start: the share that
level 2 takes from level 3 (1/8 resolution) is about 0 on every benchmark scene (see
crop256/where_error.py), saturated, so no gradient reaches it or the coarser levels behind it.
Reset, it starts at sigmoid(BLEND_START) = 0.12 everywhere, and fine-tuning decides per pixel.

    python benchmarks/training/revive/make_init.py OUT.safetensors [LEVEL]
"""
from __future__ import annotations

import sys

import torch

from mcdenoise.nn.model import BLEND_START
from mcdenoise.nn.modelfile import default_model_path, load_model, save_model


def main(out: str, level: int = 2) -> None:
    net, _, card = load_model(default_model_path())
    head = net.level_heads[level - 1]  # level_heads[l - 1] predicts level l's kernels and gate
    gate = net.config.kernel ** 2
    with torch.no_grad():
        head.weight[gate].zero_()
        head.bias[gate] = BLEND_START
    save_model(out, net, {**card, "note": f"the shipped model with level {level}'s blend gate "
                                          f"reset to {BLEND_START} (revive/make_init.py)"})


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 2)
