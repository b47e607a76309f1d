"""One driver per dataset directory: an exclusive lock on ``DIR/.farm.lock``.

Two drivers on one DIR would sweep each other's temporary files, delete each other's unmerged
passes and merge references last-writer-wins. So a driver holds an advisory ``flock`` on the
lock file for as long as it runs; a second driver finds it held and refuses, naming the first
(its pid, host, start time and command are written into the file). The kernel drops the lock
when the holder exits however it ends (kill -9 included), so a stale lock file never blocks a
later run. On NFS, Linux maps ``flock`` to NFS byte-range locks, which are cluster-wide.
"""
from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path

from mcdenoise.errors import ConfigError

LOCK_FILE = ".farm.lock"


class DatasetLocked(ConfigError):
    """Another driver holds DIR's lock."""


class DirLock:
    """``with DirLock(root):`` holds ``root``'s farm lock or raises DatasetLocked."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.path = Path(root) / LOCK_FILE
        self._fd: int | None = None

    def __enter__(self) -> "DirLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise DatasetLocked(
                f"{self.path.parent} is being rendered by another driver ({holder}); wait for "
                "it to finish or render into another directory") from None
        # Who holds it, for the message the next driver gives (the lock itself is the flock).
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                 "command": " ".join(sys.argv)[:500]}).encode())
        os.fsync(fd)
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None


def _read_holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        holder = json.loads(os.read(fd, 4096).decode() or "{}")
        return (f"pid {holder['pid']} on {holder['host']} since {holder['since']}: "
                f"{holder['command']}")
    except (OSError, ValueError, KeyError):
        return "its details could not be read"
