"""The Noise2Noise U-Net (Lehtinen et al. 2018, Table 2), small enough to read top to bottom.

    input (N, C_in, H, W), H and W multiples of 32
    encoder: two convs of `width`, then 5 x (max-pool 2, conv `width`), then one more conv
    decoder: 5 x (nearest x2 upsample, concat the skip, two convs of 2 * `width`);
             the last concat is with the input itself, followed by convs of
             4/3 * `width` and 2/3 * `width` (64 and 32 for the paper's 48) and a linear
             conv to C_out
    output (N, C_out, H, W)

Optional heads on the same network (UNetConfig): ``residual`` adds the input colour to the
last conv's output; ``kernel`` turns the last conv into per-pixel filter kernels that average
the input colour (kernel prediction, see train/config.py); ``scales`` > 1 applies such kernels
at several levels of a pyramid of the colour (full, 1/2, 1/4, ... resolution), each level's
kernels predicted from the decoder's features at that resolution, and blends the levels
coarse to fine with per-pixel weights (Vogels et al. 2018, "Denoising with kernel prediction
and asymmetric loss functions"): a flat wall averages hundreds of pixels, an edge keeps 5x5.
``demodulate`` also filters the colour divided by the albedo and blends, per pixel, that
result times the albedo with the plain one: textures survive wide averages.

Every conv is 3x3 with padding 1, followed by leaky ReLU 0.1, except the last (linear);
no batch norm; He initialisation. The paper's width 48 has about 1.0 M parameters for 9
input channels. What the channels mean (tonemapped colour in, linear HDR out) is the
business of transform.py, not of this file.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from mcdenoise.core.color import GAMMA

NAME = "n2n-unet"
# Widths: the paper's 48, a lighter 32 (about 2.2x cheaper), 24, and 16 (the CPU default).
WIDTHS = (48, 32, 24, 16)
POOLS = 5
MULTIPLE = 2 ** POOLS  # H and W must be multiples of this
SLOPE = 0.1
# Initial blend logit of the multi-scale head: sigmoid(-2) = 0.12, so the untrained filter is
# mostly the full-resolution 5x5 box, not a blur of every level (which spreads fireflies
# widely and, as with 9x9 kernels, drives the first steps to collapse the kernels).
BLEND_START = -2.0
# Demodulation (UNetConfig.demodulate): kernels also average colour / (albedo + DEMOD_EPS),
# and the result is multiplied back by (albedo + DEMOD_EPS). The epsilon bounds how much a
# pixel of near-black albedo (an emitter, the sky, a black cloth) is amplified when a kernel
# mixes it into a neighbour: at most 1 / DEMOD_EPS = 20 times. The share of the demodulated
# result starts at sigmoid(-4) = 0.018, so a model grown to demodulate starts as the old one.
DEMOD_EPS = 0.05
DEMOD_START = -4.0


@dataclass(frozen=True)
class UNetConfig:
    in_channels: int = 9
    out_channels: int = 3
    width: int = 48
    # residual: the output is the first three input channels (the tonemapped colour) plus
    # the last conv, which starts at zero, so an untrained net returns its input instead of
    # noise and short CPU runs start from the input's PSNR rather than far below it.
    residual: bool = False
    # kernel > 0: kernel prediction (as in Bako et al. 2017's KPCN) instead of colour: the
    # last conv gives kernel^2 logits per pixel, softmax makes them weights, and the output
    # is the weighted mean of the kernel x kernel neighbourhood of the input colour (the first
    # three input channels). An output can then never leave the range of its neighbours
    # (no colour cast, no invented detail), and the untrained net (zero last conv) is a box
    # filter, which already beats a noisy input.
    kernel: int = 0
    # Where kernels average: "tonemapped" (the input channels as they are; robust to
    # fireflies but biased dark, since the mean of tonemapped values is below the tonemapped
    # mean) or "linear" (the input colour untonemapped back to linear HDR first, so the
    # average keeps the energy; the output is then linear HDR, output map "linear").
    kernel_space: str = "tonemapped"
    # scales > 1 (needs kernel): kernels at this many pyramid levels, 1 to POOLS.
    scales: int = 1
    # demodulate (needs kernel, linear space and albedo among the inputs, channels 3-5): the
    # kernels also filter the colour divided by the albedo, where a texture's pattern is gone
    # and only the lighting's noise is left, so a kernel can average across a textured floor
    # without blurring its texture; the albedo multiplies the pattern back in. One more
    # output channel of the last conv gives each pixel's share of that demodulated result
    # (the rest is the plain filtered colour: emitters, glass, the sky, where albedo is no
    # factor of the colour).
    demodulate: bool = False
    # separate_kernels (needs demodulate): the demodulated image gets its own kernels and
    # blend logits at every level instead of sharing the plain image's. One shared set has to
    # compromise between the plain image's narrow support (a texture is in it) and the
    # demodulated image's wide one; with a set each, the plain kernels can stay narrow where
    # the albedo hides a reflection while the demodulated ones average a textured floor.
    separate_kernels: bool = False
    # band_weights (needs scales > 1): every level but the coarsest also predicts how much of
    # its own band (its filtered result minus that result's low frequencies) a pixel keeps.
    # Without it a level can replace only its low frequencies with the coarser result's, so
    # the full-resolution 5x5 kernel's leftover grain stays on every flat wall; with it a
    # pixel of a flat wall can take all its frequencies from the coarser levels.
    band_weights: bool = False

    def to_dict(self) -> dict:
        return {"name": NAME, **asdict(self)}

    @classmethod
    def from_dict(cls, card: dict) -> "UNetConfig":
        if card.get("name", NAME) != NAME:
            raise ValueError(f"unknown architecture {card.get('name')!r} (expected {NAME!r})")
        return cls(int(card["in_channels"]), int(card["out_channels"]), int(card["width"]),
                   bool(card.get("residual", False)), int(card.get("kernel", 0)),
                   card.get("kernel_space", "tonemapped"), int(card.get("scales", 1)),
                   bool(card.get("demodulate", False)),
                   bool(card.get("separate_kernels", False)),
                   bool(card.get("band_weights", False)))


def head_set(config: UNetConfig, level: int) -> int:
    """Channels of one kernel set at pyramid ``level``: kernel^2 taps, then a blend logit
    (and a band logit) on every level but the coarsest."""
    return config.kernel ** 2 + (level < config.scales - 1) * (1 + config.band_weights)


def conv(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1)


class UNet(nn.Module):
    def __init__(self, config: UNetConfig):
        super().__init__()
        self.config = config
        w, n, m = config.width, config.in_channels, config.out_channels
        head1, head2 = round(4 * w / 3), round(2 * w / 3)
        self.enc0 = conv(n, w)
        self.enc1 = conv(w, w)
        # enc[k] follows pool k+1 (k = 0..4); enc[5] is the bottleneck conv after pool 5.
        self.enc = nn.ModuleList(conv(w, w) for _ in range(POOLS))
        # dec[k]: the decoder level that upsamples to resolution 1/2^k, k = 4..1 (index 0..3).
        self.dec_a = nn.ModuleList([conv(2 * w, 2 * w)] + [conv(3 * w, 2 * w) for _ in range(POOLS - 2)])
        self.dec_b = nn.ModuleList(conv(2 * w, 2 * w) for _ in range(POOLS - 1))
        self.out_a = conv(2 * w + n, head1)
        self.out_b = conv(head1, head2)
        if config.kernel and (config.kernel % 2 == 0 or config.residual):
            raise ValueError("kernel must be odd, and kernel prediction is not residual")
        if config.kernel_space not in ("tonemapped", "linear"):
            raise ValueError(f"kernel_space must be tonemapped or linear, not {config.kernel_space!r}")
        if not 1 <= config.scales <= POOLS or (config.scales > 1 and not config.kernel):
            raise ValueError(f"scales must be 1 to {POOLS}, and more than 1 needs kernel prediction")
        if config.demodulate and (config.kernel_space != "linear" or config.in_channels < 6):
            raise ValueError("demodulate needs linear kernels and albedo among the inputs")
        if config.separate_kernels and not config.demodulate:
            raise ValueError("separate_kernels needs demodulate")
        if config.band_weights and config.scales < 2:
            raise ValueError("band_weights needs scales > 1")
        # With several scales every level but the coarsest also predicts one blend logit: how
        # much of the next coarser level's result its pixels take (BLEND_START at the start),
        # and with band_weights a band logit after it (0 at the start: the whole band kept).
        # With separate_kernels each head holds two such sets, the plain image's first; with
        # demodulate the full-resolution head's last channel is the demodulated share.
        copies = 1 + config.separate_kernels
        self.out_c = conv(head2, copies * self.head_set(0) + config.demodulate
                          if config.kernel else m)
        # level_heads[l - 1]: the kernel set(s) at resolution 1/2^l from the decoder's
        # 2 * width features there, l = 1 .. scales - 1.
        self.level_heads = nn.ModuleList(conv(2 * w, copies * self.head_set(l))
                                         for l in range(1, config.scales))
        self.reset_parameters()

    def head_set(self, level: int) -> int:
        return head_set(self.config, level)

    def reset_parameters(self) -> None:
        """He initialisation for leaky ReLU 0.1 (linear gain on the last conv); zero biases."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, a=SLOPE, nonlinearity="leaky_relu")
                nn.init.zeros_(module.bias)
        nn.init.kaiming_normal_(self.out_c.weight, nonlinearity="linear")
        if self.config.residual or self.config.kernel:
            nn.init.zeros_(self.out_c.weight)
        for level, head in enumerate([self.out_c, *self.level_heads]
                                     if self.config.scales > 1 else []):
            nn.init.zeros_(head.weight)
            if level < self.config.scales - 1:
                size, copies = self.head_set(level), 1 + self.config.separate_kernels
                head.bias.data[self.config.kernel ** 2:size * copies:size] = BLEND_START
        if self.config.demodulate:
            nn.init.zeros_(self.out_c.weight)
            self.out_c.bias.data[-1] = DEMOD_START

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C_in, H, W) -> (N, C_out, H, W); H and W must be multiples of 32."""
        if x.shape[-1] % MULTIPLE or x.shape[-2] % MULTIPLE:
            raise ValueError(f"U-Net input must be a multiple of {MULTIPLE} pixels on each side, "
                             f"got {tuple(x.shape[-2:])} (pad it: transform.pad_to_multiple)")
        act = lambda t: F.leaky_relu(t, SLOPE)  # noqa: E731
        skips = [x]
        h = act(self.enc1(act(self.enc0(x))))
        for k in range(POOLS):
            h = F.max_pool2d(h, 2)
            if k < POOLS - 1:
                skips.append(h)  # pool1 .. pool4 outputs feed the decoder
            h = act(self.enc[k](h))
        # h is now enc_conv6 at 1/32 resolution; walk back up.
        levels = {}  # decoder features at resolution 1/2^l, for the multi-scale heads
        for k in range(POOLS - 1):
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            h = torch.cat([h, skips.pop()], dim=1)
            h = act(self.dec_b[k](act(self.dec_a[k](h))))
            levels[POOLS - 1 - k] = h
        h = F.interpolate(h, scale_factor=2, mode="nearest")
        h = torch.cat([h, skips.pop()], dim=1)
        h = act(self.out_b(act(self.out_a(h))))
        # The HDR output needs more precision than bf16's 8 bits: the last conv runs in fp32.
        with torch.autocast(x.device.type, enabled=False):
            out = self.out_c(h.float())
            if self.config.kernel:
                image = x[:, :self.config.out_channels].float()
                if self.config.kernel_space == "linear":
                    image = untonemap(image)
                if self.config.demodulate:
                    albedo = x[:, 3:6].float().clamp(0.0, 1.0) + DEMOD_EPS
                    image = torch.cat([image, image / albedo], dim=1)
                heads = [out] + [head(levels[l].float())
                                 for l, head in enumerate(self.level_heads, start=1)]
                if self.config.separate_kernels:
                    sets = [[h[:, i * self.head_set(l):(i + 1) * self.head_set(l)]
                             for l, h in enumerate(heads)] for i in range(2)]
                    filtered = torch.cat([self.filter(sets[0], image[:, :3]),
                                          self.filter(sets[1], image[:, 3:])], dim=1)
                else:
                    filtered = self.filter(heads, image)
                if not self.config.demodulate:
                    return filtered
                plain, flat = filtered[:, :3], filtered[:, 3:]
                share = torch.sigmoid(out[:, -1:])
                return plain + share * (flat * albedo - plain)
            return out + x[:, :out.shape[1]].float() if self.config.residual else out

    def filter(self, heads: list[torch.Tensor], image: torch.Tensor) -> torch.Tensor:
        """One kernel set (heads[l]: level l's logits) applied to ``image`` (N, C, H, W),
        linear or tonemapped as kernel_space says -> (N, C, H, W)."""
        if self.config.scales > 1:
            return blend_pyramid(heads, image, self.config.kernel, self.config.band_weights)
        return apply_kernels(heads[0][:, :self.config.kernel ** 2], image, self.config.kernel)


def untonemap(t: torch.Tensor) -> torch.Tensor:
    """Inverse of the input tonemap T(v) = (v / (1 + v))^(1/2.2) (transform.py): [0, 1) -> linear."""
    w = t.clamp(0.0, 1.0 - 1e-6).pow(GAMMA)
    return w / (1.0 - w)


def apply_kernels(logits: torch.Tensor, image: torch.Tensor, size: int) -> torch.Tensor:
    """Per-pixel filtering: logits (N, size^2, H, W), image (N, C, H, W) -> (N, C, H, W), each
    output pixel the softmax(logits)-weighted mean of the image's size x size neighbourhood
    (edges replicated). One shifted multiply-add per tap: no (N, C * size^2, H, W) unfold,
    which at 1080p would be a gigabyte."""
    h, w = image.shape[-2:]
    pad = size // 2
    # Plain (NCHW) layout: per-channel slices of it are contiguous, unlike channels_last.
    padded = F.pad(image.contiguous(), (pad, pad, pad, pad), mode="replicate")
    weights = torch.softmax(logits.contiguous(), dim=1)
    out = torch.zeros_like(image)
    for tap in range(size * size):
        dy, dx = divmod(tap, size)
        out += padded[:, :, dy:dy + h, dx:dx + w] * weights[:, tap:tap + 1]
    return out


def blend_pyramid(heads: list[torch.Tensor], image: torch.Tensor, size: int,
                  band_weights: bool = False) -> torch.Tensor:
    """Multi-scale kernel filtering. heads[l]: (N, size^2 [+ 1 [+ 1]], H / 2^l, W / 2^l), the
    kernel logits at pyramid level l and, for every level but the last, one blend logit (and
    with ``band_weights`` one band logit; channels after those, such as the demodulated share,
    are not read here); image (N, C, H, W) -> (N, C, H, W).

    Level l of the pyramid is the image 2x2-averaged l times; each level is filtered with its
    own kernels (f_l), then, coarse to fine, o_l = f_l + a_l * (U(o_{l+1}) - U(D(f_l))) with
    a_l = sigmoid(blend logit), D the 2x2 mean and U bilinear upsampling: a pixel keeps the
    fine level's detail and takes a share a_l of its low frequencies from the coarser result.
    Where the coarser result equals the fine one's downsampling, nothing changes, so the
    filter keeps the image's mean and mixes only the input's own samples. With band_weights
    the level's own band is scaled by b_l = min(1, 2 sigmoid(band logit)) (1 at a logit of 0):
    o_l = L + b_l * (f_l - L) + a_l * (U(o_{l+1}) - L), L = U(D(f_l)); the band has a local
    mean of about 0, so scaling it keeps the energy."""
    taps = size * size
    pyramid = [image]
    for _ in heads[1:]:
        pyramid.append(F.avg_pool2d(pyramid[-1], 2))
    up = lambda t: F.interpolate(t, scale_factor=2, mode="bilinear", align_corners=False)  # noqa: E731
    out = apply_kernels(heads[-1][:, :taps], pyramid[-1], size)
    for head, level in zip(reversed(heads[:-1]), reversed(pyramid[:-1])):
        filtered = apply_kernels(head[:, :taps], level, size)
        share = torch.sigmoid(head[:, taps:taps + 1])
        low = up(F.avg_pool2d(filtered, 2))
        if band_weights:
            keep = (2 * torch.sigmoid(head[:, taps + 1:taps + 2])).clamp(max=1.0)
            filtered = low + keep * (filtered - low)
        out = filtered + share * (up(out) - low)
    return out


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def widen_heads(model: UNet, multiple: int = 8) -> UNet:
    """The same function, faster on CPUs: out_a's and out_b's output channels (and the next
    conv's inputs) zero-padded to a multiple of ``multiple``. oneDNN's convolutions work in
    blocks of 8 (AVX2) or 16 (AVX-512) channels, and the heads of width 16 are 21 and 11 wide;
    the padded channels are 0 after leaky ReLU and have zero weights downstream. For
    inference only (a new module; ``model`` is untouched): its state dict no longer matches
    the card."""
    import copy

    wide = copy.deepcopy(model)
    chain = [wide.out_a, wide.out_b, wide.out_c]
    for k in range(2):
        first, second = chain[k], chain[k + 1]
        grown = -(-first.out_channels // multiple) * multiple
        extra = grown - first.out_channels
        if not extra:
            continue
        a, b = conv(first.in_channels, grown), conv(grown, second.out_channels)
        with torch.no_grad():
            a.weight.zero_(), a.bias.zero_(), b.weight.zero_()
            a.weight[:first.out_channels] = first.weight
            a.bias[:first.out_channels] = first.bias
            b.weight[:, :first.out_channels] = second.weight
            b.bias.copy_(second.bias)
        chain[k], chain[k + 1] = a, b
    wide.out_a, wide.out_b, wide.out_c = chain
    return wide.to(next(model.parameters()).device)
