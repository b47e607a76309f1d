"""Training losses, all (N, C, H, W) output and target -> scalar mean.

For Monte Carlo denoising the output and the target are linear HDR (never tonemapped):

    L_HDR = (f - y)^2 / (stopgrad(max(f, 0)) + 0.01)^2

The denominator uses the network's own output with its gradient stopped, which keeps the loss
unbiased under noisy targets (the target in the denominator would not be); the clamp at 0
matters: an output near -0.01 makes the unclamped loss explode.

The photographic experiments use L2, L1 (the median: text removal), masked L2 (Bernoulli
noise, the mask says which target pixels are known) and the annealed "L0" loss
(|f - y| + eps)^gamma with gamma going linearly from 2 to 0 over training (impulse noise).
"""
from __future__ import annotations

from typing import Callable

import torch

HDR_EPS = 0.01
# The annealed L0's epsilon. Its gradient, gamma (|e| + eps)^(gamma - 1), tends to gamma / (|e| + eps)
# as gamma -> 0: with the paper's 1e-8 it is unbounded, pixels that already match their target
# outweigh every other, and the gradient turns to noise (measured: an impulse run led L1 at
# gamma = 0.5, then its grad norm rose twentyfold and it fell 9 dB by gamma = 0). With an eps
# of a few 8-bit levels the limit is a bounded, still mode-seeking log loss, log(|e| + eps).
L0_EPS = 0.01
L0_EPS_PAPER = 1e-8  # the paper's (and every run's before L0_EPS was a setting)
NAMES = ("hdr", "l2", "l1", "masked_l2", "l0")


def hdr(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L_HDR of linear HDR output and target."""
    denominator = output.detach().clamp_min(0.0) + HDR_EPS
    return ((output - target) / denominator).square().mean()


def l2(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (output - target).square().mean()


def l1(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (output - target).abs().mean()


def masked_l2(output: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """L2 over pixels where ``mask`` (N, 1 or C, H, W; 1 = target known) is set."""
    mask = mask.to(output.dtype).expand_as(output)
    return ((output - target).square() * mask).sum() / mask.sum().clamp_min(1.0)


def l0_gamma(progress: float) -> float:
    """The L0 exponent at ``progress`` in [0, 1] of training: 2 -> 0 linearly."""
    return 2.0 * (1.0 - min(max(progress, 0.0), 1.0))


def l0(output: torch.Tensor, target: torch.Tensor, gamma: float,
       eps: float = L0_EPS) -> torch.Tensor:
    return ((output - target).abs() + eps).pow(gamma).mean()


def get(name: str, l0_eps: float = L0_EPS) -> Callable[..., torch.Tensor]:
    """``loss(output, target, progress=..., mask=None)`` for a loss name in NAMES (``l0_eps``:
    the annealed L0's epsilon)."""
    if name not in NAMES:
        raise ValueError(f"unknown loss {name!r}; one of {', '.join(NAMES)}")

    def loss(output: torch.Tensor, target: torch.Tensor, progress: float = 0.0,
             mask: torch.Tensor | None = None) -> torch.Tensor:
        # Losses on HDR values run in float32 whatever the forward pass used.
        output, target = output.float(), target.float()
        if name == "hdr":
            return hdr(output, target)
        if name == "l2":
            return l2(output, target)
        if name == "l1":
            return l1(output, target)
        if name == "l0":
            return l0(output, target, l0_gamma(progress), l0_eps)
        if mask is None:
            raise ValueError("the masked_l2 loss needs a mask from the dataset")
        return masked_l2(output, target, mask)

    return loss
