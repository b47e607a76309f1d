"""A weight average ("model soup") of models fine-tuned from one start, and its validation
PSNR as training measures it (train/mc.validate, the first 18 validation scenes).

Every run since band256 started from the shipped model and moved it a little (band256 continued,
crop256 on whole 256-px renders, revive with level 2's gate reset); averaging such neighbours'
weights often lands lower in the loss basin than any one of them, at no inference cost.

    python benchmarks/training/soup/make_soup.py OUT.safetensors MODEL [MODEL...] [--weights W...]
"""
from __future__ import annotations

import argparse

import torch

from mcdenoise.nn.modelfile import load_model, save_model


def soup(paths: list[str], weights: list[float]) -> tuple[torch.nn.Module, dict]:
    """The first model with every tensor replaced by the weighted mean over ``paths``."""
    nets = [load_model(p) for p in paths]
    first, _, card = nets[0]
    total = sum(weights)
    with torch.no_grad():
        for name, tensor in first.state_dict().items():
            tensor.copy_(sum(w * net.state_dict()[name] for w, (net, _, _) in zip(weights, nets))
                         / total)
    return first, card


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out")
    parser.add_argument("models", nargs="+")
    parser.add_argument("--weights", type=float, nargs="+")
    parser.add_argument("--val-data", default="benchmarks/references/validation")
    args = parser.parse_args()
    weights = args.weights or [1.0] * len(args.models)
    net, card = soup(args.models, weights)
    card = {**card, "note": "weight average of " + ", ".join(
        f"{m} (x{w:g})" for m, w in zip(args.models, weights))}
    save_model(args.out, net, card)

    from pathlib import Path

    from mcdenoise.bench.adapt import validation_psnr

    score = validation_psnr(Path(args.out), Path(args.val_data), 18)
    print(f"{args.out}: validation {score:.3f} dB over the first 18 scenes")


if __name__ == "__main__":
    main()
