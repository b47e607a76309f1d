"""Reliability figures (benchmarks/results/reliability.md): the service and the farm under abuse.

Against a real `mcdenoise serve` of the shipped model on 127.0.0.1, default limits:
- fuzzing: ``--fuzz`` mutated EXRs (bit flips anywhere or in the header, truncations, edits
  of header fields such as dataWindow, channels, compression, tiles, chunkCount, spliced and
  zeroed spans) of valid files of several kinds (scanline half/float in several compressions,
  tiled, multipart, Blender-style multilayer, separate albedo/normal files), posted as the
  frame, as an aux file beside a good colour file, or to /v1/preview, by 4 clients at once;
  counts per status class (5xx must be 0), the server's peak resident memory, and a good
  frame served afterwards;
- the schemathesis run of tests/service/test_service_fuzz.py with ``--schemathesis``
  examples per operation, counting the statuses of every response;
- a soak of ``--soak`` requests (4 clients, 128x128 frames with aux): resident memory
  sampled every 100 requests;
- slow and disconnecting clients beside a normal one: slow drippers, stalled uploads,
  clients leaving mid-upload and clients leaving while their frame waits or is denoised; the
  normal client's statuses, and the queue and upload places back to 0 afterwards.
And the farm: `mcdenoise dataset` with render workers killed (SIGKILL) every few seconds;
items retried, lost and duplicated, and every file checked.

    .venv/bin/python benchmarks/reliability_bench.py [--fuzz 5000] [--schemathesis 200]
        [--soak 1000] [--kills 8] [--out benchmarks/results/reliability.md]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.service_bench import machine, memory_run, rss_mb, server  # noqa: E402

FRAME_H, FRAME_W = 48, 64
HEADER_FIELDS = ("dataWindow", "displayWindow", "channels", "compression", "tiles",
                 "chunkCount", "lineOrder", "type", "name", "pixelAspectRatio")
EXTREMES = [0, 1, -1, 2**31 - 1, -2**31, 65535, 1 << 20, 4096, 100_000]


# --- the files ----------------------------------------------------------------------------
def seed_files(folder: Path) -> dict[str, bytes]:
    """Valid EXRs of every kind an artist sends, FRAME_W x FRAME_H."""
    import OpenEXR

    from mcdenoise.core.exr import write_frame
    from mcdenoise.core.frame import Frame

    rng = np.random.default_rng(0)

    def plane(dtype=np.float16):
        return rng.uniform(0, 4, (FRAME_H, FRAME_W)).astype(dtype)

    frame = Frame(color=rng.uniform(0, 4, (FRAME_H, FRAME_W, 3)).astype(np.float32),
                  albedo=rng.uniform(0, 1, (FRAME_H, FRAME_W, 3)).astype(np.float32),
                  normal=np.dstack([plane(np.float32) - 2 for _ in range(3)]),
                  alpha=np.ones((FRAME_H, FRAME_W), np.float32))
    files: dict[str, bytes] = {}

    def keep(name: str, write) -> None:
        path = folder / f"{name}.exr"
        write(path)
        files[name] = path.read_bytes()

    for precision, compression in (("half", "zip"), ("float", "piz"), ("half", "none"),
                                   ("half", "rle"), ("float", "zips")):
        keep(f"scanline-{precision}-{compression}", lambda p, a=precision, b=compression:
             write_frame(frame, p, precision=a, compression=b))
    keep("albedo-only", lambda p: write_frame(Frame(color=frame.albedo), p))
    keep("normal-only", lambda p: OpenEXR.File({}, {f"normal.{c}": frame.normal[..., i]
                                                    for i, c in enumerate("XYZ")}).write(str(p)))
    tiles = OpenEXR.TileDescription()
    tiles.xSize = tiles.ySize = 16
    keep("tiled", lambda p: OpenEXR.File(
        {"type": OpenEXR.tiledimage, "tiles": tiles},
        {**{c: plane() for c in "RGBA"}, **{f"albedo.{c}": plane() for c in "RGB"}}).write(str(p)))
    keep("multipart", lambda p: OpenEXR.File([
        OpenEXR.Part({}, {c: plane(np.float32) for c in "RGB"}, "beauty"),
        OpenEXR.Part({}, {**{f"albedo.{c}": plane() for c in "RGB"},
                          **{f"normal.{c}": plane() for c in "XYZ"}}, "aux")]).write(str(p)))
    blender = {"ViewLayer.IndexOB.X": rng.integers(0, 9, (FRAME_H, FRAME_W)).astype(np.uint32),
               "ViewLayer.Depth.Z": plane(np.float32)}
    blender.update({f"ViewLayer.Combined.{c}": plane() for c in "RGBA"})
    blender.update({f"ViewLayer.Denoising Albedo.{c}": plane() for c in "RGB"})
    blender.update({f"ViewLayer.Denoising Normal.{c}": plane(np.float32) for c in "XYZ"})
    keep("blender", lambda p: OpenEXR.File({"BlenderMultiChannel": "Blender V2.55.1 and newer"},
                                           dict(sorted(blender.items()))).write(str(p)))
    return files


def header_value(data: bytes, name: str) -> tuple[int, int] | None:
    """(offset, size) of the value of header attribute ``name`` in raw EXR bytes, or None."""
    at = data.find(name.encode() + b"\0")
    if at < 0:
        return None
    kind_end = data.find(b"\0", at + len(name) + 1)
    if kind_end < 0 or kind_end + 5 > len(data):
        return None
    size = struct.unpack("<i", data[kind_end + 1:kind_end + 5])[0]
    return kind_end + 5, size


def mutate(data: bytes, rng: np.random.Generator) -> tuple[str, bytes]:
    """One random mutation of a valid file: (its kind, the bytes)."""
    out = bytearray(data)
    kind = rng.choice(["bitflip", "header-bitflip", "truncate", "field-edit", "splice", "zero"],
                      p=[0.2, 0.2, 0.15, 0.3, 0.1, 0.05])
    header_end = min(len(out), data.find(b"\0\0", 8) + 400 if data.find(b"\0\0", 8) > 0 else 400)
    if kind in ("bitflip", "header-bitflip"):
        span = len(out) if kind == "bitflip" else max(header_end, 1)
        for _ in range(int(rng.integers(1, 17))):
            position = int(rng.integers(0, span))
            out[position] ^= 1 << int(rng.integers(0, 8))
    elif kind == "truncate":
        out = out[:int(rng.integers(0, len(out)))]
    elif kind == "field-edit":
        present = [n for n in HEADER_FIELDS if header_value(data, n)]
        offset, size = header_value(data, str(rng.choice(present)))
        size = max(0, min(size, len(out) - offset))
        if size % 4 == 0 and size and rng.random() < 0.7:  # integers: extremes at random
            for index in rng.choice(size // 4, int(rng.integers(1, size // 4 + 1)), replace=False):
                out[offset + 4 * index:offset + 4 * index + 4] = struct.pack(
                    "<i", int(rng.choice(EXTREMES)))
        else:
            out[offset:offset + size] = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
    elif kind == "splice":
        position = int(rng.integers(0, len(out)))
        if rng.random() < 0.5:
            del out[position:position + int(rng.integers(1, 65))]
        else:
            out[position:position] = rng.integers(0, 256, int(rng.integers(1, 65)),
                                                  dtype=np.uint8).tobytes()
    else:
        position = int(rng.integers(0, len(out)))
        out[position:position + int(rng.integers(1, 257))] = b"\0" * len(
            out[position:position + 256])
    return str(kind), bytes(out)


# --- the server ---------------------------------------------------------------------------
class PeakMemory:
    """The highest resident memory of process ``pid`` (MiB), sampled every 0.1 s."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            try:
                self.peak = max(self.peak, rss_mb(self.pid))
            except psutil.Error:
                return

    def __enter__(self) -> "PeakMemory":
        self.peak = rss_mb(self.pid)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def fuzz(url: str, pid: int, files: dict[str, bytes], count: int) -> dict:
    rng = np.random.default_rng(1)
    frames = [n for n in files if not n.endswith("-only")]
    plan = []
    for index in range(count):
        seed = str(rng.choice(frames if index % 10 < 8 else ["albedo-only", "normal-only"]))
        kind, data = mutate(files[seed], rng)
        if index % 10 < 7:
            plan.append((seed, kind, "/v1/denoise", {"file": ("f.exr", data)}))
        elif index % 10 == 7:
            plan.append((seed, kind, "/v1/preview", {"file": ("f.exr", data)}))
        else:  # a mutated aux file beside a good colour file
            role = seed.split("-")[0]
            plan.append((seed, kind, "/v1/denoise", {
                "color": ("c.exr", files["scanline-half-zip"]), role: ("a.exr", data)}))
    statuses, by_kind, codes, failures = Counter(), Counter(), Counter(), []
    lock = threading.Lock()

    def send(entry) -> None:
        seed, kind, route, form = entry
        with httpx.Client(timeout=120) as client:
            response = client.post(url + route, files=form)
        with lock:
            statuses[f"{response.status_code // 100}xx"] += 1
            by_kind[(kind, f"{response.status_code // 100}xx")] += 1
            if response.status_code >= 400:
                codes[response.json().get("error", "?")] += 1
            if response.status_code >= 500 and response.status_code != 503:
                failures.append(f"{seed} {kind} {route}: {response.status_code} {response.text[:200]}")

    began = time.perf_counter()
    with PeakMemory(pid) as memory, ThreadPoolExecutor(4) as pool:
        list(pool.map(send, plan))
    after = httpx.post(f"{url}/v1/denoise", files={"file": ("g.exr", files["scanline-half-zip"])},
                       timeout=120)
    return {"requests": count, "seconds": round(time.perf_counter() - began, 1),
            "statuses": dict(statuses), "by_kind": {f"{k} {s}": n for (k, s), n in
                                                    sorted(by_kind.items())},
            "errors": dict(codes.most_common(12)), "failures": failures[:20],
            "peak_rss_mb": round(memory.peak, 1), "served_after": after.status_code}


