"""CPU inference settings for one 1920x1080 frame, each against OIDN high in the same run.

    .venv/bin/python benchmarks/cpu_speed.py [--model M] [--untrained-scales 5] [--rounds 5]

The frame is a real render (colour + albedo + normal, a few spp; timing does not depend on
the content) through the farm's cache in --data. Every round times OIDN quality high (HDR,
default aux) and then each setting of ours once, so the machine's drift hits all alike; the
table gives median seconds and the median of the per-round ratios to OIDN. A setting is a
tile size, an overlap and an engine (torch, torch with widened heads: nn.model.widen_heads, or
OpenVINO: infer/openvino.py). For each setting the report also gives the PSNR of its output
against the whole frame denoised by torch in one forward pass: the seams' cost, which a
smaller overlap raises, and the engine's difference from torch.

``--untrained-scales K [--untrained-width W]`` times an untrained network of the default
training configuration with K pyramid levels (and width W) instead of --model (for an
architecture not yet trained; no seam figures then). Results: benchmarks/results/cpu_speed.{json,md}.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
# (label, tile, overlap, engine): "torch" the model as it is, "torch-wide" with widened heads
# (the default since 2026-12-03), "openvino" OpenVINO on the CPU (infer/openvino.py).
SETTINGS = [("tile 768, overlap 64, widened heads", 768, 64, "torch-wide"),
            ("OpenVINO, tile 768, overlap 64", 768, 64, "openvino"),
            ("OpenVINO, tile 1088, overlap 64", 1088, 64, "openvino")]


def render_frame(data: Path, scene: str, spp: int):
    from mcdenoise.core.exr import read_frame
    from mcdenoise.farm.driver import DatasetConfig, run_with_progress

    run_with_progress(DatasetConfig(output=data, scenes=scene, spp=spp, width=1920, height=1080),
                      desc="render the 1080p frame")
    return read_frame(next(data.glob("scenes/*/noisy_0.exr")))


def denoisers(model: str, untrained_scales: int, untrained_width: int) -> dict:
    """Denoisers of the model file, or of an untrained default network, by engine."""
    import torch

    from mcdenoise.infer.denoise import Denoiser, load_denoiser
    from mcdenoise.infer.openvino import OpenVinoNet
    from mcdenoise.nn.model import UNet, UNetConfig, widen_heads
    from mcdenoise.nn.modelfile import default_model_path
    from mcdenoise.nn.transform import transform_for

    if untrained_scales:
        config = UNetConfig(9, 3, untrained_width, False, 5, "linear", untrained_scales)
        plain = Denoiser(UNet(config).to(memory_format=torch.channels_last).eval(),
                         transform_for("full"))
    else:
        plain = load_denoiser(model or default_model_path(), "cpu", engine="torch")
        plain.model = plain.model.to(memory_format=torch.contiguous_format)
    return {"torch": plain,
            "torch-wide": Denoiser(widen_heads(plain.model).to(memory_format=torch.channels_last)
                                   .eval(), plain.transform, plain.card),
            "openvino": Denoiser(OpenVinoNet(plain.model.eval()), plain.transform, plain.card)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="", help="model file (default: the shipped one)")
    parser.add_argument("--untrained-scales", type=int, default=0, metavar="K")
    parser.add_argument("--untrained-width", type=int, default=16, metavar="W",
                        help="width of the untrained network (with --untrained-scales)")
    parser.add_argument("--scene", default="interior:9000")
    parser.add_argument("--spp", type=int, default=16, help="spp of the frame")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--data", type=Path, default=Path("bench-data/cpu_speed"))
    parser.add_argument("--json", type=Path, default=RESULTS / "cpu_speed.json")
    args = parser.parse_args()

    import numpy as np
    import torch

    from mcdenoise.bench.machine import describe
    from mcdenoise.bench.oidn import oidn_denoise
    from mcdenoise.core.metrics import psnr
    from mcdenoise.infer.denoise import denoise

    frame = render_frame(args.data, args.scene, args.spp)
    engines = denoisers(args.model, args.untrained_scales, args.untrained_width)
    runs = {"oidn": lambda: oidn_denoise(frame, "high")}
    for label, tile, overlap, engine in SETTINGS:
        runs[label] = (lambda d, t, o: lambda: denoise(d, frame, tile=t, overlap=o))(
            engines[engine], tile, overlap)
    for run in runs.values():  # warm-up: first-call allocations, OIDN's device
        run()
    seconds = {name: [] for name in runs}
    for k in range(args.rounds):
        for name, run in runs.items():
            began = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - began)
        print(f"round {k + 1}/{args.rounds}: " + ", ".join(
            f"{name} {times[-1]:.2f} s" for name, times in seconds.items()), file=sys.stderr)
    seams = {}
    if not args.untrained_scales:
        whole = denoise(engines["torch"], frame, tile=4096).color
        for label, tile, overlap, engine in SETTINGS:
            tiled = denoise(engines[engine], frame, tile=tile, overlap=overlap).color
            seams[label] = psnr(tiled, whole)
    result = {"machine": describe(), "torch_threads": torch.get_num_threads(),
              "command": "python benchmarks/cpu_speed.py " + " ".join(sys.argv[1:]),
              "model": args.model or ("untrained, width %d, scales %d" % (
                  args.untrained_width, args.untrained_scales) if args.untrained_scales
                  else "shipped"),
              "frame": f"{args.scene}, 1920x1080, {args.spp} spp, albedo + normal",
              "settings": [{"label": label, "tile": tile, "overlap": overlap, "engine": engine,
                            "median_s": statistics.median(seconds[label]),
                            "ratio_to_oidn": statistics.median(
                                np.array(seconds[label]) / np.array(seconds["oidn"])),
                            "seam_psnr_db": seams.get(label), "all_s": seconds[label]}
                           for label, tile, overlap, engine in SETTINGS],
              "oidn_high_s": statistics.median(seconds["oidn"]), "oidn_all_s": seconds["oidn"]}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1) + "\n")
    print(report(result))


def report(result: dict) -> str:
    lines = [f"Command: `{result['command']}`", "", f"Machine: {result['machine']}", "",
             f"Frame: {result['frame']}; model: {result['model']}; "
             f"{result['torch_threads']} torch threads", "",
             "| setting | median s | ratio to OIDN high | seams: PSNR vs whole frame |",
             "|---|---|---|---|",
             f"| OIDN high (default aux) | {result['oidn_high_s']:.2f} | 1.00 | |"]
    for s in result["settings"]:
        seam = "" if s["seam_psnr_db"] is None else f"{s['seam_psnr_db']:.1f} dB"
        lines.append(f"| {s['label']} | {s['median_s']:.2f} | {s['ratio_to_oidn']:.2f} | {seam} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
