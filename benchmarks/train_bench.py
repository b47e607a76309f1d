"""Training benchmarks: step throughput, and Noise2Noise against clean targets.

    # crops of 256^2 per second for a training step (forward, L_HDR, backward, Adam), per
    # width preset and batch size, on the CPU (and on CUDA when there is one)
    .venv/bin/python benchmarks/train_bench.py throughput [--device cpu] [--steps 4]

    # the same training twice on the same data, noisy targets then clean targets; validation
    # PSNR against steps for both -> JSON + PNG plot (`plot` redraws it from the JSON)
    .venv/bin/python benchmarks/train_bench.py compare --data DIR [--steps 3000] [...]

    # architecture study: one `mcdenoise train` per variant on the same data (PARALLEL at a
    # time, the cores split between them), then every final model scored per validation scene
    .venv/bin/python benchmarks/train_bench.py study --data DIR --work RUNS \
        --variant 'single=--scales 1' --variant 'multi=--scales 5' [--parallel 2] -- FLAGS...

Results go to benchmarks/results/train_throughput.json, train_compare.json and
train_psnr_vs_steps.png; benchmarks/results/train.md discusses them.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.render_bench import machine  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def throughput(device: str, widths: list[int], batches: list[int], crop: int, steps: int,
               output_map: str) -> list[dict]:
    """Timed training steps on random 9-channel crops, after two warm-up steps."""
    import torch

    from mcdenoise.nn import loss as losses
    from mcdenoise.nn.model import UNet, UNetConfig
    from mcdenoise.nn.transform import Transform, decode_output

    dev = torch.device(device)
    transform = Transform(output=output_map)
    rows = []
    for width in widths:
        for batch in batches:
            torch.manual_seed(0)
            net = UNet(UNetConfig(9, 3, width)).to(dev).to(memory_format=torch.channels_last)
            optimizer = torch.optim.Adam(net.parameters(), lr=1e-4, betas=(0.9, 0.99), eps=1e-8)
            x = torch.rand(batch, 9, crop, crop, device=dev).contiguous(memory_format=torch.channels_last)
            y = torch.rand(batch, 3, crop, crop, device=dev)
            loss_fn = losses.get("hdr")

            def step() -> None:
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=dev.type == "cuda"):
                    out = decode_output(transform, net(x))
                loss = loss_fn(out, y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()

            for _ in range(2):
                step()
            if dev.type == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
            for _ in range(steps):
                step()
            if dev.type == "cuda":
                torch.cuda.synchronize()
            seconds = (time.perf_counter() - started) / steps
            row = {"device": device, "width": width, "batch": batch, "crop": crop,
                   "step_s": round(seconds, 4), "crops_per_s": round(batch / seconds, 3),
                   "threads": torch.get_num_threads(), "load_avg": os.getloadavg()[0]}
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


def read_val(run: Path) -> list[dict]:
    with open(run / "val.csv") as handle:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]


def compare(args: argparse.Namespace) -> dict:
    """Train the same config with noisy and with clean targets; collect both validation curves."""
    from mcdenoise.train.config import TrainConfig
    from mcdenoise.train.mc import train

    base = TrainConfig(spp=args.spp, data=args.data, steps=args.steps, width=args.width,
                       crop=args.crop, batch=args.batch, lr=args.lr, val_every=args.val_every,
                       val_images=args.val_images, ckpt_every=args.val_every,
                       output_map=args.output_map, residual=args.residual, kernel=args.kernel,
                       scenes=args.scenes, seed=args.seed,
                       preset=args.preset)
    result: dict = {"machine": machine(), "command": " ".join(["python", "benchmarks/train_bench.py"]
                                                             + sys.argv[1:]), "runs": {}}
    for targets in ("noisy", "clean"):
        run = args.work / targets
        config = replace(base, output=run, targets=targets, resume=True)
        started = time.perf_counter()
        summary = train(config)
        card = json.loads(json.dumps(summary))
        result["runs"][targets] = {"seconds": round(time.perf_counter() - started, 1),
                                   "val": read_val(run), "final": card["validation"]}
    from mcdenoise.nn.modelfile import read_card

    result["data"] = read_card(args.work / "noisy" / "model.safetensors")["data"]
    result["config"] = {k: str(v) for k, v in vars(args).items()}
    return result


def study(args: argparse.Namespace) -> dict:
    """Train every variant (resumably: a finished run is only re-scored), then score each
    final model on every validation scene of --data with a reference."""
    import subprocess

    import numpy as np

    from mcdenoise.core.exr import read_frame
    from mcdenoise.core.metrics import psnr
    from mcdenoise.infer.denoise import denoise, load_denoiser
    from mcdenoise.nn.modelfile import read_card
    from mcdenoise.train.dataset import scan

    variants = dict(v.split("=", 1) for v in args.variant)
    threads = max(1, (os.cpu_count() or 1) // args.parallel)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    mcdenoise = str(Path(sys.executable).with_name("mcdenoise"))
    pending = list(variants.items())
    running: dict[str, subprocess.Popen] = {}
    while pending or running:
        while pending and len(running) < args.parallel:
            name, flags = pending.pop(0)
            run = args.work / name
            if (run / "model.safetensors").exists():
                continue
            command = [mcdenoise, "train", "--spp", str(args.spp), "--data", str(args.data),
                       "-o", str(run), *args.flags, *flags.split()]
            if (run / "checkpoint.pt").exists():
                command.append("--resume")
            run.mkdir(parents=True, exist_ok=True)
            print(f"[{name}] {' '.join(command)}", flush=True)
            running[name] = subprocess.Popen(command, env=env, stdout=open(run / "log.txt", "a"),
                                             stderr=subprocess.STDOUT)
        for name, process in list(running.items()):
            if process.poll() is not None:
                del running[name]
                if process.returncode:
                    raise SystemExit(f"[{name}] failed (exit {process.returncode}); see "
                                     f"{args.work / name / 'log.txt'}")
                print(f"[{name}] done", flush=True)
        time.sleep(2)

    scenes = [s for s in scan(args.data) if s.split == "validation" and s.reference is not None]
    frames = [(s.scene, read_frame(s.noisy[0]), read_frame(s.reference).color) for s in scenes]
    result: dict = {"machine": machine(), "command": " ".join(["python", "benchmarks/train_bench.py"]
                                                             + sys.argv[1:]),
                    "scenes": [name for name, _, _ in frames],
                    "noisy": [psnr(frame.color, ref) for _, frame, ref in frames], "runs": {}}
    for name, flags in variants.items():
        run = args.work / name
        card = read_card(run / "model.safetensors")
        denoiser = load_denoiser(run / "model.safetensors", device="cpu")
        per_scene = [psnr(denoise(denoiser, frame).color, ref) for _, frame, ref in frames]
        with open(run / "train.csv") as handle:
            rows = list(csv.DictReader(handle))
        result["runs"][name] = {
            "flags": flags, "steps": card["training"]["steps"],
            "parameters": card["architecture"]["parameters"],
            "train_seconds": float(rows[-1]["elapsed_s"]),
            "steps_per_s": float(np.median([float(r["steps_per_s"]) for r in rows])),
            "val": read_val(run), "psnr": per_scene, "mean_psnr": float(np.mean(per_scene))}
    return result


def study_report(result: dict, path: Path) -> None:
    """The study's Markdown table (mean and per scene) beside its JSON."""
    runs = result["runs"]
    lines = [f"Command: `{result['command']}`", "", f"Machine: {result['machine']}", "",
             "| variant | flags | parameters | steps | train s | steps/s | mean PSNR dB |",
             "|---|---|---|---|---|---|---|",
             f"| noisy input | | | | | | {sum(result['noisy']) / len(result['noisy']):.2f} |"]
    for name, run in runs.items():
        lines.append(f"| {name} | `{run['flags']}` | {run['parameters']:,} | {run['steps']} | "
                     f"{run['train_seconds']:.0f} | {run['steps_per_s']:.2f} | {run['mean_psnr']:.2f} |")
    lines += ["", "| scene | noisy | " + " | ".join(runs) + " |", "|---|---|" + "---|" * len(runs)]
    for k, scene in enumerate(result["scenes"]):
        lines.append(f"| {scene} | {result['noisy'][k]:.2f} | "
                     + " | ".join(f"{run['psnr'][k]:.2f}" for run in runs.values()) + " |")
    path.write_text("\n".join(lines) + "\n")


