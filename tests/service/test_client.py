"""`mcdenoise client denoise` against uvicorn on 127.0.0.1: a real service for the main path,
a key refused, a server that comes up late; a small scripted server (http.server) where the
test is about the client's reaction to failures (503 with Retry-After, Ctrl-C)."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import numpy as np
import pytest

from mcdenoise.cli import main
from mcdenoise.core.exr import read_frame
from service_support import (KEY, WRONG_KEY, exr_bytes, free_port, make_app, make_frame,
                             make_model, server_thread)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("client")


@pytest.fixture(scope="module")
def model(folder) -> Path:
    return make_model(folder / "tiny.safetensors")


@pytest.fixture(scope="module")
def inputs(folder) -> Path:
    shots = folder / "shots"
    shots.mkdir()
    for i in range(2):
        exr_bytes(make_frame(32, 40, seed=i), shots, f"shot.{1001 + i}.exr")
    return shots


@pytest.fixture(scope="module")
def keyed(model, folder):
    keys = folder / "keys"
    keys.write_text(KEY + "\n")
    app = make_app(model, api_key_file=keys)
    with server_thread(app) as base_url:
        yield base_url, app


def key_file(folder: Path, key: str) -> Path:
    path = folder / f"key-{key[:5]}"
    path.write_text(f"# the farm's key\n{key}\n")
    return path


def test_denoises_a_folder_like_the_denoise_endpoint(keyed, inputs, folder, capsys):
    base_url, app = keyed
    out = folder / "out"
    code = main(["client", "denoise", str(inputs / "shot.####.exr"), "-o", str(out),
                 "--url", base_url, "--api-key-file", str(key_file(folder, KEY)),
                 "--poll", "0.05"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert sorted(p.name for p in out.iterdir()) == ["shot.1001.exr", "shot.1002.exr"]
    assert "shot.1002.exr ->" in printed.out and "2 of 2 frames" in printed.out
    for name in ("shot.1001.exr", "shot.1002.exr"):
        direct = httpx.post(f"{base_url}/v1/denoise", headers={"X-API-Key": KEY}, timeout=60,
                            files={"file": (name, (inputs / name).read_bytes())})
        (folder / "direct.exr").write_bytes(direct.content)
        np.testing.assert_array_equal(read_frame(out / name).color,
                                      read_frame(folder / "direct.exr").color)
    # Each job was deleted once its result was down: the store holds nothing.
    assert sum(app.state.jobs.counts().values()) == 0
    # An existing output is refused before anything is sent, as by `mcdenoise denoise`.
    assert main(["client", "denoise", str(inputs), "-o", str(out), "--url", base_url,
                 "--api-key-file", str(key_file(folder, KEY))]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_a_wrong_or_missing_key_stops_before_any_upload(keyed, inputs, folder, capsys):
    base_url, app = keyed
    out = folder / "refused"
    code = main(["client", "denoise", str(inputs), "-o", str(out), "--url", base_url,
                 "--api-key-file", str(key_file(folder, WRONG_KEY)), "--retries", "0"])
    err = capsys.readouterr().err
    assert code == 2 and "refused the API key" in err and "403" in err and "--api-key-file" in err
    assert WRONG_KEY not in err
    assert main(["client", "denoise", str(inputs), "-o", str(out), "--url", base_url]) == 2
    assert "401" in capsys.readouterr().err
    assert not out.exists()


def test_bad_arguments(keyed, inputs, folder, capsys):
    base_url, _ = keyed
    key = str(key_file(folder, KEY))
    assert main(["client", "denoise", str(folder / "missing.exr"), "-o", str(folder / "o"),
                 "--url", base_url, "--api-key-file", key]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["client", "denoise", str(inputs), "-o", str(folder / "o"), "--url", base_url,
                 "--api-key-file", key, "--model", "nope"]) == 2
    assert "not served" in capsys.readouterr().err
    assert main(["client", "denoise", str(inputs), "-o", str(folder / "o"),
                 "--url", "127.0.0.1:8000"]) == 2
    assert "http://" in capsys.readouterr().err


def test_a_bad_frame_fails_alone(keyed, inputs, folder, capsys):
    base_url, _ = keyed
    mixed = folder / "mixed"
    mixed.mkdir()
    (mixed / "a.exr").write_bytes((inputs / "shot.1001.exr").read_bytes())
    (mixed / "b.exr").write_bytes(b"not an EXR at all" * 8)
    out = folder / "mixed-out"
    code = main(["client", "denoise", str(mixed), "-o", str(out), "--url", base_url,
                 "--api-key-file", str(key_file(folder, KEY)), "--poll", "0.05"])
    err = capsys.readouterr().err
    assert code == 1 and "b.exr" in err and "not_exr" in err
    assert sorted(p.name for p in out.iterdir()) == ["a.exr"]  # nothing else, no temp file


def test_a_server_that_comes_up_late(model, inputs, folder, capsys):
    """Connection refused for a while, then the server listens (and loads its model): the
    client's retries carry it through."""
    port = free_port()
    out = folder / "late"
    result = {}
    client = threading.Thread(target=lambda: result.setdefault("code", main(
        ["client", "denoise", str(inputs / "shot.1001.exr"), "-o", str(out / "x.exr"),
         "--url", f"http://127.0.0.1:{port}", "--retries", "12", "--poll", "0.05"])))
    client.start()
    time.sleep(1.5)
    with server_thread(make_app(model), port=port):
        client.join(120)
    printed = capsys.readouterr().out
    assert result["code"] == 0, printed
    assert "retrying GET /v1/models" in printed and "ConnectError" in printed
    assert read_frame(out / "x.exr").color.shape == (32, 40, 3)


