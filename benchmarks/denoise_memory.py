"""Peak memory and time of denoising one large frame on the CPU: ours (tiled) and OIDN.

    .venv/bin/python benchmarks/denoise_memory.py [--size 3840x2160] [--model M] [--tiles 512,1024]
        [--engines auto,torch]

Each measurement runs in a fresh process, so its peak resident memory (ru_maxrss) belongs to
that denoise alone: the frame (colour + albedo + normal, float32), the model and the
activations of one tile. The content is random; memory and time do not depend on it.
Results go to benchmarks/results/denoise_memory.json and are printed as a Markdown table.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

CHILD = r"""
import json, os, resource, sys, time
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import numpy as np
from mcdenoise.core.frame import Frame
what, width, height, tile, model, engine = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
rng = np.random.default_rng(0)
normal = rng.normal(size=(height, width, 3)).astype(np.float32)
normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
frame = Frame(color=rng.gamma(1.0, 0.5, (height, width, 3)).astype(np.float32),
              albedo=rng.uniform(0, 1, (height, width, 3)).astype(np.float32), normal=normal)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if what == "ours":
    from mcdenoise.infer.denoise import denoise, load_denoiser
    from mcdenoise.nn.modelfile import default_model_path
    denoiser = load_denoiser(model or default_model_path(), "cpu", engine=engine)
    run = lambda: denoise(denoiser, frame, tile=tile)
else:
    from mcdenoise.bench.oidn import oidn_denoise
    run = lambda: oidn_denoise(frame, "high")
began = time.perf_counter()
run()
print(json.dumps({"seconds": time.perf_counter() - began,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "before_mb": base / 1024}))
"""


def measure(what: str, width: int, height: int, tile: int, model: str,
            engine: str = "auto") -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, what, str(width), str(height), str(tile),
                          model, engine], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="3840x2160")
    parser.add_argument("--model", default="", help="model file (default: the shipped one)")
    parser.add_argument("--tiles", default="256,512,1024")
    parser.add_argument("--engines", default="auto", help="engines of ours, comma-separated "
                        "(auto: OpenVINO on the CPU when installed)")
    parser.add_argument("--json", type=Path, default=RESULTS / "denoise_memory.json")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    rows = []
    for engine in args.engines.split(","):
        for tile in (int(t) for t in args.tiles.split(",")):
            rows.append({"denoiser": f"ours ({engine})", "tile": tile,
                         **measure("ours", width, height, tile, args.model, engine)})
            print(json.dumps(rows[-1]), flush=True)
    try:
        rows.append({"denoiser": "oidn-high", "tile": None, **measure("oidn", width, height, 0, "")})
        print(json.dumps(rows[-1]), flush=True)
    except subprocess.CalledProcessError as error:
        print(f"OIDN not measured: {error.stderr.strip().splitlines()[-1]}", file=sys.stderr)
    result = {"machine": f"{os.cpu_count()} CPU cores, {platform.machine()}, {platform.system()}",
              "command": " ".join(["python", "benchmarks/denoise_memory.py"] + sys.argv[1:]),
              "size": args.size, "rows": rows}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1))
    print(f"\n| denoiser | tile | peak RSS MB | RSS before denoising MB (frame loaded) | seconds |\n|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['denoiser']} | {row['tile'] or '-'} | {row['peak_mb']:.0f} | "
              f"{row['before_mb']:.0f} | {row['seconds']:.2f} |")


if __name__ == "__main__":
    main()
