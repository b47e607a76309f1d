"""What a re-run may skip: the manifest's finished items, checked against their files.

A name in the manifest is not proof of a file: a disk that filled up, a copy cut short or a
hand that truncated ``noisy_0.exr`` leave a record saying "done" over a broken file. So every
finished item's file is checked before it is skipped: its size against the recorded one and
its EXR structure (core/exr.check_file: headers, offset tables, last chunks; no pixel decoded)
by default, its SHA-256 against the recorded one with ``--verify``. A file that fails is
removed and its item rendered again; the passes merged into a reference that fails are
rendered again with it.
"""
from __future__ import annotations

from pathlib import Path

from mcdenoise.core.exr import ExrError, check_file
from mcdenoise.core.files import TMP_MARKER
from mcdenoise.farm.layout import Record
from mcdenoise.farm.manifest import read_manifest, sha256_file


def file_problem(path: Path, record: Record, verify: bool) -> str | None:
    """Why the file of a finished ``record`` cannot be trusted, or None."""
    expected = record.details.get("bytes")
    size = path.stat().st_size
    if expected is not None and size != expected:
        return f"{size} bytes, the manifest recorded {expected}"
    try:
        check_file(path)
    except ExrError as error:
        return error.problem
    if verify and record.sha256 and sha256_file(path) != record.sha256:
        return "its SHA-256 differs from the manifest's"
    return None


def finished_items(root: Path, verify: bool = False) -> tuple[dict[str, Record], list[str]]:
    """Records of the items that are really finished (done, their file there and intact; a
    pass merged into such a reference), and what was wrong with the files that were not
    (each removed, so that its item is rendered again)."""
    records = {k: r for k, r in read_manifest(root).items() if r.done}
    broken: list[str] = []
    intact = set()
    for key, record in records.items():
        path = root / record.path
        if not path.is_file():
            continue
        problem = file_problem(path, record, verify)
        if problem is None:
            intact.add(key)
        else:
            broken.append(f"{record.path}: {problem}")
            path.unlink()
    merged = {(r.scene, index) for key, r in records.items()
              if r.kind == "reference" and key in intact for index in r.passes}
    return {k: r for k, r in records.items()
            if k in intact or (r.kind == "pass" and (r.scene, r.index) in merged)}, broken


def remove_temporaries(root: Path) -> int:
    """Delete files a killed worker left half-written (they never carry a final name)."""
    count = 0
    for path in root.rglob(f"*{TMP_MARKER}*"):
        if path.is_file():
            path.unlink(missing_ok=True)
            count += 1
    return count
