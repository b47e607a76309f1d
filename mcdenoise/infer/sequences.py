"""Which files a `denoise` run reads and writes: files, folders, frame sequences and ranges.

Inputs, expanded in the order given:
- a file: that file;
- a folder: its ``*.exr`` files (not recursive), sorted by name;
- a sequence pattern: ``shot/frame.####.exr``, ``shot/frame.%04d.exr`` or
  ``shot/frame.@@@@.exr`` (parsed by fileseq; each ``#`` or ``@`` is one digit, ``%04d`` four):
  without ``--frames``, every existing file whose frame number has at least that many digits,
  sorted by frame number; with ``--frames 1001-1100`` (``1001-1100x2``, ``1,5,9-12``: fileseq's
  frame-range syntax; ``1001-1100:2`` as OpenJD writes it), exactly those frames, and a frame
  whose file is missing fails alone.

Output: with one input file, ``-o`` may name the output ``.exr`` itself; ``-o`` may also be a
pattern (``denoised/shot.####.exr``), filled with each input's frame number; otherwise ``-o``
is a folder and every output keeps its input's file name. Two inputs with one output, or an
output that would replace its own input, are refused before anything is denoised; so is an
existing output, unless ``--overwrite`` (replace it) or ``--skip-existing`` (keep it when it is
a valid EXR, so that a retried farm task succeeds; a broken one is denoised again).

Albedo and normal given as separate files (``--albedo``, ``--normal``) are a file, used for
every frame, or a pattern filled with each frame's number.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import fileseq

from mcdenoise.errors import UserError


class DenoiseInputError(UserError, ValueError):
    """Inputs or outputs that cannot be used; the message names the path and the problem."""


@dataclass(frozen=True)
class Job:
    """One frame's work: read ``source`` (and the aux files), write ``target``.

    frame: the frame number (None for an input that is not part of a sequence).
    missing: why the input cannot be read at all (a frame of ``--frames`` without a file);
        the job then fails alone with that reason.
    skip: the output exists and is a valid EXR, and ``--skip-existing`` keeps it.
    """
    source: Path
    target: Path
    frame: int | None = None
    albedo: Path | None = None
    normal: Path | None = None
    missing: str | None = None
    skip: bool = False


def _sequence(path: Path) -> fileseq.FileSequence | None:
    """The fileseq sequence ``path`` names when its file name holds a frame pattern (``####``,
    ``%04d``, ``@@@@``, optionally with a range such as ``1001-1010####``), else None."""
    if path.exists():
        return None
    try:
        seq = fileseq.FileSequence(str(path), pad_style=fileseq.PAD_STYLE_HASH1)
    except fileseq.ParseException:
        return None
    return seq if seq.padding() else None


def parse_frames(spec: str | None) -> fileseq.FrameSet | None:
    """``--frames``: '1001-1100', '1001-1100x2', '1,5,9-12' -> a FrameSet (None: not given).
    ``1001-1100:2`` is every second frame too, as Open Job Description and Deadline write it
    (fileseq would read ``:`` as a staggered order of all the frames)."""
    if spec is None:
        return None
    try:
        frames = fileseq.FrameSet(spec.replace(":", "x"))
    except (fileseq.ParseException, ValueError) as error:
        raise DenoiseInputError(f"--frames {spec!r}: not a frame range such as 1001-1100, "
                                f"1001-1100x2 or 1,5,9-12 ({str(error).splitlines()[0]})") from None
    if not len(frames):
        raise DenoiseInputError(f"--frames {spec!r}: names no frame")
    return frames


def frame_number(path: Path) -> int | None:
    """The frame number in a file name such as ``shot.1001.exr`` (None when it has none)."""
    try:
        frames = fileseq.FileSequence(path.name).frameSet()
    except fileseq.ParseException:
        return None
    return int(frames[0]) if frames is not None and len(frames) == 1 else None


def expand_inputs(inputs: list[Path], frames: fileseq.FrameSet | None = None
                  ) -> list[tuple[Path, int | None, str | None]]:
    """Files, folders and sequences -> (file, frame number, why missing) in order (module
    docstring). With ``frames``, every input must be a sequence pattern."""
    found: list[tuple[Path, int | None, str | None]] = []
    for item in map(Path, inputs):
        seq = _sequence(item)
        if frames is not None and seq is None:
            raise DenoiseInputError(f"{item}: --frames needs a sequence pattern such as "
                                    "shot/frame.####.exr, not a file or folder")
        if seq is not None:
            wanted = frames if frames is not None else seq.frameSet()
            if wanted is not None:
                for number in wanted:
                    path = Path(seq.frame(number))
                    found.append((path, int(number), None if path.is_file() else
                                  f"frame {number}: {path} does not exist"))
                continue
            files = sequence_files(seq)
            if not files:
                raise DenoiseInputError(f"{item}: no file matches this sequence")
            found.extend((path, number, None) for number, path in files)
        elif item.is_dir():
            files = sorted(p for p in item.iterdir() if p.suffix.lower() == ".exr" and p.is_file())
            if not files:
                raise DenoiseInputError(f"{item}: the folder holds no .exr files")
            found.extend((path, frame_number(path), None) for path in files)
        elif item.is_file():
            found.append((item, frame_number(item), None))
        else:
            raise DenoiseInputError(f"{item}: no such file or folder")
    return found


def sequence_files(seq: fileseq.FileSequence) -> list[tuple[int, Path]]:
    """(frame, file) of the existing files of ``seq`` whose frame number has at least its
    padding's digits, sorted by frame number."""
    folder = Path(seq.dirname() or ".")
    matcher = re.compile(re.escape(seq.basename()) + rf"(\d{{{seq.zfill()},}})"
                         + re.escape(seq.extension()) + r"\Z")
    if not folder.is_dir():
        return []
    numbered = []
    for path in folder.iterdir():
        match = matcher.match(path.name)
        if match and path.is_file():
            numbered.append((int(match.group(1)), path))
    return sorted(numbered)


def _per_frame(pattern: Path | None, frame: int | None, what: str) -> Path | None:
    """A file for one frame from ``pattern``: the pattern filled with ``frame``, or the file."""
    if pattern is None:
        return None
    seq = _sequence(pattern)
    if seq is None:
        return pattern
    if frame is None:
        raise DenoiseInputError(f"{what} {pattern}: a pattern needs frame numbers, but an input "
                                "has none in its name")
    return Path(seq.frame(frame))


def plan(inputs: list[Path], output: Path, *, frames: str | None = None,
         overwrite: bool = False, skip_existing: bool = False, albedo: Path | None = None,
         normal: Path | None = None) -> list[Job]:
    """Every frame's Job (module docstring); DenoiseInputError for inputs or outputs that
    cannot be used, before anything is read or written."""
    from mcdenoise.core.exr import ExrError, check_file

    if overwrite and skip_existing:
        raise DenoiseInputError("--overwrite and --skip-existing contradict each other: "
                                "choose one")
    found = expand_inputs(inputs, parse_frames(frames))
    if not found:
        raise DenoiseInputError("no input files given")
    output = Path(output)
    out_seq = _sequence(output) if output.suffix.lower() == ".exr" else None
    single = len(found) == 1 and output.suffix.lower() == ".exr" and out_seq is None
    if output.suffix.lower() == ".exr" and not single and out_seq is None:
        raise DenoiseInputError(f"-o {output}: {len(found)} inputs need an output folder or "
                                "pattern (such as out/frame.####.exr), not a file name")
    if not single and out_seq is None and output.exists() and not output.is_dir():
        raise DenoiseInputError(f"-o {output}: exists and is not a folder")
    jobs, seen = [], {}
    for path, number, missing in found:
        if out_seq is not None:
            if number is None:
                raise DenoiseInputError(f"-o {output}: a pattern needs frame numbers, but "
                                        f"{path} has none in its name")
            target = Path(out_seq.frame(number))
        else:
            target = output if single else output / path.name
        if target in seen:
            raise DenoiseInputError(f"{seen[target]} and {path} would both be written to "
                                    f"{target}: denoise them into separate folders")
        seen[target] = path
        if target.resolve() == path.resolve():
            raise DenoiseInputError(f"{path}: the output would replace the input; choose "
                                    "another -o")
        skip = False
        if target.exists() and not overwrite:
            if not skip_existing:
                raise DenoiseInputError(f"{target} exists: pass --overwrite to replace it or "
                                        "--skip-existing to keep it")
            try:
                check_file(target)
                skip = True
            except ExrError:
                skip = False  # a broken output (a task killed by hand, a full disk): redo it
        jobs.append(Job(path, target, number, _per_frame(albedo, number, "--albedo"),
                        _per_frame(normal, number, "--normal"), missing, skip))
    return jobs
