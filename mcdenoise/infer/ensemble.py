"""Self-ensemble: the network run on flipped and transposed copies of its input, each result
turned back and the results averaged (``--ensemble N``, N of the square's 8 symmetries).

Why it helps: the network trained on crops flipped and rotated at random with the normals left
as they are (train/dataset.py), so each symmetric copy is an input it knows, and its errors on
the copies are partly independent; the mean keeps what they agree on. It still only averages
filtered copies of the input's own samples, so energy and colour stay the input's. On the
benchmark frames, 4 copies gained 0.18 / 0.26 dB and 8 copies 0.26 / 0.33 dB (test split /
third-party scenes) at 4x and 8x the network's time (benchmarks/results/mc.md), for final
frames whose render took far longer than any denoise.
"""
from __future__ import annotations

from typing import Callable

import torch

from mcdenoise.infer import ENSEMBLE_SIZES as SIZES, ensemble_problem

# (transpose, flipped dims) of (N, C, H, W) tensors; the first N of these are used, so N = 2
# adds the horizontal mirror, 4 the whole flip group and 8 the transposed copies too.
SYMMETRIES = [(False, ()), (False, (3,)), (False, (2,)), (False, (2, 3)),
              (True, ()), (True, (3,)), (True, (2,)), (True, (2, 3))]


def check_size(n: int) -> int:
    """``n`` when it is a valid ensemble size, else ValueError naming the choices."""
    if problem := ensemble_problem(n):
        raise ValueError(problem)
    return n


def ensemble(run: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, n: int) -> torch.Tensor:
    """The mean over the first ``n`` symmetries of ``undo(run(apply(x)))``: (N, C, H, W) in,
    ``run``'s (N, C', H, W) out. ``run`` must map an (N, C, h, w) tensor to (N, C', h, w)."""
    total = None
    for transpose, dims in SYMMETRIES[:check_size(n)]:
        copy = x.transpose(2, 3) if transpose else x
        y = run(copy.flip(dims) if dims else copy)
        y = y.flip(dims) if dims else y
        y = y.transpose(2, 3) if transpose else y
        total = y if total is None else total + y
    return total / n
