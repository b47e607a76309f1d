"""The network, the transform, the losses, the metrics and the model file (no rendering here)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from mcdenoise.nn import loss as losses
from mcdenoise.core.frame import Frame
from mcdenoise.infer.denoise import Denoiser, denoise, load_denoiser
from mcdenoise.core.metrics import channel_ratio, psnr, relmse
from mcdenoise.nn.model import UNet, UNetConfig, parameter_count
from mcdenoise.nn.modelfile import CARD_KEY, ModelFileError, read_card, save_model
from mcdenoise.nn.transform import (KEY, LUMINANCE, V1, Z1, Transform, decode_output,
                                 exposure_scale, frame_input, network_target, output_to_hdr,
                                 pad_to_multiple, tonemap_input, transform_for)


def frame(h: int = 40, w: int = 56, seed: int = 0, brightness: float = 1.0) -> Frame:
    rng = np.random.default_rng(seed)
    color = rng.gamma(1.0, 0.3, (h, w, 3)).astype(np.float32) * brightness
    normal = rng.normal(size=(h, w, 3)).astype(np.float32)
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    return Frame(color=color, albedo=rng.uniform(0, 1, (h, w, 3)).astype(np.float32), normal=normal,
                 alpha=np.ones((h, w), np.float32), metadata={"scene": "test"})


@pytest.mark.parametrize("channels", [3, 6, 9])
def test_unet_shapes_and_width_presets(channels):
    x = torch.rand(2, channels, 64, 96)
    for width in (16, 32):
        assert UNet(UNetConfig(channels, 3, width))(x).shape == (2, 3, 64, 96)
    # The paper's network: about 0.99 M parameters with 3 input channels.
    assert parameter_count(UNet(UNetConfig(3, 3, 48))) == 991_203
    with pytest.raises(ValueError, match="multiple of 32"):
        UNet(UNetConfig(channels, 3, 16))(torch.rand(1, channels, 40, 64))


def test_residual_unet_starts_as_the_identity_on_its_colour_and_survives_the_card():
    x = torch.rand(2, 9, 64, 64)
    net = UNet(UNetConfig(9, 3, 16, residual=True))
    assert torch.equal(net(x), x[:, :3])  # zero-initialised last conv: output = input colour
    with torch.no_grad():
        net.out_c.bias.fill_(0.25)
    assert torch.allclose(net(x), x[:, :3] + 0.25)
    assert UNetConfig.from_dict(net.config.to_dict()) == net.config
    assert UNetConfig.from_dict({"in_channels": 9, "out_channels": 3, "width": 16}).residual is False


@pytest.mark.parametrize("space", ["tonemapped", "linear"])
def test_kernel_prediction_averages_the_input_colour_and_never_leaves_its_range(space):
    import torch.nn.functional as F

    from mcdenoise.nn.model import untonemap

    x = torch.rand(1, 9, 32, 64) * 0.9
    net = UNet(UNetConfig(9, 3, 16, kernel=5, kernel_space=space))
    colour = x[:, :3] if space == "tonemapped" else untonemap(x[:, :3])
    box = F.avg_pool2d(F.pad(colour, (2, 2, 2, 2), mode="replicate"), 5, stride=1)
    assert torch.allclose(net(x), box, atol=1e-5)  # zero last conv: equal weights, a box filter
    torch.nn.init.normal_(net.out_c.weight, std=1.0)  # any kernels: a convex combination
    out = net(x)
    low = -F.max_pool2d(F.pad(-colour, (2, 2, 2, 2), mode="replicate"), 5, stride=1)
    high = F.max_pool2d(F.pad(colour, (2, 2, 2, 2), mode="replicate"), 5, stride=1)
    assert (out >= low - 1e-5).all() and (out <= high + 1e-5).all()
    assert UNetConfig.from_dict(net.config.to_dict()) == net.config
    with pytest.raises(ValueError, match="odd"):
        UNet(UNetConfig(9, 3, 16, kernel=4))


def test_pad_to_multiple_reflects_and_handles_tiny_images():
    x = torch.arange(5 * 7, dtype=torch.float32).reshape(1, 1, 5, 7)
    padded, (h, w) = pad_to_multiple(x)
    assert padded.shape == (1, 1, 32, 32) and (h, w) == (5, 7)
    assert torch.equal(padded[..., :5, :7], x)
    assert padded[0, 0, 5, 0] == x[0, 0, 3, 0]  # reflection, not replication or zeros
    one, _ = pad_to_multiple(torch.ones(1, 3, 1, 1))
    assert one.shape == (1, 3, 32, 32) and torch.all(one == 1)


def test_transform_tonemaps_colour_only_and_is_exposure_invariant():
    f = frame()
    t = transform_for("full")
    x, scale = frame_input(t, f)
    assert x.shape == (9, 40, 56) and x.dtype == np.float32
    assert 0 <= x[:3].min() and x[:3].max() < 1
    np.testing.assert_array_equal(x[3:6], f.albedo.transpose(2, 0, 1))  # albedo as stored
    np.testing.assert_array_equal(x[6:9], f.normal.transpose(2, 0, 1))
    # Auto exposure: the same picture 100x darker gives the same network input.
    dark = f.replace(color=f.color / 100)
    x_dark, scale_dark = frame_input(t, dark)
    np.testing.assert_allclose(x_dark, x, atol=1e-5)
    assert math.isclose(scale_dark, 100 * scale, rel_tol=1e-4)
    # ... and the output maps back to the frame's own units.
    np.testing.assert_allclose(output_to_hdr(network_target(dark.color, scale_dark), scale_dark),
                               dark.color, rtol=1e-6)
    assert frame_input(transform_for("color"), f)[0].shape == (3, 40, 56)
    assert frame_input(Transform(("color", "albedo"), "none"), f)[1] == 1.0


def test_output_maps():
    v = np.array([0.0, 0.003, 0.18, 1.0, 2.9], np.float32)
    untonemap = Transform(output="untonemap")
    # Predicting the tonemapped input itself is the identity on linear HDR (up to V1) ...
    z = torch.from_numpy(tonemap_input(v.reshape(1, 5, 1).repeat(3, axis=2), 1.0)).permute(2, 0, 1)
    np.testing.assert_allclose(decode_output(untonemap, z)[0, 0].numpy(), v, rtol=1e-4, atol=1e-7)
    # ... continuous at V1, without a ceiling above, with a gradient everywhere.
    edge = decode_output(untonemap, torch.tensor([Z1 - 1e-4, Z1 + 1e-4], dtype=torch.float64))
    assert abs(edge[0] - V1) < 0.01 and abs(edge[1] - V1) < 0.01
    zs = torch.linspace(-1, 1.5, 101, requires_grad=True)
    values = decode_output(untonemap, zs)
    values.sum().backward()
    assert torch.all(zs.grad > 0) and torch.all(values[1:] > values[:-1]) and values[-1] > 1000
    assert torch.equal(decode_output(Transform(output="linear"), zs), zs.detach())
    assert torch.allclose(decode_output(Transform(output="exp"), torch.zeros(2)), torch.ones(2))


def test_exposure_maps_block_geometric_mean_to_the_key():
    color = np.full((32, 48, 3), 0.02, np.float32)
    color[:16] = 0.5
    block_lum = np.array([0.5, 0.02]) * LUMINANCE.sum()
    expected = KEY / math.exp(np.log(block_lum).mean())
    assert math.isclose(exposure_scale(color, Transform()), expected, rel_tol=1e-5)
    assert exposure_scale(np.zeros((8, 8, 3), np.float32), Transform()) == 1.0  # black frame


def test_nonfinite_inputs_become_finite():
    f = frame(32, 32)
    color, albedo = f.color.copy(), f.albedo.copy()
    color[0, 0] = np.nan
    color[1, 1] = np.inf
    color[2, 2] = -np.inf
    albedo[3, 3] = np.nan
    albedo[4, 4] = 139.0  # renderers' albedo estimates of glossy surfaces overshoot
    x, scale = frame_input(transform_for("full"), f.replace(color=color, albedo=albedo))
    assert np.isfinite(x).all() and math.isfinite(scale)
    assert x[0, 0, 0] == 0 and x[0, 1, 1] > 0.99 and x[0, 2, 2] == 0 and x[3, 3, 3] == 0
    assert x[3, 4, 4] == 1.0
    with pytest.raises(ValueError, match="albedo"):
        frame_input(transform_for("albedo"), Frame(color=f.color))


def test_hdr_loss_stops_the_gradient_and_clamps_the_denominator():
    out = torch.tensor([0.5, 2.0, -0.0099], requires_grad=True)
    target = torch.tensor([1.0, 1.0, 1.0])
    loss = losses.get("hdr")(out, target)
    loss.backward()
    denominator = torch.tensor([0.51, 2.01, 0.01])  # max(out, 0) + 0.01, no gradient
    expected = ((out.detach() - target) / denominator).square().mean()
    assert torch.allclose(loss, expected)
    assert torch.allclose(out.grad, 2 * (out.detach() - target) / denominator**2 / 3)
    # Unclamped, an output of -0.0099 would divide by 1e-4 squared: a loss around 1e8.
    assert loss < 1e5


def test_other_losses():
    out, target = torch.tensor([1.0, 3.0]), torch.tensor([2.0, 2.0])
    assert losses.get("l2")(out, target) == 1.0 and losses.get("l1")(out, target) == 1.0
    mask = torch.tensor([1.0, 0.0])
    assert losses.get("masked_l2")(torch.tensor([1.0, 9.0]), target, mask=mask) == 1.0
    assert losses.l0_gamma(0.0) == 2.0 and losses.l0_gamma(0.5) == 1.0 and losses.l0_gamma(1.0) == 0.0
    assert torch.allclose(losses.get("l0")(out, target, progress=0.0),
                          torch.tensor((1.0 + losses.L0_EPS) ** 2))  # |e| = 1 everywhere
    assert torch.allclose(losses.get("l0")(out, target, progress=1.0), torch.tensor(1.0))  # x^0
    with pytest.raises(ValueError):
        losses.get("l3")


def test_annealed_l0_gradient_stays_bounded_as_gamma_nears_0():
    """Near the end of the schedule the paper's epsilon gives a pixel that already matches its
    target a gradient thousands of times an outlier's; the default epsilon bounds it by
    gamma / eps while still favouring the nearer target (mode seeking)."""
    def grads(eps: float) -> torch.Tensor:
        out = torch.tensor([0.5 + 1e-5, 0.9], requires_grad=True)  # a match, an outlier
        losses.get("l0", l0_eps=eps)(out, torch.tensor([0.5, 0.5]), progress=0.99).backward()
        return out.grad.abs() * 2  # per pixel (the loss is a mean of two)

    gamma = losses.l0_gamma(0.99)
    match, outlier = grads(losses.L0_EPS)
    assert match <= gamma / losses.L0_EPS and match > 10 * outlier
    paper_match, paper_outlier = grads(losses.L0_EPS_PAPER)
    assert paper_match > 1000 * paper_outlier and paper_match > 100 * match


def test_metrics():
    ref = np.full((4, 4, 3), 1.0, np.float32)  # tonemapped 0.5
    x = ref.copy()
    assert psnr(x, ref) == math.inf
    x[...] = 3.0  # tonemapped 0.75: error 0.25 everywhere
    assert math.isclose(psnr(x, ref), 10 * math.log10(1 / 0.0625))
    assert math.isclose(relmse(x, ref), 4 / 1.01, rel_tol=1e-6)
    ratio = channel_ratio(ref * np.array([1, 2, 0.5], np.float32), ref)
    np.testing.assert_allclose(ratio, [1, 2, 0.5])
    tm = channel_ratio(ref * np.array([1, 3, 1], np.float32), ref, tonemapped=True)
    np.testing.assert_allclose(tm, [1, 1.5, 1])  # 0.75 / 0.5


def test_model_file_round_trip_and_denoise(tmp_path):
    torch.manual_seed(0)
    t = transform_for("full")
    net = UNet(UNetConfig(t.channels, 3, 16))
    card = {"architecture": net.config.to_dict(), "transform": t.to_dict(),
            "training": {"steps": 0}, "command": "mcdenoise train --spp 64"}
    path = tmp_path / "model.safetensors"
    save_model(path, net, card)
    assert not [p for p in tmp_path.iterdir() if p != path]  # no temporary left behind
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        assert json.loads(handle.metadata()[CARD_KEY])["command"] == "mcdenoise train --spp 64"
    denoiser = load_denoiser(path, device="cpu", engine="torch")  # bit-exact
    assert denoiser.transform == t and denoiser.card["architecture"]["width"] == 16

    f = frame(37, 50)  # not a multiple of 32: padded, then cropped back
    out = denoise(denoiser, f)
    expected = denoise(Denoiser(net, t), f)
    np.testing.assert_array_equal(out.color, expected.color)
    assert out.color.shape == (37, 50, 3) and np.isfinite(out.color).all()
    assert out.albedo is f.albedo and out.alpha is f.alpha and out.metadata["scene"] == "test"
    assert out.metadata["denoised"]["exposure_scale"] > 0

    with pytest.raises(ModelFileError, match="no such file"):
        read_card(tmp_path / "missing.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match="not a safetensors"):
        load_denoiser(bad)
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(1)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(ModelFileError, match="mcdenoise_card"):
        load_denoiser(tmp_path / "plain.safetensors")


def test_multiscale_kernels_keep_constants_and_start_near_the_single_scale_filter():
    from mcdenoise.nn.model import BLEND_START, blend_pyramid

    torch.manual_seed(0)
    net = UNet(UNetConfig(9, 3, 16, kernel=5, kernel_space="linear", scales=5))
    assert UNetConfig.from_dict(net.config.to_dict()) == net.config
    assert [h.out_channels for h in net.level_heads] == [26, 26, 26, 25]  # the last: no blend
    x = torch.rand(1, 9, 64, 96) * 0.9
    single = UNet(UNetConfig(9, 3, 16, kernel=5, kernel_space="linear"))
    single.load_state_dict({k: v for k, v in net.state_dict().items()
                            if not k.startswith(("level_heads", "out_c"))}, strict=False)
    start = torch.sigmoid(torch.tensor(BLEND_START)).item()
    # The untrained multi-scale filter takes only a small share of the coarser levels.
    assert (net(x) - single(x)).abs().mean() < 0.5 * start * single(x).abs().mean()
    # Whatever the kernels and blend weights, a constant image stays that constant.
    heads = [torch.randn(2, 26, 64 >> l, 96 >> l) * 3 for l in range(4)] + [torch.randn(2, 25, 4, 6)]
    flat = torch.full((2, 3, 64, 96), 0.7)
    assert torch.allclose(blend_pyramid(heads, flat, 5), flat, atol=1e-5)


def test_multiscale_kernels_smooth_flat_noise_far_beyond_a_5x5_support():
    from mcdenoise.nn.model import blend_pyramid

    torch.manual_seed(1)
    noise = 1.0 + 0.5 * torch.randn(1, 3, 128, 128)
    box = [torch.zeros(1, 26, 128 >> l, 128 >> l) for l in range(4)] + [torch.zeros(1, 25, 8, 8)]
    for head in box[:-1]:
        head[:, -1] = 30.0  # every pixel takes all of the coarser level: a wide low-pass
    single = blend_pyramid(box[:1], noise, 5)  # one level: the plain 5x5 box
    wide = blend_pyramid(box, noise, 5)
    assert single.var() < noise.var() / 20  # 25 samples each
    # The fine level's own high band stays (Vogels' blend keeps detail), the low band goes:
    # about 125 samples' worth, five times the 5x5 box.
    assert wide.var() < single.var() / 4
    assert abs(wide.mean().item() - noise.mean().item()) < 1e-3
    with pytest.raises(ValueError, match="scales"):
        UNet(UNetConfig(9, 3, 16, scales=3))  # several scales need kernel prediction


@pytest.mark.parametrize("width,scales", [(16, 1), (16, 5), (32, 3), (48, 1)])
def test_widened_heads_compute_the_same_function(width, scales):
    from mcdenoise.nn.model import widen_heads

    torch.manual_seed(width + scales)
    net = UNet(UNetConfig(9, 3, width, False, 5, "linear", scales)).eval()
    for head in [net.out_c, *net.level_heads]:  # trained-like heads, not the zero start
        torch.nn.init.normal_(head.weight, std=0.1)
    wide = widen_heads(net)
    assert all(c.out_channels % 8 == 0 for c in (wide.out_a, wide.out_b))
    assert wide.out_c.out_channels == net.out_c.out_channels
    assert net.out_a.out_channels == round(4 * width / 3)  # the original is untouched
    x = torch.rand(1, 9, 64, 96)
    with torch.no_grad():
        assert torch.allclose(wide(x), net(x), rtol=1e-5, atol=1e-6)


def test_demodulated_kernels_keep_a_texture_and_change_nothing_without_albedo():
    """A textured floor under noisy light: the demodulated head averages the light alone and
    multiplies the texture back in, so a wide average keeps the texture that the plain filter
    blurs; a frame without albedo (zeros) gets the plain filter's result, whatever the share."""
    from mcdenoise.nn.model import DEMOD_EPS, untonemap
    from mcdenoise.core.color import GAMMA
    from mcdenoise.nn.widen import demodulated

    torch.manual_seed(2)
    plain = UNet(UNetConfig(9, 3, 16, kernel=5, kernel_space="linear")).eval()
    demod = demodulated(plain).eval()
    assert demod.config.demodulate and UNetConfig.from_dict(demod.config.to_dict()) == demod.config
    assert demod.out_c.out_channels == plain.out_c.out_channels + 1
    checker = ((torch.arange(64)[:, None] // 2 + torch.arange(64)[None] // 2) % 2).float()
    albedo = (0.2 + 0.6 * checker).expand(1, 3, 64, 64)  # a 2x2-pixel checkerboard texture
    light = (1.0 + 0.3 * torch.randn(1, 1, 64, 64)).clamp(min=0.1)
    color = albedo * light
    tonemapped = (color / (1 + color)) ** (1 / GAMMA)  # transform.py's T, as the net sees it
    x = torch.cat([tonemapped, albedo, torch.zeros(1, 3, 64, 64)], dim=1)
    with torch.no_grad():
        demod.out_c.bias[-1] = 30.0  # every pixel takes the demodulated result
        box, flat = plain(x), demod(x)  # the untrained kernels: 5x5 boxes
    colour = untonemap(x[:, :3])
    # The box blurs the checkerboard to its mean; demodulated, each pixel keeps its albedo.
    texture = lambda img: (img * (checker - 0.5)).mean().item()  # noqa: E731
    assert texture(flat) > 0.8 * texture(colour) and texture(box) < 0.2 * texture(colour)
    error = lambda img: (img - albedo * light.mean()).square().mean().item()  # noqa: E731
    assert error(flat) < min(error(box), error(colour)) / 5  # the light is smoothed
    no_albedo = x.clone()
    no_albedo[:, 3:6] = 0
    with torch.no_grad():
        assert torch.allclose(demod(no_albedo), plain(no_albedo), rtol=1e-5, atol=1e-6)
    assert DEMOD_EPS > 0
    with pytest.raises(ValueError, match="demodulate"):
        UNet(UNetConfig(3, 3, 16, kernel=5, kernel_space="linear", demodulate=True))


@pytest.mark.parametrize("scales", [1, 5])
def test_separate_kernels_start_as_the_shared_ones_then_filter_each_image_with_their_own(scales):
    """separated(model): the same output at first (each set a copy of the shared one); then
    the plain set alone decides the plain image's filter: with the plain kernels made the
    identity and the demodulated ones left as boxes, a pixel taking none of the demodulated
    result returns its input, one taking all of it the demodulated box."""
    from mcdenoise.nn.model import untonemap
    from mcdenoise.nn.widen import demodulated, separated

    torch.manual_seed(3)
    shared = demodulated(UNet(UNetConfig(9, 3, 16, kernel=5, kernel_space="linear",
                                         scales=scales))).eval()
    split = separated(shared).eval()
    assert split.config.separate_kernels and UNetConfig.from_dict(split.config.to_dict()) == split.config
    x = torch.rand(1, 9, 64, 64) * 0.9
    x[:, 3:6] = 0.2 + 0.6 * x[:, 3:6]
    with torch.no_grad():
        assert torch.allclose(split(x), shared(x), rtol=1e-5, atol=1e-6)
        for level, head in enumerate([split.out_c, *split.level_heads]):
            head.weight.zero_()
            head.bias[:split.head_set(level)] = 0.0
            head.bias[12] = 30.0  # the plain set's centre tap: the identity
            if level < scales - 1:  # and no share of the coarser level's result
                head.bias[25] = head.bias[25 + split.head_set(level)] = -30.0
        split.out_c.bias[-1] = -30.0
        assert torch.allclose(split(x), untonemap(x[:, :3]), rtol=1e-4)
        split.out_c.bias[-1] = 30.0
        shared.out_c.weight.zero_()
        shared.out_c.bias.zero_()
        shared.out_c.bias[-1] = 30.0
        for head in shared.level_heads:
            head.weight.zero_()
            head.bias.zero_()
        if scales > 1:
            shared.out_c.bias[25] = -30.0
            for head in shared.level_heads[:-1]:
                head.bias[25] = -30.0
        assert torch.allclose(split(x), shared(x), rtol=1e-4)  # the demodulated 5x5 box
        assert not torch.allclose(split(x), untonemap(x[:, :3]), rtol=1e-2)
    with pytest.raises(ValueError, match="separate_kernels needs demodulate"):
        UNet(UNetConfig(9, 3, 16, kernel=5, kernel_space="linear", separate_kernels=True))


def test_band_weights_let_a_flat_wall_drop_the_fine_grain():
    """banded(model) starts as the same function; with every pixel taking the coarser levels'
    result (blend logits high), dropping the levels' own bands (band logits low) leaves far
    less grain on a flat noisy wall than keeping them, which the old blend must, and keeps
    the wall's mean (the bands average to about 0)."""
    from mcdenoise.core.color import GAMMA
    from mcdenoise.nn.widen import banded

    torch.manual_seed(4)
    plain = UNet(UNetConfig(9, 3, 16, kernel=5, kernel_space="linear", scales=5)).eval()
    banded_net = banded(plain).eval()
    assert banded_net.config.band_weights
    assert UNetConfig.from_dict(banded_net.config.to_dict()) == banded_net.config
    light = (1.0 + 0.5 * torch.randn(1, 1, 128, 128)).clamp(min=0.05).expand(1, 3, 128, 128)
    x = torch.cat([(light / (1 + light)) ** (1 / GAMMA), torch.full((1, 3, 128, 128), 0.5),
                   torch.zeros(1, 3, 128, 128)], dim=1)
    with torch.no_grad():
        assert torch.allclose(banded_net(x), plain(x), rtol=1e-5, atol=1e-6)
        for net in (plain, banded_net):
            for level, head in enumerate([net.out_c, *net.level_heads][:-1]):
                head.bias[25] = 30.0  # all of the coarser level's result
        kept = banded_net(x)
        assert torch.allclose(kept, plain(x), rtol=1e-5, atol=1e-6)
        for head in [banded_net.out_c, *banded_net.level_heads][:-1]:
            head.bias[26] = -30.0  # none of the level's own band
        dropped = banded_net(x)
    grain = lambda img: img[..., 16:-16, 16:-16].std().item()  # noqa: E731
    assert grain(dropped) < 0.25 * grain(kept), (grain(dropped), grain(kept))
    assert abs(dropped.mean().item() / light.mean().item() - 1) < 0.02
    with pytest.raises(ValueError, match="band_weights needs scales"):
        UNet(UNetConfig(9, 3, 16, kernel=5, kernel_space="linear", band_weights=True))
