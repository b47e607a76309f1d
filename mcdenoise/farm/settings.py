"""``DIR/dataset.json``: what every render in a dataset directory agrees on.

The render settings (spp, size, path depth, seed) are written by the first run and every
re-run must ask for the same ones. So must the renderer: another Mitsuba version or variant
(LLVM and scalar draw other random numbers, versions fix bugs) would mix two kinds of renders
in one dataset, and a reference summed from both passes. The renderer is recorded as the
first render reports it (on a cluster: what the workers run, not the driver); with a local Ray
the driver's own choice is the workers', so a mismatch is refused before any work.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mcdenoise.core.files import write_text
from mcdenoise.errors import ConfigError
from renderers import albedo as albedos

SETTINGS = "dataset.json"
RENDERER_KEYS = ("renderer", "renderer_version", "variant")


def renderer_of(record: dict[str, Any]) -> dict[str, Any] | None:
    """The renderer identity a render's record or result reports (None if it has none)."""
    if not record.get("renderer_version"):
        return None
    return {key: record.get(key) for key in RENDERER_KEYS}


def local_renderer(variant: str | None) -> dict[str, Any]:
    """The renderer a worker on this machine would use for ``variant`` (None: chosen as the
    workers choose it), without importing Mitsuba."""
    from importlib.metadata import version

    from renderers.mitsuba_variant import choose_variant

    return {"renderer": "mitsuba", "renderer_version": version("mitsuba"),
            "variant": choose_variant(variant)}


def dataset_albedo(root: Path) -> str | None:
    """The albedo kind of the renders in dataset ``root`` (renderers/albedo.py); None when it
    holds no dataset yet."""
    path = root / SETTINGS
    if not path.exists():
        return None
    return json.loads(path.read_text()).get("albedo", albedos.LEGACY)


def describe(renderer: dict[str, Any]) -> str:
    return f"{renderer['renderer']} {renderer['renderer_version']} ({renderer['variant']})"


class DatasetSettings:
    """The settings of the dataset in ``root``; ``check`` refuses a run that disagrees."""

    def __init__(self, root: Path, settings: dict[str, Any]) -> None:
        self.path = root / SETTINGS
        self.settings = settings
        self.renderer: dict[str, Any] | None = None

    def check(self, done_records: list[dict[str, Any]], expected: dict[str, Any] | None) -> None:
        """Write dataset.json on a first run; else ConfigError naming every setting that
        changed. ``done_records``: finished renders already there (datasets from before the
        renderer was recorded in dataset.json take it from them); ``expected``: the renderer
        this run will use, when known before rendering (a local Ray)."""
        old = json.loads(self.path.read_text()) if self.path.exists() else None
        if old is not None:
            old.setdefault("albedo", albedos.LEGACY)  # datasets from before it was recorded
            changed = {k: (old.get(k), v) for k, v in self.settings.items() if old.get(k) != v}
            if changed:
                detail = ", ".join(f"{k} was {a}, now {b}" for k, (a, b) in changed.items())
                raise ConfigError(f"{self.path.parent} holds a dataset with other settings "
                                  f"({detail}); use a new directory or the original settings")
            self.renderer = old.get("renderer")
        if self.renderer is None:
            self.renderer = next(filter(None, map(renderer_of, done_records)), None)
        if self.renderer and expected and self.renderer != expected:
            raise ConfigError(self.mismatch(expected) + " (set --variant or "
                              "MCDENOISE_MITSUBA_VARIANT to match, or use a new directory)")
        if old is None or (self.renderer and not old.get("renderer")):
            self._write()

    def accept(self, result: dict[str, Any]) -> str | None:
        """Check a finished render's renderer: None when it agrees (the first one is
        recorded), else why it cannot join the dataset."""
        found = renderer_of(result)
        if found is None:
            return None
        if self.renderer is None:
            self.renderer = found
            self._write()
            return None
        return None if found == self.renderer else self.mismatch(found)

    def mismatch(self, found: dict[str, Any]) -> str:
        return (f"{self.path.parent} holds renders of {describe(self.renderer)}, this render "
                f"used {describe(found)}: one dataset must not mix renderers")

    def _write(self) -> None:
        values = dict(self.settings, **({"renderer": self.renderer} if self.renderer else {}))
        write_text(self.path, json.dumps(values, indent=2) + "\n")
