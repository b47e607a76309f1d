"""The project's procedural scene families: seeded, named instances ready to render.

An instance is named ``family:index`` (``interior:17``); it is a pure function of the family
name and the index (the random generator is seeded from a SHA-256 of the family name and the
index, never from Python's salted ``hash``), so every machine of a render farm builds the
same scene. Each family has ``FAMILY_SIZE`` = 10,000 instances split by index:

    train       0 - 7999
    validation  8000 - 8999
    test        9000 - 9999

Specs (``parse_spec``) name many instances at once: ``interior:0-799,cornell:0-99,cornell:5``,
``interior:*`` (all of a family), ``interior:test`` (one family's split), ``train`` /
``validation`` / ``test`` (that split of every family); items ending in ``.xml`` are scene
files and pass through unchanged.
"""
from __future__ import annotations

import hashlib
import importlib
import re
from dataclasses import dataclass, field

import numpy as np

from mcdenoise.errors import UserError
from scenes import views

FAMILY_SIZE = 10_000
SPLITS: dict[str, range] = {
    "train": range(0, 8000),
    "validation": range(8000, 9000),
    "test": range(9000, 10000),
}

# name -> (module, one-line description); modules are imported on first use.
_FAMILIES: dict[str, tuple[str, str]] = {
    "interior": ("scenes.interior",
                 "furnished rooms lit by sun and sky through windows (and lamps at dusk or night)"),
    "hall": ("scenes.hall",
             "large open modern interiors: glazed facades, skylights, columns, glossy floors"),
    "cornell": ("scenes.cornell",
                "Cornell-style boxes: coloured walls, ceiling or hidden lights, mixed objects"),
    "objects": ("scenes.objects",
                "material-preview compositions on a ground plane under sky, studio or room HDR light"),
    "lights": ("scenes.lights",
               "Veach-style MIS/bidir tests: glossy plates, emitters of very different sizes, "
               "shaded lamps, caustics"),
    "detail": ("scenes.detail",
               "close-ups of fine texture detail: text, weaves, grids, bricks, perforated sheets"),
}


@dataclass(frozen=True)
class SceneDescription:
    """One renderable instance: ``scene`` is a Mitsuba 3 ``load_dict`` dict with numpy leaves
    (see renderers.mitsuba3.to_mitsuba); width x height is its default image size (pixels);
    ``info`` holds a few facts about the instance (variant, lighting) for logs and manifests."""

    name: str
    scene: dict
    width: int
    height: int
    info: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class FamilyInfo:
    name: str
    description: str
    count: int


class SceneNameError(UserError, ValueError):
    """A scene name or spec that does not name any instance; the message says why."""


def families() -> list[FamilyInfo]:
    """Every family with its one-line description and number of instances."""
    return [FamilyInfo(name, text, FAMILY_SIZE) for name, (_, text) in _FAMILIES.items()]


def family_names() -> list[str]:
    return list(_FAMILIES)


def family_seed(family: str) -> int:
    """A stable 64-bit integer for ``family`` (SHA-256, identical on every machine)."""
    return int.from_bytes(hashlib.sha256(family.encode("utf-8")).digest()[:8], "little")


def rng_for(family: str, index: int) -> np.random.Generator:
    """The random generator that builds ``family:index``."""
    return np.random.default_rng([family_seed(family), int(index)])


_NAME = re.compile(r"^\s*([a-z][a-z0-9_]*)\s*:\s*(\d+)\s*$")


def parse_name(name: str) -> tuple[str, int]:
    """(family, index) of an instance name; SceneNameError when it names none."""
    if not isinstance(name, str):
        raise SceneNameError(f"scene name must be a string like 'interior:17', got {name!r}")
    match = _NAME.match(name)
    if not match:
        family = name.split(":", 1)[0].strip()
        if family and family not in _FAMILIES:
            raise SceneNameError(f"unknown scene family {family!r} in {name!r}; "
                                 f"families: {', '.join(_FAMILIES)}")
        raise SceneNameError(f"bad scene name {name!r}: expected FAMILY:INDEX with INDEX in "
                             f"0-{FAMILY_SIZE - 1}, e.g. 'interior:17'")
    family, index = match.group(1), int(match.group(2))
    _check(family, index, name)
    return family, index


