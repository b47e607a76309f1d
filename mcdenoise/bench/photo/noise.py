"""The synthetic noise models of the Noise2Noise photographic experiments (paper §3.1-3.2).

Every model is a seeded function of a clean image and one parameter:

    noisy, mask = corrupt("poisson", clean, 30.0, np.random.default_rng(seed))

``clean`` is (H, W, 3) float32 in [0, 1] (8-bit sRGB values / 255, never linearised); ``noisy``
is (H, W, 3) float32, *not* clipped to [0, 1] (Gaussian and Poisson noise are zero-mean only
without clipping, which is what lets a noisy target stand in for a clean one under L2);
``mask`` is (H, W, 1) float32, 1 where the pixel is an observation of the clean image, 0 where
the corruption destroyed it (Bernoulli: the dropped pixels; all ones for the other models).

| name     | parameter                                  | train range   | test | loss      |
|----------|--------------------------------------------|---------------|------|-----------|
| gaussian | std dev sigma in 8-bit levels (x + N(0, (sigma/255)^2)) | [0, 50] | 25 | l2 |
| poisson  | lambda: P(lambda x) / lambda, photons at x = 1 | [0.001, 50] | 30 | l2     |
| bernoulli| p: probability that a pixel is dropped (set to 0) | [0, 0.95] | 0.5 | masked_l2 |
| text     | p: fraction of pixels touched by random strings   | [0, 0.5]  | 0.25 | l1     |
| impulse  | p: probability that a pixel gets a uniform random colour | [0, 0.95] | 0.7 | l0 |

In training the parameter is drawn uniformly from the range separately for every example; at
test it is fixed. A noisy target gets noise independent of its input's, and its parameter is
either drawn again ("independent", as the paper's released code does for Gaussian and Poisson
noise) or the input's own ("same"). The choice matters only where the loss's statistic depends
on the parameter. For impulse noise it is "same": the median of a pixel is its true colour only
while p < 0.5, and the paper's L1 result at p = 0.7 (16.36 dB, far below L0) is possible only if
the target is as corrupted as the input. With an independent p, the target's p averages 0.475,
so its median is the true colour and L1 is as right as L0. Noise is drawn per pixel and channel
(Gaussian, Poisson) or per pixel, all channels together (Bernoulli, impulse, text).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from mcdenoise.errors import ConfigError

Corrupted = tuple[np.ndarray, np.ndarray]


def _ones_mask(clean: np.ndarray) -> np.ndarray:
    return np.ones(clean.shape[:2] + (1,), np.float32)


def gaussian(clean: np.ndarray, sigma: float, rng: np.random.Generator) -> Corrupted:
    """Additive white Gaussian noise of std ``sigma`` 8-bit levels (sigma / 255 in [0, 1] units)."""
    noise = rng.standard_normal(clean.shape, dtype=np.float32) * np.float32(sigma / 255.0)
    return clean + noise, _ones_mask(clean)


def poisson(clean: np.ndarray, lam: float, rng: np.random.Generator) -> Corrupted:
    """P(lam * x) / lam: photon counts with ``lam`` photons at x = 1, rescaled so the mean is x.

    Variance x / lam: the noise depends on the signal. No clipping (paper)."""
    lam = max(float(lam), 1e-12)
    counts = rng.poisson(np.maximum(clean, 0.0).astype(np.float64) * lam)
    return (counts / lam).astype(np.float32), _ones_mask(clean)


def bernoulli(clean: np.ndarray, p: float, rng: np.random.Generator) -> Corrupted:
    """Multiplicative Bernoulli noise: each pixel (all channels) is dropped to 0 with
    probability ``p``; the mask marks the kept pixels (the loss is taken over those only)."""
    keep = (rng.random(clean.shape[:2] + (1,)) >= p).astype(np.float32)
    return clean * keep, keep


def impulse(clean: np.ndarray, p: float, rng: np.random.Generator) -> Corrupted:
    """Random-valued impulse noise: each pixel is replaced, with probability ``p``, by a colour
    drawn uniformly from [0, 1]^3; the others keep their colour. The distribution of a pixel is
    a Dirac at the true colour plus a uniform floor: its mode (not mean, not median) is right."""
    hit = rng.random(clean.shape[:2] + (1,)) < p
    colours = rng.random(clean.shape, dtype=np.float32)
    return np.where(hit, colours, clean).astype(np.float32), _ones_mask(clean)


_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
# Text height in pixels, the same for training crops and test images (a text size relative to
# the image would make test text far larger than anything seen in training); at most half of
# the image's shorter side, so that small crops still show whole letters.
TEXT_SIZES = (8, 24)
_FONTS: dict[int, object] = {}


def _font(size: int):
    """Pillow's bundled scalable font at ``size`` pixels (no font files needed), cached."""
    from PIL import ImageFont

    if size not in _FONTS:
        try:
            _FONTS[size] = ImageFont.load_default(size=size)
        except (TypeError, ImportError, OSError):  # Pillow without FreeType: one bitmap size
            _FONTS[size] = ImageFont.load_default()
    return _FONTS[size]