def schemathesis_run(examples: int, folder: Path) -> dict:
    statuses = folder / "schemathesis_statuses.json"
    env = {**os.environ, "MCDENOISE_FUZZ_EXAMPLES": str(examples),
           "MCDENOISE_FUZZ_STATUSES": str(statuses)}
    began = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             "tests/service/test_service_fuzz.py"], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    counts = json.loads(statuses.read_text()) if statuses.exists() else {}
    classes = Counter()
    for status, n in counts.items():
        classes[f"{int(status) // 100}xx"] += n
    return {"examples_per_operation": examples, "exit_code": result.returncode,
            "summary": result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "",
            "statuses": dict(sorted(counts.items())), "classes": dict(classes),
            "seconds": round(time.perf_counter() - began, 1)}


def raw_post(url: str, body: bytes, declared: int) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    sock.sendall((f"POST /v1/denoise HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: "
                  f"multipart/form-data; boundary=b0undary\r\nContent-Length: {declared}\r\n\r\n"
                  ).encode() + body)
    return sock


def status_of(sock: socket.socket, timeout: float = 120) -> str:
    """'STATUS error_code' of the response read from ``sock`` (head and body, by its
    Content-Length), or 'closed' when the server closed the connection without one."""
    sock.settimeout(timeout)
    data = b""
    try:
        while b"\r\n\r\n" not in data and (chunk := sock.recv(4096)):
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = re.search(rb"(?i)content-length:\s*(\d+)", head)
        while length and len(body) < int(length.group(1)) and (chunk := sock.recv(4096)):
            body += chunk
    except OSError as error:
        return f"closed ({type(error).__name__})"
    match = re.match(rb"HTTP/1\.1 (\d+)", head)
    code = re.search(rb'"error":"(\w+)"', body)
    if not match:
        return "closed"
    return f"{match.group(1).decode()} {code.group(1).decode() if code else ''}".strip()


