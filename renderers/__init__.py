"""Renderer backends behind one small interface; Mitsuba 3 is the default.

A backend turns a scene reference into a :class:`mcdenoise.core.frame.Frame`:

    render(scene, spp, seed, width=None, height=None, max_depth=None, aux=True,
           albedo="diffuse") -> Frame

``scene`` is a path to a scene file the backend can load, a name from the project's scene
family (``interior:17``) or a :class:`scenes.SceneDescription`. Every render uses a box pixel
filter (wider filters correlate the noise of neighbouring pixels, which defeats denoisers),
an explicit seed (same seed, same image; different seeds, independent noise) and, with
``aux``, albedo (of the kind ``albedo`` names: renderers/albedo.py) and normal buffers from
the same camera and film.
"""
from __future__ import annotations

from renderers.interface import Renderer, RenderError

__all__ = ["BACKENDS", "RenderError", "Renderer", "get_renderer"]


BACKENDS = ("mitsuba",)


def get_renderer(name: str = "mitsuba", **options) -> Renderer:
    """A renderer backend by name; options go to its constructor (e.g. ``variant=``)."""
    if name == "mitsuba":
        from renderers.mitsuba3 import MitsubaRenderer
        return MitsubaRenderer(**options)
    raise ValueError(f"unknown renderer {name!r}; available: {', '.join(BACKENDS)}")
