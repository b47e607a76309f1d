"""Render throughput: our Mitsuba wrapper against a bare `mi.render` loop of the same scene.

For each Mitsuba variant that runs here, render the same scene (colour at SPP plus the aux
render at min(SPP, 64) spp) N times through `renderers.get_renderer()` and through a plain
loop of `mi.render` calls with the same sensor, integrators and seeds, and report samples per
second and the wrapper's overhead. Each variant runs in its own process.

    .venv/bin/python benchmarks/render_bench.py [--size 256] [--spp 64] [--repeats 5]
        [--variants llvm_ad_rgb,scalar_rgb] [--out benchmarks/results/render.md]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def measure(variant: str, size: int, spp: int, repeats: int) -> dict:
    """Median seconds per frame, wrapper vs bare loop, on the Cornell box (box filter)."""
    import numpy as np

    from renderers import get_renderer
    from renderers.mitsuba3 import AOV_SPEC, MAX_AUX_SPP, pass_seed

    renderer = get_renderer(variant=variant)
    mi = renderer.mi
    spec = mi.cornell_box()
    spec["sensor"]["film"].update(width=size, height=size, rfilter={"type": "box"})
    scene = types.SimpleNamespace(name="cornell_box", scene=spec)

    bare_scene = mi.load_dict(spec)
    aov = mi.load_dict({"type": "aov", "aovs": AOV_SPEC})
    aux_spp = min(spp, MAX_AUX_SPP)

    def bare(seed: int) -> None:
        np.array(mi.render(bare_scene, seed=seed, spp=spp))
        np.array(mi.render(bare_scene, integrator=aov, seed=pass_seed(seed, 0xA0A), spp=aux_spp))

    def ours(seed: int) -> None:
        renderer.render(scene, spp=spp, seed=seed)

    bare(0), ours(0)  # JIT compilation and scene loading are not what is measured
    times: dict[str, list[float]] = {"bare": [], "ours": []}
    for seed in range(1, repeats + 1):  # interleaved so drift hits both alike
        for name, run in (("bare", bare), ("ours", ours)):
            started = time.perf_counter()
            run(seed)
            times[name].append(time.perf_counter() - started)
    result = {name: statistics.median(values) for name, values in times.items()}
    result["samples"] = size * size * spp
    result["variant"] = variant
    return result


def machine() -> str:
    from mcdenoise.bench.machine import describe

    return describe()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--spp", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--variants", default="llvm_ad_rgb,scalar_rgb")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/render.md"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(measure(args.worker, args.size, args.spp, args.repeats)))
        return

    import mitsuba

    rows = []
    for variant in args.variants.split(","):
        proc = subprocess.run([sys.executable, __file__, "--worker", variant, "--size",
                               str(args.size), "--spp", str(args.spp), "--repeats",
                               str(args.repeats)], capture_output=True, text=True)
        if proc.returncode != 0:
            rows.append(f"| {variant} | not runnable here | | | | |")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        overhead = 100.0 * (r["ours"] / r["bare"] - 1.0)
        rows.append(f"| {variant} | {r['bare']:.3f} | {r['ours']:.3f} | "
                    f"{r['samples'] / r['bare'] / 1e6:.2f} | {r['samples'] / r['ours'] / 1e6:.2f} | "
                    f"{overhead:+.1f} % |")
        print(rows[-1], flush=True)
    command = " ".join(["python", "benchmarks/render_bench.py"] + sys.argv[1:])
    report = f"""# Render throughput: wrapper vs bare `mi.render`

Scene: Mitsuba's Cornell box, {args.size}x{args.size}, box filter, colour at {args.spp} spp plus
the albedo/normal/depth `aov` render at {min(args.spp, 64)} spp, median of {args.repeats} frames
after a warm-up frame (JIT compilation and scene loading excluded; the wrapper caches both).
Samples/s counts colour samples (width x height x spp) per second of the whole frame.

| variant | bare loop s/frame | ours s/frame | bare Msamples/s | ours Msamples/s | overhead |
|---|---|---|---|---|---|
{chr(10).join(rows)}

Machine: {machine()}; Mitsuba {mitsuba.__version__}. `cuda_ad_rgb` was not measured: no GPU
was lent to this session.

Command: `{command}`
"""
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
