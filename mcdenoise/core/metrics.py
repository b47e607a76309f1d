"""Image quality against a reference, on (H, W, 3) linear HDR arrays.

PSNR is taken on x / (1 + x) of the linear HDR values at the frame's own exposure (NaN and
negatives -> 0), peak 1, as the paper scores renders; relMSE is (x - r)^2 / (r^2 + 0.01) on linear HDR.
"""
from __future__ import annotations

import math

import numpy as np

RELMSE_EPS = 0.01


def _finite(x: np.ndarray) -> np.ndarray:
    return np.maximum(np.nan_to_num(np.asarray(x, np.float64), nan=0.0, posinf=1e30, neginf=0.0), 0.0)


def tonemap_simple(x: np.ndarray) -> np.ndarray:
    """x / (1 + x) of linear HDR, in [0, 1)."""
    x = _finite(x)
    return x / (1.0 + x)


def psnr(x: np.ndarray, reference: np.ndarray) -> float:
    """PSNR in dB of x / (1 + x) against the reference's, peak 1 (inf for identical images)."""
    mse = float(np.mean((tonemap_simple(x) - tonemap_simple(reference)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


def relmse(x: np.ndarray, reference: np.ndarray) -> float:
    """Mean of (x - r)^2 / (r^2 + 0.01) on linear HDR."""
    x = np.nan_to_num(np.asarray(x, np.float64), nan=0.0, posinf=1e30, neginf=-1e30)
    r = np.asarray(reference, np.float64)
    return float(np.mean((x - r) ** 2 / (r ** 2 + RELMSE_EPS)))


def channel_ratio(x: np.ndarray, baseline: np.ndarray, tonemapped: bool = False) -> np.ndarray:
    """(3,) ratio of per-channel means, x over baseline (1 = same brightness and colour);
    a colour cast or a darkened output shows here before it shows in a loss curve.

    Means of linear HDR are dominated by the few brightest pixels (visible emitters); with
    ``tonemapped`` the means are of x / (1 + x), which weighs pixels as a viewer sees them."""
    convert = tonemap_simple if tonemapped else _finite
    num = convert(x).reshape(-1, 3).mean(axis=0)
    den = convert(baseline).reshape(-1, 3).mean(axis=0)
    return np.where(den > 0, num / np.maximum(den, 1e-30), np.nan)


def ssim(x: np.ndarray, reference: np.ndarray) -> float:
    """Mean SSIM (Wang et al. 2004: Gaussian window sigma 1.5, K1 0.01, K2 0.03, range 1) of
    x / (1 + x) against the reference's, averaged over the three channels; 1 = identical."""
    from scipy.ndimage import gaussian_filter

    a, b = tonemap_simple(x), tonemap_simple(reference)
    c1, c2 = 0.01 ** 2, 0.03 ** 2

    def blur(v: np.ndarray) -> np.ndarray:
        return gaussian_filter(v, sigma=(1.5, 1.5, 0), truncate=3.5, mode="reflect")

    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b = blur(a * a) - mu_a ** 2, blur(b * b) - mu_b ** 2
    cov = blur(a * b) - mu_a * mu_b
    value = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return float(value.mean())
