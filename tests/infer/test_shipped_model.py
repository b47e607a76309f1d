"""The shipped model's output, pinned: a rearrangement of the code must not change a pixel.

``tests/data/shipped_model_golden.npz`` holds the shipped model's output on a fixed synthetic
frame (whole, tiled, and without albedo/normal), written with the model's plain network when
it was shipped (re-pinned 2026-12-04 with the step-20,000 model), so it also pins load_denoiser's widened heads to the plain ones. Convolution kernels differ in their last bits between CPUs (AVX2 and AVX-512
machines both run CI), so the stored arrays are compared with a tight tolerance; the
bit-for-bit check is against the forward pass written out step by step, on this machine.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mcdenoise.core.frame import Frame
from mcdenoise.infer.denoise import denoise, load_denoiser
from mcdenoise.nn.modelfile import default_model_path
from mcdenoise.nn.transform import decode_output, frame_input, output_to_hdr, pad_to_multiple

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "shipped_model_golden.npz"


def golden_frame() -> Frame:
    """(72, 100) linear HDR colour with a bright patch, albedo in [0, 1], unit normals."""
    rng = np.random.default_rng(20261203)
    h, w = 72, 100
    color = rng.gamma(0.6, 0.4, (h, w, 3)).astype(np.float32)
    color[10:20, 30:40] *= 40.0  # the HDR end of the output map
    albedo = rng.uniform(0, 1, (h, w, 3)).astype(np.float32)
    normal = rng.normal(size=(h, w, 3)).astype(np.float32)
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    return Frame(color, albedo, normal)


@pytest.fixture(scope="module")
def shipped():  # torch: the recorded output is torch's (OpenVINO's is checked against it)
    return load_denoiser(default_model_path(), "cpu", engine="torch")


# The recorded cases; tests/data/pin_shipped_golden.py writes them for a newly shipped model.
CASES = [("whole", {}), ("tiled", {"tile": 64, "overlap": 16}), ("no_aux", {"use_aux": False})]


@pytest.mark.parametrize("key, options", CASES)
def test_output_matches_the_recorded_one(shipped, key, options):
    expected = np.load(GOLDEN)[key]
    out = denoise(shipped, golden_frame(), **options).color
    assert out.shape == expected.shape == (72, 100, 3)
    np.testing.assert_allclose(out, expected, rtol=2e-4, atol=2e-6)


def test_denoise_is_the_plain_forward_pass_bit_for_bit(shipped):
    frame = golden_frame()
    with torch.no_grad():
        x, scale = frame_input(shipped.transform, frame)
        x, (h, w) = pad_to_multiple(torch.from_numpy(x)[None])
        z = shipped.model.eval()(x.contiguous(memory_format=torch.channels_last))
        expected = output_to_hdr(decode_output(shipped.transform, z)[0, :, :h, :w], scale)
    assert np.array_equal(denoise(shipped, frame).color, expected)