def _check(family: str, index: int, context: str) -> None:
    if family not in _FAMILIES:
        raise SceneNameError(f"unknown scene family {family!r} in {context!r}; "
                             f"families: {', '.join(_FAMILIES)}")
    if not 0 <= index < FAMILY_SIZE:
        raise SceneNameError(f"index {index} out of range in {context!r}: family {family!r} has "
                             f"instances 0-{FAMILY_SIZE - 1}")


def describe(name: str) -> SceneDescription:
    """Build the instance ``name`` ('family:index'). Deterministic; raises SceneNameError
    (a ValueError) for unknown families, malformed names and indices out of range."""
    family, index = parse_name(name)
    module = importlib.import_module(_FAMILIES[family][0])
    scene, width, height, info = module.generate(rng_for(family, index))
    return SceneDescription(f"{family}:{index}", scene, int(width), int(height), info)


def split_of(name: str) -> str:
    """'train', 'validation' or 'test' for an instance name."""
    _, index = parse_name(name)
    for split, indices in SPLITS.items():
        if index in indices:
            return split
    raise AssertionError("SPLITS must cover every index")  # pragma: no cover


def parse_spec(spec: str) -> list[str]:
    """Instance names (and scene-file paths) named by a comma-separated ``spec``.

    Items: ``family:N``, ``family:A-B`` (inclusive), ``family:*``, ``family:SPLIT``, ``SPLIT``
    (every family's indices of that split), or a path ending in ``.xml`` (kept as is; with a view suffix, scenes/views.py). Order
    follows the spec; an instance named twice is listed once. SceneNameError (a ValueError)
    names the first bad item.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise SceneNameError("empty scene spec: expected e.g. 'interior:0-799,cornell:0-99' or 'train'")
    out: dict[str, None] = {}
    for raw in spec.split(","):
        item = raw.strip()
        if not item:
            raise SceneNameError(f"empty item in scene spec {spec!r}")
        if views.is_scene_file(item):
            try:
                views.split_view(item)
            except ValueError as error:
                raise SceneNameError(str(error)) from None
            out[item] = None
            continue
        if item in SPLITS:
            for family in _FAMILIES:
                out.update((f"{family}:{i}", None) for i in SPLITS[item])
            continue
        if ":" not in item:
            if item in _FAMILIES:
                raise SceneNameError(f"{item!r} names a whole family: write '{item}:*' for all "
                                     f"{FAMILY_SIZE} instances or a range like '{item}:0-99'")
            raise SceneNameError(f"bad scene spec item {item!r}: expected FAMILY:INDEX, FAMILY:A-B, "
                                 f"FAMILY:*, a split ({', '.join(SPLITS)}) or a .xml file; "
                                 f"families: {', '.join(_FAMILIES)}")
        family, _, rest = (part.strip() for part in item.partition(":"))
        if family not in _FAMILIES:
            raise SceneNameError(f"unknown scene family {family!r} in {item!r}; "
                                 f"families: {', '.join(_FAMILIES)}")
        if rest == "*":
            indices: range = range(FAMILY_SIZE)
        elif rest in SPLITS:
            indices = SPLITS[rest]
        elif re.fullmatch(r"\d+", rest):
            _check(family, int(rest), item)
            indices = range(int(rest), int(rest) + 1)
        elif m := re.fullmatch(r"(\d+)\s*-\s*(\d+)", rest):
            a, b = int(m.group(1)), int(m.group(2))
            if a > b:
                raise SceneNameError(f"empty range {item!r}: start {a} is after end {b}")
            _check(family, a, item)
            _check(family, b, item)
            indices = range(a, b + 1)
        else:
            raise SceneNameError(f"bad index {rest!r} in {item!r}: expected N, A-B, * or a split "
                                 f"({', '.join(SPLITS)}), with indices in 0-{FAMILY_SIZE - 1}")
        out.update((f"{family}:{i}", None) for i in indices)
    return list(out)
