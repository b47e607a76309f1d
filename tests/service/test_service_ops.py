"""Running the service: settings from MCDENOISE_* variables, request ids and JSON logs,
Prometheus metrics, the API docs without internet, and the README's table of variables.

One `mcdenoise serve` subprocess on 127.0.0.1 is configured through the environment (port,
model, log format) with one flag that overrides its variable."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from service_support import REPO, exr_bytes, free_port, make_frame, make_model, wait_ready


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("ops")


@pytest.fixture(scope="module")
def server(folder):
    """(base URL, log path) of a server whose settings come from the environment: the port,
    the model list, JSON logs, and a --max-pixels flag that beats MCDENOISE_MAX_PIXELS=16."""
    models = [make_model(folder / "a.safetensors"),
              make_model(folder / "b.safetensors", "color", seed=1)]
    port = free_port()
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "PYTHONUNBUFFERED": "1",
           "MCDENOISE_PORT": str(port), "MCDENOISE_MODEL": f"{models[0]}, {models[1]}",
           "MCDENOISE_LOG_FORMAT": "json", "MCDENOISE_MAX_PIXELS": "16"}
    log = folder / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "mcdenoise.cli", "serve",
                                    "--max-pixels", "65536"], stdout=out,
                                   stderr=subprocess.STDOUT, cwd=REPO, env=env)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base_url, 90, process)
        yield base_url, log
    finally:
        process.terminate()
        process.wait(15)


def test_settings_come_from_the_environment_and_flags_win(server, folder):
    base_url, _ = server  # listening on MCDENOISE_PORT
    assert [m["name"] for m in httpx.get(f"{base_url}/v1/models").json()["models"]] == ["a", "b"]
    good = exr_bytes(make_frame(32, 32), folder, "g.exr")  # 1024 pixels: over 16, under 65536
    response = httpx.post(f"{base_url}/v1/denoise", files={"file": ("g.exr", good)}, timeout=60)
    assert response.status_code == 200, response.text


def test_a_bad_variable_is_named(monkeypatch, capsys, folder):
    from mcdenoise.cli import main

    model = str(make_model(folder / "c.safetensors"))
    for name, value, words in [("MCDENOISE_PORT", "eighty", ("MCDENOISE_PORT", "whole number",
                                                              "--port")),
                               ("MCDENOISE_DEVICE", "tpu", ("MCDENOISE_DEVICE", "auto, cpu")),
                               ("MCDENOISE_TIMEOUT", "-1", ("--timeout", "positive")),
                               ("MCDENOISE_MODEL", " , ", ("MCDENOISE_MODEL", "empty"))]:
        monkeypatch.setenv(name, value)
        assert main(["serve", "--model", model] if name != "MCDENOISE_MODEL" else ["serve"]) == 2
        err = capsys.readouterr().err
        for word in words:
            assert word in err, err
        monkeypatch.delenv(name)
    # Another command never reads the serve variables.
    monkeypatch.setenv("MCDENOISE_PORT", "eighty")
    assert main(["scenes"]) == 0


def test_resolve_env_types():
    from mcdenoise.flags import _UNSET, resolve_env
    from service.config import ServeConfig

    # As argparse leaves them: --port given, --model and --max-upload-mb not.
    parsed = {"port": 9000, "model": None, "max_upload_mb": _UNSET}
    env = {"MCDENOISE_PORT": "1234", "MCDENOISE_MODEL": "x=a.safetensors b.safetensors",
           "MCDENOISE_MAX_UPLOAD_MB": "2.5"}
    resolved = resolve_env(ServeConfig, parsed, "MCDENOISE_", env)
    assert resolved == {"port": 9000, "model": ["x=a.safetensors", "b.safetensors"],
                        "max_upload_mb": 2.5}  # the flag given (port) wins over its variable
    assert resolve_env(ServeConfig, {"port": _UNSET}, "MCDENOISE_", {}) == {}


def test_request_ids_in_headers_and_json_logs(server):
    base_url, log = server
    mine = httpx.get(f"{base_url}/v1/jobs/no-such-job", headers={"X-Request-ID": "farm-42.a:b"})
    assert mine.status_code == 404 and mine.headers["x-request-id"] == "farm-42.a:b"
    fresh = httpx.get(f"{base_url}/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert re.fullmatch(r"[0-9a-f]{16}", fresh.headers["x-request-id"])
    time.sleep(0.5)  # let the server flush its log
    records = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert records and all({"time", "level", "logger", "message"} <= set(r) for r in records)
    about = [r for r in records if r.get("request_id") == "farm-42.a:b"]
    assert about and any("/v1/jobs/no-such-job" in r["message"] for r in about)
    assert any(r.get("request_id") == fresh.headers["x-request-id"] for r in records)
    assert not [line for line in log.read_text().splitlines()
                if line.strip() and not line.startswith("{")]  # every line is JSON


def test_metrics_follow_prometheus_conventions(server, folder):
    base_url, _ = server
    job = httpx.post(f"{base_url}/v1/jobs", timeout=60, files={
        "file": ("g.exr", exr_bytes(make_frame(32, 32), folder, "m.exr"))}).json()["id"]
    httpx.get(f"{base_url}/v1/jobs/{job}")
    httpx.get(f"{base_url}/no/such/path/{job}")
    text = httpx.get(f"{base_url}/metrics").text
    assert "# TYPE mcdenoise_http_request_duration_seconds histogram" in text
    assert re.search(r'mcdenoise_http_request_duration_seconds_count\{code="200",method="GET",'
                     r'route="/v1/jobs/\{job_id\}"\} [1-9]', text)
    assert 'code="202",method="POST",route="/v1/jobs"' in text
    assert 'code="404",method="GET",route="other"' in text
    assert job not in text  # route templates, never raw paths
    assert re.search(r'mcdenoise_build_info\{python="[0-9.]+",torch="[^"]+",version="[^"]+"\} '
                     r'1\.0', text)
    for name in ("process_resident_memory_bytes", "process_cpu_seconds_total",
                 'mcdenoise_jobs{state="queued"}', "mcdenoise_job_store_bytes"):
        assert name in text, name
    assert "mcdenoise_requests_total" not in text and "mcdenoise_request_seconds" not in text


def test_api_docs_need_no_internet(server):
    base_url, _ = server
    page = httpx.get(f"{base_url}/docs")
    assert page.status_code == 200
    assert "://" not in page.text  # no external host, no CDN
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert len(assets) >= 3
    for asset in assets:
        served = httpx.get(base_url + asset)
        assert served.status_code == 200 and len(served.content) > 500, asset
    assert httpx.get(f"{base_url}/redoc").status_code == 404  # no page that needs a CDN


def test_readme_lists_every_serve_variable():
    from mcdenoise.flags import env_table
    from service.config import ServeConfig
    from service.serve import ENV_PREFIX

    table = env_table(ServeConfig, ENV_PREFIX)
    readme = (REPO / "README.md").read_text()
    assert table in readme, "README.md's table of MCDENOISE_* variables is stale:\n" + table
