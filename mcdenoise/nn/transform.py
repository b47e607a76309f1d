"""The one preprocessing path, shared by training and inference: frame -> network and back.

Network input, (C, H, W) float32, C = 3 (colour), 6 (+ albedo) or 9 (+ albedo + normal):

- colour: linear HDR, made finite (NaN -> 0, +Inf -> 65504, negatives -> 0), multiplied by
  the frame's exposure scale ``s``, then tonemapped with T(v) = (v / (1 + v))^(1/2.2), so
  the network sees values in [0, 1);
- albedo and normal: as stored (normals encoded in [0, 1] are recognised and mapped back to
  [-1, 1], ``signed_normals``), or zeros where the frame lacks them and the model was
  trained for that (``missing_aux``), made finite (NaN/Inf -> 0) and clipped to their ranges,
  albedo [0, 1] and normal [-1, 1] (as OIDN does): renderers' albedo estimates of glossy and
  transmissive surfaces exceed 1 here and there (up to 139 seen in our farm's data), and an
  input far outside the training range makes the network output explode.

Network output: the last conv gives z, (3, H, W); ``decode_output`` maps it to linear HDR in
exposure-scaled units, so the HDR frame is ``decode_output(z) / s``. The loss (L_HDR) compares
that linear HDR value with the target, linear HDR colour times the *input's* ``s`` (never
tonemapped: the paper's ablation found that collapses quality). The map from z ("output map"):

- "untonemap" (default): T^-1(z) = w / (1 - w), w = z^2.2, so the network predicts the
  tonemapped image and copying its tonemapped input is the identity; above V1 = 3 (about four
  stops over the key) T^-1 continues as an exponential of the same slope, so bright values
  have no ceiling and their gradients stay relative (T^-1 itself has a pole at z = 1), and
  below 0 a small slope keeps gradients alive. Measured on the quick preset's data (800 steps):
  31.96 dB against 28.05 dB for "linear" (benchmarks/results/train.md).
- "linear": z itself, the paper's linear last layer; it has to learn the steep inverse of the
  tonemap from scratch, which takes far longer than a short CPU run.
- "exp": exp(z); overshoots on bright pixels in short runs.

Exposure rule "auto": ``s = KEY / g`` where g is the geometric mean of the luminance of the
16x16-pixel block means of the input colour (blocks darker than 1e-6 ignored, like OIDN's
auto-exposure). Block means tame noise and fireflies; the geometric mean follows what most of
the image looks like. One model then sees every scene at about the same brightness, and
because ``s`` comes from the whole frame (not from a crop or a tile), tiles of one frame share
one scale. Rule "none": ``s = 1``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from mcdenoise.core.color import GAMMA

OUTPUT_MAPS = ("linear", "exp", "untonemap")
INPUT_SETS = {"color": ("color",), "albedo": ("color", "albedo"),
              "full": ("color", "albedo", "normal")}
EXPOSURE_RULES = ("auto", "none")
MISSING_AUX = ("error", "zeros")
KEY = 0.18
BLOCK = 16
MIN_BLOCK_LUMINANCE = 1e-6
SCALE_RANGE = (1e-6, 1e6)
HDR_MAX = 65504.0  # +Inf colour becomes the largest half value, a firefly rather than a NaN
LUMINANCE = np.array([0.2126, 0.7152, 0.0722], np.float32)  # Rec. 709 / sRGB primaries
PAD_MULTIPLE = 32


@dataclass(frozen=True)
class Transform:
    """What the network expects; stored in the model card so inference needs nothing else."""
    inputs: tuple[str, ...] = ("color", "albedo", "normal")
    exposure: str = "auto"
    key: float = KEY
    output: str = "linear"
    # What stands in for a missing albedo/normal buffer: "error" (the model never saw one
    # missing), or "zeros" (it was trained with aux buffers dropped to zeros now and then,
    # so it also denoises colour-only frames).
    missing_aux: str = "error"

    def __post_init__(self) -> None:
        if self.inputs not in INPUT_SETS.values():
            raise ValueError(f"inputs must be one of {list(INPUT_SETS.values())}, got {self.inputs}")
        if self.output not in OUTPUT_MAPS:
            raise ValueError(f"output map must be one of {OUTPUT_MAPS}, got {self.output!r}")
        if self.exposure not in EXPOSURE_RULES:
            raise ValueError(f"exposure rule must be one of {EXPOSURE_RULES}, got {self.exposure!r}")
        if self.missing_aux not in MISSING_AUX:
            raise ValueError(f"missing_aux must be one of {MISSING_AUX}, got {self.missing_aux!r}")

    @property
    def channels(self) -> int:
        return 3 * len(self.inputs)

    def to_dict(self) -> dict:
        return {
            "inputs": list(self.inputs),
            "exposure": self.exposure,
            "key": self.key,
            "exposure_statistic": f"geometric mean of the luminance of {BLOCK}x{BLOCK} block means "
                                  f"of the input colour (blocks < {MIN_BLOCK_LUMINANCE} ignored); "
                                  "s = key / statistic, clamped to [1e-6, 1e6]; 'none': s = 1",
            "tonemap": "colour only: T(v) = (v / (1 + v))^(1/2.2) of s * colour",
            "nonfinite": "colour NaN -> 0, +Inf -> 65504, negative -> 0; albedo/normal NaN/Inf -> 0",
            "ranges": "albedo clipped to [0, 1], normal to [-1, 1]",
            "output_map": self.output,
            "output": OUTPUT_MEANING[self.output] +
                      " of the network's raw output z is linear HDR times s (divide by s)",
            "pad": {"multiple": PAD_MULTIPLE, "mode": "reflect"},
            "missing_aux": self.missing_aux,
        }

    @classmethod
    def from_dict(cls, card: dict) -> "Transform":
        return cls(tuple(card["inputs"]), card.get("exposure", "auto"), float(card.get("key", KEY)),
                   card.get("output_map", "linear"), card.get("missing_aux", "error"))


def transform_for(inputs: str, exposure: str = "auto") -> Transform:
    """Transform for an ``--inputs`` name: 'color', 'albedo' or 'full'."""
    if inputs not in INPUT_SETS:
        raise ValueError(f"--inputs must be one of {', '.join(INPUT_SETS)}, not {inputs!r}")
    return Transform(INPUT_SETS[inputs], exposure)


def finite_color(color: np.ndarray) -> np.ndarray:
    """(H, W, 3) linear HDR -> finite and non-negative float32 (see the module docstring)."""
    color = np.nan_to_num(np.asarray(color, np.float32), nan=0.0, posinf=HDR_MAX, neginf=0.0)
    return np.maximum(color, 0.0)


def finite(values: np.ndarray) -> np.ndarray:
    """Albedo/normal/target: NaN and +-Inf -> 0, float32."""
    return np.nan_to_num(np.asarray(values, np.float32), nan=0.0, posinf=0.0, neginf=0.0)


def exposure_scale(color: np.ndarray, transform: Transform) -> float:
    """The scale s for a whole (H, W, 3) linear HDR input frame (module docstring)."""
    if transform.exposure == "none":
        return 1.0
    lum = finite_color(color) @ LUMINANCE
    h, w = lum.shape
    bh, bw = -(-h // BLOCK), -(-w // BLOCK)
    padded = np.full((bh * BLOCK, bw * BLOCK), np.nan, np.float32)
    padded[:h, :w] = lum
    blocks = np.nanmean(padded.reshape(bh, BLOCK, bw, BLOCK), axis=(1, 3))
    blocks = blocks[blocks > MIN_BLOCK_LUMINANCE]
    if blocks.size == 0:  # a black frame: nothing to normalise
        return 1.0
    geometric_mean = float(np.exp(np.mean(np.log(blocks.astype(np.float64)))))
    return float(np.clip(transform.key / geometric_mean, *SCALE_RANGE))


def tonemap_input(color: np.ndarray, scale: float) -> np.ndarray:
    """(H, W, 3) linear HDR -> (H, W, 3) T(s * colour) in [0, 1)."""
    v = finite_color(color) * np.float32(scale)
    return (v / (1.0 + v)) ** np.float32(1.0 / GAMMA)


def network_input(transform: Transform, color: np.ndarray, albedo: np.ndarray | None,
                  normal: np.ndarray | None, scale: float) -> np.ndarray:
    """Arrays of one image (or crop), (H, W, 3) each -> (C, H, W) float32 network input."""
    parts = [tonemap_input(color, scale)]
    for name, buffer, low in (("albedo", albedo, 0.0), ("normal", normal, -1.0)):
        if name in transform.inputs:
            if buffer is None and transform.missing_aux == "zeros":
                buffer = np.zeros_like(parts[0])
            elif buffer is None:
                raise ValueError(f"this model needs the {name} buffer, which the frame lacks or "
                                 "was told to ignore (--no-aux): render it, or use a model "
                                 "trained with --aux-dropout or a colour-only one")
            parts.append(np.clip(finite(buffer), low, 1.0))
    return np.ascontiguousarray(np.concatenate(parts, axis=-1).transpose(2, 0, 1))


def network_target(color: np.ndarray, scale: float) -> np.ndarray:
    """(H, W, 3) linear HDR target -> (3, H, W) linear HDR in the input's exposure units."""
    return np.ascontiguousarray((finite(color) * np.float32(scale)).transpose(2, 0, 1))


