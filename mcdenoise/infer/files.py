"""`mcdenoise denoise IN... -o OUT`: denoise EXR files, folders and frame sequences.

Which files are read and written (files, folders, ``####`` / ``%04d`` / ``@`` sequences,
``--frames`` ranges, output patterns, ``--skip-existing``) is sequences.py's concern; which
layers are denoised with which albedo and normal (``--layers``, ``--albedo-layer``,
``--albedo FILE``...) is layers.py's. This module runs the frames and reports on them.

Each output keeps every layer and header attribute of its input (only the denoised layers
change), in the input's precision and (lossless) compression, and is written atomically: a
crash, a kill or Ctrl-C never leaves half a file. A frame that fails (a bad EXR, a missing
buffer or input) is reported with its reason and the others go on. Progress is a bar on a
terminal and plain lines (frame k of n, elapsed, ETA) in a farm log; ``--report`` writes one
JSON record per frame, rewritten after each. Many frames can be spread over Ray workers
(``--workers N``), each loading the model once.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from mcdenoise.errors import ConfigError, interrupt_exit_code
from mcdenoise.flags import add_command, command_line, flag
from mcdenoise.infer import (ENGINE_HELP, ENGINES, ENSEMBLE_HELP, ENSEMBLE_SIZES, OVERLAP, TILE,
                             TILE_OPENVINO, ensemble_problem)
from mcdenoise.infer.layers import BEAUTY, AuxSource, parse_layers
from mcdenoise.infer.sequences import DenoiseInputError, Job, parse_frames, plan

__all__ = ["DenoiseConfig", "DenoiseInputError", "run_denoise", "NONFINITE", "nonfinite_counts"]

# What to do with NaN/Inf pixels; the service's nonfinite option takes the same words.
NONFINITE = ("repair", "refuse")
# Exit codes, as the farm managers read them (--help and the README list them).
EXIT_DONE, EXIT_FAILED, EXIT_BAD_ARGUMENTS, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143
EXIT_CODES = f"""exit codes:
  {EXIT_DONE}    every frame denoised (or kept by --skip-existing)
  {EXIT_FAILED}    some frames failed; each is named on its own line (and in --report)
  {EXIT_BAD_ARGUMENTS}    bad arguments or inputs; nothing was denoised
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C, SIGINT): frames already written are whole, none is half-written
  {EXIT_TERMINATED}  stopped by SIGTERM (a farm manager cancelling the task): the same
