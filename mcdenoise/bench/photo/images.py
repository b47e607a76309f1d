"""Natural-image sets for the photographic benchmark, and training crops with synthetic noise.

The images live outside the package, in a folder (``--data-root``) holding::

    kodak24/        24 Kodak images, 768x512
    bsd300_test/    the 100 BSD300 test images, 481x321
    set14/          Set14 (one greyscale member, read as RGB)
    train/cbsd432/  the training images (CBSD432)
    train/cbsd432_overlap_with_bsd300_test.txt   names of training images that are also test
                                                 images: excluded from training

Images are (H, W, 3) uint8 sRGB as stored; the networks and the noise models see them as
float32 in [0, 1] (value / 255, no linearisation), as in the paper.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mcdenoise.bench.photo import noise as noises
from mcdenoise.errors import ConfigError

# Test set name (as given to --test-sets) -> folder under the data root.
TEST_SETS = {"kodak24": "kodak24", "bsd300": "bsd300_test", "set14": "set14"}
TRAIN_DIR = Path("train") / "cbsd432"
OVERLAP_LIST = Path("train") / "cbsd432_overlap_with_bsd300_test.txt"
EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
TEST_SEED = 2018  # test noise is fixed by (this, set, image name): the same for every run



@dataclass
class TestImage:
    """One test image with its seeded test noise."""
    set: str
    name: str
    clean: np.ndarray  # (H, W, 3) uint8
    noisy: np.ndarray  # (H, W, 3) float32 [0, 1] units, not clipped


def image_paths(folder: str | os.PathLike) -> list[Path]:
    """The image files of a folder, sorted by name (so limits and seeds are reproducible)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"{folder}: no such image folder")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in EXTENSIONS)
    if not paths:
        raise ConfigError(f"{folder}: no images ({', '.join(EXTENSIONS)}) in it")
    return paths


def load_image(path: str | os.PathLike) -> np.ndarray:
    """(H, W, 3) uint8 RGB; greyscale and palette images are converted to RGB."""
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), np.uint8).copy()


