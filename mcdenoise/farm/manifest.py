"""The dataset manifest: an append-only JSONL log of every render item's outcome.

One line per finished item (done or failed): item key, scene, kind, index, seed, spp, the
file's relative path and SHA-256, renderer and version, timings. Only the farm's driver writes
it, one whole line at a time with fsync, so a crash or Ctrl-C can at worst leave a torn last
line, which readers skip and writers terminate before appending. The latest line for a key wins.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
from pathlib import Path

from mcdenoise.farm.layout import Record

MANIFEST = "manifest.jsonl"


def read_manifest(root: str | os.PathLike) -> dict[str, Record]:
    """Latest record per item key; torn or corrupt lines are skipped with a warning."""
    path = Path(root) / MANIFEST
    records: dict[str, Record] = {}
    if not path.exists():
        return records
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = Record.from_dict(json.loads(line))
                records[record.key] = record
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
                warnings.warn(f"{path}:{number}: skipping an unreadable manifest line")
    return records


class ManifestWriter:
    """Appends records to ``root/manifest.jsonl``, each one durable before append returns."""

    def __init__(self, root: str | os.PathLike):
        self.path = Path(root) / MANIFEST
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(self.path, "a+b")
        # A torn last line (killed mid-write) must not swallow the next record.
        self._handle.seek(0, os.SEEK_END)
        if self._handle.tell() > 0:
            self._handle.seek(-1, os.SEEK_END)
            if self._handle.read(1) != b"\n":
                self._handle.write(b"\n")

    def append(self, record: Record) -> None:
        record = {**record.to_dict(), "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        self._handle.write((json.dumps(record, sort_keys=True) + "\n").encode())
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> "ManifestWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