def signed_normals(normal: np.ndarray | None) -> np.ndarray | None:
    """(H, W, 3) normals stored in [-1, 1] or encoded as 0.5 n + 0.5 in [0, 1] -> [-1, 1].

    A buffer counts as encoded when nothing in it is negative and the decoded vectors 2v - 1
    are closer to unit length than the stored ones (a floor's (0, 1, 0) stays as it is, the
    encoded (0.5, 1, 0.5) becomes (0, 1, 0)). Zero vectors (background) are ignored.
    """
    if normal is None:
        return None
    values = finite(normal)
    if values.size == 0 or values.min() < -1e-3:
        return values
    length = np.linalg.norm(values, axis=-1)
    decoded = 2.0 * values - 1.0
    covered = length > 1e-6
    if not covered.any():
        return values
    stored_error = np.median(np.abs(length[covered] - 1.0))
    decoded_error = np.median(np.abs(np.linalg.norm(decoded[covered], axis=-1) - 1.0))
    return np.where(covered[..., None], decoded, 0.0).astype(np.float32) \
        if decoded_error < stored_error else values


def frame_input(transform: Transform, frame, use_aux: bool = True, *,
                scale: float | None = None) -> tuple[np.ndarray, float]:
    """A Frame -> ((C, H, W) network input, exposure scale s). ``use_aux=False`` ignores the
    frame's albedo and normal, as when they are missing. ``scale`` defaults to the frame's own
    exposure scale; a crop of a larger frame (training) passes the whole frame's instead."""
    if scale is None:
        scale = exposure_scale(frame.color, transform)
    albedo, normal = (frame.albedo, signed_normals(frame.normal)) if use_aux else (None, None)
    return network_input(transform, frame.color, albedo, normal, scale), scale


