"""The renderer interface: what a backend is and the error it raises."""
from __future__ import annotations

from typing import Protocol

from mcdenoise.core.frame import Frame
from mcdenoise.errors import UserError


class RenderError(UserError, RuntimeError):
    """A scene could not be loaded or rendered; the message names the scene and the cause."""


class Renderer(Protocol):
    name: str

    def render(self, scene, spp: int, seed: int, width: int | None = None,
               height: int | None = None, max_depth: int | None = None,
               aux: bool = True, albedo: str = "diffuse") -> Frame: ...
