"""The manifest on its own: typed records round-trip, the latest line wins, a torn line is
skipped and never swallows the next record."""
from __future__ import annotations

import json

import pytest

from mcdenoise.farm.layout import Item, Record
from mcdenoise.farm.manifest import MANIFEST, ManifestWriter, read_manifest


def record(key: str, status: str = "done", **values) -> Record:
    item = Item("interior:3", "noisy", int(key[-1]) if key[-1].isdigit() else 0, 64, 7)
    return Record.of(item, status, **values) if key == item.key else \
        Record.from_dict({**Record.of(item, status, **values).to_dict(), "key": key})


def test_records_round_trip_with_their_details(tmp_path):
    item = Item("interior:3", "reference", 0, 0, 0)
    merged = Record.of(item, "done", spp=8192, passes=[0, 1], sha256="ab", width=256,
                       renderer="mitsuba")
    assert merged.spp == 8192 and merged.passes == (0, 1) and merged.details["width"] == 256
    with ManifestWriter(tmp_path) as manifest:
        manifest.append(merged)
    line = json.loads((tmp_path / MANIFEST).read_text())
    # The file keeps the flat JSON layout: every key at the top, a time stamp added.
    assert {"key", "scene", "kind", "index", "seed", "spp", "path", "status", "sha256",
            "passes", "width", "renderer", "time"} <= set(line)
    assert line["path"] == "scenes/interior-3/reference.exr"
    back = read_manifest(tmp_path)[item.key]
    assert back == merged and back.details["renderer"] == "mitsuba"
    failed = Record.of(Item("x.xml", "noisy", 1, 64, 5), "failed", error="no such file")
    assert not failed.done and "sha256" not in failed.to_dict()


def test_the_latest_line_for_a_key_wins(tmp_path):
    with ManifestWriter(tmp_path) as manifest:
        manifest.append(record("interior:3|noisy|0", "failed", error="crash"))
        manifest.append(record("interior:3|noisy|0", "done", sha256="cd"))
    records = read_manifest(tmp_path)
    assert list(records) == ["interior:3|noisy|0"] and records["interior:3|noisy|0"].done


def test_a_torn_line_is_skipped_and_terminated(tmp_path):
    with ManifestWriter(tmp_path) as manifest:
        manifest.append(record("a"))
    with open(tmp_path / MANIFEST, "a") as handle:
        handle.write('{"key": "b", "sta')  # killed mid-write
    with pytest.warns(UserWarning, match="unreadable"):
        assert set(read_manifest(tmp_path)) == {"a"}
    with ManifestWriter(tmp_path) as manifest:
        manifest.append(record("c"))
    with pytest.warns(UserWarning):
        assert set(read_manifest(tmp_path)) == {"a", "c"}
    assert read_manifest(tmp_path / "nothing") == {}
