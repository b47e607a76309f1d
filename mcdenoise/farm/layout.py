"""Where the farm puts things and what it records: items, their paths and seeds, and the
typed manifest record.

Directory layout of a dataset DIR::

    DIR/dataset.json                    the settings every re-run must agree with
    DIR/manifest.jsonl                  one Record per finished item (manifest.py)
    DIR/scenes/<slug>/noisy_0.exr       noisy pair (half), colour + albedo + normal + depth
    DIR/scenes/<slug>/noisy_1.exr
    DIR/scenes/<slug>/passes/pass_0000.exr   reference passes (float), deleted once merged
    DIR/scenes/<slug>/reference.exr     the merged reference (float), header spp = its samples
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

KINDS = ("noisy", "pass", "reference")


@dataclass(frozen=True)
class Item:
    """One unit of farm work: one render (noisy, pass) or one merge (reference)."""
    scene: str
    kind: str
    index: int
    spp: int
    seed: int

    @property
    def key(self) -> str:
        return f"{self.scene}|{self.kind}|{self.index}"

    @property
    def path(self) -> str:
        """Output path relative to the dataset directory."""
        folder = f"scenes/{scene_slug(self.scene)}"
        if self.kind == "noisy":
            return f"{folder}/noisy_{self.index}.exr"
        if self.kind == "pass":
            return f"{folder}/passes/pass_{self.index:04d}.exr"
        return f"{folder}/reference.exr"


def scene_slug(scene: str) -> str:
    """A directory name for a scene: 'interior:17' -> 'interior-17'; a file gets its stem plus
    a short hash of its absolute path, so two scene.xml files do not collide; a view of a
    file (scenes/views.py) adds the view."""
    from scenes.views import split_view

    path, view = split_view(scene)
    if path.lower().endswith(".xml"):
        digest = hashlib.sha1(str(Path(path).resolve()).encode()).hexdigest()[:8]
        slug = f"{re.sub(r'[^A-Za-z0-9_.-]', '_', Path(path).stem)}-{digest}"
        return slug if view is None else f"{slug}@{view.suffix()}"
    return re.sub(r"[^A-Za-z0-9_.-]", "-", scene)


def resolved_scene(scene: str) -> str:
    """``scene`` with a scene file's path made absolute (its view kept): what a worker on
    another node, or with another working directory, must be given. Family names pass."""
    from scenes.views import SEPARATOR, split_view

    path, view = split_view(scene)
    if not path.lower().endswith(".xml"):
        return scene
    absolute = str(Path(path).resolve())
    return absolute if view is None else f"{absolute}{SEPARATOR}{view.suffix()}"


def item_seed(base: int, scene: str, kind: str, index: int) -> int:
    digest = hashlib.blake2b(f"{base}|{scene}|{kind}|{index}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little")


@dataclass(frozen=True)
class Record:
    """One manifest line: an item's outcome. ``status`` is "done" or "failed"; a done render
    has its file's ``sha256``, a done reference the ``passes`` it holds, a failure its
    ``error``; the rest (renderer, version, variant, timings, size, samples, time) rides in
    ``details``, written and read back as it is."""
    key: str
    scene: str
    kind: str
    index: int
    seed: int
    spp: int
    path: str
    status: str
    sha256: str | None = None
    passes: tuple[int, ...] = ()
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def done(self) -> bool:
        return self.status == "done"

    @classmethod
    def of(cls, item: Item, status: str, **values: Any) -> "Record":
        """The record of ``item``; known fields from ``values`` (a merge's ``spp`` is the
        reference's total, not the item's 0), the rest into details."""
        return cls.from_dict({"key": item.key, "scene": item.scene, "kind": item.kind,
                              "index": item.index, "seed": item.seed, "spp": item.spp,
                              "path": item.path, "status": status, **values})

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "Record":
        values = dict(values)
        head = {k: values.pop(k) for k in ("key", "scene", "kind", "index", "seed", "spp",
                                            "path", "status")}
        known = {k: values.pop(k) for k in ("sha256", "error") if k in values}
        return cls(**head, passes=tuple(values.pop("passes", ())), details=values, **known)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of the manifest line (the same keys as before records were typed)."""
        values = {k: v for k, v in asdict(self).items() if k != "details"}
        values["passes"] = list(self.passes)
        for key in ("sha256", "passes", "error"):
            if not values[key]:
                values.pop(key)
        return {**self.details, **values}
