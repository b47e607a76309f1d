"""Views of a scene file like the frames of a shot: its camera moved a little.

Fine-tuning on a user's scene (`mcdenoise train --scenes shot.xml`) renders every training
pair from a camera perturbed around the scene's own, so the model learns the set rather than
one image, and the scene's own view stays unseen for benchmarking. A view is written into the
scene reference itself, so every part of the farm (item keys, seeds, folders, the manifest)
treats it as a scene of its own:

    shot.xml@orbit2.5_pan-1.2_tilt0.4_dolly0.03

Four moves, applied in this order to the camera's to_world matrix (columns: left, up,
forward, position, Mitsuba's convention), around a pivot on the view axis at ``distance``
(the distance to the scene's centre):

- orbit (degrees): the camera circles the pivot about its own up axis, still facing it
  (> 0: towards its right);
- pan, tilt (degrees): it then turns about its up and left axes, where it stands (pan > 0
  turns left, tilt > 0 looks up);
- dolly (fraction of ``distance``): it then moves along its new view axis, forward > 0.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

SEPARATOR = "@"
MOVES = ("orbit", "pan", "tilt", "dolly")
_VIEW = re.compile(r"^orbit(-?[\d.]+)_pan(-?[\d.]+)_tilt(-?[\d.]+)_dolly(-?[\d.]+)$")
# No drawn view is closer to the scene's own camera than this share of every range.
MIN_SHARE = 0.2


@dataclass(frozen=True)
class View:
    orbit: float = 0.0
    pan: float = 0.0
    tilt: float = 0.0
    dolly: float = 0.0

    def suffix(self) -> str:
        return (f"orbit{self.orbit:.2f}_pan{self.pan:.2f}_tilt{self.tilt:.2f}"
                f"_dolly{self.dolly:.3f}")


@dataclass(frozen=True)
class ViewRanges:
    """The largest move of each kind (degrees, degrees, degrees, fraction of the distance):
    a view draws each uniformly in [-range, range]."""
    orbit: float = 8.0
    pan: float = 3.0
    tilt: float = 2.0
    dolly: float = 0.08

    def __post_init__(self) -> None:
        for name in MOVES:
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"the {name} range must be a finite number >= 0, got {value}")
        if not any(getattr(self, name) for name in MOVES):
            raise ValueError("every view range is 0: the views would all be the scene's camera")


def with_view(path: str, view: View) -> str:
    """The scene reference of ``path`` seen from ``view``."""
    return f"{path}{SEPARATOR}{view.suffix()}"


def split_view(scene: str) -> tuple[str, View | None]:
    """'shot.xml@orbit..' -> ('shot.xml', View); 'shot.xml' -> ('shot.xml', None).
    ValueError for a malformed view."""
    path, separator, text = scene.rpartition(SEPARATOR)
    if not separator or not path.lower().endswith(".xml"):
        return scene, None
    match = _VIEW.match(text)
    if not match:
        raise ValueError(f"bad view {text!r} in {scene!r}: expected "
                         "orbitA_panB_tiltC_dollyD (degrees, and a fraction of the distance)")
    return path, View(*(float(g) for g in match.groups()))


def is_scene_file(scene: str) -> bool:
    """A reference to a scene file, seen from its own camera or from a view."""
    return split_view(scene)[0].lower().endswith(".xml")


def draw_views(seed: int, count: int, ranges: ViewRanges = ViewRanges()) -> list[View]:
    """``count`` views, each move uniform in its range, none within MIN_SHARE of every range
    of the scene's own camera (so the own view is never a training view). Deterministic."""
    rng = np.random.default_rng([0x51E5, seed])
    scale = np.array([getattr(ranges, name) for name in MOVES])
    views: list[View] = []
    while len(views) < count:
        share = rng.uniform(-1.0, 1.0, 4)
        if np.max(np.abs(share[scale > 0])) < MIN_SHARE:
            continue
        views.append(View(*(float(round(v, 3)) for v in share * scale)))
    return views


def _rotation(axis: np.ndarray, degrees: float) -> np.ndarray:
    """3x3 rotation by ``degrees`` about the unit ``axis`` (right-handed)."""
    a = math.radians(degrees)
    x, y, z = axis / np.linalg.norm(axis)
    k = np.array([[0, -z, y], [z, 0, -x], [-y, x, 0]])
    return np.eye(3) + math.sin(a) * k + (1 - math.cos(a)) * k @ k


def apply_view(to_world: np.ndarray, view: View, distance: float) -> np.ndarray:
    """The 4x4 camera-to-world matrix moved by ``view`` around the pivot ``distance`` ahead."""
    if not distance > 0:
        raise ValueError(f"the pivot distance must be positive, got {distance}")
    m = np.array(to_world, dtype=np.float64)
    up, forward, position = m[:3, 1], m[:3, 2], m[:3, 3]
    pivot = position + distance * forward / np.linalg.norm(forward)
    orbit = _rotation(up, view.orbit)
    basis = orbit @ m[:3, :3]  # up is unchanged by the orbit, left turns with it
    basis = _rotation(up, view.pan) @ _rotation(-basis[:, 0], view.tilt) @ basis
    position = pivot + orbit @ (position - pivot)
    position = position + view.dolly * distance * basis[:, 2] / np.linalg.norm(basis[:, 2])
    out = np.eye(4)
    out[:3, :3], out[:3, 3] = basis, position
    return out