def to_float(image: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) -> float32 in [0, 1]."""
    return np.asarray(image, np.float32) / np.float32(255.0)


def center_crop(image: np.ndarray, size: int | None) -> np.ndarray:
    """The central size x size window (the whole image when it is smaller, or size is None)."""
    if size is None:
        return image
    h, w = image.shape[:2]
    top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return image[top:top + size, left:left + size]


def test_set_folder(data_root: str | os.PathLike, name: str) -> Path:
    if name not in TEST_SETS:
        raise ConfigError(f"unknown test set {name!r}; one of {', '.join(TEST_SETS)}")
    return Path(data_root) / TEST_SETS[name]


def load_test_set(data_root: str | os.PathLike, name: str, limit: int | None = None,
                  crop: int | None = None) -> list[tuple[str, np.ndarray]]:
    """[(file stem, (H, W, 3) uint8)] of a test set: the first ``limit`` images by name,
    centre-cropped to ``crop`` when given."""
    paths = image_paths(test_set_folder(data_root, name))[:limit]
    return [(p.stem, center_crop(load_image(p), crop)) for p in paths]


def training_paths(data_root: str | os.PathLike, train_dir: str | os.PathLike | None = None,
                   test_sets: list[str] = ()) -> tuple[list[Path], list[str]]:
    """(training image paths, names left out). Left out are the images named in the data
    root's overlap list and any whose name is also an image of one of ``test_sets``: a test
    image seen in training would inflate its score."""
    root = Path(data_root)
    paths = image_paths(Path(train_dir) if train_dir is not None else root / TRAIN_DIR)
    excluded: set[str] = set()
    if (root / OVERLAP_LIST).exists():
        excluded |= {line.strip() for line in (root / OVERLAP_LIST).read_text().splitlines()
                     if line.strip()}
    for name in test_sets:
        folder = test_set_folder(root, name)
        if folder.is_dir():
            excluded |= {p.stem for p in image_paths(folder)}
    kept = [p for p in paths if p.stem not in excluded]
    dropped = sorted(p.stem for p in paths if p.stem in excluded)
    if not kept:
        raise ConfigError(f"no training images left after excluding the test images ({len(dropped)})")
    return kept, dropped


class NoisyCrops(torch.utils.data.Dataset):
    """Training examples made on the fly, indexed by the global sample number (any int >= 0).

    Sample i: an image (a fresh permutation of the images per pass over them), a random
    crop x crop window, a random rotation by k * 90 degrees and mirror, then the noise model:
    the input gets noise with its own parameter drawn from ``param_range``; with ``targets``
    "noisy" the target is the same crop with independent noise, whose parameter is drawn again
    (``target_level`` "independent") or is the input's ("same"); with "clean" the crop itself.
    Every draw comes from a generator seeded by (seed, i), input noise first, so the input of
    sample i is the same for noisy and clean targets, and resuming training is exact.

    Item: {"input": (3, crop, crop), "target": (3, crop, crop), "mask": (1, crop, crop)}
    float32; the mask is 1 where the target observes the image (Bernoulli noise drops pixels;
    all ones otherwise and for clean targets).
    """

    def __init__(self, images: list[np.ndarray], noise: str, crop: int, targets: str = "noisy",
                 seed: int = 0, param_range: tuple[float, float] | None = None,
                 target_level: str | None = None):
        if targets not in ("noisy", "clean"):
            raise ValueError(f"targets must be 'noisy' or 'clean', not {targets!r}")
        self.model = noises.get(noise)
        self.target_level = target_level or self.model.target_level
        if self.target_level not in noises.TARGET_LEVELS:
            raise ValueError(f"target_level must be one of {noises.TARGET_LEVELS}, "
                             f"not {target_level!r}")
        small = [a.shape[:2] for a in images if min(a.shape[:2]) < crop]
        if small:
            raise ConfigError(f"--crop {crop} is larger than a training image ({small[0]})")
        self.images, self.crop = images, crop
        self.targets, self.seed = targets, seed
        self.range = param_range or self.model.train_range

    def __len__(self) -> int:
        return 2**62  # indices come from the step sampler, not from epochs over this length

    def image_index(self, index: int) -> int:
        from mcdenoise.train.dataset import shuffled_index

        return shuffled_index(self.seed, index, len(self.images))

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        image = self.images[self.image_index(index)]
        rng = np.random.default_rng([self.seed, 2, index])
        h, w = image.shape[:2]
        y = int(rng.integers(0, h - self.crop + 1))
        x = int(rng.integers(0, w - self.crop + 1))
        patch = np.rot90(image[y:y + self.crop, x:x + self.crop], int(rng.integers(4)))
        if rng.integers(2):
            patch = patch[:, ::-1]
        clean = to_float(np.ascontiguousarray(patch))
        level = self.model.sample(rng, *self.range)
        noisy, _ = self.model.apply(clean, level, rng)
        if self.targets == "noisy":
            if self.target_level == "independent":
                level = self.model.sample(rng, *self.range)
            target, mask = self.model.apply(clean, level, rng)
        else:
            target, mask = clean, np.ones(clean.shape[:2] + (1,), np.float32)

        def chw(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1), np.float32))

        return {"input": chw(noisy), "target": chw(target), "mask": chw(mask)}


def test_noise_rng(seed: int, set_name: str, image: str) -> np.random.Generator:
    """The generator of one test image's noise: fixed by (seed, set, image name), so every
    model and baseline sees the same noisy inputs, whatever the limit or the order."""
    import zlib

    return np.random.default_rng([seed, zlib.crc32(set_name.encode()), zlib.crc32(image.encode())])


def psnr8(estimate: np.ndarray, clean: np.ndarray) -> float:
    """PSNR in dB of an (H, W, 3) [0, 1] estimate against the uint8 original, after clipping
    and rounding the estimate to 8 bits (what saving it as an image would give), peak 255."""
    q = np.round(np.clip(np.asarray(estimate, np.float64), 0.0, 1.0) * 255.0)
    mse = float(np.mean((q - np.asarray(clean, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0 ** 2 / mse)
