"""Intel Open Image Denoise, the baseline artists use today, through `pyoidn` (optional extra).

Renders are HDR: OIDN's default (``hdr=False``) clamps colour to [0, 1], which ruins any
comparison, so HDR is always on here. Two ways of using it, both rows of `bench mc`:

- default aux: noisy albedo and normal passed as they are (OIDN then treats them as noisy);
- prefiltered aux, as OIDN's documentation recommends for noisy aux buffers: albedo and
  normal are each denoised first by an RT filter that has only that buffer as input, then
  the colour is denoised with them and ``cleanAux`` on, which selects OIDN's models for
  clean features (the stronger of the two rows on our scenes; the bar to beat).
"""
from __future__ import annotations

import numpy as np

from mcdenoise.core.frame import Frame

QUALITIES = ("fast", "balanced", "high")
_device = None  # one OIDN CPU device per process, created on first use (it is slow to create)


def available() -> bool:
    try:
        import pyoidn  # noqa: F401
    except ImportError:
        return False
    return True


def _inputs(frame: Frame) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(colour, albedo, normal) as OIDN expects them: contiguous float32; colour finite and
    non-negative, albedo clamped to [0, 1], normals to [-1, 1]."""
    def contiguous(a):
        return None if a is None else np.ascontiguousarray(a, dtype=np.float32)

    color = np.maximum(np.nan_to_num(frame.color, nan=0.0, posinf=0.0, neginf=0.0), 0.0)
    albedo = None if frame.albedo is None else np.clip(np.nan_to_num(frame.albedo), 0.0, 1.0)
    normal = None if frame.normal is None else np.clip(np.nan_to_num(frame.normal), -1.0, 1.0)
    return contiguous(color), contiguous(albedo), contiguous(normal)


def prefilter(name: str, image: np.ndarray, quality: str = "high") -> np.ndarray:
    """One aux buffer ((H, W, 3) float32; ``name`` "albedo" or "normal") denoised by an RT
    filter with only that buffer as input, as OIDN's documentation describes."""
    import pyoidn

    global _device
    if _device is None:
        _device = pyoidn.Device()
        _device.commit()
    out = np.empty_like(image)
    levels = {"fast": pyoidn.OIDN_QUALITY_FAST, "balanced": pyoidn.OIDN_QUALITY_BALANCED,
              "high": pyoidn.OIDN_QUALITY_HIGH}
    with pyoidn.Filter(_device, pyoidn.OIDN_FILTER_TYPE_RT) as flt:
        flt.set_image(name, image, pyoidn.OIDN_FORMAT_FLOAT3)
        flt.set_image(pyoidn.OIDN_IMAGE_OUTPUT, out, pyoidn.OIDN_FORMAT_FLOAT3)
        flt.set_quality(levels[quality])
        flt.commit()
        flt.execute()
    error = _device.get_error()
    if error:
        raise RuntimeError(f"OIDN {name} prefilter failed: {error}")
    return out


def oidn_denoise(frame: Frame, quality: str = "high", use_aux: bool = True,
                 prefilter_aux: bool = False) -> Frame:
    """Denoise ``frame`` with OIDN's RT filter; colour (H, W, 3) linear HDR in and out.

    ``prefilter_aux``: denoise albedo and normal first and pass them as clean (``cleanAux``),
    the configuration OIDN recommends for noisy aux buffers (module docstring).
    """
    import pyoidn

    if quality not in QUALITIES:
        raise ValueError(f"OIDN quality must be one of {QUALITIES}, got {quality!r}")
    color, albedo, normal = _inputs(frame)
    kwargs = {}
    if use_aux and albedo is not None:
        kwargs["albedo"] = prefilter("albedo", albedo, quality) if prefilter_aux else albedo
        if normal is not None:
            kwargs["normal"] = prefilter("normal", normal, quality) if prefilter_aux else normal
    clean = prefilter_aux and bool(kwargs)
    output = pyoidn.denoise(color, hdr=True, quality=quality, clean_aux=clean, **kwargs)
    label = f"oidn-{quality}" + ("+aux" if kwargs else "") + ("-prefiltered" if clean else "")
    metadata = {**frame.metadata, "denoiser": label}
    return frame.replace(color=np.asarray(output, dtype=np.float32), metadata=metadata)
