"""Training and validation data over a farm dataset directory (mcdenoise/farm/layout.py).

Each scene of the directory holds a Noise2Noise pair, ``noisy_0.exr`` and ``noisy_1.exr``
(colour + albedo + normal), and maybe ``reference.exr``. A training sample is a random crop of
one scene: input = one render of the pair (which one is random), target = the other render
(``targets="noisy"``) or the reference (``targets="clean"``), with a random flip and 90-degree
rotation applied to all buffers alike. A crop becomes network input through the same
``frame_input`` as a frame at inference (mcdenoise/nn/transform.py: tonemapped colour, normals
stored encoded in [0, 1] mapped to [-1, 1], buffers clipped to their ranges), with the
exposure scale of the whole render rather than of the crop, as inference scales whole frames.

Samples are a pure function of (seed, sample index): the scene comes from a per-epoch
permutation, the crop, flip, rotation and swap from ``default_rng([seed, index])``. So a
resumed run sees exactly the data it would have seen, whatever the number of loader workers.

EXRs are decoded once per run. When the scenes fit in ``cache_mb`` they stay in memory
(float16; the pairs are stored as half anyway); otherwise each scene is written once to
``cache_dir/<scene folder>-<hash>.npy`` and memory-mapped, so the OS page cache holds what
fits (the farm names each scene's folder with its slug, so the folder name is unique).
"""
from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mcdenoise.core.exr import read_frame
from mcdenoise.core.files import atomic_path
from mcdenoise.core.frame import Frame
from mcdenoise.errors import ConfigError
from mcdenoise.farm.layout import Record
from mcdenoise.farm.manifest import MANIFEST, read_manifest
from mcdenoise.nn.model import MULTIPLE
from mcdenoise.nn.transform import Transform, exposure_scale, frame_input, network_target

# Channel layout of a cached scene (H, W, 21): per render of the pair colour, albedo, normal;
# then the reference colour (zeros when there is none).
_RENDER = 9
_REF = slice(18, 21)
CHANNELS = 21


@dataclass(frozen=True)
class SceneFiles:
    """One scene of a dataset directory: its pair and optional reference (absolute paths)."""
    scene: str
    noisy: tuple[Path, Path]
    reference: Path | None
    split: str  # train / validation / test for family instances, "train" for scene files
    spp: int
    digest: str  # changes when any of its files does


def split_of(scene: str) -> str:
    import scenes
    from scenes.views import is_scene_file

    if is_scene_file(scene):
        return "train"  # a user's own scene files are training data
    try:
        return scenes.split_of(scene)
    except ValueError:
        return "train"


def scan(root: str | os.PathLike) -> list[SceneFiles]:
    """Scenes of a farm directory whose pair is finished, in manifest order. A folder with no
    manifest of its own whose subfolders are farm directories (the parts that a farm
    manager's tasks rendered, one DIR each) gives their union, parts in name order; a scene
    in two parts counts once."""
    root = Path(root)
    if not (root / MANIFEST).exists() and root.is_dir():
        union: dict[str, SceneFiles] = {}
        for part in sorted(p for p in root.iterdir() if (p / MANIFEST).is_file()):
            for files in scan(part):
                union.setdefault(files.scene, files)
        return list(union.values())
    by_scene: dict[str, dict[tuple[str, int], Record]] = {}
    for record in read_manifest(root).values():
        if record.done:
            by_scene.setdefault(record.scene, {})[(record.kind, record.index)] = record
    found = []
    for scene, items in by_scene.items():
        pair = [items.get(("noisy", 0)), items.get(("noisy", 1))]
        if not all(pair) or not all((root / r.path).exists() for r in pair):
            continue
        reference = items.get(("reference", 0))
        ref_path = root / reference.path if reference else None
        if ref_path is not None and not ref_path.exists():
            ref_path, reference = None, None
        digest = hashlib.sha1("|".join(
            r.sha256 or "" for r in (*pair, reference) if r).encode()).hexdigest()[:12]
        found.append(SceneFiles(scene, (root / pair[0].path, root / pair[1].path), ref_path,
                                split_of(scene), int(pair[0].spp), digest))
    return found


