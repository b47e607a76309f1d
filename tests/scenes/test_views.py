"""Views of a scene file (scenes/views.py): the drawn moves, the camera maths, the references."""
from __future__ import annotations

import math

import numpy as np
import pytest

import scenes
from mcdenoise.farm.layout import scene_slug
from scenes.views import (MIN_SHARE, MOVES, View, ViewRanges, apply_view, draw_views,
                          split_view, with_view)


def look_from(position, forward, up=(0.0, 1.0, 0.0)) -> np.ndarray:
    """A Mitsuba-style to_world (columns left, up, forward, position)."""
    f = np.asarray(forward, float) / np.linalg.norm(forward)
    left = np.cross(up, f)
    left /= np.linalg.norm(left)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = left, np.cross(f, left), f, position
    return m


def test_drawn_views_stay_in_range_and_never_give_the_own_camera():
    ranges = ViewRanges(orbit=6.0, pan=2.0, tilt=1.0, dolly=0.05)
    views = draw_views(7, 200, ranges)
    assert views == draw_views(7, 200, ranges) and views != draw_views(8, 200, ranges)
    assert len(set(views)) == 200
    shares = np.array([[abs(getattr(v, m)) / getattr(ranges, m) for m in MOVES] for v in views])
    assert shares.max() <= 1.0 + 1e-9
    assert shares.max(axis=1).min() >= MIN_SHARE - 1e-3  # none near the scene's own camera
    assert shares.max(axis=0).min() > 0.8  # and the ranges are used
    only_orbit = draw_views(1, 20, ViewRanges(orbit=5.0, pan=0.0, tilt=0.0, dolly=0.0))
    assert all(v.pan == v.tilt == v.dolly == 0 and abs(v.orbit) >= MIN_SHARE * 5 for v in only_orbit)
    with pytest.raises(ValueError, match="every view range is 0"):
        ViewRanges(0.0, 0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="orbit"):
        ViewRanges(orbit=-1.0)


def test_moves_are_the_documented_ones():
    camera = look_from([0.0, 1.0, 5.0], [0.0, 0.0, -1.0])
    pivot = np.array([0.0, 1.0, 1.0])  # 4 ahead
    assert np.allclose(apply_view(camera, View(), 4.0), camera)
    orbit = apply_view(camera, View(orbit=10.0), 4.0)
    # Circles the pivot at the same distance, still facing it, the up axis unchanged.
    assert np.linalg.norm(orbit[:3, 3] - pivot) == pytest.approx(4.0)
    assert np.allclose(orbit[:3, 3] + 4.0 * orbit[:3, 2], pivot)
    assert np.allclose(orbit[:3, 1], camera[:3, 1])
    angle = math.degrees(math.acos(np.dot(orbit[:3, 2], camera[:3, 2])))
    assert angle == pytest.approx(10.0)
    pan = apply_view(camera, View(pan=3.0, tilt=2.0), 4.0)
    assert np.allclose(pan[:3, 3], camera[:3, 3])  # turns where it stands
    assert math.degrees(math.asin(pan[1, 2])) == pytest.approx(2.0)  # tilted up by 2 degrees
    dolly = apply_view(camera, View(dolly=0.1), 4.0)
    assert np.allclose(dolly[:3, 3], [0.0, 1.0, 4.6])
    for m in (orbit, pan, dolly, apply_view(camera, View(7, -2, 1.5, -0.05), 4.0)):
        assert np.allclose(m[:3, :3].T @ m[:3, :3], np.eye(3))  # still a rigid camera
        assert np.linalg.det(m[:3, :3]) == pytest.approx(np.linalg.det(camera[:3, :3]))


def test_a_view_is_part_of_the_scene_reference():
    view = View(2.5, -1.25, 0.4, 0.03)
    name = with_view("sets/shot010.xml", view)
    assert name == "sets/shot010.xml@orbit2.50_pan-1.25_tilt0.40_dolly0.030"
    assert split_view(name) == ("sets/shot010.xml", view)
    assert split_view("sets/shot010.xml") == ("sets/shot010.xml", None)
    assert split_view("interior:3") == ("interior:3", None)
    assert scenes.parse_spec(f"interior:3,{name}") == ["interior:3", name]
    with pytest.raises(ValueError, match="bad view"):
        scenes.parse_spec("sets/shot010.xml@left")
    other = with_view("sets/shot010.xml", View(2.5, -1.25, 0.4, 0.04))
    slugs = {scene_slug("sets/shot010.xml"), scene_slug(name), scene_slug(other)}
    assert len(slugs) == 3 and all(s.startswith("shot010-") for s in slugs)
