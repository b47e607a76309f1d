"""The trained denoiser as one file: ``RUN/model.safetensors``.

Weights are stored with safetensors (loading runs no code, unlike a pickle) and the model card,
a JSON document, sits in the file's metadata under ``mcdenoise_card``. The card says all that
inference needs (architecture, inputs, transform) and what the model is (data, steps,
validation PSNR, the command that trained it, versions)::

    {"format": "mcdenoise-model", "format_version": 1,
     "architecture": {"name": "n2n-unet", "in_channels": 9, "out_channels": 3, "width": 48},
     "transform": {"inputs": ["color", "albedo", "normal"], "exposure": "auto", "key": 0.18, ...},
     "training": {...}, "data": {...}, "validation": {...}, "command": "mcdenoise train ...",
     "versions": {...}}
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from mcdenoise.core.files import atomic_path
from mcdenoise.errors import UserError
from mcdenoise.nn.model import UNet, UNetConfig
from mcdenoise.nn.transform import Transform

CARD_KEY = "mcdenoise_card"
FORMAT = "mcdenoise-model"
FORMAT_VERSION = 1
SUFFIX = ".safetensors"


# The project's shipped default model, inside the package (used when no --model is given).
DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "models" / "default.safetensors"


class ModelFileError(UserError, ValueError):
    """A model file that cannot be loaded; ``str()`` names the file and the problem."""

    def __init__(self, path: Any, problem: str) -> None:
        super().__init__(f"{os.fspath(path)}: {problem}")
        self.path, self.problem = os.fspath(path), problem


def save_model(path: str | os.PathLike, model: torch.nn.Module, card: dict[str, Any]) -> None:
    """Write weights + card atomically."""
    from safetensors.torch import save_file

    card = {"format": FORMAT, "format_version": FORMAT_VERSION, **card}
    for key in ("architecture", "transform"):
        if key not in card:
            raise ValueError(f"a model card needs {key!r}")
    state = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()}
    with atomic_path(path) as temp:
        save_file(state, str(temp), metadata={CARD_KEY: json.dumps(card, default=str)})


def read_card(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON card of a model file, without loading the weights."""
    from safetensors import safe_open

    try:
        with safe_open(os.fspath(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except FileNotFoundError:
        raise ModelFileError(path, "no such file") from None
    except IsADirectoryError:
        raise ModelFileError(path, "is a directory (expected RUN/model.safetensors)") from None
    except Exception as error:  # safetensors raises its own error type for bad headers
        raise ModelFileError(path, f"not a safetensors model file ({error})") from None
    if CARD_KEY not in metadata:
        raise ModelFileError(path, f"no {CARD_KEY!r} metadata: not an mcdenoise model file")
    try:
        card = json.loads(metadata[CARD_KEY])
    except json.JSONDecodeError as error:
        raise ModelFileError(path, f"corrupt model card ({error})") from None
    if card.get("format") != FORMAT or int(card.get("format_version", 0)) > FORMAT_VERSION:
        raise ModelFileError(path, f"unsupported model format {card.get('format')!r} "
                                   f"version {card.get('format_version')!r}")
    return card


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu"
               ) -> tuple[UNet, Transform, dict[str, Any]]:
    """(model in eval mode on ``device``, its Transform, its card), from the file alone."""
    from safetensors.torch import load_file

    card = read_card(path)
    try:
        config = UNetConfig.from_dict(card["architecture"])
        transform = Transform.from_dict(card["transform"])
    except (KeyError, TypeError, ValueError) as error:
        raise ModelFileError(path, f"bad model card ({error})") from None
    if transform.channels != config.in_channels:
        raise ModelFileError(path, f"card mismatch: inputs {list(transform.inputs)} are "
                                   f"{transform.channels} channels, the network takes {config.in_channels}")
    model = UNet(config)
    try:
        model.load_state_dict(load_file(os.fspath(path)), strict=True)
    except RuntimeError as error:
        raise ModelFileError(path, f"weights do not match the card's architecture ({error})") from None
    return model.to(device).to(memory_format=torch.channels_last).eval(), transform, card


def albedo_kind(card: dict[str, Any]) -> str:
    """The albedo buffer the model learnt from (renderers/albedo.py); cards from before it was
    recorded: Mitsuba's AOV."""
    from renderers.albedo import LEGACY

    return card.get("albedo", LEGACY)


def default_model_path() -> Path:
    """The shipped default model; ModelFileError saying what to do when it is not installed."""
    if not DEFAULT_MODEL.is_file():
        raise ModelFileError(DEFAULT_MODEL, "no --model given and the default model is not "
                             "installed: pass --model RUN/model.safetensors (train one with "
                             "'mcdenoise train')")
    return DEFAULT_MODEL