def text_mask(shape: tuple[int, int], p: float, rng: np.random.Generator,
              max_strings: int = 10_000) -> tuple[np.ndarray, np.ndarray]:
    """Random strings drawn until they touch a fraction ``p`` of an (H, W) image.

    Returns (alpha (H, W) float32 in [0, 1], overlay (H, W, 3) float32): the image with text
    is ``clean * (1 - alpha) + overlay`` (``overlay`` is the text colour premultiplied by
    ``alpha``). Each string has a random length (1-12 characters), position, height
    (TEXT_SIZES pixels, at most half the shorter side) and a uniformly random colour; it is
    rendered anti-aliased (as text is drawn on photographs) and composited "over" the strings
    before it. The coverage, the paper's p, is the fraction of pixels any string touches
    (alpha > 0): counted so, p = 0.25 gives an input PSNR of about 17 dB on the test sets, the
    paper's 17.12 dB (Figure 3); counting only fully inked pixels gives about 14.5 dB."""
    from PIL import Image, ImageDraw

    h, w = shape
    alpha = np.zeros((h, w), np.float32)
    overlay = np.zeros((h, w, 3), np.float32)
    touched, target = 0, p * h * w
    largest = max(4, min(TEXT_SIZES[1], min(h, w) // 2))
    smallest = min(TEXT_SIZES[0], largest)
    for _ in range(max_strings):
        if touched >= target:
            break
        size = int(rng.integers(smallest, largest + 1))
        string = "".join(rng.choice(list(_ALPHABET), int(rng.integers(1, 13))))
        # Start anywhere, even partly outside: text is cut by the image border as in photos.
        x0, y0 = int(rng.integers(-size, w)), int(rng.integers(-size, h))
        colour = rng.random(3, dtype=np.float32)
        font = _font(size)
        left, top, right, bottom = font.getbbox(string)
        # Only the string's box is rendered (whole-image stencils cost too much on 768x512).
        sw, sh = right - min(left, 0) + 2, bottom - min(top, 0) + 2
        stencil = Image.new("L", (sw, sh), 0)
        ImageDraw.Draw(stencil).text((-min(left, 0), -min(top, 0)), string, fill=255, font=font)
        a = np.asarray(stencil, np.float32) / np.float32(255.0)
        ox, oy = x0 + min(left, 0), y0 + min(top, 0)  # the stencil's origin in the image
        ya, yb, xa, xb = max(oy, 0), min(oy + sh, h), max(ox, 0), min(ox + sw, w)
        if ya >= yb or xa >= xb:
            continue
        a = a[ya - oy:yb - oy, xa - ox:xb - ox]
        before = alpha[ya:yb, xa:xb]
        touched += int(((a > 0) & (before == 0)).sum())
        alpha[ya:yb, xa:xb] = before * (1 - a) + a
        overlay[ya:yb, xa:xb] = overlay[ya:yb, xa:xb] * (1 - a[..., None]) + colour * a[..., None]
    return alpha, overlay


def text(clean: np.ndarray, p: float, rng: np.random.Generator) -> Corrupted:
    """Anti-aliased text overlays touching a fraction ``p`` of the pixels (see text_mask). The
    text colours are unrelated to the image, so the mean of a pixel is pulled towards the
    average text colour; its median is the true colour while p < 0.5 (hence the L1 loss)."""
    alpha, overlay = text_mask(clean.shape[:2], p, rng)
    return (clean * (1 - alpha[..., None]) + overlay).astype(np.float32), _ones_mask(clean)


@dataclass(frozen=True)
class NoiseModel:
    name: str
    apply: Callable[[np.ndarray, float, np.random.Generator], Corrupted]
    train_range: tuple[float, float]  # the parameter is drawn uniformly from this per example
    test_value: float
    loss: str  # the paper's training loss for noisy targets (loss.py)
    parameter: str  # what the number means, for reports
    target_level: str = "independent"  # a noisy target's parameter: drawn again, or "same"

    def sample(self, rng: np.random.Generator, low: float | None = None,
               high: float | None = None) -> float:
        lo = self.train_range[0] if low is None else low
        hi = self.train_range[1] if high is None else high
        return float(rng.uniform(lo, hi))


TARGET_LEVELS = ("independent", "same")

MODELS: dict[str, NoiseModel] = {m.name: m for m in (
    NoiseModel("gaussian", gaussian, (0.0, 50.0), 25.0, "l2", "sigma (8-bit levels)"),
    NoiseModel("poisson", poisson, (0.001, 50.0), 30.0, "l2", "lambda (photons at white)"),
    NoiseModel("bernoulli", bernoulli, (0.0, 0.95), 0.5, "masked_l2", "p (dropped pixels)"),
    NoiseModel("text", text, (0.0, 0.5), 0.25, "l1", "p (text coverage)"),
    NoiseModel("impulse", impulse, (0.0, 0.95), 0.7, "l0", "p (replaced pixels)", "same"),
)}


def get(name: str) -> NoiseModel:
    if name not in MODELS:
        raise ConfigError(f"unknown noise {name!r}; one of {', '.join(MODELS)}")
    return MODELS[name]


def corrupt(name: str, clean: np.ndarray, value: float, rng: np.random.Generator) -> Corrupted:
    """(noisy (H, W, 3), mask (H, W, 1)) of a clean (H, W, 3) [0, 1] float32 image."""
    return get(name).apply(np.asarray(clean, np.float32), value, rng)
