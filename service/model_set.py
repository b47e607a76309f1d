"""The models a service serves: named model files, checked at start-up, loaded in the background.

A model is named by ``NAME=PATH`` on the command line, else by its file's stem, or by its
folder's name for the trainer's ``RUN/model.safetensors``. The first one is the default.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service.config import ServeConfigError

log = logging.getLogger("mcdenoise.service")

def default_model_path() -> Path:
    """The project's shipped default model (ServeConfigError when it is not installed)."""
    from mcdenoise.nn.modelfile import ModelFileError
    from mcdenoise.nn.modelfile import default_model_path as shipped

    try:
        return shipped()
    except ModelFileError as error:
        raise ServeConfigError(str(error)) from None


def model_specs(specs: list[str] | None) -> dict[str, Path]:
    """``--model`` values -> {name: path}, in order (the first is the default)."""
    if not specs:
        return {"default": default_model_path()}
    named: dict[str, Path] = {}
    for spec in specs:
        name, sep, path = str(spec).partition("=")
        if not sep:
            path = name
            name = Path(path).stem if Path(path).stem != "model" else Path(path).resolve().parent.name
        if not name or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise ServeConfigError(f"--model {spec}: a model name may use letters, digits, "
                                   "'-', '_' and '.'; give one as NAME=PATH")
        if name in named:
            raise ServeConfigError(f"two models are named {name!r}: give names as NAME=PATH")
        named[name] = Path(path)
    return named


@dataclass
class ModelSet:
    """Named model files; ``cards`` are read at construction, weights by ``load()``.

    ``denoisers`` fills in as models load; ``ready`` is set when all have loaded and
    ``error`` holds the problem if one could not be.
    """
    paths: dict[str, Path]
    device: str = "auto"
    engine: str = "auto"  # load_denoiser's: auto, torch or openvino (CPU)
    ensemble: int = 1  # load_denoiser's: symmetric copies averaged per frame
    cards: dict[str, dict[str, Any]] = field(default_factory=dict)
    denoisers: dict[str, Any] = field(default_factory=dict)
    ready: threading.Event = field(default_factory=threading.Event)
    error: str | None = None

    def __post_init__(self) -> None:
        from mcdenoise.nn.modelfile import ModelFileError, read_card

        for name, path in self.paths.items():
            try:  # fail at start-up, not at the first request, on a missing or foreign file
                self.cards[name] = read_card(path)
            except ModelFileError as error:
                raise ServeConfigError(f"--model {name}: {error}") from None
        if self.engine == "openvino":  # a missing package is a start-up error, not a 503 later
            from mcdenoise.infer.openvino import EngineError, require_openvino

            try:
                require_openvino()
            except EngineError as error:
                raise ServeConfigError(str(error)) from None

    @property
    def default(self) -> str:
        return next(iter(self.paths))

    def load(self) -> None:
        """Load every model's weights (blocking); sets ``ready`` or ``error``."""
        from mcdenoise.infer.denoise import load_denoiser

        device = None if self.device == "auto" else self.device
        try:
            for name, path in self.paths.items():
                self.denoisers[name] = load_denoiser(path, device, engine=self.engine,
                                                     ensemble=self.ensemble)
                log.info("model %s loaded from %s on %s (%s)", name, path,
                         self.denoisers[name].device, self.denoisers[name].engine)
            self.ready.set()
        except Exception as error:  # noqa: BLE001 -- reported by /readyz and in the log
            self.error = f"{error.__class__.__name__}: {error}"
            log.error("could not load the models: %s", self.error)

    def describe(self, name: str) -> dict[str, Any]:
        """What /v1/models says about one model, from its card."""
        card = self.cards[name]
        transform = card.get("transform", {})
        info: dict[str, Any] = {
            "name": name,
            "default": name == self.default,
            "loaded": name in self.denoisers,
            "architecture": card.get("architecture", {}),
            "inputs": list(transform.get("inputs", [])),
            "exposure": transform.get("exposure"),
        }
        for key in ("training", "validation"):
            if isinstance(card.get(key), dict):
                info[key] = card[key]
        return info
