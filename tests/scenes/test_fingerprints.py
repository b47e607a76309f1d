"""Scene descriptions are pinned: refactoring the scene family must not change an instance.

``tests/data/scene_fingerprints.json`` was written from the descriptions of a few instances
of every family: plain values as they are, arrays (textures, meshes) as dtype, shape, sum and
sum of squares, compared with a tolerance that absorbs the last-bit differences of numpy's
vectorised maths between CPUs.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import scenes

FINGERPRINTS = json.loads((Path(__file__).resolve().parents[1] / "data" /
                           "scene_fingerprints.json").read_text())


def fingerprint(value):
    if isinstance(value, dict):
        return {str(k): fingerprint(value[k]) for k in sorted(value)}
    if isinstance(value, (list, tuple)):
        return [fingerprint(v) for v in value]
    if isinstance(value, np.ndarray):
        a = value.astype(np.float64)
        return {"dtype": str(value.dtype), "shape": list(value.shape), "sum": float(a.sum()),
                "sumsq": float((a * a).sum())}
    if isinstance(value, (np.floating, float)):
        return float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value if isinstance(value, (int, str, bool, type(None))) else repr(value)


def assert_close(got, want, where="scene"):
    if isinstance(want, dict):
        assert isinstance(got, dict) and sorted(got) == sorted(want), f"{where}: keys differ"
        for key in want:
            assert_close(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{where}: lengths differ"
        for k, (g, w) in enumerate(zip(got, want)):
            assert_close(g, w, f"{where}[{k}]")
    elif isinstance(want, float):
        assert math.isclose(got, want, rel_tol=1e-7, abs_tol=1e-9), f"{where}: {got} != {want}"
    else:
        assert got == want, f"{where}: {got!r} != {want!r}"


@pytest.mark.parametrize("name", sorted(FINGERPRINTS))
def test_description_is_unchanged(name):
    description = scenes.describe(name)
    got = {"scene": fingerprint(description.scene), "size": [description.width, description.height]}
    assert_close(got, FINGERPRINTS[name], name)