def plot(result: dict, path: Path) -> None:
    """PSNR against steps for both runs, with the noisy input's level dashed."""
    from mcdenoise.bench.figures import curves_figure

    runs = result["runs"]
    names = {"noisy": "noisy targets (Noise2Noise)", "clean": "clean targets"}
    series = {names.get(name, name): [(r["step"], r["psnr_output"]) for r in run["val"] if r["step"] > 0]
              for name, run in runs.items()}
    first = next(iter(runs.values()))
    curves_figure(path, series, ("noisy input", first["val"][0]["psnr_input"]),
                  "validation PSNR (x/(1+x)) of the denoised frames")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    tp = commands.add_parser("throughput")
    tp.add_argument("--device", default="cpu")
    tp.add_argument("--widths", default="48,32")
    tp.add_argument("--batches", default="4,8")
    tp.add_argument("--crop", type=int, default=256)
    tp.add_argument("--steps", type=int, default=4)
    tp.add_argument("--output-map", default="untonemap")
    tp.add_argument("--json", type=Path, default=RESULTS / "train_throughput.json")
    pp = commands.add_parser("plot", help="redraw the plot from a compare JSON")
    pp.add_argument("--json", type=Path, default=RESULTS / "train_compare.json")
    pp.add_argument("--plot", type=Path, default=RESULTS / "train_psnr_vs_steps.png")
    sp = commands.add_parser("study")
    sp.add_argument("--data", type=Path, required=True)
    sp.add_argument("--work", type=Path, default=Path("runs/bench-study"))
    sp.add_argument("--spp", type=int, default=64)
    sp.add_argument("--variant", action="append", required=True, metavar="NAME=FLAGS")
    sp.add_argument("--parallel", type=int, default=2)
    sp.add_argument("--json", type=Path, default=RESULTS / "train_study.json")
    sp.add_argument("--plot", type=Path, default=RESULTS / "train_study.png")
    sp.add_argument("flags", nargs="*", help="`mcdenoise train` flags every variant shares")
    cp = commands.add_parser("compare")
    cp.add_argument("--data", type=Path, required=True)
    cp.add_argument("--work", type=Path, default=Path("runs/bench-compare"))
    cp.add_argument("--spp", type=int, default=64)
    cp.add_argument("--preset", default="quick")
    cp.add_argument("--steps", type=int, default=3000)
    cp.add_argument("--width", type=int, default=32)
    cp.add_argument("--crop", type=int, default=64)
    cp.add_argument("--batch", type=int, default=8)
    cp.add_argument("--lr", type=float, default=None)
    cp.add_argument("--val-every", type=int, default=250)
    cp.add_argument("--val-images", type=int, default=16)
    cp.add_argument("--output-map", default="untonemap")
    cp.add_argument("--residual", action=argparse.BooleanOptionalAction, default=True)
    cp.add_argument("--kernel", type=int, default=5)
    cp.add_argument("--scenes", help="training scenes (spec) of --data; all must have references "
                    "(default: every training-split scene found)")
    cp.add_argument("--seed", type=int, default=0)
    cp.add_argument("--json", type=Path, default=RESULTS / "train_compare.json")
    cp.add_argument("--plot", type=Path, default=RESULTS / "train_psnr_vs_steps.png")
    args = parser.parse_args()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")

    if args.command == "plot":
        plot(json.loads(args.json.read_text()), args.plot)
        print(f"wrote {args.plot}")
        return
    if args.command == "throughput":
        rows = throughput(args.device, [int(w) for w in args.widths.split(",")],
                          [int(b) for b in args.batches.split(",")], args.crop, args.steps,
                          args.output_map)
        result = {"machine": machine(), "rows": rows,
                  "command": " ".join(["python", "benchmarks/train_bench.py"] + sys.argv[1:])}
    elif args.command == "study":
        result = study(args)
        study_report(result, args.json.with_suffix(".md"))
        plot(result, args.plot)
        print(f"wrote {args.plot} and {args.json.with_suffix('.md')}")
    else:
        result = compare(args)
        plot(result, args.plot)
        print(f"wrote {args.plot}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