def _scene_array(files: SceneFiles) -> np.ndarray:
    """(H, W, 21) float16: the pair's colour/albedo/normal and the reference colour."""
    frames = [read_frame(path) for path in files.noisy]
    h, w = frames[0].height, frames[0].width
    out = np.zeros((h, w, CHANNELS), np.float16)
    for k, frame in enumerate(frames):
        if (frame.height, frame.width) != (h, w):
            raise ValueError(f"{files.scene}: the two noisy renders differ in size")
        base = k * _RENDER
        out[..., base:base + 3] = _half(frame.color)
        if frame.albedo is not None:
            out[..., base + 3:base + 6] = _half(frame.albedo)
        if frame.normal is not None:
            out[..., base + 6:base + 9] = _half(frame.normal)
    if files.reference is not None:
        reference = read_frame(files.reference)
        if (reference.height, reference.width) != (h, w):
            raise ValueError(f"{files.scene}: the reference is {reference.width}x{reference.height}, "
                             f"the pair {w}x{h}")
        out[..., _REF] = _half(reference.color)
    return out


def _half(values: np.ndarray) -> np.ndarray:
    # Finite before the cast: a float32 beyond 65504 would become inf in half.
    return np.clip(np.nan_to_num(values, nan=0.0, posinf=65504.0, neginf=-65504.0), -65504, 65504)


class SceneStore:
    """Decoded scenes, in memory or memory-mapped from ``.npy`` files (module docstring)."""

    def __init__(self, scenes: list[SceneFiles], transform: Transform, cache_mb: float = 4096,
                 cache_dir: str | os.PathLike | None = None):
        self.files = scenes
        estimate = sum(_pixels(s.noisy[0]) * CHANNELS * 2 for s in scenes)
        in_memory = estimate <= cache_mb * 2**20 or cache_dir is None
        self.arrays: list[np.ndarray] = []
        for files in scenes:
            if in_memory:
                array = _scene_array(files)
            else:
                array = _cached(files, Path(cache_dir))
            self.arrays.append(array)
        self.in_memory = in_memory
        # The exposure scale of each render comes from its whole frame, as at inference.
        self.scales = [(exposure_scale(a[..., 0:3].astype(np.float32), transform),
                        exposure_scale(a[..., 9:12].astype(np.float32), transform))
                       for a in self.arrays]

    def __len__(self) -> int:
        return len(self.arrays)

    def item(self, index: int) -> tuple[np.ndarray, tuple[float, float]]:
        """(scene ``index``'s (H, W, 21) array, the exposure scales of its two renders)."""
        return self.arrays[index], self.scales[index]


def _pixels(path: Path) -> int:
    from mcdenoise.core.exr import read_header

    header = read_header(path)
    return header["width"] * header["height"]


def _cached(files: SceneFiles, cache_dir: Path) -> np.ndarray:
    path = cache_dir / f"{files.noisy[0].parent.name}-{files.digest}.npy"
    if not path.exists():
        with atomic_path(path) as temp:  # several workers may race here: each writes a whole file
            np.save(temp, _scene_array(files))
    return np.load(path, mmap_mode="r")


def crop_size(store: SceneStore, requested: int) -> int:
    """The training crop: ``requested`` rounded down to a multiple of 32, and no larger than
    the smallest image; ValueError when an image is under 32 pixels on a side."""
    smallest = min(min(a.shape[:2]) for a in store.arrays)
    size = min(requested, smallest) // MULTIPLE * MULTIPLE
    if size < MULTIPLE:
        raise ConfigError(f"training images must be at least {MULTIPLE} pixels on each side "
                          f"(the smallest is {smallest}); render larger images")
    return size


def shuffled_index(seed: int, index: int, count: int) -> int:
    """Which of ``count`` items global sample ``index`` takes: each epoch (``count`` samples)
    visits every item once, in an order drawn from (seed, epoch) alone, so any sample of any
    resumed run is known without replaying the ones before it."""
    epoch, position = divmod(index, count)
    return int(np.random.default_rng([seed, 1, epoch]).permutation(count)[position])