# --- a scripted server, for the client's reaction to failures ---

class Script:
    """What the scripted server answers: ``busy`` 503s (Retry-After: ``retry_after``) to the
    first job submissions, then a job that is done at once; every request is logged."""

    def __init__(self, result: bytes, busy: int = 1, retry_after: int = 2) -> None:
        self.result, self.busy, self.retry_after = result, busy, retry_after
        self.log: list[tuple[float, str, str]] = []


@pytest.fixture
def scripted(folder):
    script = Script(exr_bytes(make_frame(8, 8), folder, "scripted.exr"))

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def answer(self, status: int, body: bytes = b"", headers: dict | None = None,
                   kind: str = "application/json") -> None:
            self.send_response(status)
            for name, value in {"Content-Type": kind, "Content-Length": str(len(body)),
                                **(headers or {})}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            script.log.append((time.monotonic(), "GET", self.path))
            if self.path == "/v1/models":
                self.answer(200, json.dumps({"default": "m", "models": [{"name": "m"}]}).encode())
            elif self.path == "/v1/jobs/j1":
                self.answer(200, json.dumps({"id": "j1", "state": "done", "phase": "done",
                                             "progress": 1.0, "width": 8, "height": 8,
                                             "model": "m", "result": "/v1/jobs/j1/result"}).encode())
            elif self.path == "/v1/jobs/j1/result":
                self.answer(200, script.result, kind="image/x-exr")

        def do_POST(self) -> None:
            script.log.append((time.monotonic(), "POST", self.path))
            self.rfile.read(int(self.headers["Content-Length"]))
            if script.busy:
                script.busy -= 1
                self.answer(503, json.dumps({"error": "queue_full", "detail": "busy"}).encode(),
                            {"Retry-After": str(script.retry_after)})
            else:
                self.answer(202, json.dumps({"id": "j1", "state": "queued"}).encode(),
                            {"Location": "/v1/jobs/j1"})

        def do_DELETE(self) -> None:
            script.log.append((time.monotonic(), "DELETE", self.path))
            self.answer(204)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", script
    server.shutdown()
    server.server_close()


def test_a_503_is_retried_after_its_retry_after(scripted, inputs, folder, capsys):
    base_url, script = scripted
    out = folder / "retried.exr"
    assert main(["client", "denoise", str(inputs / "shot.1001.exr"), "-o", str(out),
                 "--url", base_url, "--poll", "0.05"]) == 0
    posts = [t for t, method, _ in script.log if method == "POST"]
    assert len(posts) == 2
    assert posts[1] - posts[0] >= 1.9  # Retry-After: 2, not the 0.5 s back-off
    assert out.read_bytes() == script.result
    assert ("DELETE", "/v1/jobs/j1") in [(m, p) for _, m, p in script.log]
    assert "retrying POST /v1/jobs in 2.0 s" in capsys.readouterr().out


def test_retries_run_out_and_name_the_frame(scripted, inputs, folder, capsys):
    base_url, script = scripted
    script.busy, script.retry_after = 10, 0
    code = main(["client", "denoise", str(inputs / "shot.1001.exr"), "-o",
                 str(folder / "never.exr"), "--url", base_url, "--retries", "2"])
    err = capsys.readouterr().err
    assert code == 1 and "shot.1001.exr" in err and "503 queue_full" in err
    assert len([1 for _, m, _ in script.log if m == "POST"]) == 3
    assert not (folder / "never.exr").exists()


def test_ctrl_c_cancels_the_job_and_writes_nothing(scripted, inputs, folder, monkeypatch,
                                                   capsys):
    """Ctrl-C while the result is being written: no output, no temporary file, the job
    deleted on the server, exit 130."""
    import mcdenoise.client
    from mcdenoise.core.files import atomic_path

    base_url, script = scripted
    script.busy = 0

    def cut(service, path, target):
        with atomic_path(target) as temp:
            temp.write_bytes(b"half a file")
            raise KeyboardInterrupt

    monkeypatch.setattr(mcdenoise.client.Service, "download", cut)
    out = folder / "cut"
    code = main(["client", "denoise", str(inputs / "shot.1001.exr"), "-o", str(out / "x.exr"),
                 "--url", base_url])
    assert code == 130 and "none is half-written" in capsys.readouterr().err
    assert out.is_dir() and not list(out.iterdir())
    assert ("DELETE", "/v1/jobs/j1") in [(m, p) for _, m, p in script.log]
