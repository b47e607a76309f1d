"""Writing files so that a reader never sees half of one, and choosing the torch device.

Every file the project writes that something else reads (EXRs, model files, checkpoints,
PNGs, JSON reports, cache arrays) goes through ``atomic_path``: the writer fills a temporary
file in the same folder, which is flushed to disk and renamed over the target only when the
writer finished, and deleted otherwise; the folder is then fsynced so the rename itself
survives a power cut. A crash or Ctrl-C leaves the old file or the new one, never a torn one. Temporary names carry ``TMP_MARKER`` so the farm can sweep the ones a
killed process left behind.
"""
from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

TMP_MARKER = ".tmp-"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffix, so writers that go by extension
    work); on success it is fsynced and renamed to ``path``, on any exception removed. The
    folder is created when missing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}{TMP_MARKER}{os.getpid()}-{uuid.uuid4().hex[:8]}{path.suffix}")
    try:
        yield temp
        with open(temp, "rb+") as handle:  # the data must be on disk before the rename is
            os.fsync(handle.fileno())
        os.replace(temp, path)
        sync_folder(path.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)


def sync_folder(folder: str | os.PathLike) -> None:
    """fsync a folder, making the renames and creations in it durable (a no-op where folders
    cannot be opened, as on Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a folder; the rename is then as durable as they allow
    finally:
        os.close(fd)


def write_text(path: str | os.PathLike, text: str) -> None:
    """``path.write_text(text)``, atomically."""
    with atomic_path(path) as temp:
        temp.write_text(text)


def choose_device(name: str = "auto") -> "torch.device":
    """'auto': CUDA when torch sees a device, else the CPU; 'cpu' / 'cuda' as asked
    (ConfigError for 'cuda' on a machine without one)."""
    import torch

    from mcdenoise.errors import ConfigError

    if name not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"--device must be auto, cpu or cuda, not {name!r}")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA device is available here (use --device cpu)")
    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")
