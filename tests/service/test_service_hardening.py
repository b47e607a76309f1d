"""The service under hostile or careless clients: uploads that would decode to gigabytes,
aux buffers of another size, clients that stall or leave, failures around the temporary
folders, DNS rebinding, keys that cannot work. Real uvicorn on 127.0.0.1 (in a thread where
the test must reach inside), real EXR files.
"""
from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import OpenEXR
import pytest

from service_support import exr_bytes, make_app, make_frame, make_model, server_thread


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("hardening")


@pytest.fixture(scope="module")
def model(folder) -> Path:
    return make_model(folder / "tiny.safetensors", "full")


@pytest.fixture(scope="module")
def good(folder) -> bytes:
    return exr_bytes(make_frame(), folder, "good.exr")


def assert_error(response: httpx.Response, status: int, code: str, *words: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code, body
    for word in words:
        assert word.lower() in body["detail"].lower(), body


def wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def raw_exr(path: Path, parts: list[tuple[dict, dict]]) -> bytes:
    """An EXR of one or more parts, each (header, channels), written by the OpenEXR binding."""
    # The binding turns the arrays of the dicts it is given into Channels: give it copies.
    parts = [(dict(header), dict(channels)) for header, channels in parts]
    if len(parts) == 1:
        OpenEXR.File(*parts[0]).write(str(path))
    else:
        OpenEXR.File([OpenEXR.Part(header, channels, name=f"part{i}")
                      for i, (header, channels) in enumerate(parts)]).write(str(path))
    return path.read_bytes()


def window(side: int, display: int | None = None) -> dict:
    """Header windows of a part of side x side pixels; all parts share one display window."""
    box = lambda n: (np.array([0, 0], np.int32), np.array([n - 1, n - 1], np.int32))  # noqa: E731
    return {"dataWindow": box(side), "displayWindow": box(display or side)}


def answer(sock: socket.socket, timeout: float = 30.0) -> str:
    """The HTTP response read from ``sock`` (head and body, by its Content-Length)."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data and (chunk := sock.recv(4096)):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next((line.split(b":")[1] for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), b"0"))
    while len(body) < length and (chunk := sock.recv(4096)):
        body += chunk
    return (head + b"\r\n\r\n" + body).decode("latin-1")


def multipart(fields: dict[str, bytes], boundary: str = "b0undary") -> bytes:
    body = b""
    for name, data in fields.items():
        body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; "
                 f"filename=\"{name}.exr\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                 ).encode() + data + b"\r\n"
    return body + f"--{boundary}--\r\n".encode()


def send_raw(base_url: str, body: bytes, declared: int | None = None) -> socket.socket:
    """Open a connection and send a POST /v1/denoise with (the start of) ``body``."""
    host, port = base_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    head = (f"POST /v1/denoise HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: multipart/"
            f"form-data; boundary=b0undary\r\nContent-Length: {declared or len(body)}\r\n\r\n")
    sock.sendall(head.encode() + body)
    return sock


# --- what is decoded is bounded from the header ---

def test_every_part_of_every_file_is_bounded_before_decoding(model, folder, good):
    """A 2-part normal file whose second part is 4096x4096 (about 200 KB on disk), and a
    file of 400 float channels: both refused from the header, before any pixel is decoded."""
    app = make_app(model, max_pixels=128 * 128, max_decoded_mb=8)
    plane = np.zeros((64, 64), np.float32)
    big = np.zeros((4096, 4096), np.float16)
    bomb = raw_exr(folder / "bomb.exr", [(window(64), {c: plane for c in "XYZ"}),
                                         (window(4096, 64), {f"big.{c}": big for c in "XY"})])
    assert len(bomb) < 1_000_000
    tile = np.zeros((128, 128), np.float32)  # within --max-pixels, but 400 passes of it
    wide = raw_exr(folder / "wide.exr", [({}, {**{c: tile for c in "RGB"},
                                               **{f"pass{i:03d}.V": tile for i in range(400)}})])
    frame = {"color": ("c.exr", good)}
    with server_thread(app) as base_url:
        response = httpx.post(f"{base_url}/v1/denoise", timeout=60,
                              files={**frame, "normal": ("n.exr", bomb)})
        assert_error(response, 413, "too_many_pixels", "normal", "part 1", "4096x4096")
        response = httpx.post(f"{base_url}/v1/denoise", timeout=60,
                              files={"file": ("wide.exr", wide)})
        assert_error(response, 413, "too_large_decoded", "403 channels", "25 MiB", "8 MiB",
                     "--max-decoded-mb")
        assert httpx.post(f"{base_url}/v1/denoise", files={"file": ("g.exr", good)},
                          timeout=60).status_code == 200


def test_aux_buffer_of_another_size_is_a_422_naming_both_sizes(model, folder, good):
    app = make_app(model)
    small = np.zeros((32, 32), np.float32)
    plane = np.zeros((64, 64), np.float32)
    other_part = raw_exr(folder / "other_part.exr", [(window(64), {"mask.Y": plane}),
                                                     (window(32, 64), {f"N.{c}": small
                                                                       for c in "XYZ"})])
    subsampled = raw_exr(folder / "subsampled.exr", [(window(64), {
        f"albedo.{c}": OpenEXR.Channel(f"albedo.{c}", small, 2, 2) for c in "RGB"})])
    with server_thread(app) as base_url:
        def post(role, data):
            return httpx.post(f"{base_url}/v1/denoise", timeout=60,
                              files={"color": ("c.exr", good), role: (f"{role}.exr", data)})
        assert_error(post("normal", other_part), 422, "size_mismatch", "part 1", "32x32", "64x64")
        assert_error(post("albedo", subsampled), 422, "size_mismatch", "subsampled 2x2",
                     "32x32", "64x64")


# --- slow and vanishing clients ---

@pytest.fixture
def gated(monkeypatch):
    """Every denoiser call waits for the returned event."""
    import service.inference

    gate = threading.Event()
    real = service.inference.denoise
    calls = []

    def slow(denoiser, frames):
        calls.append(len(frames))
        gate.wait(30)
        return real(denoiser, frames)

    monkeypatch.setattr(service.inference, "denoise", slow)
    gate.calls = calls
    yield gate
    gate.set()


def test_a_client_that_leaves_while_queued_frees_its_slot(model, good, gated):
    app = make_app(model, queue=1, workers=1)
    queue = app.state.queue
    with server_thread(app) as base_url:
        first = threading.Thread(target=httpx.post, args=(f"{base_url}/v1/denoise",),
                                 kwargs={"files": {"file": ("g.exr", good)}, "timeout": 60})
        first.start()
        wait_for(lambda: queue.depth == 1)  # on the worker, held by the gate
        leaving = send_raw(base_url, multipart({"file": good}))
        wait_for(lambda: queue.waiting == 1)
        leaving.close()
        # Withdrawn at once, not when the worker would have reached it.
        wait_for(lambda: queue.waiting == 0 and queue.admitted == 1, timeout=10)
        gated.set()
        first.join(60)
        wait_for(lambda: queue.admitted == 0)
        assert gated.calls == [1]  # the departed request's frame was never denoised
        metrics = httpx.get(f"{base_url}/metrics").text
        assert 'mcdenoise_rejected_total{reason="client_gone"} 1.0' in metrics


def test_stalled_uploads_hold_no_denoise_slot_and_time_out(model, good):
    """queue 0 + 1 worker: one denoise slot. Stalled uploaders neither take it nor hold an
    upload place for the whole --timeout; a client leaving mid-upload is not a 500."""
    app = make_app(model, queue=0, workers=1, uploads=3, upload_idle_timeout=1.5, timeout=120)
    body = multipart({"file": good})
    with server_thread(app) as base_url:
        stalled = [send_raw(base_url, body[:500], declared=len(body)) for _ in range(2)]
        wait_for(lambda: app.state.uploading.count == 2)
        response = httpx.post(f"{base_url}/v1/denoise", files={"file": ("g.exr", good)}, timeout=60)
        assert response.status_code == 200, response.text  # the one denoise slot was free
        stalled.append(send_raw(base_url, body[:500], declared=len(body)))
        wait_for(lambda: app.state.uploading.count == 3)
        assert_error(httpx.post(f"{base_url}/v1/denoise", files={"file": ("g.exr", good)}),
                     503, "uploads_full", "--uploads")
        stalled.pop().close()  # leaves mid-upload
        answers = []
        for sock in stalled:  # the idle timeout answers them long before --timeout
            answers.append(answer(sock))
            sock.close()
        assert all(a.startswith("HTTP/1.1 408") and "upload_idle" in a for a in answers), answers
        wait_for(lambda: app.state.uploading.count == 0 and app.state.queue.admitted == 0)
        metrics = httpx.get(f"{base_url}/metrics").text
        assert 'code="499"' in metrics and 'code="500"' not in metrics
        assert httpx.post(f"{base_url}/v1/denoise", files={"file": ("g.exr", good)},
                          timeout=60).status_code == 200


def test_a_dripping_upload_is_cut_off_by_the_minimum_rate(model, good, monkeypatch):
    """One byte every 0.2 s never trips the idle limit (30 s) but, once the grace period is
    over, is far below --min-upload-rate: 408 upload_too_slow, the place freed, long before
    --timeout. A normal upload is untouched by the rule."""
    import service.config

    monkeypatch.setattr(service.config, "UPLOAD_GRACE_S", 1.0)
    app = make_app(model, queue=0, workers=1, uploads=1, min_upload_rate=16, timeout=120)
    body = multipart({"file": good})
    with server_thread(app) as base_url:
        sock = send_raw(base_url, body[:200], declared=len(body))
        wait_for(lambda: app.state.uploading.count == 1)
        began = time.monotonic()
        for byte in body[200:400]:  # drip until the server answers
            if select.select([sock], [], [], 0.2)[0]:
                break
            sock.sendall(bytes([byte]))
        reply = answer(sock)
        sock.close()
        assert reply.startswith("HTTP/1.1 408") and "upload_too_slow" in reply, reply
        assert "--min-upload-rate" in reply and time.monotonic() - began < 20
        wait_for(lambda: app.state.uploading.count == 0)
        assert httpx.post(f"{base_url}/v1/denoise", files={"file": ("g.exr", good)},
                          timeout=60).status_code == 200


# --- temporary folders ---

def test_failing_temporary_folder_leaks_no_slot(model, good, monkeypatch):
    app = make_app(model, queue=0, workers=1, uploads=1)
    with server_thread(app) as base_url:
        real = app.state.workdirs.new
        monkeypatch.setattr(app.state.workdirs, "new", lambda: (_ for _ in ()).throw(
            OSError(28, "No space left on device")))
        for _ in range(3):  # each would have leaked its place
            response = httpx.post(f"{base_url}/v1/denoise", files={"file": ("g.exr", good)})
            assert_error(response, 500, "internal")
        monkeypatch.setattr(app.state.workdirs, "new", real)
        assert app.state.uploading.count == 0 and app.state.queue.admitted == 0
        assert httpx.post(f"{base_url}/v1/denoise", files={"file": ("g.exr", good)},
                          timeout=60).status_code == 200


def test_a_timeout_while_encoding_leaves_no_folder_behind(model, good, monkeypatch):
    import service.app

    entered, release = threading.Event(), threading.Event()
    real = service.app.write_frame

    def slow_write(*args, **kwargs):
        entered.set()
        release.wait(30)
        real(*args, **kwargs)

    monkeypatch.setattr(service.app, "write_frame", slow_write)
    app = make_app(model, timeout=3)
    with server_thread(app) as base_url:
        root = app.state.workdirs.root
        response = httpx.post(f"{base_url}/v1/denoise", files={"file": ("g.exr", good)}, timeout=60)
        assert entered.is_set()
        assert_error(response, 504, "timeout")
        assert app.state.queue.admitted == 1  # the encoding thread still holds the slot...
        release.set()
        wait_for(lambda: app.state.queue.admitted == 0)  # ...until it is done,
        wait_for(lambda: not list(root.glob("request-*")))  # and its folder goes with it
        time.sleep(0.2)
        assert not list(root.glob("request-*"))
    assert not root.exists()  # the server's root goes when it stops


def test_start_up_sweeps_what_dead_servers_left(tmp_path):
    from service.workdirs import LEGACY_AGE_S, PID_FILE, WorkDirs

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    for name, pid in (("mcdenoise-serve-dead", dead), ("mcdenoise-serve-live", os.getpid())):
        (tmp_path / name / "request-x").mkdir(parents=True)
        (tmp_path / name / PID_FILE).write_text(str(pid))
    old, fresh = tmp_path / "mcdenoise-abc123", tmp_path / "mcdenoise-def456"
    for path in (old, fresh):
        (path / "upload").mkdir(parents=True)
    os.utime(old, (time.time() - 2 * LEGACY_AGE_S,) * 2)
    (tmp_path / "other-folder").mkdir()

    workdirs = WorkDirs(tmp_path)
    workdirs.start()
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted(["mcdenoise-serve-live", "mcdenoise-def456", "other-folder",
                           workdirs.root.name])
    request = workdirs.new()
    assert request.parent == workdirs.root and request.is_dir()
    workdirs.stop()
    assert not request.exists()


# --- small things ---

def test_readyz_does_not_leak_why_the_model_failed(model, monkeypatch, caplog):
    import mcdenoise.infer.denoise

    def broken(path, device=None, **options):
        raise RuntimeError("cannot map /srv/secret/models/weights.bin")

    monkeypatch.setattr(mcdenoise.infer.denoise, "load_denoiser", broken)
    app = make_app(model)
    with caplog.at_level("ERROR"):
        app.state.models.load()
    from fastapi.testclient import TestClient

    with TestClient(app, base_url="http://127.0.0.1") as client:
        wait_for(lambda: app.state.models.error is not None)
        for path in ("/readyz",):
            response = client.get(path)
            assert_error(response, 503, "not_ready", "failed to load", "server log")
            assert "secret" not in response.text
    assert any("secret" in r.getMessage() for r in caplog.records)  # the log has it


def test_keyless_loopback_server_refuses_foreign_host_names(model, good):
    app = make_app(model)
    with server_thread(app) as base_url:
        port = base_url.rsplit(":", 1)[1]
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", "[::1]", "127.0.0.5"):
            assert httpx.get(f"{base_url}/healthz", headers={"Host": host}).status_code == 200
        for host in ("rebind.attacker.example", f"attacker.example:{port}", "", "0.0.0.0"):
            response = httpx.post(f"{base_url}/v1/denoise", headers={"Host": host},
                                  files={"file": ("g.exr", good)})
            assert_error(response, 403, "host_not_allowed", "loopback")


def test_untouched_layers_keep_their_type_through_the_service(model, folder):
    """Half colour beside float normals and a float alpha: only the colour is rewritten."""
    rng = np.random.default_rng(3)
    channels = {f"ViewLayer.Combined.{c}": rng.uniform(0, 2, (64, 64)).astype(np.float16)
                for c in "RGB"}
    channels["ViewLayer.Combined.A"] = rng.uniform(0, 1, (64, 64)).astype(np.float32)
    channels.update({f"ViewLayer.Denoising Normal.{c}": rng.uniform(-1, 1, (64, 64))
                     .astype(np.float32) for c in "XYZ"})
    channels.update({f"ViewLayer.Denoising Albedo.{c}": rng.uniform(0, 1, (64, 64))
                     .astype(np.float16) for c in "RGB"})
    data = raw_exr(folder / "blender.exr", [({}, channels)])
    with server_thread(make_app(model)) as base_url:
        response = httpx.post(f"{base_url}/v1/denoise", files={"file": ("b.exr", data)},
                              timeout=60)
    assert response.status_code == 200, response.text
    (folder / "blender_out.exr").write_bytes(response.content)
    with OpenEXR.File(str(folder / "blender_out.exr"), separate_channels=True) as exr:
        written = {n: c.pixels for n, c in exr.channels().items()}
    for name, array in channels.items():
        assert written[name].dtype == array.dtype, name
        if "Combined" not in name or name.endswith(".A"):
            assert written[name].tobytes() == array.tobytes(), name
