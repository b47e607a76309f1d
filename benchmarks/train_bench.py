"""Training benchmarks: step throughput, and Noise2Noise against clean targets.

    # crops of 256^2 per second for a training step (forward, L_HDR, backward, Adam), per
    # width preset and batch size, on the CPU (and on CUDA when there is one)
    .venv/bin/python benchmarks/train_bench.py throughput [--device cpu] [--steps 4]

    # the same training twice on the same data, noisy targets then clean targets; validation
    # PSNR against steps for both -> JSON + PNG plot (`plot` redraws it from the JSON)
    .venv/bin/python benchmarks/train_bench.py compare --data DIR [--steps 3000] [...]

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


def plot(result: dict, path: Path) -> None:
    """PSNR against steps for both runs, with the noisy input's level dashed."""
    from mcdenoise.bench.figures import curves_figure

    runs = result["runs"]
    names = {"noisy": "noisy targets (Noise2Noise)", "clean": "clean targets"}
    series = {names.get(name, name): [(r["step"], r["psnr_output"]) for r in run["val"] if r["step"] > 0]
              for name, run in runs.items()}
    curves_figure(path, series, ("noisy input", runs["noisy"]["val"][0]["psnr_input"]),
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
    else:
        result = compare(args)
        plot(result, args.plot)
        print(f"wrote {args.plot}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
