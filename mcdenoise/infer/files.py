"""`mcdenoise denoise IN... -o OUT`: denoise EXR files, folders and frame sequences.

Inputs, expanded in the order given:
- a file: that file;
- a folder: its ``*.exr`` files (not recursive), sorted by name;
- a sequence pattern, ``shot/frame.####.exr``: every existing file where the run of ``#``
  stands for a frame number of at least that many digits, sorted by frame number.

Output: with one input file, ``-o`` may name the output ``.exr`` itself; otherwise ``-o`` is a
folder and every output keeps its input's file name. Two inputs with the same name, or an
output that would replace its own input, are refused before anything is denoised.

Each output keeps every layer and header attribute of its input (only the colour changes),
in the input's precision and (lossless) compression, and is written atomically. A frame that
fails (a bad EXR, a missing buffer) is reported with its reason; the others go on, and the
command exits 1. Many frames can be spread over Ray workers (``--workers N``), each loading
the model once.
"""
from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from mcdenoise.errors import ConfigError, UserError
from mcdenoise.flags import add_command, flag
from mcdenoise.infer import OVERLAP, TILE

SEQUENCE = re.compile(r"#+")
# What to do with NaN/Inf pixels; the service's nonfinite option takes the same words.
NONFINITE = ("repair", "refuse")


@dataclass
class DenoiseConfig:
    """`mcdenoise denoise`: flags map 1:1 onto these fields."""
    inputs: list[Path] = flag(positional=True, metavar="IN", default_factory=list,
                              help="EXR file, folder of EXRs, or sequence such as shot/frame.####.exr")
    output: Path = flag(Path("denoised"), short="-o", metavar="OUT", required=True,
                        help="output EXR (one input) or folder (outputs keep the input names)")
    model: Path | None = flag(None, metavar="M",
                              help="model file from 'mcdenoise train' (default: the shipped model)")
    no_aux: bool = flag(False, help="ignore albedo and normal layers, denoise from the colour alone")
    device: str = flag("auto", choices=("auto", "cpu", "cuda"), help="auto: CUDA when available")
    precision: str = flag("auto", choices=("auto", "half", "float"),
                          help="pixel type of the output's colour; auto: as the input's "
                               "(every other layer keeps its own type)")
    nonfinite: str = flag("repair", choices=NONFINITE,
                          help="NaN/Inf in colour, albedo or normal: repair (NaN -> 0, Inf -> "
                               "65504, with a warning that counts them; default) or refuse the "
                               "frame")
    tile: int = flag(TILE, help="largest tile side in pixels; bounds memory")
    overlap: int = flag(OVERLAP, help="overlap of neighbouring tiles in pixels")
    workers: int = flag(0, help="spread frames over N Ray workers (default 0: in this process)")
    address: str | None = flag(None, help="Ray cluster to join with --workers (default: a local one)")
    overwrite: bool = flag(False, help="replace existing outputs")


class DenoiseInputError(UserError, ValueError):
    """Inputs or outputs that cannot be used; the message names the path and the problem."""


def expand_inputs(inputs: list[Path]) -> list[Path]:
    """Files, folders and ``####`` sequences -> the EXR files they name, in order."""
    found: list[Path] = []
    for item in map(Path, inputs):
        if SEQUENCE.search(item.name):
            frames = sequence_files(item)
            if not frames:
                raise DenoiseInputError(f"{item}: no file matches this sequence")
            found.extend(frames)
        elif item.is_dir():
            files = sorted(p for p in item.iterdir() if p.suffix.lower() == ".exr" and p.is_file())
            if not files:
                raise DenoiseInputError(f"{item}: the folder holds no .exr files")
            found.extend(files)
        elif item.is_file():
            found.append(item)
        else:
            raise DenoiseInputError(f"{item}: no such file or folder")
    return found


def sequence_files(pattern: Path) -> list[Path]:
    """Files matching ``name.####.exr`` (# = a digit; at least as many digits as #s), sorted
    by frame number."""
    runs = list(SEQUENCE.finditer(pattern.name))
    run = runs[-1]  # the frame number is the last run of #s
    prefix, suffix = pattern.name[:run.start()], pattern.name[run.end():]
    matcher = re.compile(re.escape(prefix) + rf"(\d{{{len(run.group())},}})" + re.escape(suffix)
                         + r"\Z")
    folder = pattern.parent
    if not folder.is_dir():
        return []
    numbered = []
    for path in folder.iterdir():
        match = matcher.match(path.name)
        if match and path.is_file():
            numbered.append((int(match.group(1)), path))
    return [path for _, path in sorted(numbered)]


