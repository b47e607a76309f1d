"""Atomic writes: the file is complete before its name appears, and the rename is made durable
by syncing the folder (without that, a power cut can lose a file the manifest calls done)."""
from __future__ import annotations

import os
import stat

import pytest

from mcdenoise.core.files import TMP_MARKER, atomic_path, write_text


def test_the_file_then_its_folder_are_synced(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync

    def fsync(fd):
        synced.append("folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    write_text(tmp_path / "sub" / "a.json", "{}\n")
    assert synced == ["file", "folder"]
    assert (tmp_path / "sub" / "a.json").read_text() == "{}\n"


def test_a_failed_writer_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temp:
            temp.write_text("half")
            raise RuntimeError("writer died")
    assert target.read_text() == "old"
    assert not [p for p in tmp_path.iterdir() if TMP_MARKER in p.name]
