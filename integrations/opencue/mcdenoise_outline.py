"""OpenCue jobs for mcdenoise, built with PyOutline (`pip install opencue-pyoutline`).

    # print the job spec (no Cuebot needed), or submit it with --launch
    python integrations/opencue/mcdenoise_outline.py denoise --input /show/sh010/beauty.####.exr \
        --output /show/sh010/denoised --frames 1001-1100 --chunk 10 [--launch]
    python integrations/opencue/mcdenoise_outline.py train --data /farm/data --run /farm/runs/sq010 \
        --scenes 0-95 --chunk 8 [--launch]

Denoise: one Shell layer over the frame range; each chunk of frames is one OpenCue frame whose
command is `mcdenoise denoise IN --frames #FRAME_START#-#FRAME_END#[xSTEP] ...`, which RQD
fills in per chunk. `--skip-existing` makes a retried chunk succeed.

Train: a Shell layer renders training pairs, a chunk of scene instances per OpenCue frame
(each into its own part folder of --data); another renders the validation set with
references; the train layer, one frame, waits for both (depend_all) and runs
`mcdenoise train --data DATA --resume`.
"""
from __future__ import annotations

import argparse
import shlex
import sys

import fileseq
import outline
import outline.cuerun
from outline.modules.shell import Shell

FAMILIES = "interior,hall,cornell,objects,lights,detail"


def chunk_frames(frames: str, chunk: int) -> str:
    """The --frames value RQD fills in for one chunk of ``frames``: START-END, with the
    range's step (OpenCue's chunks of 1001-1100x2 hold every second frame)."""
    frame_set = fileseq.FrameSet(frames)
    numbers = list(frame_set)
    steps = {b - a for a, b in zip(numbers, numbers[1:])}
    if chunk > 1 and len(steps) > 1:
        raise ValueError(f"frames {frames!r}: chunks need one evenly stepped range "
                         "(such as 1001-1100 or 1001-1100x2); use --chunk 1 for a list")
    step = steps.pop() if steps else 1
    if chunk == 1:
        return "#IFRAME#"
    return "#FRAME_START#-#FRAME_END#" + (f"x{step}" if step != 1 else "")


def denoise_outline(input_pattern: str, output: str, frames: str, chunk: int = 10,
                    model: str | None = None, extra: str = "", command: str = "mcdenoise",
                    name: str = "mcdenoise_denoise", show: str = "default",
                    shot: str = "default", cores: float = 2.0) -> outline.Outline:
    """A job of one Shell layer denoising ``frames`` of ``input_pattern`` in chunks."""
    args = [command, "denoise", input_pattern, "--frames", chunk_frames(frames, chunk), "-o",
            output, "--skip-existing"]
    if model:
        args += ["--model", model]
    args += shlex.split(extra)
    job = outline.Outline(name, show=show, shot=shot)
    job.add_layer(Shell("denoise", command=quoted(args), range=frames, chunk=chunk,
                        threads=cores))
    return job


def quoted(args: list[str]) -> list[str]:
    """Each word quoted for the shell RQD runs the command in (OpenCue joins them with
    spaces); RQD's #TOKEN# substitution works inside the quotes."""
    return [shlex.quote(arg) for arg in args]


def train_outline(data: str, run: str, scenes: str = "0-23", chunk: int = 4,
                  families: str = FAMILIES, val_scenes: str = "interior:8002-8003,cornell:8001-8002",
                  spp: int = 64, reference_spp: int = 1024, size: int = 128, minutes: float = 60,
                  train_args: str = "", command: str = "mcdenoise", name: str = "mcdenoise_train",
                  show: str = "default", shot: str = "default") -> outline.Outline:
    """Render pairs on many nodes (a chunk of instances per frame), validation, then train."""
    size_args = f"--spp {spp} --width {size} --height {size}"
    # OpenCue's chunks are START-END of the instance indices; every family gets the same ones.
    spec = ",".join(f"{family}:#FRAME_START#-#FRAME_END#" for family in families.split(","))
    pairs = Shell("pairs", range=scenes, chunk=chunk, command=quoted([
        command, "dataset", "-o", f"{data}/part-#FRAME_START#-#FRAME_END#", "--scenes", spec,
        *size_args.split()]))
    validation = Shell("validation", range="1", chunk=1, command=quoted([
        command, "dataset", "-o", f"{data}/validation", "--scenes", val_scenes,
        "--reference-spp", str(reference_spp), *size_args.split()]))
    train = Shell("train", range="1", chunk=1, command=quoted([
        command, "train", "--spp", str(spp), "--data", data, "--val-data", f"{data}/validation",
        "-o", run, "--minutes", str(minutes), "--resume", *shlex.split(train_args)]))
    train.depend_all(pairs)
    train.depend_all(validation)
    job = outline.Outline(name, show=show, shot=shot)
    for layer in (pairs, validation, train):
        job.add_layer(layer)
    return job


def job_spec(job: outline.Outline) -> str:
    """The OpenCue job spec (XML) Cuebot would receive; needs no Cuebot."""
    from outline.backend import cue

    return cue.serialize_simple(outline.cuerun.OutlineLauncher(job, pause=False, nomail=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--launch", action="store_true", help="submit to Cuebot (else print the spec)")
    parser.add_argument("--mcdenoise", default="mcdenoise", help="the command on the render nodes")
    parser.add_argument("--show", default="default")
    parser.add_argument("--shot", default="default")
    kinds = parser.add_subparsers(dest="kind", required=True)
    den = kinds.add_parser("denoise")
    den.add_argument("--input", required=True)
    den.add_argument("--output", required=True)
    den.add_argument("--frames", required=True)
    den.add_argument("--chunk", type=int, default=10)
    den.add_argument("--model")
    den.add_argument("--extra", default="", help="more denoise flags, quoted")
    tr = kinds.add_parser("train")
    tr.add_argument("--data", required=True)
    tr.add_argument("--run", required=True)
    tr.add_argument("--scenes", default="0-23")
    tr.add_argument("--chunk", type=int, default=4)
    tr.add_argument("--families", default=FAMILIES)
    tr.add_argument("--minutes", type=float, default=60)
    tr.add_argument("--train-args", default="")
    args = parser.parse_args(argv)
    common = {"command": args.mcdenoise, "show": args.show, "shot": args.shot}
    if args.kind == "denoise":
        job = denoise_outline(args.input, args.output, args.frames, args.chunk, args.model,
                              args.extra, **common)
    else:
        job = train_outline(args.data, args.run, args.scenes, args.chunk, args.families,
                            minutes=args.minutes, train_args=args.train_args, **common)
    if args.launch:
        outline.cuerun.launch(job, use_pycuerun=False)
    else:
        print(job_spec(job))
    return 0


if __name__ == "__main__":
    sys.exit(main())
