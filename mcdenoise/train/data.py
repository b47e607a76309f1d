"""Which scenes a `mcdenoise train` run trains and validates on, rendering them first if needed.

Without ``--data`` the run renders the preset's default dataset into RUN/data through the farm
(mcdenoise/farm/driver.py): ``train_count`` training-split and ``val_count`` validation-split
scenes spread over every scene family, the validation ones (and with ``--targets clean`` the
training ones too) with references. The farm is resumable, so a re-run renders only what is
missing. plan_data() then scans the directory (mcdenoise/train/dataset.py) into a DataPlan.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mcdenoise.errors import ConfigError
from mcdenoise.train.config import PRESETS, TrainConfig, view_ranges

NO_VALIDATION = "none"  # --val-scenes none

if TYPE_CHECKING:
    from mcdenoise.train.dataset import SceneFiles


@dataclass
class DataPlan:
    """Which scenes train and which validate, and what the card says about them."""
    root: Path
    train: list[SceneFiles]
    val: list[SceneFiles]
    rendered: dict[str, Any] = field(default_factory=dict)
    stream: dict[str, Any] = field(default_factory=dict)  # a streaming run's record (stream.py)
    views: dict[str, Any] = field(default_factory=dict)  # views of scene files (views_record)

    def card(self) -> dict[str, Any]:
        def sizes(scenes: list[SceneFiles]) -> list[list[int]]:
            from mcdenoise.core.exr import read_header

            found = {(h["width"], h["height"]) for h in (read_header(s.noisy[0]) for s in scenes[:64])}
            return sorted([w, h] for w, h in found)

        from scenes.views import is_scene_file

        families = sorted({"file" if is_scene_file(s.scene) else s.scene.split(":")[0]
                           for s in self.train})
        return {"root": str(self.root), "spp": self.train[0].spp if self.train else None,
                "train_scenes": len(self.train), "train_families": families,
                "train_with_reference": sum(s.reference is not None for s in self.train),
                "val_scenes": len(self.val), "image_sizes": sizes(self.train),
                "rendered": self.rendered} | ({"stream": dict(self.stream)} if self.stream else {}) \
            | ({"views": self.views} if self.views else {})


def available_families() -> list[str]:
    """The scene families the default dataset mixes: all of them."""
    import scenes

    return scenes.family_names()


def default_spec(split: str, count: int, families: list[str]) -> str:
    """``count`` scenes of ``split`` spread over ``families`` (the first ones get one more when
    it does not divide), e.g. 'interior:0-5,cornell:0-4'."""
    import scenes

    start = scenes.SPLITS[split].start
    items = []
    for k, family in enumerate(families):
        n = count // len(families) + (1 if k < count % len(families) else 0)
        if n:
            items.append(f"{family}:{start}" if n == 1 else f"{family}:{start}-{start + n - 1}")
    return ",".join(items)


def scene_files(spec: str | None) -> list[str]:
    """The scene files a spec names (seen from their own cameras)."""
    import scenes
    from scenes.views import is_scene_file, split_view

    return [name for name in scenes.parse_spec(spec) if is_scene_file(name)
            and split_view(name)[1] is None] if spec else []


def file_views(path: str, config: TrainConfig, start: int, count: int) -> list[str]:
    """Views start .. start + count - 1 of the scene file ``path``: a sequence fixed by the
    file's name (not its folder: a copy elsewhere draws the same views), --seed and
    --view-ranges."""
    import hashlib

    from scenes.views import draw_views, with_view

    seed = int.from_bytes(hashlib.sha256(f"{Path(path).name}|{config.seed}".encode()).digest()[:4],
                          "little")
    return [with_view(path, view)
            for view in draw_views(seed, start + count, view_ranges(config))[start:]]


def training_names(config: TrainConfig, spec: str) -> list[str]:
    """The scenes a training spec names, each scene file replaced by its first --views views
    (the file's own camera is never a training view)."""
    import scenes

    files = set(scene_files(spec))
    return [view for name in scenes.parse_spec(spec)
            for view in (file_views(name, config, 0, config.views) if name in files else [name])]


def views_record(config: TrainConfig, spec: str | None) -> dict[str, Any]:
    """What the card says about the training views of scene files ({} without any)."""
    files = scene_files(spec)
    if not files:
        return {}
    ranges = view_ranges(config)
    return {"files": [Path(f).name for f in files], "per_file": config.views,
            "ranges": {"orbit_deg": ranges.orbit, "pan_deg": ranges.pan,
                       "tilt_deg": ranges.tilt, "dolly": ranges.dolly},
            "own_camera_trained": False}


def render_default_dataset(config: TrainConfig, root: Path) -> dict[str, Any]:
    """Render the preset's training and validation scenes into ``root`` through the farm
    (resumable: what is there is kept). Returns the specs, for the card."""
    import ray

    from mcdenoise.farm.driver import DatasetConfig, start_ray

    preset = PRESETS[config.preset]
    families = None if (config.scenes and config.val_scenes) else available_families()
    train_spec = config.scenes or default_spec("train", preset["train_count"], families)
    render_spec = ",".join(training_names(config, train_spec))
    val_spec = config.val_scenes or default_spec("validation", preset["val_count"], families)
    common = dict(output=root, spp=config.spp, width=config.size, height=config.size,
                  seed=config.seed, chunk_spp=min(4096, config.reference_spp), albedo=config.albedo)
    jobs = [("train", train_spec, render_spec, config.reference_spp if config.targets == "clean" else 0)]
    if config.val_data is None and config.val_scenes != NO_VALIDATION:
        jobs.append(("validation", val_spec, val_spec, config.reference_spp))
    owns_ray = not ray.is_initialized()
    start_ray(config.address)  # once for both
    try:
        for label, spec, names, reference_spp in jobs:
            _render(label, spec, DatasetConfig(scenes=names, reference_spp=reference_spp, **common))
    finally:
        if owns_ray:
            ray.shutdown()
    return {"train_spec": train_spec, "val_spec": val_spec, "size": config.size,
            "spp": config.spp, "reference_spp": config.reference_spp}


def _render(label: str, spec: str, dataset: Any) -> None:
    """One farm run (a farm.driver.DatasetConfig) with a progress bar and a one-line summary."""
    from mcdenoise.farm.driver import run_with_progress

    summary = run_with_progress(dataset, f"render {label} scenes")
    print(f"data {dataset.output}: {label} scenes {spec!r}: {summary.rendered} items rendered, "
          f"{summary.skipped} already there, {summary.failed} failed "
          f"({summary.seconds:.0f} s)", flush=True)


def plan_data(config: TrainConfig) -> DataPlan:
    """Find (rendering first where needed) the training and validation scenes of a resolved
    config."""
    import scenes

    from mcdenoise.train.dataset import scan, split_scenes

    root = Path(config.data) if config.data is not None else Path(config.output) / "data"
    found = scan(root) if root.exists() else []
    rendered: dict[str, Any] = {}
    if not found or config.data is None:
        rendered = render_default_dataset(config, root)
        found = scan(root)
    train_filter = set(training_names(config, config.scenes)) if config.scenes else None
    train, val = split_scenes(found, train_filter)
    if config.val_data is not None:
        val = [s for s in scan(config.val_data) if s.reference is not None]
    elif config.val_scenes == NO_VALIDATION:
        val = []
    elif config.val_scenes:
        wanted = set(scenes.parse_spec(config.val_scenes))
        val = [s for s in val if s.scene in wanted]
    if not train:
        raise ConfigError(f"{root}: no training scenes with a finished noisy pair "
                          "(render some with `mcdenoise dataset`)")
    spps = {s.spp for s in train}
    if spps != {config.spp}:
        raise ConfigError(f"{root} holds {'/'.join(map(str, sorted(spps)))}-spp pairs, not "
                          f"{config.spp} (--spp); train with --spp {min(spps)} or use other data")
    if not val and config.val_scenes != NO_VALIDATION:
        warnings.warn(f"{root}: no validation scenes with references: the run is not validated")
    return DataPlan(root, train, val, rendered, views=views_record(config, config.scenes))
