"""Classical baselines of the photographic benchmark: BM3D for Gaussian noise, and for Poisson
noise the Anscombe transform + BM3D + the exact unbiased inverse (Makitalo & Foi 2011).

BM3D comes from the optional ``bm3d`` package (``pip install 'mcdenoise[bm3d]'``; its licence
is non-commercial); ``bm3d_available()`` says whether it is installed. The Anscombe transform
and its inverses are this module's own code and need nothing else.

Images are (H, W, 3) float32 in [0, 1] (8-bit / 255); Poisson observations are y = P(lam x) / lam.

``run_baseline`` runs one of them on every test image of the benchmark, through a cache.
"""
from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mcdenoise.bench.photo.config import PhotoBenchConfig
    from mcdenoise.bench.photo.images import TestImage

ANSCOMBE_OFFSET = 3.0 / 8.0
# Beyond this mean count the closed-form approximation of the exact inverse is accurate to
# better than 1e-6 of the count, so the table stops here.
EXACT_TABLE_MAX = 400.0


def bm3d_available() -> bool:
    try:
        import bm3d  # noqa: F401
    except ImportError:
        return False
    return True


def anscombe(counts: np.ndarray) -> np.ndarray:
    """A(z) = 2 sqrt(z + 3/8): Poisson counts -> values of about unit variance (for means
    above a few counts)."""
    return 2.0 * np.sqrt(np.maximum(np.asarray(counts, np.float64), 0.0) + ANSCOMBE_OFFSET)


def inverse_anscombe_algebraic(d: np.ndarray) -> np.ndarray:
    """(D / 2)^2 - 3/8: the plain inverse, biased at low counts (kept for comparison)."""
    return np.maximum((np.asarray(d, np.float64) / 2.0) ** 2 - ANSCOMBE_OFFSET, 0.0)


def _closed_form(d: np.ndarray) -> np.ndarray:
    """Makitalo & Foi's closed-form approximation of the exact unbiased inverse."""
    d = np.maximum(np.asarray(d, np.float64), 1e-3)
    s = math.sqrt(1.5)
    return 0.25 * d ** 2 + 0.25 * s / d - 1.375 / d ** 2 + 0.625 * s / d ** 3 - 0.125


def expected_anscombe(lam: np.ndarray) -> np.ndarray:
    """E[A(z)] for z ~ Poisson(lam), by summing over the probability mass function."""
    lam = np.atleast_1d(np.asarray(lam, np.float64))
    top = int(lam.max() + 12.0 * math.sqrt(lam.max()) + 40.0)
    z = np.arange(top + 1, dtype=np.float64)
    log_factorial = np.array([math.lgamma(k + 1.0) for k in z])
    safe = np.maximum(lam, 1e-300)[:, None]
    log_pmf = z[None, :] * np.log(safe) - safe - log_factorial[None, :]
    pmf = np.where(lam[:, None] > 0, np.exp(log_pmf), (z[None, :] == 0).astype(np.float64))
    return pmf @ anscombe(z)


@lru_cache(maxsize=1)
def _exact_table() -> tuple[np.ndarray, np.ndarray]:
    """(E[A(z)] at lam, lam) on a grid fine at low counts, where the inverse is most curved."""
    lam = np.unique(np.concatenate([np.linspace(0.0, 2.0, 801), np.linspace(2.0, 20.0, 1801),
                                    np.geomspace(20.0, EXACT_TABLE_MAX, 1200)]))
    return expected_anscombe(lam), lam


def inverse_anscombe_exact(d: np.ndarray) -> np.ndarray:
    """The exact unbiased inverse: the mean count lam whose E[A(z)] is ``d`` (so a perfectly
    denoised D = E[A(z) | lam] maps back to lam without bias). Values below E[A(z) | 0] =
    2 sqrt(3/8) map to 0; beyond the table the closed-form approximation is used."""
    expected, lam = _exact_table()
    d = np.asarray(d, np.float64)
    out = np.interp(d, expected, lam, left=0.0)
    beyond = d > expected[-1]
    if np.any(beyond):
        out[beyond] = _closed_form(d[beyond])
    return out


def bm3d_gaussian(noisy: np.ndarray, sigma: float) -> np.ndarray:
    """BM3D (colour, the package's default profile) of an image with white Gaussian noise of
    std ``sigma`` (same units as the image). Needs the ``bm3d`` package."""
    import bm3d

    return np.asarray(bm3d.bm3d_rgb(np.asarray(noisy, np.float64), sigma), np.float32)


def anscombe_bm3d(noisy: np.ndarray, lam: float) -> np.ndarray:
    """Denoise y = P(lam x) / lam: Anscombe transform of the counts lam y (noise of unit
    variance), BM3D with sigma 1, exact unbiased inverse, back to [0, 1] units."""
    transformed = anscombe(np.asarray(noisy, np.float64) * lam)
    scale = float(anscombe(np.array(lam)))  # white -> about 1: the range BM3D is tuned for
    denoised = bm3d_gaussian(transformed / scale, 1.0 / scale).astype(np.float64) * scale
    return (inverse_anscombe_exact(denoised) / lam).astype(np.float32)


# -- on the benchmark's test images ------------------------------------------------------------
def baseline_methods(noise: str) -> list[str]:
    """The classical baselines that apply to a noise (besides the noisy input itself)."""
    return {"gaussian": ["bm3d"], "poisson": ["anscombe_bm3d"]}.get(noise, [])


def run_baseline(config: PhotoBenchConfig, method: str, tests: dict[str, list[TestImage]]
                 ) -> dict[str, dict[str, np.ndarray]]:
    """Outputs of a BM3D baseline for every test image, cached in WORK/baselines/ as 8-bit
    PNGs (what PSNR is taken of anyway) keyed by method, test parameter, seed and crop."""
    from tqdm import tqdm

    from mcdenoise.bench.photo import noise as noises
    from mcdenoise.bench.photo.images import TEST_SEED, load_image, to_float
    from mcdenoise.core.color import save_png

    value = noises.get(config.noise).test_value
    cache = (Path(config.work) / "baselines" /
             f"{method}-{value:g}-seed{TEST_SEED}-crop{config.test_crop or 'none'}")
    outputs: dict[str, dict[str, np.ndarray]] = {}
    total = sum(len(images) for images in tests.values())
    with tqdm(total=total, desc=f"baseline {method}", unit="image", disable=None) as bar:
        for name, images in tests.items():
            outputs[name] = {}
            for image in images:
                path = cache / name / f"{image.name}.png"
                if not path.exists():
                    if method == "bm3d":
                        out = bm3d_gaussian(image.noisy, value / 255.0)
                    else:
                        out = anscombe_bm3d(image.noisy, value)
                    save_png(np.round(np.clip(out, 0, 1) * 255).astype(np.uint8), path)
                outputs[name][image.name] = to_float(load_image(path))
                bar.update(1)
    return outputs