"""


@dataclass
class DenoiseConfig:
    """`mcdenoise denoise`: flags map 1:1 onto these fields."""
    inputs: list[Path] = flag(positional=True, metavar="IN", default_factory=list,
                              help="EXR file, folder of EXRs, or sequence such as "
                                   "shot/frame.####.exr, shot/frame.%%04d.exr or frame.@@@@.exr")
    output: Path = flag(Path("denoised"), short="-o", metavar="OUT", required=True,
                        help="output EXR (one input), pattern (out/frame.####.exr) or folder "
                             "(outputs keep the input names)")
    frames: str | None = flag(None, metavar="RANGE",
                              help="frames of the sequence pattern(s) to denoise: 1001-1100, "
                                   "1001-1100x2 (every 2nd), 1,5,9-12; a missing one fails alone")
    model: Path | None = flag(None, metavar="M",
                              help="model file from 'mcdenoise train' (default: the shipped model)")
    layers: str = flag(BEAUTY, metavar="L,L",
                       help="RGB layers or view layers to denoise, comma-separated: beauty (the "
                            "main colour), diffuse, ViewLayer.DiffCol, a view layer's name...")
    albedo: Path | None = flag(None, metavar="FILE",
                               help="albedo from a separate EXR (file or pattern such as "
                                    "albedo.####.exr) instead of the input's layer")
    normal: Path | None = flag(None, metavar="FILE",
                               help="normal from a separate EXR (file or pattern)")
    albedo_layer: str | None = flag(None, metavar="LAYER",
                                    help="albedo from this layer of the input (its R, G, B)")
    normal_layer: str | None = flag(None, metavar="LAYER",
                                    help="normal from this layer of the input (its X, Y, Z or R, G, B)")
    no_aux: bool = flag(False, help="ignore albedo and normal layers, denoise from the colour alone")
    input_scale: float | None = flag(None, metavar="S",
                                     help="one exposure scale for every frame (linear colour is "
                                          "multiplied by S before the network and divided after), "
                                          "so a sequence does not flicker with per-frame "
                                          "exposure; default: each frame's own, which --report "
                                          "records as exposure_scale")
    blend: float = flag(0.0, help="share of the noisy input mixed back into the result, 0 to 1")
    device: str = flag("auto", choices=("auto", "cpu", "cuda"), help="auto: CUDA when available")
    engine: str = flag("auto", choices=ENGINES, help=ENGINE_HELP)
    ensemble: int = flag(1, choices=ENSEMBLE_SIZES, help=ENSEMBLE_HELP)
    precision: str = flag("auto", choices=("auto", "half", "float"),
                          help="pixel type of the output's colour; auto: as the input's "
                               "(every other layer keeps its own type)")
    nonfinite: str = flag("repair", choices=NONFINITE,
                          help="NaN/Inf in colour, albedo or normal: repair (NaN -> 0, Inf -> "
                               "65504, with a warning that counts them; default) or refuse the "
                               "frame")
    tile: int | None = flag(None, help=f"largest tile side in pixels; bounds memory (default: "
                                       f"{TILE} on torch, {TILE_OPENVINO} on OpenVINO)")
    overlap: int = flag(OVERLAP, help="overlap of neighbouring tiles in pixels")
    workers: int = flag(0, help="spread frames over N Ray workers (default 0: in this process)")
    address: str | None = flag(None, help="Ray cluster to join with --workers (default: a local one)")
    overwrite: bool = flag(False, help="replace existing outputs")
    skip_existing: bool = flag(False, help="keep outputs that exist and are valid EXRs (a "
                                           "retried farm task then succeeds); broken ones are "
                                           "denoised again")
    report: Path | None = flag(None, metavar="FILE.json",
                               help="write one JSON record per frame (input, output, seconds, "
                                    "model, warnings), rewritten after each frame")


def check_config(config: DenoiseConfig) -> None:
    """ConfigError for flag values that cannot work, before any file is touched."""
    if config.precision not in ("auto", "half", "float"):
        raise ConfigError(f"--precision must be auto, half or float, not {config.precision!r}")
    if config.nonfinite not in NONFINITE:
        raise ConfigError(f"--nonfinite must be repair or refuse, not {config.nonfinite!r}")
    if problem := ensemble_problem(config.ensemble):
        raise ConfigError(problem)
    if not 0.0 <= config.blend <= 1.0:
        raise ConfigError(f"--blend must be between 0 and 1, not {config.blend:g}")
    if config.input_scale is not None and not (math.isfinite(config.input_scale)
                                               and config.input_scale > 0):
        raise ConfigError(f"--input-scale must be a positive number, not {config.input_scale:g}")
    for role in ("albedo", "normal"):
        if getattr(config, role) is not None and getattr(config, f"{role}_layer") is not None:
            raise ConfigError(f"--{role} and --{role}-layer both name the {role}: give one")
        if config.no_aux and (getattr(config, role) or getattr(config, f"{role}_layer")):
            raise ConfigError(f"--no-aux contradicts --{role}/--{role}-layer")
    try:
        parse_layers(config.layers)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    parse_frames(config.frames)


def denoise_file(denoiser: Any, job: Job, config: DenoiseConfig) -> dict[str, Any]:
    """Read, denoise and write one frame; returns its record for the log and the report.
    Raises ExrError/ValueError/OSError for a frame that cannot be done."""
    import warnings

    import numpy as np

    from mcdenoise.core.exr import output_format, read_frame, read_header, write_frame
    from mcdenoise.infer.denoise import denoise
    from mcdenoise.infer.layers import blend, layer_frames, put_layer

    began = time.perf_counter()
    if job.missing:
        raise ValueError(job.missing)
    header = read_header(job.source)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = read_frame(job.source)
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
    aux = AuxSource(config.albedo_layer, config.normal_layer, job.albedo, job.normal)
    layers = layer_frames(frame, parse_layers(config.layers), aux)
    read_s = time.perf_counter() - began
    result, scales = frame, {}
    for name, channels, layer in layers:
        negative = int(np.count_nonzero(layer.color < 0))
        if negative:
            notes.append(f"{name}: {negative} negative colour values clamped to 0")
        out = denoise(denoiser, layer, tile=config.tile, overlap=config.overlap,
                      use_aux=not config.no_aux, scale=config.input_scale)
        scales[name] = out.metadata["denoised"]["exposure_scale"]
        result = put_layer(result, channels, blend(out.color, layer.color, config.blend))
        if tuple(channels) == tuple(frame.names("color")):
            result.metadata["denoised"] = out.metadata["denoised"]
    denoise_s = time.perf_counter() - began - read_s
    precision, compression = output_format(header, frame.names("color"))
    write_frame(result, job.target,
                precision=precision if config.precision == "auto" else config.precision,
                compression=compression)
    first = layers[0][2]
    used = [] if config.no_aux else [r for r in ("albedo", "normal") if getattr(first, r) is not None]
    return {"input": str(job.source), "output": str(job.target), "frame": job.frame,
            "status": "done", "width": frame.width, "height": frame.height,
            "layers": [name for name, _, _ in layers], "aux": used,
            "exposure_scale": scales, "read_s": round(read_s, 3),
            "denoise_s": round(denoise_s, 3), "seconds": round(time.perf_counter() - began, 3),
            "warnings": notes}


def nonfinite_counts(counts: dict[str, int]) -> str:
    """{"color": 3, "normal": 1} -> 'color 3, normal 1'."""
    return ", ".join(f"{role} {n}" for role, n in counts.items())


def _denoise_all(denoiser: Any, jobs: list[Job], config: DenoiseConfig,
                 report: Callable[[dict[str, Any]], None]) -> None:
    from mcdenoise.core.exr import ExrError

    for job in jobs:
        try:
            report(denoise_file(denoiser, job, config))
        except (ExrError, ValueError, OSError) as error:
            report({"input": str(job.source), "output": str(job.target), "frame": job.frame,
                    "status": "failed", "error": str(error)})


def _load(config: DenoiseConfig) -> Any:
    from mcdenoise.infer.denoise import load_denoiser
    from mcdenoise.nn.modelfile import default_model_path

    device = None if config.device == "auto" else config.device
    return load_denoiser(config.model if config.model else default_model_path(), device,
                         engine=config.engine, ensemble=config.ensemble)


class Report:
    """``--report FILE.json``: the run and one record per frame, rewritten (atomically) after
    every frame, so that a task killed half-way leaves the record of what it finished."""

    def __init__(self, path: Path | None, config: DenoiseConfig, jobs: list[Job]) -> None:
        from mcdenoise.nn.modelfile import default_model_path

        self.path, self.rows = path, []
        model = Path(config.model) if config.model else default_model_path()
        self.head = {"command": command_line(["mcdenoise", "denoise"], config),
                     "model": str(model), "ensemble": config.ensemble,
                     "frames_planned": len(jobs),
                     "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}

    def add(self, row: dict[str, Any], state: str = "running") -> None:
        self.rows.append(row)
        self.write(state)

    def write(self, state: str, exit_code: int | None = None) -> None:
        if self.path is None:
            return
        import json

        from mcdenoise.core.files import write_text

        statuses = [row["status"] for row in self.rows]
        summary = {s: statuses.count(s) for s in ("done", "skipped", "failed")}
        write_text(self.path, json.dumps(
            {**self.head, "state": state, "exit_code": exit_code, "summary": summary,
             "frames": self.rows}, indent=1) + "\n")


def run_denoise(config: DenoiseConfig) -> int:
    """The command; returns the exit code (EXIT_CODES)."""
    from mcdenoise.core.files import choose_device
    from mcdenoise.progress import Progress

    check_config(config)
    choose_device(config.device)  # ConfigError for --device cuda without a device
    jobs = plan(config.inputs, Path(config.output), frames=config.frames,
                overwrite=config.overwrite, skip_existing=config.skip_existing,
                albedo=config.albedo, normal=config.normal)
    report_file = Report(config.report, config, jobs)
    failures: list[dict[str, Any]] = []
    progress = Progress(len(jobs), "frame", "denoise", stream=sys.stdout)

    def report(row: dict[str, Any]) -> None:
        if row["status"] == "failed":
            failures.append(row)
            progress.message(f"FAILED {row['input']}: {row['error']}")
        elif row["status"] == "skipped":
            progress.message(f"{row['input']}: skipped, {row['output']} exists and is valid")
        else:
            for note in row["warnings"]:
                progress.message(f"warning: {row['input']}: {note}")
            progress.message(f"{row['input']} -> {row['output']} ({row['width']}x{row['height']}, "
                             f"aux: {'+'.join(row['aux']) or 'none'}, {row['denoise_s']:.2f} s)")
        report_file.add(row)
        progress.advance(Path(row["input"]).name)

    began = time.perf_counter()
    for job in (job for job in jobs if job.skip):
        report({"input": str(job.source), "output": str(job.target), "frame": job.frame,
                "status": "skipped"})
    todo = [job for job in jobs if not job.skip]
    try:
        if todo and config.workers > 0:
            _denoise_on_ray(todo, config, report)
        elif todo:
            _denoise_all(_load(config), todo, config, report)
    except KeyboardInterrupt as interrupt:  # Ctrl-C (130) or SIGTERM (143)
        progress.close()
        code = interrupt_exit_code(interrupt)
        report_file.write("interrupted", code)
        print(f"interrupted: {len(report_file.rows)} of {len(jobs)} frames finished, none "
              "half-written", file=sys.stderr)
        return code
    progress.close()
    done = len(jobs) - len(failures)
    code = EXIT_FAILED if failures else EXIT_DONE
    report_file.write("finished", code)
    skipped = len(jobs) - len(todo)
    kept = f", {skipped} skipped (outputs kept)" if skipped else ""
    print(f"{done - skipped} denoised, {len(failures)} failed{kept} "
          f"({time.perf_counter() - began:.1f} s)")
    for row in failures:
        print(f"failed: {row['input']}: {row['error']}", file=sys.stderr)
    return code


def _denoise_on_ray(jobs: list[Job], config: DenoiseConfig,
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

        def run(self, job: Job) -> list[dict[str, Any]]:
            rows: list[dict[str, Any]] = []
            _denoise_all(self.denoiser, [job], self.config, rows.append)
            return rows

    workers = [Worker.remote(config) for _ in range(min(config.workers, len(jobs)))]
    # One frame per call keeps the workers evenly busy; results come back as they finish.
    pending = {}
    queue = list(jobs)
    for worker in workers:
        if queue:
            pending[worker.run.remote(queue.pop(0))] = worker
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        worker = pending.pop(ready[0])
        for row in ray.get(ready[0]):
            report(row)
        if queue:
            pending[worker.run.remote(queue.pop(0))] = worker


def register(commands) -> None:
    add_command(
        commands, "denoise", DenoiseConfig, run_denoise,
        help="denoise EXR files, folders and frame sequences",
        description="Denoise EXR frames. Every layer and header attribute is kept; only the "
                    "denoised layers change. Albedo and normal layers are used when the file "
                    "has them. Large frames are denoised in overlapping tiles at bounded "
                    "memory. For a farm task: --frames 1001-1010 --skip-existing --report "
                    "task.json.",
        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
