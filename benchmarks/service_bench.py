"""Load benchmark of the denoise service: a real `mcdenoise serve` on 127.0.0.1, httpx clients.

Measures, for SIZE x SIZE frames (colour + albedo + normal, half, zip):
- the direct path in this process (read_frame + denoise + write_frame, and denoise alone),
  interleaved request by request with one HTTP client, so that drift in the machine's load hits
  both alike: the service's overhead at p50;
- p50/p99 latency and throughput with 1, 4 and 16 concurrent clients (the queue is deep
  enough that none is turned away);
- a deliberately small queue (--queue 2) under 16 clients: only 200s and 503s with Retry-After;
- the server's resident memory over 1,000 requests (of MEMORY_SIZE frames, to keep the run
  short), sampled every 100;
- what the service's malloc settings (service/allocator.py) are worth: page faults and time of
  denoise() with and without them, on the main thread and on a worker thread.

Loopback only. Bounded: a few minutes on 2 CPU cores with the width-16 model.

    .venv/bin/python benchmarks/service_bench.py [--model M] [--size 512]
        [--requests 1:40,4:80,16:160] [--memory-requests 1000] [--memory-size 128]
        [--out benchmarks/results/service.md]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# On a machine shared with other jobs, OpenMP's default of spinning while it waits makes torch
# on 2 threads up to 20x slower (measured here: a 128x128 frame 0.59 s instead of 0.025 s).
# Both the direct path and the server (a child, it inherits this) run with passive waiting,
# which must be set before torch is first imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def make_inputs(folder: Path, model: str | None, size: int, memory_size: int) -> dict:
    """The model file (made, width 16, random weights, unless given) and the frame files."""
    import torch

    from mcdenoise.core.exr import write_frame
    from mcdenoise.core.frame import Frame
    from mcdenoise.nn.model import UNet, UNetConfig
    from mcdenoise.nn.modelfile import save_model
    from mcdenoise.nn.transform import transform_for

    if model is None:
        torch.manual_seed(0)
        config = UNetConfig(in_channels=9, out_channels=3, width=16)
        model = str(folder / "width16.safetensors")
        save_model(model, UNet(config), {"architecture": config.to_dict(),
                                          "transform": transform_for("full").to_dict()})
        label = "U-Net width 16 (the test preset), random weights"
    else:
        label = f"{model}"
    rng = np.random.default_rng(0)
    files = {}
    for side in {size, memory_size}:
        normal = rng.normal(size=(side, side, 3))
        frame = Frame(color=rng.gamma(1.0, 0.5, (side, side, 3)),
                      albedo=rng.uniform(0.05, 0.95, (side, side, 3)),
                      normal=normal / np.linalg.norm(normal, axis=-1, keepdims=True))
        files[side] = folder / f"frame{side}.exr"
        write_frame(frame, files[side])
    return {"model": model, "model_label": label, "files": files}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def server(model: str, queue: int, log: Path, *flags: str):
    """A `mcdenoise serve` of ``model`` on 127.0.0.1 (``flags``: more of its options); yields
    (base URL, pid) once it is ready."""
    port = free_port()
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "mcdenoise.cli", "serve", "--host", "127.0.0.1", "--port",
             str(port), "--model", model, "--queue", str(queue), "--device", "cpu",
             "--log-level", "info", *flags], stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start; see {log}")
            time.sleep(0.2)
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()


def post(client: httpx.Client, url: str, data: bytes) -> tuple[float, int, httpx.Headers]:
    started = time.perf_counter()
    response = client.post(f"{url}/v1/denoise", files={"file": ("frame.exr", data)})
    response.read()
    return time.perf_counter() - started, response.status_code, response.headers


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def run_clients(url: str, data: bytes, clients: int, requests: int) -> dict:
    """``requests`` POSTs shared among ``clients`` threads; latencies, statuses, throughput."""
    lock, latencies, statuses = threading.Lock(), [], {}
    remaining = [requests]
    retry_after_ok = [True]

    def client_loop() -> None:
        with httpx.Client(timeout=600) as client:
            while True:
                with lock:
                    if remaining[0] == 0:
                        return
                    remaining[0] -= 1
                seconds, status, headers = post(client, url, data)
                with lock:
                    statuses[status] = statuses.get(status, 0) + 1
                    if status == 200:
                        latencies.append(seconds)
                    elif status == 503 and "retry-after" not in headers:
                        retry_after_ok[0] = False

    started = time.perf_counter()
    threads = [threading.Thread(target=client_loop) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {"clients": clients, "requests": requests, "statuses": statuses,
            "p50_s": percentile(latencies, 50), "p99_s": percentile(latencies, 99),
            "mean_s": statistics.fmean(latencies) if latencies else float("nan"),
            "throughput_per_s": statuses.get(200, 0) / wall, "wall_s": wall,
            "retry_after_on_every_503": retry_after_ok[0]}


def interleaved_direct_and_service(url: str, model: str, path: Path, repeats: int,
                                   workdir: Path) -> dict:
    """Direct path and one HTTP client, alternating, ``repeats`` times each."""
    from mcdenoise.core.exr import read_frame, write_frame
    from mcdenoise.infer.denoise import denoise, load_denoiser

    denoiser = load_denoiser(model, "cpu")
    data = path.read_bytes()

    def direct() -> tuple[float, float]:
        started = time.perf_counter()
        frame = read_frame(path)
        t0 = time.perf_counter()
        out = denoise(denoiser, frame)
        t1 = time.perf_counter()
        write_frame(out, workdir / "direct_out.exr")
        return time.perf_counter() - started, t1 - t0

    times = {"direct": [], "denoise_only": [], "service": []}
    with httpx.Client(timeout=600) as client:
        direct(), post(client, url, data)  # warm-up: first calls allocate and tune
        for _ in range(repeats):
            total, only = direct()
            times["direct"].append(total)
            times["denoise_only"].append(only)
            seconds, status, _ = post(client, url, data)
            assert status == 200, status
            times["service"].append(seconds)
    result = {name: {"p50_s": percentile(v, 50), "p99_s": percentile(v, 99)}
              for name, v in times.items()}
    result["overhead_p50"] = result["service"]["p50_s"] / result["direct"]["p50_s"] - 1
    # Each service call against the direct call just before it: robust to the machine's load
    # drifting during the run (other jobs share these cores).
    ratios = [s / d for s, d in zip(times["service"], times["direct"])]
    result["paired_overhead_median"] = statistics.median(ratios) - 1
    result["repeats"] = repeats
    return result


def server_steps(log: Path, last: int) -> dict[str, float]:
    """Median seconds of each step the server logged for its ``last`` denoised frames."""
    steps: dict[str, list[float]] = {}
    lines = [line for line in log.read_text(errors="replace").splitlines()
             if "mcdenoise.service: denoised" in line][-last:]
    for line in lines:
        words = line.rsplit(": ", 1)[1].split()
        for name, value in zip(words[::2], words[1::2]):
            steps.setdefault(name, []).append(float(value))
    return {name: statistics.median(values) for name, values in steps.items()}


def allocator_probe(model: str, frame_path: str, tuned: bool, thread: bool, repeats: int = 8) -> dict:
    """Minor page faults and median seconds per denoise() in this process: with or without the
    service's malloc settings, on the main thread or on another one (like the service's
    worker). Run in a fresh process per case: malloc settings cannot be undone."""
    import resource

    from mcdenoise.core.exr import read_frame
    from mcdenoise.infer.denoise import denoise, load_denoiser
    from service.allocator import tune_allocator

    if tuned:
        assert tune_allocator()
    denoiser, frame, result = load_denoiser(model, "cpu"), read_frame(frame_path), {}

    def loop() -> None:
        for _ in range(2):
            denoise(denoiser, frame)
        faults, times = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, []
        for _ in range(repeats):
            started = time.perf_counter()
            denoise(denoiser, frame)
            times.append(time.perf_counter() - started)
        result["faults"] = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / repeats
        result["seconds"] = statistics.median(times)

    if thread:
        worker = threading.Thread(target=loop)
        worker.start()
        worker.join()
    else:
        loop()
    return result


def allocator_effect(model: str, frame_path: Path) -> list[dict]:
    cases = []
    for tuned, thread in ((False, False), (False, True), (True, False), (True, True)):
        output = subprocess.run(
            [sys.executable, __file__, "--probe", json.dumps([model, str(frame_path), tuned,
                                                              thread])],
            capture_output=True, text=True, check=True, cwd=ROOT).stdout
        cases.append({"tuned": tuned, "thread": thread, **json.loads(output.splitlines()[-1])})
        print(json.dumps(cases[-1]), flush=True)
    return cases


def rss_mb(pid: int) -> float:
    import psutil
    return psutil.Process(pid).memory_info().rss / 2**20


def memory_run(url: str, pid: int, data: bytes, total: int, clients: int = 4) -> dict:
    samples = [(0, rss_mb(pid))]
    done, statuses = 0, {}
    while done < total:
        batch = min(100, total - done)
        result = run_clients(url, data, clients, batch)
        for status, count in result["statuses"].items():
            statuses[status] = statuses.get(status, 0) + count
        done += batch
        samples.append((done, rss_mb(pid)))
    return {"requests": total, "statuses": statuses, "rss_mb": samples}


def machine() -> dict:
    import torch

    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "load_average": os.getloadavg(), "date": time.strftime("%Y-%m-%d %H:%M %Z"),
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY")}


def report(results: dict) -> str:
    size, m = results["size"], results["machine"]
    direct = results["direct"]
    lines = [
        "# Service load benchmark",
        "",
        f"`{results['command']}`",
        "",
        f"- Machine: {m['cpu']}, {m['cores']} cores shared with other jobs (load average "
        f"{m['load_average'][0]:.1f} at the start), no GPU; Python {m['python']}, torch "
        f"{m['torch']} ({m['torch_threads']} threads, OMP_WAIT_POLICY={m['omp_wait_policy']}: "
        "with OpenMP's default spinning, torch on this shared machine ran up to 20x slower, "
        f"for the direct path and the service alike), {m['date']}.",
        f"- Model: {results['model_label']}; device cpu.",
        f"- Frames: {size}x{size}, colour + albedo + normal, half, zip "
        f"({results['frame_bytes'] / 2**20:.2f} MiB); server `mcdenoise serve --queue 32` on "
        "127.0.0.1, clients httpx (one connection each, multipart upload).",
        "",
        f"## Overhead over calling the denoiser directly ({size}x{size}, one client)",
        "",
        f"Direct = read_frame + denoise + write_frame in the benchmark process; service = one "
        f"HTTP request (upload, checks, decode, denoise, encode, download). Interleaved, "
        f"{direct['repeats']} of each. Both processes use the service's malloc settings "
        "(service/allocator.py; what they are worth is below).",
        "",
        "| path | p50 s | p99 s |",
        "|---|---:|---:|",
        f"| denoise() alone | {direct['denoise_only']['p50_s']:.3f} | "
        f"{direct['denoise_only']['p99_s']:.3f} |",
        f"| direct (read + denoise + write) | {direct['direct']['p50_s']:.3f} | "
        f"{direct['direct']['p99_s']:.3f} |",
        f"| service (HTTP round trip) | {direct['service']['p50_s']:.3f} | "
        f"{direct['service']['p99_s']:.3f} |",
        "",
        f"**Overhead at p50: {100 * direct['overhead_p50']:+.1f} %** (target at most +10 %); "
        f"median of the paired ratios (each request against the direct call just before it, "
        f"which cancels drift in the machine's load): "
        f"{100 * direct['paired_overhead_median']:+.1f} %.",
        "",
        "Where a request's time goes, by the server's own log (medians, seconds): "
        + ", ".join(f"{name} {value:.3f}" for name, value in results["server_steps"].items())
        + f"; the rest of the {direct['service']['p50_s']:.3f} s round trip is HTTP on "
        "both sides (sending the upload, multipart parsing, the download).",
        "",
        f"## Latency and throughput ({size}x{size})",
        "",
        "| clients | requests | p50 s | p99 s | throughput frames/s | statuses |",
        "|---:|---:|---:|---:|---:|---|",
    ]
    for run in results["load"]:
        lines.append(f"| {run['clients']} | {run['requests']} | {run['p50_s']:.3f} | "
                     f"{run['p99_s']:.3f} | {run['throughput_per_s']:.2f} | "
                     f"{_statuses(run['statuses'])} |")
    over = results["overload"]
    lines += [
        "",
        "With one inference worker, throughput is the denoiser's: more clients only queue "
        "(latency grows with the queue, throughput stays).",
        "",
        f"## A full queue ({over['clients']} clients, `--queue 2`)",
        "",
        f"{over['requests']} requests: {_statuses(over['statuses'])}; every 503 carried "
        f"Retry-After: {'yes' if over['retry_after_on_every_503'] else 'NO'}. No other errors.",
        "",
        f"## Memory over {results['memory']['requests']} requests "
        f"({results['memory_size']}x{results['memory_size']}, 4 clients)",
        "",
        f"Statuses: {_statuses(results['memory']['statuses'])}. Server resident memory (MiB) "
        "after N requests:",
        "",
        "| requests | " + " | ".join(str(n) for n, _ in results["memory"]["rss_mb"]) + " |",
        "|---|" + "---:|" * len(results["memory"]["rss_mb"]),
        "| RSS MiB | " + " | ".join(f"{mb:.0f}" for _, mb in results["memory"]["rss_mb"]) + " |",
        "",
        f"RSS after the {size}x{size} runs: {results['rss_after_load_mb']:.0f} MiB.",
        "",
        f"## Allocator settings ({size}x{size}, denoise() alone, a fresh process per row)",
        "",
        "glibc's defaults map and unmap large buffers on every forward pass, trim freed "
        "memory back to the kernel and give each thread an arena of its own, so each call "
        "page-faults its activations in again, worst on threads other than the main one, "
        "where the service runs inference. `mcdenoise serve` raises the mmap threshold to "
        "32 MiB and the trim threshold to 512 MiB and keeps one arena, at start-up "
        "(service/allocator.py). Before it did, the server spent about 28 % more CPU per "
        "512x512 request than the direct path (83k page faults per request; 21k after).",
        "",
        "| malloc | thread | minor page faults per call | median s |",
        "|---|---|---:|---:|",
    ]
    for case in results["allocator"]:
        lines.append(f"| {'service settings' if case['tuned'] else 'glibc defaults'} | "
                     f"{'worker' if case['thread'] else 'main'} | {case['faults']:,.0f} | "
                     f"{case['seconds']:.3f} |")
    lines += [
        "",
        "Times on this shared machine drift with the other jobs' load; the page-fault counts "
        "do not.",
        "",
    ]
    return "\n".join(lines)


def _statuses(statuses: dict) -> str:
    return ", ".join(f"{count} x {status}" for status, count in sorted(statuses.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model file (default: a random-weight width-16 U-Net)")
    parser.add_argument("--size", type=int, default=512, help="frame side, pixels (default 512)")
    parser.add_argument("--requests", default="1:40,4:80,16:160",
                        help="CLIENTS:REQUESTS runs (default 1:40,4:80,16:160)")
    parser.add_argument("--direct-repeats", type=int, default=30,
                        help="interleaved direct/service pairs (default 30)")
    parser.add_argument("--memory-requests", type=int, default=1000)
    parser.add_argument("--memory-size", type=int, default=128)
    parser.add_argument("--out", type=Path, help="write the Markdown report here")
    parser.add_argument("--probe", help=argparse.SUPPRESS)  # internal: one allocator_probe
    args = parser.parse_args(argv)
    if args.probe:
        print(json.dumps(allocator_probe(*json.loads(args.probe))))
        return 0

    # The direct path runs with the same malloc settings as the server, so that the overhead
    # measured is the service's own; what the settings are worth is measured apart.
    from service.allocator import tune_allocator
    tune_allocator()

    with tempfile.TemporaryDirectory(prefix="service-bench-") as tmp:
        folder = Path(tmp)
        inputs = make_inputs(folder, args.model, args.size, args.memory_size)
        data = inputs["files"][args.size].read_bytes()
        results = {"command": "python benchmarks/service_bench.py " + " ".join(
                       argv if argv is not None else sys.argv[1:]),
                   "machine": machine(), "size": args.size, "memory_size": args.memory_size,
                   "model_label": inputs["model_label"], "frame_bytes": len(data)}
        with server(inputs["model"], 32, folder / "server.log") as (url, pid):
            print(f"server up at {url}", flush=True)
            results["direct"] = interleaved_direct_and_service(
                url, inputs["model"], inputs["files"][args.size], args.direct_repeats, folder)
            time.sleep(0.5)  # let the server's log catch up
            results["server_steps"] = server_steps(folder / "server.log", args.direct_repeats)
            print(json.dumps(results["direct"]), flush=True)
            results["load"] = []
            for spec in args.requests.split(","):
                clients, requests = (int(v) for v in spec.split(":"))
                results["load"].append(run_clients(url, data, clients, requests))
                print(json.dumps(results["load"][-1]), flush=True)
            results["rss_after_load_mb"] = rss_mb(pid)
            small = inputs["files"][args.memory_size].read_bytes()
            run_clients(url, small, 4, 20)  # warm-up at the new size
            results["memory"] = memory_run(url, pid, small, args.memory_requests)
            print(json.dumps(results["memory"]), flush=True)
        with server(inputs["model"], 2, folder / "server2.log") as (url, _):
            results["overload"] = run_clients(url, data, 16, 48)
            print(json.dumps(results["overload"]), flush=True)
        results["allocator"] = allocator_effect(inputs["model"], inputs["files"][args.size])

    text = report(results)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        args.out.with_suffix(".json").write_text(json.dumps(results, indent=1, default=str))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
