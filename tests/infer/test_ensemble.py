"""The self-ensemble (infer/ensemble.py): each symmetric copy is turned back before averaging,
and the sizes outside 1, 2, 4, 8 are refused."""
from __future__ import annotations

import pytest
import torch

from mcdenoise.infer.ensemble import ensemble


def shift_right(x: torch.Tensor) -> torch.Tensor:
    """Not symmetric: moves the image one pixel along W, so a copy not turned back shows."""
    return torch.roll(x, 1, dims=3)


def test_an_equivariant_network_is_unchanged_on_a_non_square_frame():
    x = torch.rand(2, 3, 5, 7)
    for n in (1, 2, 4, 8):
        out = ensemble(lambda t: t * t + 1, x, n)
        assert out.shape == (2, 3, 5, 7)
        torch.testing.assert_close(out, x * x + 1)


def test_each_copy_is_turned_back_before_the_mean():
    x = torch.rand(1, 3, 6, 6)
    right, left = torch.roll(x, 1, dims=3), torch.roll(x, -1, dims=3)
    down, up = torch.roll(x, 1, dims=2), torch.roll(x, -1, dims=2)
    torch.testing.assert_close(ensemble(shift_right, x, 1), right)
    # The mirrored copy's shift to the right is a shift to the left once mirrored back.
    torch.testing.assert_close(ensemble(shift_right, x, 2), (right + left) / 2)
    torch.testing.assert_close(ensemble(shift_right, x, 4), (right + left) / 2)
    # The transposed copies shift along H once transposed back.
    torch.testing.assert_close(ensemble(shift_right, x, 8), (right + left + down + up) / 4)


@pytest.mark.parametrize("n", [0, 3, 16])
def test_other_sizes_are_refused(n):
    with pytest.raises(ValueError, match="--ensemble must be one of 1, 2, 4, 8"):
        ensemble(shift_right, torch.rand(1, 3, 4, 4), n)


def test_load_denoiser_refuses_a_bad_size():
    from mcdenoise.infer.denoise import load_denoiser
    from mcdenoise.nn.modelfile import default_model_path

    with pytest.raises(ValueError, match="--ensemble must be one of"):
        load_denoiser(default_model_path(), "cpu", engine="torch", ensemble=3)
