"""`bench mc --adapt-minutes`: fine-tune the model on each benchmark scene file, then score it.

For every scene file and every budget M, one `mcdenoise train` run (train/mc.py) starts from
the benchmark's model (--init), renders views of the file (never its own camera:
scenes/views.py) and trains on a stream of fresh views with a share of scene-family
instances, for M wall-clock minutes, rendering included:

    mcdenoise train --spp 64 --scenes FILE --init MODEL --minutes M --stream 64 ...

The benchmark then denoises the file's own camera view with the adapted model: a new frame
of the same set. With ``--adapt-val-data`` every run is also validated on those scenes at
its start (the model it started from) and end, so the report shows what adaptation cost on
the rest of the scene family.
"""
from __future__ import annotations

import functools
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The fine-tuning recipe: crops, batch and a lower learning rate than training from scratch,
# since the run starts from a trained model; the views' width is bench mc's --adapt-size.
CROP, BATCH, LR, POOL = 128, 4, 3e-4, 64


@dataclass
class Adapted:
    """One adaptation run: the model file and what the report says about it."""
    model: Path
    minutes: float  # the budget
    seconds: float  # wall time the run took
    steps: int
    scenes_rendered: int  # training scenes rendered: the views of the data and the stream
    val_before_db: float | None  # validation PSNR of the starting model, if validated
    val_after_db: float | None


def parse_budgets(text: str) -> list[float]:
    """'2,5,10' -> [2.0, 5.0, 10.0]; '' -> []. ConfigError when malformed."""
    from mcdenoise.errors import ConfigError

    if not text.strip():
        return []
    try:
        budgets = [float(v) for v in text.split(",")]
    except ValueError:
        raise ConfigError(f"--adapt-minutes must be minutes like 2,5,10, not {text!r}") from None
    if any(not b > 0 for b in budgets):
        raise ConfigError(f"--adapt-minutes must be positive, not {text!r}")
    return budgets


def run_folder(root: Path, scene: str, minutes: float, size: int, model: Path | None) -> Path:
    """The run folder of one adaptation under ``root``: named for the scene, the budget, the
    views' width and the starting model's bytes, so that a benchmark of another model (a newly
    shipped one, say) never reuses runs adapted from the old one."""
    from mcdenoise.farm.layout import scene_slug
    from mcdenoise.nn.modelfile import default_model_path

    start = hashlib.sha256(Path(model or default_model_path()).read_bytes()).hexdigest()[:8]
    return root / f"{scene_slug(scene)}-{minutes:g}min-{size}px-{start}"


def adapt(scene: str, minutes: float, model: Path | None, spp: int, root: Path,
          val_data: Path | None, size: int, seed: int = 0) -> Adapted:
    """Fine-tune ``model`` (None: the shipped one) on the scene file ``scene`` for
    ``minutes``, on training views ``size`` pixels wide, into its run_folder under ``root``
    (a finished run there is reused)."""
    from mcdenoise.nn.modelfile import read_card
    from mcdenoise.train.config import TrainConfig
    from mcdenoise.train.loop import MODEL_FILE
    from mcdenoise.train.mc import train

    run = run_folder(root, scene, minutes, size, model)
    path = run / MODEL_FILE
    began = time.perf_counter()
    if not path.exists():
        train(TrainConfig(
            spp=spp, scenes=scene, init=str(model) if model else "default", minutes=minutes,
            stream=POOL, size=size, crop=CROP, batch=BATCH, lr=LR, steps=10**7, output=run,
            data=run / "data", val_data=val_data, val_every=10**9 if val_data else 0,
            val_scenes=None if val_data else "none",
            val_images=64, ckpt_every=500, seed=seed))
    card = read_card(path)
    history = ((card.get("validation") or {}).get("history") or [])
    before, after = ((history[0]["psnr_denoised_db"], history[-1]["psnr_denoised_db"])
                     if len(history) > 1 else (None, None))
    if val_data is not None and after is None:
        # A run made without validation scenes at hand (their noisy pairs were not rendered):
        # validate its model and the one it started from now, on the same scenes.
        before, after = (validation_psnr(m, val_data) for m in (model, path))
    stream: dict[str, Any] = card["data"].get("stream", {})
    return Adapted(path, minutes, card["training"].get("seconds", time.perf_counter() - began),
                   card["training"]["steps"],
                   card["data"]["views"]["per_file"] + stream.get("rendered", 0), before, after)


@functools.lru_cache(maxsize=None)  # the starting model is scored once for all runs
def validation_psnr(model: Path | None, val_data: Path, limit: int | None = None) -> float | None:
    """Mean PSNR (dB) of ``model`` (None: the shipped one) on the validation scenes of
    ``val_data`` (the first ``limit``, as `train --val-images`), as training validates
    (train/mc.validate); None when it holds none."""
    from mcdenoise.infer.denoise import load_denoiser
    from mcdenoise.nn.modelfile import default_model_path
    from mcdenoise.train.dataset import scan, validation_items
    from mcdenoise.train.mc import validate

    items = validation_items(scan(val_data), limit)
    if not items:
        return None
    denoiser = load_denoiser(model or default_model_path(), "cpu")
    return round(validate(denoiser.model, denoiser.transform, items, denoiser.device)
                 ["psnr_output"], 3)