def plan_outputs(files: list[Path], output: Path, overwrite: bool = False) -> list[tuple[Path, Path]]:
    """(input, output) pairs (module docstring); DenoiseInputError for clashes."""
    if not files:
        raise DenoiseInputError("no input files given")
    single = len(files) == 1 and output.suffix.lower() == ".exr"
    if output.suffix.lower() == ".exr" and not single:
        raise DenoiseInputError(f"-o {output}: {len(files)} inputs need an output folder, "
                                "not a file name")
    if not single and output.exists() and not output.is_dir():
        raise DenoiseInputError(f"-o {output}: exists and is not a folder")
    pairs, seen = [], {}
    for path in files:
        target = output if single else output / path.name
        if target.name in seen and not single:
            raise DenoiseInputError(f"{seen[target.name]} and {path} would both be written to "
                                    f"{target}: denoise them into separate folders")
        seen[target.name] = path
        if target.resolve() == path.resolve():
            raise DenoiseInputError(f"{path}: the output would replace the input; choose "
                                    "another -o")
        if target.exists() and not overwrite:
            raise DenoiseInputError(f"{target} exists: pass --overwrite to replace it")
        pairs.append((path, target))
    return pairs


def denoise_file(denoiser: Any, source: Path, target: Path, config: DenoiseConfig) -> dict[str, Any]:
    """Read, denoise and write one frame; returns its timing. Raises ExrError/ValueError."""
    import warnings

    import numpy as np

    from mcdenoise.core.exr import output_format, read_frame, read_header, write_frame
    from mcdenoise.infer.denoise import denoise

    began = time.perf_counter()
    header = read_header(source)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = read_frame(source)
    # read_frame's warning counts NaN/Inf in every role; say instead what happens to them.
    notes = [str(w.message) for w in caught if "non-finite" not in str(w.message)]
    counts = frame.metadata.get("nonfinite", {})
    bad = {role: n for role, n in counts.items() if role in ("color", "albedo", "normal")}
    if bad and config.nonfinite == "refuse":
        raise ValueError(f"non-finite (NaN/Inf) pixel values ({nonfinite_counts(bad)}); "
                         "--nonfinite repair denoises it anyway")
    if bad:
        notes.append(f"non-finite (NaN/Inf) values repaired ({nonfinite_counts(bad)}: NaN -> "
                     "0, Inf -> 65504)")
    if kept := {role: n for role, n in counts.items() if role not in bad}:
        notes.append(f"non-finite values passed through as they were ({nonfinite_counts(kept)})")
    negative = int(np.count_nonzero(frame.color < 0))
    if negative:
        notes.append(f"{negative} negative colour values clamped to 0")
    read_s = time.perf_counter() - began
    result = denoise(denoiser, frame, tile=config.tile, overlap=config.overlap,
                     use_aux=not config.no_aux)
    denoise_s = time.perf_counter() - began - read_s
    precision, compression = output_format(header, frame.names("color"))
    write_frame(result, target, precision=precision if config.precision == "auto" else config.precision,
                compression=compression)
    return {"input": str(source), "output": str(target), "width": frame.width,
            "height": frame.height, "read_s": round(read_s, 3), "denoise_s": round(denoise_s, 3),
            "total_s": round(time.perf_counter() - began, 3), "notes": notes,
            "aux": [r for r in ("albedo", "normal") if getattr(frame, r) is not None
                    and not config.no_aux]}


def nonfinite_counts(counts: dict[str, int]) -> str:
    """{"color": 3, "normal": 1} -> 'color 3, normal 1'."""
    return ", ".join(f"{role} {n}" for role, n in counts.items())


