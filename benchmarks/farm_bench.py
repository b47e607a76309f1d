"""Farm throughput: `run_dataset` on Ray against the same renders in a plain loop.

The plain loop renders and writes every noisy pair of the scenes in one process with Dr.Jit
using all cores; the farm renders the same items as Ray tasks with 1 and with 2 workers (one
Dr.Jit thread each). Efficiency = loop time / farm time on the same machine. Per-task overhead
is measured with 1x1-pixel, 1-spp items, where rendering costs next to nothing.

    .venv/bin/python benchmarks/farm_bench.py [--scenes cornell:0-7] [--size 128] [--spp 64]
        [--out benchmarks/results/farm.md]
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.render_bench import machine  # noqa: E402


def plain_loop(names: list[str], root: Path, size: int, spp: int) -> float:
    from mcdenoise.core.exr import write_frame
    from mcdenoise.farm.layout import Item, item_seed
    from renderers import get_renderer

    renderer = get_renderer()
    renderer.render(names[0], spp=1, seed=0, width=8, height=8)  # JIT warm-up, as Ray workers get
    started = time.perf_counter()
    for name in names:
        for index in (0, 1):
            item = Item(name, "noisy", index, spp, item_seed(0, name, "noisy", index))
            frame = renderer.render(name, spp=spp, seed=item.seed, width=size, height=size)
            path = root / item.path
            path.parent.mkdir(parents=True, exist_ok=True)
            write_frame(frame, path)
    return time.perf_counter() - started


def farm(names: list[str], root: Path, size: int, spp: int, workers: int) -> tuple[float, float]:
    """(seconds including Ray start and shutdown, seconds of the scheduling loop alone)."""
    from mcdenoise.farm.driver import DatasetConfig, run_dataset

    started = time.perf_counter()
    summary = run_dataset(DatasetConfig(output=root, scenes=",".join(names), spp=spp,
                                        width=size, height=size, num_cpus=workers))
    assert summary.failed == 0 and summary.rendered == 2 * len(names)
    return time.perf_counter() - started, summary.seconds


def tiny_items(work: Path, count: int) -> tuple[float, float]:
    """Seconds for ``count`` 1-spp reference passes of one 1x1-pixel scene through the farm
    (1 worker, scheduling loop only) and in a plain loop: their difference is farm overhead."""
    from mcdenoise.core.exr import write_frame
    from mcdenoise.farm.driver import DatasetConfig, run_dataset
    from mcdenoise.farm.layout import Item
    from renderers import get_renderer

    summary = run_dataset(DatasetConfig(output=work / "tiny", scenes="cornell:0", spp=1,
                                        reference_spp=count, chunk_spp=1, width=1, height=1,
                                        num_cpus=1))
    assert summary.rendered == count + 3  # the passes, the noisy pair and the merge
    renderer = get_renderer()
    renderer.render("cornell:0", spp=1, seed=0, width=1, height=1)
    started = time.perf_counter()
    for index in range(count):
        frame = renderer.render("cornell:0", spp=1, seed=index, width=1, height=1, aux=False)
        path = work / "tiny-loop" / Item("cornell:0", "pass", index, 1, index).path
        path.parent.mkdir(parents=True, exist_ok=True)
        write_frame(frame, path, precision="float")
    return summary.seconds * count / summary.rendered, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", default="cornell:0-7")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--spp", type=int, default=64)
    parser.add_argument("--tiny-items", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/farm.md"))
    args = parser.parse_args()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")

    import scenes

    names = scenes.parse_spec(args.scenes)
    work = Path(tempfile.mkdtemp(prefix="farm-bench-"))
    try:
        loop_s = plain_loop(names, work / "loop", args.size, args.spp)
        rows = []
        for workers in (1, 2):
            total_s, loop_only_s = farm(names, work / f"farm{workers}", args.size, args.spp, workers)
            rows.append((workers, total_s, loop_only_s))
            print(workers, total_s, loop_only_s, flush=True)
        tiny_s, tiny_loop_s = tiny_items(work, args.tiny_items)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    items = 2 * len(names)
    overhead_ms = 1000 * (tiny_s - tiny_loop_s) / args.tiny_items
    table = "\n".join(
        f"| {w} | {total:.1f} | {only:.1f} | {items / only:.2f} | {100 * loop_s / only:.0f} % | "
        f"{100 * loop_s / total:.0f} % |" for w, total, only in rows)
    command = " ".join(["python", "benchmarks/farm_bench.py"] + sys.argv[1:])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(f"""# Render farm throughput

Work: the noisy pairs of `{args.scenes}` ({items} renders, {args.size}x{args.size}, {args.spp}
spp, colour + albedo/normal/depth, each written as EXR). Plain loop: one process, one renderer,
Dr.Jit on all cores, after a warm-up render: **{loop_s:.1f} s** ({items / loop_s:.2f} items/s).

| Ray workers | farm s (with Ray start/stop) | farm s (scheduling loop) | items/s | efficiency (loop) | efficiency (with start) |
|---|---|---|---|---|---|
{table}

Efficiency = plain-loop time / farm time for the same renders on the same machine; the
"scheduling loop" column excludes Ray's start-up and shutdown (about 4-6 s here, paid once per
command), the last column includes it.

Per-task overhead: {args.tiny_items} reference passes of 1 spp on a 1x1-pixel image of one
scene took {tiny_s:.2f} s through the farm (1 worker; the farm's time per item times the
number of passes, so the worker's start-up is spread over all items) against {tiny_loop_s:.2f} s
in a plain loop that renders and writes the same files: **{overhead_ms:.1f} ms per task**
(task submission and scheduling, the result's return, the checksum, the manifest's fsync).

Machine: {machine()}.

Command: `{command}`

## Scaling to N nodes
Each item is independent and its output goes straight from the worker to the shared
directory, so the driver only moves a few hundred bytes per item (the manifest record). With
the per-task overhead above and items of a second or more, one driver keeps hundreds of
workers busy: at {overhead_ms:.0f} ms of driver time per item it can hand out about
{1000 / max(overhead_ms, 1e-3):.0f} items/s. Beyond that, throughput scales with the nodes' cores
until the shared file system's write bandwidth limits it: a 256² noisy pair is about 1 MB of
EXR, a 131k-spp reference at 4096 spp per pass is 32 passes of 0.8 MB each. Reference passes
of one scene run on any node at once, so even a single 131k-spp reference (about 32 minutes of
this machine) spreads over 32 workers.
""")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
