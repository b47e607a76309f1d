"""Temporary folders of requests: one root per server process, swept when its server is gone.

Each request's upload and answer live in a folder of its own under the server's root,
``<tmp>/mcdenoise-serve-XXXX/`` (a ``pid`` file inside names the server). A server killed
hard (OOM, SIGKILL) cannot clean up, so at start-up every root whose server no longer runs
is removed, as are per-request ``<tmp>/mcdenoise-XXXX`` folders of older versions that have
not been touched for a day.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

log = logging.getLogger("mcdenoise.service")

ROOT_PREFIX = "mcdenoise-serve-"
LEGACY_PREFIX = "mcdenoise-"
LEGACY_AGE_S = 24 * 3600
PID_FILE = "pid"


class WorkDirs:
    """Make, and finally remove, the request folders of one server process."""

    def __init__(self, parent: Path | None = None) -> None:
        self.parent = Path(parent or tempfile.gettempdir())
        self.root: Path | None = None

    def start(self) -> None:
        """Sweep what dead servers left and make this server's root (idempotent)."""
        if self.root is not None:
            return
        swept = sweep(self.parent)
        if swept:
            log.info("removed %d temporary folder(s) left by servers that no longer run", swept)
        self.root = Path(tempfile.mkdtemp(prefix=ROOT_PREFIX, dir=self.parent))
        (self.root / PID_FILE).write_text(str(os.getpid()))

    def new(self) -> Path:
        """A fresh, empty folder for one request."""
        self.start()
        return Path(tempfile.mkdtemp(prefix="request-", dir=self.root))

    def stop(self) -> None:
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None


def sweep(parent: Path, now: float | None = None) -> int:
    """Remove the roots of servers that no longer run, and stale per-request folders of older
    versions, in ``parent``; the number removed."""
    now = time.time() if now is None else now
    removed = 0
    for path in parent.glob(f"{LEGACY_PREFIX}*"):
        try:
            if not path.is_dir() or path.is_symlink():
                continue
            if path.name.startswith(ROOT_PREFIX):
                stale = not _alive(path / PID_FILE)
            else:
                stale = now - path.stat().st_mtime > LEGACY_AGE_S
        except OSError:
            continue
        if stale:
            shutil.rmtree(path, ignore_errors=True)
            removed += not path.exists()
    return removed


def _alive(pid_file: Path) -> bool:
    """True while the process named in ``pid_file`` runs (or the file is not written yet)."""
    try:
        pid = int(pid_file.read_text())
    except FileNotFoundError:
        # Written right after the root is made: a root without it is brand new, or was left by
        # a server that died in that instant. Only an old one is taken for dead.
        return time.time() - pid_file.parent.stat().st_mtime < 60
    except (OSError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True