def multipart_body(data: bytes) -> bytes:
    return (b"--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.exr\"\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n--b0undary--\r\n")


def abusive_clients(url: str, pid: int, small: bytes, large: bytes, seconds: float) -> dict:
    """Slow, stalled and leaving clients started together, a normal client beside them."""
    body, big = multipart_body(small), multipart_body(large)
    outcomes: dict[str, Counter] = {k: Counter() for k in ("drip", "stall", "leave_upload",
                                                           "leave_waiting")}

    def drip() -> None:
        sock = raw_post(url, body[:200], len(body))
        for byte in body[200:]:
            if _readable(sock):  # the server answered
                break
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
            time.sleep(0.5)
        outcomes["drip"][status_of(sock)] += 1
        sock.close()

    def stall() -> None:
        sock = raw_post(url, body[:300], len(body))
        outcomes["stall"][status_of(sock)] += 1
        sock.close()

    def leave_upload() -> None:
        sock = raw_post(url, big[:len(big) // 2], len(big))
        time.sleep(0.5)
        sock.close()
        outcomes["leave_upload"]["left"] += 1

    def leave_waiting() -> None:
        sock = raw_post(url, big, len(big))
        time.sleep(0.2)  # the upload is complete: it waits or is being denoised
        sock.close()
        outcomes["leave_waiting"]["left"] += 1

    normal, latencies = Counter(), []

    def normal_client() -> None:
        end = time.monotonic() + seconds
        with httpx.Client(timeout=120) as client:
            while time.monotonic() < end:
                began = time.perf_counter()
                response = client.post(f"{url}/v1/denoise", files={"file": ("g.exr", small)})
                normal[str(response.status_code)] += 1
                if response.status_code == 200:
                    latencies.append(time.perf_counter() - began)
                else:
                    time.sleep(float(response.headers.get("retry-after", 1)))

    # Two waves: slow clients first (they hold the upload places until the idle limit and the
    # minimum rate cut them off), then clients that leave, one every 0.3 s.
    actors = [(0.0, stall)] * 4 + [(0.3, drip)] * 12 + [(0.6, stall)] * 4 + [
        (12.0 + 0.3 * i, leave) for i, leave in enumerate([leave_upload, leave_waiting] * 8)]

    def delayed(delay: float, actor) -> None:
        time.sleep(delay)
        actor()

    with PeakMemory(pid) as memory:
        threads = [threading.Thread(target=delayed, args=a) for a in actors]
        threads.append(threading.Thread(target=normal_client))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            gauges = metrics(url)
            if gauges.get("mcdenoise_uploads_in_progress") == 0 and \
                    gauges.get("mcdenoise_queue_depth", 0) == 0:
                break
            time.sleep(0.5)
    after = httpx.post(f"{url}/v1/denoise", files={"file": ("g.exr", small)}, timeout=120)
    return {"actors": {"drip (1 byte / 0.5 s)": 12, "stall": 8, "leave mid-upload": 8,
                       "leave while waiting or denoised (384x384)": 8},
            "outcomes": {k: dict(v) for k, v in outcomes.items()},
            "normal_client": {"statuses": dict(normal), "seconds": seconds,
                              "p50_s": round(float(np.median(latencies)), 3) if latencies else None,
                              "max_s": round(max(latencies), 3) if latencies else None},
            "gauges_after": metrics(url), "served_after": after.status_code,
            "peak_rss_mb": round(memory.peak, 1)}


def _readable(sock: socket.socket) -> bool:
    import select

    return bool(select.select([sock], [], [], 0)[0])


def metrics(url: str) -> dict[str, float]:
    """The gauges and the rejection counters of /metrics (a keyless loopback server)."""
    text = httpx.get(f"{url}/metrics", timeout=30).text
    found = {}
    for line in text.splitlines():
        match = re.match(r"(mcdenoise_(?:uploads_in_progress|queue_depth|requests_in_flight|rejected_total"
                         r"(?:\{[^}]*\})?))\s+([\d.e+-]+)$", line)
        if match:
            found[match.group(1)] = float(match.group(2))
    return found


# --- the farm -----------------------------------------------------------------------------
def farm_kills(folder: Path, kills: int) -> dict:
    from mcdenoise.core.exr import read_frame
    from mcdenoise.farm.manifest import MANIFEST

    out = folder / "farm"
    scenes = "cornell:0-2,interior:0-2"
    command = [sys.executable, "-m", "mcdenoise.cli", "dataset", "-o", str(out), "--scenes",
               scenes, "--spp", "16", "--reference-spp", "4096", "--chunk-spp", "512",
               "--width", "64", "--num-cpus", "2", "--retries", str(kills + 2)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    killed = 0
    while process.poll() is None and killed < kills:
        time.sleep(3)
        busy = [p for p in psutil.Process(process.pid).children(recursive=True)
                if _cmdline(p).startswith("ray::render_item")]
        if busy:
            busy[0].send_signal(signal.SIGKILL)
            killed += 1
    stdout, stderr = process.communicate(timeout=1800)
    lines = [json.loads(line) for line in (out / MANIFEST).read_text().splitlines() if line]
    done = Counter(r["key"] for r in lines if r["status"] == "done")
    planned = 6 * (2 + 8 + 1)
    for path in out.rglob("*.exr"):
        read_frame(path)
    references = [read_frame(p).metadata["spp"] for p in out.rglob("reference.exr")]
    retried = re.search(r"(\d+) retried", stdout)
    return {"command": "mcdenoise " + " ".join(command[3:]).replace(str(out), "DIR"),
            "exit_code": process.returncode, "workers_killed": killed,
            "retried": int(retried.group(1)) if retried else None, "planned_items": planned,
            "done_items": len(done), "lost": planned - len(done),
            "duplicated": sum(n - 1 for n in done.values()),
            "failed_records": sum(r["status"] == "failed" for r in lines),
            "references_spp": sorted(set(references)),
            "summary": stdout.strip().splitlines()[-1].replace(str(out), "DIR") if stdout.strip() else "",
            "stderr_tail": stderr.strip()[-300:].replace(str(out), "DIR") if process.returncode else ""}


def _cmdline(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.Error:
        return ""


# --- the report ---------------------------------------------------------------------------
def report(results: dict, command: str) -> str:
    m, f, s, soak, abuse, farm = (results[k] for k in ("machine", "fuzz", "schemathesis", "soak",
                                                       "abuse", "farm"))
    rss = soak["rss_mb"]
    lines = [
        "# Reliability: the service and the farm under abuse", "",
        f"- Command: `{command}`",
        f"- Machine: {m['cores']} cores, {m['cpu']}, Python {m['python']}, torch {m['torch']}; "
        f"{m['date']}",
        "- Server: `mcdenoise serve` of the shipped model on 127.0.0.1, default limits unless "
        "said, a process of its own (its resident memory is what is measured)", "",
        "## Fuzzing with mutated EXRs", "",
        f"{f['requests']:,} requests, 4 clients, {f['seconds']} s. Seeds: valid {FRAME_W}x"
        f"{FRAME_H} files (scanline half/float in zip, piz, none, rle, zips; tiled; multipart; "
        "Blender-style multilayer; separate albedo and normal files). 70 % posted as the frame, "
        "10 % to /v1/preview, 20 % as the albedo or normal file beside a good colour file.", "",
        "| status | count |", "|---|---|",
        *[f"| {k} | {v:,} |" for k, v in sorted(f["statuses"].items())],
        "", f"5xx: **{sum(v for k, v in f['statuses'].items() if k == '5xx')}**. Peak "
        f"resident memory of the server: **{f['peak_rss_mb']:.0f} MiB**. A good frame "
        f"afterwards: **{f['served_after']}**.", "",
        "By mutation: " + ", ".join(f"{k}: {v}" for k, v in f["by_kind"].items()) + ".", "",
        "Most frequent error codes: " + ", ".join(f"`{k}` {v}" for k, v in f["errors"].items())
        + ".", *([""] + ["Failures:"] + [f"- {x}" for x in f["failures"]] if f["failures"] else []),
        "", "## Schemathesis", "",
        f"tests/service/test_service_fuzz.py with {s['examples_per_operation']} examples per "
        f"operation and mode (positive for every route, negative for the two POST routes), "
        f"against a keyed server: `{s['summary']}` (exit {s['exit_code']}, {s['seconds']} s).", "",
        "Responses by status: " + ", ".join(f"{k}: {v}" for k, v in s["statuses"].items())
        + "; by class: " + ", ".join(f"{k}: {v}" for k, v in sorted(s["classes"].items())) + ".",
        "", "## Soak", "",
        f"{soak['requests']:,} requests of 128x128 frames with albedo and normal, 4 clients: "
        f"statuses {soak['statuses']}. Resident memory (MiB) after each 100 requests:", "",
        "| requests | " + " | ".join(str(n) for n, _ in rss) + " |",
        "|---|" + "---|" * len(rss),
        "| RSS MiB | " + " | ".join(f"{v:.0f}" for _, v in rss) + " |", "",
        f"From request 100 to {rss[-1][0]}: {rss[-1][1] - rss[1][1]:+.0f} MiB "
        f"({(rss[-1][1] / rss[1][1] - 1) * 100:+.1f} %).", "",
        "## Slow and disconnecting clients", "",
        "Server flags: `--uploads 8 --queue 2 --upload-idle-timeout 5` (the rest default: "
        "`--min-upload-rate 16` KiB/s after 10 s). Started together: " + ", ".join(
            f"{n} {k}" for k, n in abuse["actors"].items()) + " (4 stalled ones first, then the "
        "drippers, then 4 more stalled; the leaving ones from 12 s on, one every 0.3 s), and a normal client posting "
        f"64x48 frames one after another for {abuse['normal_client']['seconds']:g} s.", "",
        "| clients | outcomes |", "|---|---|",
        *[f"| {k} | {v} |" for k, v in abuse["outcomes"].items()],
        f"| normal client | {abuse['normal_client']['statuses']} (p50 "
        f"{abuse['normal_client']['p50_s']} s, max {abuse['normal_client']['max_s']} s) |", "",
        f"Afterwards: {abuse['gauges_after']}; a good frame: **{abuse['served_after']}**; peak "
        f"resident memory {abuse['peak_rss_mb']:.0f} MiB.", "",
        "## The farm with workers killed", "",
        f"`{farm['command']}` with a busy render worker SIGKILLed every 3 s, "
        f"{farm['workers_killed']} times: exit {farm['exit_code']}, **{farm['retried']} "
        f"retried, {farm['lost']} lost, {farm['duplicated']} duplicated** of "
        f"{farm['planned_items']} items ({farm['failed_records']} failure records); every EXR "
        f"opens; references hold {farm['references_spp']} spp.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fuzz", type=int, default=5000)
    parser.add_argument("--schemathesis", type=int, default=200)
    parser.add_argument("--soak", type=int, default=1000)
    parser.add_argument("--abuse-seconds", type=float, default=40.0)
    parser.add_argument("--kills", type=int, default=8)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/reliability.md")
    args = parser.parse_args(argv)
    command = "python benchmarks/reliability_bench.py " + " ".join(argv or sys.argv[1:])
    from mcdenoise.core.exr import write_frame
    from mcdenoise.core.frame import Frame
    from mcdenoise.nn.modelfile import default_model_path

    model = str(default_model_path())
    results: dict = {"machine": machine()}
    with tempfile.TemporaryDirectory(prefix="mcdenoise-reliability-") as tmp:
        folder = Path(tmp)
        files = seed_files(folder)
        rng = np.random.default_rng(2)
        soak_path, large_path = folder / "soak.exr", folder / "large.exr"
        for path, side in ((soak_path, 128), (large_path, 384)):
            write_frame(Frame(color=rng.uniform(0, 2, (side, side, 3)).astype(np.float32),
                              albedo=rng.uniform(0, 1, (side, side, 3)).astype(np.float32),
                              normal=rng.uniform(-1, 1, (side, side, 3)).astype(np.float32)), path)
        print("fuzzing", flush=True)
        with server(model, 8, folder / "fuzz.log") as (url, pid):
            results["fuzz"] = fuzz(url, pid, files, args.fuzz)
            print(results["fuzz"]["statuses"], flush=True)
            print("soak", flush=True)
            results["soak"] = memory_run(url, pid, soak_path.read_bytes(), args.soak)
        print("schemathesis", flush=True)
        results["schemathesis"] = schemathesis_run(args.schemathesis, folder)
        print("slow and disconnecting clients", flush=True)
        with server(model, 2, folder / "abuse.log", "--uploads", "8",
                    "--upload-idle-timeout", "5") as (url, pid):
            results["abuse"] = abusive_clients(url, pid, files["scanline-half-zip"],
                                               large_path.read_bytes(), args.abuse_seconds)
        print("farm with killed workers", flush=True)
        results["farm"] = farm_kills(folder, args.kills)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    args.out.write_text(report(results, command))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
