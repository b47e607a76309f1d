"""Grow a trained U-Net to a larger width without changing what it computes.

``widen(model, width)`` builds the ``width``-wide network of the same configuration and copies
the trained weights into it: every conv keeps its old output channels with their old weights,
its new output channels get fresh He-initialised weights, and the weights that would carry a
new channel into an old one are zero. The wider network therefore returns exactly the old
network's output at the start, and training gives the new channels a use from there: the
gradient reaches the zero weights at once, because the new channels' activations are not zero.
``demodulated(model)`` adds the demodulated head (UNetConfig.demodulate) the same way: its one
new output channel starts with zero weights and the DEMOD_START bias; ``separated(model)``
gives the demodulated image its own kernels, copies of the shared ones; ``banded(model)`` adds
band weights that start keeping every band whole. This is how the shipped
model grows (``mcdenoise train --init default --width 24``) instead of
starting a larger network from random weights, which loses hours of CPU training (the study in
benchmarks/results/train_study.md: at equal CPU time the wider networks lagged behind).
"""
from __future__ import annotations

from dataclasses import replace

import torch

from mcdenoise.nn.model import DEMOD_START, POOLS, UNet, head_set


def _plan(model: UNet, width: int) -> dict[str, tuple[list[tuple[int, int]], tuple[int, int]]]:
    """For each conv of ``model``: its input as concatenated segments (old size, new size),
    in the order forward() concatenates them, and its outputs (old count, new count)."""
    w, n = model.config.width, model.config.in_channels
    head1, head2 = (round(4 * w / 3), round(4 * width / 3)), (round(2 * w / 3), round(2 * width / 3))
    same = lambda conv: (conv.out_channels, conv.out_channels)  # noqa: E731
    plan = {"enc0": ([(n, n)], (w, width)), "enc1": ([(w, width)], (w, width))}
    plan.update({f"enc.{k}": ([(w, width)], (w, width)) for k in range(POOLS)})
    # dec_a[0] takes the upsampled bottleneck (w) and the pool-4 skip (w); the later ones the
    # previous level's 2w features and their skip (w).
    plan["dec_a.0"] = ([(w, width), (w, width)], (2 * w, 2 * width))
    plan.update({f"dec_a.{k}": ([(2 * w, 2 * width), (w, width)], (2 * w, 2 * width))
                 for k in range(1, POOLS - 1)})
    plan.update({f"dec_b.{k}": ([(2 * w, 2 * width)], (2 * w, 2 * width)) for k in range(POOLS - 1)})
    plan["out_a"] = ([(2 * w, 2 * width), (n, n)], head1)
    plan["out_b"] = ([head1], head2)
    plan["out_c"] = ([head2], same(model.out_c))
    plan.update({f"level_heads.{l}": ([(2 * w, 2 * width)], same(head))
                 for l, head in enumerate(model.level_heads)})
    return plan


def widen(model: UNet, width: int, seed: int = 0) -> UNet:
    """A ``width``-wide copy of ``model`` (same config otherwise) computing the same function;
    the new channels' incoming weights are He-initialised from ``seed``. ``width`` must not be
    smaller than the model's."""
    if width < model.config.width:
        raise ValueError(f"cannot narrow a {model.config.width}-wide network to {width}")
    torch.manual_seed(seed)
    wide = UNet(replace(model.config, width=width))
    old = dict(model.named_modules())
    new = dict(wide.named_modules())
    with torch.no_grad():
        for name, (segments, (out_old, out_new)) in _plan(model, width).items():
            source, target = old[name], new[name]
            assert target.weight.shape[:2] == (out_new, sum(b for _, b in segments)), name
            # Old outputs read only old inputs: zero first, then the trained weights.
            target.weight[:out_old].zero_()
            target.bias[:out_old] = source.bias
            start_old = start_new = 0
            for size_old, size_new in segments:
                target.weight[:out_old, start_new:start_new + size_old] = \
                    source.weight[:, start_old:start_old + size_old]
                start_old, start_new = start_old + size_old, start_new + size_new
            if out_new > out_old:
                target.bias[out_old:].zero_()
    return wide.to(next(model.parameters()).device)


