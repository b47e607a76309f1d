"""Tiled inference: coverage, blending, and agreement with whole-frame results."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mcdenoise.infer.tiling import run_tiled, tile_size, tile_starts


@pytest.mark.parametrize("length,tile,overlap", [(100, 32, 8), (512, 256, 64), (257, 128, 32),
                                                 (64, 64, 16), (1080, 1024, 96), (3840, 512, 96)])
def test_tiles_cover_and_overlap(length, tile, overlap):
    starts, size = tile_starts(length, tile, overlap), tile_size(length, tile, overlap)
    assert size <= tile
    covered = torch.zeros(length, dtype=torch.bool)
    for start in starts:
        covered[start:start + size] = True
    assert covered.all() and starts[0] == 0 and starts[-1] + size == length
    assert all(b - a <= size - overlap for a, b in zip(starts, starts[1:]))
    # Balanced: no more tiles than fixed-size tiles would need, and no larger.
    assert len(starts) <= max(1, -(-(length - overlap) // (tile - overlap)))


def test_balanced_tiles_waste_little():
    assert tile_size(1080, 1024, 96) == 608 and tile_starts(1080, 1024, 96) == [0, 472]
    assert tile_size(1920, 1024, 96) == 1024 and len(tile_starts(1920, 1024, 96)) == 2


def test_local_filter_tiled_equals_whole():
    """A filter whose footprint fits in the overlap gives the same image tiled or whole."""
    torch.manual_seed(0)
    x = torch.rand(1, 3, 150, 211)
    kernel = torch.rand(3, 3, 5, 5)
    fn = lambda t: F.conv2d(F.pad(t, (2, 2, 2, 2), mode="replicate"), kernel)  # noqa: E731
    whole = fn(x)
    tiled = run_tiled(fn, x, 3, tile=64, overlap=16)
    # Pixels near a tile's inner edge see padding instead of real neighbours; the blend gives
    # them no weight, so a 2-pixel footprint in a 16-pixel overlap leaves no trace.
    assert torch.allclose(tiled, whole, atol=1e-5)


def test_bad_overlap_is_refused():
    with pytest.raises(ValueError, match="overlap"):
        tile_starts(100, 32, 32)


def test_tiled_denoise_agrees_with_whole_frame(scene_file):
    """A real U-Net on a real render: tiles of 192 with 96 pixels of overlap give the frame the
    whole-frame pass gives, up to differences far below what the denoiser changes. (An
    untrained net is the hard case: nothing taught it to look only nearby.)"""
    from mcdenoise.infer.denoise import Denoiser, denoise
    from mcdenoise.core.metrics import psnr
    from mcdenoise.nn.model import UNet, UNetConfig
    from mcdenoise.nn.transform import transform_for
    from renderers import get_renderer

    torch.manual_seed(0)
    frame = get_renderer().render(str(scene_file), spp=4, seed=1, width=300)  # 300 x 200
    denoiser = Denoiser(UNet(UNetConfig(in_channels=9, width=16)), transform_for("full"))
    whole = denoise(denoiser, frame, tile=1024)
    tiled = denoise(denoiser, frame, tile=192, overlap=96)
    assert tiled.color.shape == whole.color.shape == (200, 300, 3)
    assert tiled.metadata["denoised"]["exposure_scale"] == whole.metadata["denoised"]["exposure_scale"]
    agreement = psnr(tiled.color, whole.color)
    assert agreement > 35.0
    assert agreement > psnr(frame.color, whole.color) + 15.0