EXP_MAX = 11.0  # exp(11) ~ 6e4 times the exposure key: beyond any half-float radiance
# "untonemap": T^-1 up to V1 (about 4 stops above the key), then an exponential with the same
# slope (no saturation at z = 1), and a small slope below 0 (no dead zone).
V1 = 3.0
Z1 = (V1 / (1.0 + V1)) ** (1.0 / GAMMA)
K1 = (1.0 + V1) ** 2 * GAMMA * Z1 ** (GAMMA - 1.0) / V1
LEAK = 0.01
OUTPUT_MEANING = {
    "linear": "z",
    "exp": "exp(min(z, 11))",
    "untonemap": f"T^-1(clamp(z, 0, {Z1:.6f})) + {V1} (exp(min({K1:.6f} max(z - {Z1:.6f}, 0), "
                 f"{EXP_MAX})) - 1) "
                 f"+ {LEAK} min(z, 0), T^-1(u) = w / (1 - w), w = u^2.2",
}


def decode_output(transform: Transform, z: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) raw network output -> linear HDR in exposure-scaled units, float32."""
    z = z.float()
    if transform.output == "linear":
        return z
    if transform.output == "exp":
        return torch.exp(z.clamp(max=EXP_MAX))
    w = z.clamp(0.0, Z1).pow(GAMMA)
    return (w / (1.0 - w) + V1 * torch.expm1(K1 * (z - Z1).clamp(0.0, EXP_MAX / K1))
            + LEAK * z.clamp(max=0.0))


def output_to_hdr(output: np.ndarray | torch.Tensor, scale: float) -> np.ndarray:
    """(3, H, W) network output -> (H, W, 3) float32 linear HDR colour."""
    if isinstance(output, torch.Tensor):
        output = output.detach().float().cpu().numpy()
    return np.ascontiguousarray(output.transpose(1, 2, 0) / np.float32(scale), dtype=np.float32)


def pad_to_multiple(x: torch.Tensor, multiple: int = PAD_MULTIPLE) -> tuple[torch.Tensor, tuple[int, int]]:
    """(N, C, H, W) -> (N, C, H', W') with H', W' the next multiples, padded by reflection at
    the bottom/right; returns the original (H, W) to crop back. Reflection needs a pad smaller
    than the side, so very small images are reflected repeatedly."""
    h, w = x.shape[-2:]
    ph, pw = -h % multiple, -w % multiple
    while ph or pw:
        step_h, step_w = min(ph, x.shape[-2] - 1), min(pw, x.shape[-1] - 1)
        if step_h == 0 and step_w == 0:  # a 1-pixel side cannot reflect: repeat it
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
            break
        x = F.pad(x, (0, step_w, 0, step_h), mode="reflect")
        ph, pw = ph - step_h, pw - step_w
    return x, (h, w)
