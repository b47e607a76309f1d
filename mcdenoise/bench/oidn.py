"""Intel Open Image Denoise, the baseline artists use today, through `pyoidn` (optional extra).

Renders are HDR: OIDN's default (``hdr=False``) clamps colour to [0, 1], which ruins any
comparison, so HDR is always on here. Albedo and normals are passed when the frame has them.
"""
from __future__ import annotations

import numpy as np

from mcdenoise.core.frame import Frame

QUALITIES = ("fast", "balanced", "high")


def available() -> bool:
    try:
        import pyoidn  # noqa: F401
    except ImportError:
        return False
    return True


def oidn_denoise(frame: Frame, quality: str = "high", use_aux: bool = True) -> Frame:
    """Denoise ``frame`` with OIDN's RT filter; colour (H, W, 3) linear HDR in and out.

    Non-finite colour is zeroed and negative colour clamped first (OIDN expects both);
    albedo is clamped to [0, 1] and normals to [-1, 1], as OIDN's documentation asks.
    """
    import pyoidn

    if quality not in QUALITIES:
        raise ValueError(f"OIDN quality must be one of {QUALITIES}, got {quality!r}")
    color = np.maximum(np.nan_to_num(frame.color, nan=0.0, posinf=0.0, neginf=0.0), 0.0)
    kwargs = {}
    if use_aux and frame.albedo is not None:
        kwargs["albedo"] = np.clip(np.nan_to_num(frame.albedo), 0.0, 1.0)
        if frame.normal is not None:
            kwargs["normal"] = np.clip(np.nan_to_num(frame.normal), -1.0, 1.0)
    output = pyoidn.denoise(np.ascontiguousarray(color, dtype=np.float32), hdr=True,
                            quality=quality, **{k: np.ascontiguousarray(v, dtype=np.float32)
                                                for k, v in kwargs.items()})
    metadata = {**frame.metadata, "denoiser": f"oidn-{quality}" + ("+aux" if kwargs else "")}
    return frame.replace(color=np.asarray(output, dtype=np.float32), metadata=metadata)