class PairDataset(torch.utils.data.Dataset):
    """Map-style dataset indexed by the global sample number (any non-negative int).

    Item: {"input": (C, crop, crop) float32 network input, "target": (3, crop, crop) linear
    HDR float32 in the input's exposure units}.
    """

    def __init__(self, store: SceneStore, transform: Transform, crop: int, targets: str = "noisy",
                 seed: int = 0, aux_dropout: float = 0.0):
        if targets not in ("noisy", "clean"):
            raise ConfigError(f"targets must be 'noisy' or 'clean', not {targets!r}")
        if targets == "clean":
            missing = [f.scene for f in store.files if f.reference is None]
            if missing:
                raise ConfigError(f"--targets clean needs references; {len(missing)} training "
                                  f"scenes have none (e.g. {missing[0]}): render them with "
                                  "--reference-spp")
        self.store, self.transform, self.crop = store, transform, crop
        self.targets, self.seed, self.aux_dropout = targets, seed, aux_dropout

    def __len__(self) -> int:
        return 2**62  # indices come from the step sampler, not from epochs over this length

    def scene_index(self, index: int) -> int:
        return shuffled_index(self.seed, index, len(self.store))

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        array, scales = self.store.item(self.scene_index(index))
        rng = np.random.default_rng([self.seed, 2, index])
        h, w = array.shape[:2]
        y = int(rng.integers(0, h - self.crop + 1))
        x = int(rng.integers(0, w - self.crop + 1))
        patch = np.asarray(array[y:y + self.crop, x:x + self.crop], np.float32)
        patch = np.rot90(patch, int(rng.integers(4)))
        if rng.integers(2):
            patch = patch[:, ::-1]
        which = int(rng.integers(2))  # which render of the pair is the input
        inp = patch[..., which * _RENDER:(which + 1) * _RENDER]
        scale = scales[which]
        if self.targets == "noisy":
            other = (1 - which) * _RENDER
            target = patch[..., other:other + 3]
        else:
            target = patch[..., _REF]
        # Aux dropout: each of albedo and normal goes missing with probability aux_dropout,
        # and the transform puts zeros in its place, as it will for frames without them.
        albedo, normal = (None if rng.random() < self.aux_dropout else inp[..., k:k + 3]
                          for k in (3, 6))
        crop = Frame(color=inp[..., 0:3], albedo=albedo, normal=normal)
        x, _ = frame_input(self.transform, crop, scale=scale)
        return {"input": torch.from_numpy(x),
                "target": torch.from_numpy(network_target(target, scale))}


class StepBatches(torch.utils.data.Sampler):
    """Batches of sample indices for steps ``start`` .. ``stop - 1`` of one data-parallel rank.

    Step s of rank r takes samples ((s * world + r) * batch + j for j < batch): disjoint across
    ranks, and a function of the step alone, which is what makes resuming exact.
    """

    def __init__(self, start: int, stop: int, batch: int, rank: int = 0, world: int = 1):
        self.start, self.stop, self.batch, self.rank, self.world = start, stop, batch, rank, world

    def __len__(self) -> int:
        return max(0, self.stop - self.start)

    def __iter__(self):
        for step in range(self.start, self.stop):
            first = (step * self.world + self.rank) * self.batch
            yield list(range(first, first + self.batch))


@dataclass
class ValidationItem:
    scene: str
    frame: Frame  # the noisy input (noisy_0)
    reference: np.ndarray  # (H, W, 3) linear HDR


def validation_items(scenes: list[SceneFiles], limit: int | None = None) -> list[ValidationItem]:
    """Whole noisy frames with their references, for scoring (scenes without one skipped)."""
    items = []
    for files in scenes:
        if files.reference is None:
            continue
        if limit is not None and len(items) >= limit:
            break
        frame = read_frame(files.noisy[0])
        reference = read_frame(files.reference).color
        items.append(ValidationItem(files.scene, frame, reference))
    return items


def split_scenes(found: list[SceneFiles], train_filter: set[str] | None = None
                 ) -> tuple[list[SceneFiles], list[SceneFiles]]:
    """(training scenes, validation scenes with references) of one directory. Test-split
    instances are never used. ``train_filter`` keeps only the named training scenes."""
    train = [s for s in found if s.split == "train"
             and (train_filter is None or s.scene in train_filter)]
    val = [s for s in found if s.split == "validation" and s.reference is not None]
    skipped = [s for s in found if s.split == "validation" and s.reference is None]
    if skipped:
        warnings.warn(f"{len(skipped)} validation scenes have no reference and are not used "
                      f"(e.g. {skipped[0].scene})")
    return train, val