def _denoise_all(denoiser: Any, pairs: list[tuple[Path, Path]], config: DenoiseConfig,
                 report: Callable[[dict[str, Any]], None]) -> None:
    from mcdenoise.core.exr import ExrError

    for source, target in pairs:
        try:
            report(denoise_file(denoiser, source, target, config))
        except (ExrError, ValueError, OSError) as error:
            report({"input": str(source), "output": str(target), "error": str(error)})


def _load(config: DenoiseConfig) -> Any:
    from mcdenoise.infer.denoise import load_denoiser
    from mcdenoise.nn.modelfile import default_model_path

    device = None if config.device == "auto" else config.device
    return load_denoiser(config.model if config.model else default_model_path(), device)


def run_denoise(config: DenoiseConfig) -> int:
    """The command: 0 when every frame was denoised, 1 when any failed, 2 for bad arguments."""
    from mcdenoise.core.files import choose_device

    if config.precision not in ("auto", "half", "float"):
        raise ConfigError(f"--precision must be auto, half or float, not {config.precision!r}")
    if config.nonfinite not in NONFINITE:
        raise ConfigError(f"--nonfinite must be repair or refuse, not {config.nonfinite!r}")
    choose_device(config.device)  # ConfigError for --device cuda without a device
    pairs = plan_outputs(expand_inputs(config.inputs), Path(config.output), config.overwrite)
    from tqdm import tqdm

    failures: list[dict[str, Any]] = []
    bar = tqdm(total=len(pairs), unit="frame", desc="denoise", disable=None, dynamic_ncols=True)

    def report(row: dict[str, Any]) -> None:
        if "error" in row:
            failures.append(row)
            bar.write(f"FAILED {row['input']}: {row['error']}")
        else:
            for note in row["notes"]:
                bar.write(f"warning: {row['input']}: {note}")
            bar.write(f"{row['input']} -> {row['output']} ({row['width']}x{row['height']}, "
                      f"aux: {'+'.join(row['aux']) or 'none'}, {row['denoise_s']:.2f} s)")
        bar.update(1)

    began = time.perf_counter()
    try:
        if config.workers > 0:
            _denoise_on_ray(pairs, config, report)
        else:
            _denoise_all(_load(config), pairs, config, report)
    finally:
        bar.close()
    done = len(pairs) - len(failures)
    print(f"{done} denoised, {len(failures)} failed ({time.perf_counter() - began:.1f} s)")
    return 1 if failures else 0


def _denoise_on_ray(pairs: list[tuple[Path, Path]], config: DenoiseConfig,
                    report: Callable[[dict[str, Any]], None]) -> None:
    """Spread the frames over ``config.workers`` Ray actors, each holding the model once."""
    import ray

    from mcdenoise.farm.driver import start_ray

    _load(config)  # fail here, before starting Ray, when the model cannot be loaded
    start_ray(config.address, None)
    gpus = 1 if config.device in ("auto", "cuda") and ray.cluster_resources().get("GPU", 0) else 0

    @ray.remote(num_cpus=1, num_gpus=gpus)
    class Worker:
        def __init__(self, worker_config: DenoiseConfig):
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            import torch

            torch.set_num_threads(1)
            self.config = worker_config
            self.denoiser = _load(worker_config)

        def run(self, chunk: list[tuple[str, str]]) -> list[dict[str, Any]]:
            rows: list[dict[str, Any]] = []
            _denoise_all(self.denoiser, [(Path(a), Path(b)) for a, b in chunk], self.config,
                         rows.append)
            return rows

    workers = [Worker.remote(config) for _ in range(min(config.workers, len(pairs)))]
    # One frame per call keeps the workers evenly busy; results come back as they finish.
    pending = {}
    queue = [(str(a), str(b)) for a, b in pairs]
    for worker in workers:
        if queue:
            pending[worker.run.remote([queue.pop(0)])] = worker
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        worker = pending.pop(ready[0])
        for row in ray.get(ready[0]):
            report(row)
        if queue:
            pending[worker.run.remote([queue.pop(0)])] = worker


def register(commands) -> None:
    add_command(
        commands, "denoise", DenoiseConfig, run_denoise,
        help="denoise EXR files, folders and frame sequences",
        description="Denoise EXR frames. Every layer and header attribute is kept; only the "
                    "colour changes. Albedo and normal layers are used when the file has them. "
                    "Large frames are denoised in overlapping tiles at bounded memory.")