def demodulated(model: UNet) -> UNet:
    """A copy of the kernel-predicting ``model`` with the demodulated head added, computing
    nearly the same function: the new share logit starts at DEMOD_START for every pixel."""
    if model.config.demodulate:
        return model
    grown = UNet(replace(model.config, demodulate=True))
    state = model.state_dict()
    with torch.no_grad():
        old = state.pop("out_c.weight"), state.pop("out_c.bias")
        grown.load_state_dict(state, strict=False)
        grown.out_c.weight.zero_()
        grown.out_c.weight[:-1] = old[0]
        grown.out_c.bias[:-1] = old[1]
        grown.out_c.bias[-1] = DEMOD_START
    return grown.to(next(model.parameters()).device)


def _new_heads(model: UNet, config, fill) -> UNet:
    """A UNet of ``config`` (``model``'s but for its heads' output channels) with ``model``'s
    weights everywhere but the kernel heads, whose weights and biases ``fill(level, old, new)``
    sets from the old ones (level 0: out_c; l: level_heads[l - 1])."""
    grown = UNet(config)
    with torch.no_grad():
        for level, (source, target) in enumerate(zip([model.out_c, *model.level_heads],
                                                     [grown.out_c, *grown.level_heads])):
            for name in ("weight", "bias"):
                fill(level, getattr(source, name), getattr(target, name))
        for name, parameter in grown.named_parameters():
            if not name.startswith(("out_c.", "level_heads.")):
                parameter.copy_(model.get_parameter(name))
    return grown.to(next(model.parameters()).device)


def separated(model: UNet) -> UNet:
    """A copy of the demodulating ``model`` whose demodulated image has its own kernel sets
    (UNetConfig.separate_kernels), each starting as a copy of the shared one: the same
    function at the start."""
    if model.config.separate_kernels:
        return model
    if not model.config.demodulate:
        raise ValueError("separate kernels are for the demodulated image: demodulate first")

    def fill(level: int, old: torch.Tensor, new: torch.Tensor) -> None:
        size = model.head_set(level)
        new[:size] = new[size:2 * size] = old[:size]
        new[2 * size:] = old[size:]  # the share logit (full resolution only)

    return _new_heads(model, replace(model.config, separate_kernels=True), fill)


def banded(model: UNet) -> UNet:
    """A copy of the multi-scale ``model`` with band weights (UNetConfig.band_weights): each
    new band logit starts with zero weights and bias, so every pixel keeps its whole band and
    the function is the same."""
    if model.config.band_weights:
        return model
    config = replace(model.config, band_weights=True)
    sets = 1 + config.separate_kernels

    def fill(level: int, old: torch.Tensor, new: torch.Tensor) -> None:
        old_size, new_size = model.head_set(level), head_set(config, level)
        kept = config.kernel ** 2 + (level < config.scales - 1)  # taps and blend logit
        new.zero_()
        for i in range(sets):
            new[i * new_size:i * new_size + kept] = old[i * old_size:i * old_size + kept]
        new[sets * new_size:] = old[sets * old_size:]  # the share logit

    return _new_heads(model, config, fill)


def grow(model: UNet, network, seed: int = 0) -> UNet:
    """``model`` grown to the UNetConfig ``network`` when that differs only by a larger width,
    the demodulated head, its separate kernels and/or band weights; otherwise ``model``
    unchanged (the caller checks)."""
    head = dict(demodulate=network.demodulate, separate_kernels=network.separate_kernels,
                band_weights=network.band_weights)
    if network.width > model.config.width and \
            replace(model.config, width=network.width, **head) == network:
        model = widen(model, network.width, seed)
    if network.demodulate and replace(model.config, **head) == network:
        model = demodulated(model)
    if network.separate_kernels and \
            replace(model.config, separate_kernels=True, band_weights=network.band_weights) == network:
        model = separated(model)
    if network.band_weights and replace(model.config, band_weights=True) == network:
        model = banded(model)
    return model
