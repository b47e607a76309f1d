"""The job API against uvicorn on 127.0.0.1 (in this process, where a test must slow the
denoiser down or reach the store): submit, poll, result, layers and pixels, cancel, expiry,
the store's bounds, a client that leaves, a full queue, and jobs kept per API key."""
from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from mcdenoise.core.exr import read_frame
from service_support import KEY, WRONG_KEY, exr_bytes, make_app, make_frame, make_model, server_thread

H, W = 48, 40


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("jobs")


@pytest.fixture(scope="module")
def model(folder) -> Path:
    return make_model(folder / "tiny.safetensors")


@pytest.fixture(scope="module")
def frame():
    """Colour, albedo, normal, alpha, depth, a Blender-style RGB pass, a data channel, NaN/Inf."""
    rng = np.random.default_rng(3)
    extra = {f"ViewLayer.DiffCol.{c}": rng.random((H, W)).astype(np.float16) for c in "RGB"}
    extra["ViewLayer.Mist.Z"] = rng.random((H, W)).astype(np.float32)
    extra["object_id"] = rng.integers(0, 1000, (H, W)).astype(np.uint32)
    frame = make_frame(H, W, alpha=rng.random((H, W)), depth=rng.random((H, W)) * 10,
                       extra=extra)
    frame.depth[0, 0] = np.inf
    return frame


@pytest.fixture(scope="module")
def good(frame, folder) -> bytes:
    return exr_bytes(frame, folder, "shot_020.exr")


@pytest.fixture(scope="module")
def server(model):
    app = make_app(model)
    with server_thread(app) as base_url:
        yield base_url, app


def submit(base_url: str, exr: bytes, name: str = "shot_020.exr", **kwargs) -> httpx.Response:
    return httpx.post(f"{base_url}/v1/jobs", files={"file": (name, exr)}, timeout=60, **kwargs)


def wait_done(base_url: str, location: str, timeout: float = 60, **kwargs) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status = httpx.get(base_url + location, timeout=30, **kwargs).json()
        assert 0.0 <= status["progress"] <= 1.0
        if status["state"] in ("done", "failed", "cancelled"):
            return status
        assert time.monotonic() < deadline, status
        time.sleep(0.05)


def wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def assert_error(response: httpx.Response, status: int, code: str, *words: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code, body
    for word in words:
        assert word.lower() in body["detail"].lower(), body


def pixels(base_url: str, job: str, **params) -> tuple[np.ndarray, list[str]]:
    response = httpx.get(f"{base_url}/v1/jobs/{job}/pixels", params=params, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/octet-stream"
    height, width = int(response.headers["x-height"]), int(response.headers["x-width"])
    channels = response.headers["x-channels"].split(",")
    assert (height, width) == (H, W)
    return np.frombuffer(response.content, "<f4").reshape(height, width, len(channels)), channels


# --- the main path ---

def test_a_job_runs_to_the_same_result_as_denoise(server, good, folder):
    base_url, _ = server
    response = submit(base_url, good)
    assert response.status_code == 202, response.text
    body = response.json()
    assert response.headers["location"] == f"/v1/jobs/{body['id']}"
    assert body["state"] == "queued" and len(body["id"]) >= 20
    assert (body["width"], body["height"], body["model"]) == (W, H, "tiny")
    status = wait_done(base_url, response.headers["location"])
    assert status["state"] == "done" and status["progress"] == 1.0 and status["error"] is None
    assert status["result"] == f"/v1/jobs/{body['id']}/result"
    assert status["finished"] >= status["created"] and status["expires"] > status["finished"]

    result = httpx.get(base_url + status["result"], timeout=30)
    assert result.status_code == 200 and result.headers["content-type"] == "image/x-exr"
    assert result.headers["x-model"] == "tiny"
    assert 'filename="shot_020_denoised.exr"' in result.headers["content-disposition"]
    direct = httpx.post(f"{base_url}/v1/denoise", files={"file": ("shot_020.exr", good)},
                        timeout=60)
    assert direct.status_code == 200
    (folder / "job.exr").write_bytes(result.content)
    (folder / "direct.exr").write_bytes(direct.content)
    from_job, from_denoise = read_frame(folder / "job.exr"), read_frame(folder / "direct.exr")
    np.testing.assert_array_equal(from_job.color, from_denoise.color)
    assert set(from_job.extra) == set(from_denoise.extra)
    for name in from_job.extra:
        np.testing.assert_array_equal(from_job.extra[name], from_denoise.extra[name])


def test_layers_and_pixels_are_the_files_values(server, good, frame, folder):
    base_url, _ = server
    job = submit(base_url, good).json()["id"]
    wait_done(base_url, f"/v1/jobs/{job}")
    listing = httpx.get(f"{base_url}/v1/jobs/{job}/layers").json()
    assert (listing["width"], listing["height"]) == (W, H)
    layers = [(layer["name"], layer["kind"], layer["channels"]) for layer in listing["layers"]]
    assert layers == [("beauty", "color", ["R", "G", "B"]), ("albedo", "albedo", ["R", "G", "B"]),
                      ("normal", "normal", ["X", "Y", "Z"]), ("alpha", "alpha", ["A"]),
                      ("depth", "depth", ["Z"]), ("ViewLayer.DiffCol", "color", ["R", "G", "B"]),
                      ("ViewLayer.Mist", "data", ["Z"]), ("object_id", "data", ["object_id"])]
    assert httpx.get(f"{base_url}/v1/jobs/{job}").json()["layers"] == listing["layers"]

    (folder / "in.exr").write_bytes(good)
    source = read_frame(folder / "in.exr")  # as stored: half colour, float depth...
    expected = {"beauty": source.color, "albedo": source.albedo, "normal": source.normal,
                "alpha": source.alpha[..., None], "depth": source.depth[..., None],
                "ViewLayer.DiffCol": np.stack([source.extra[f"ViewLayer.DiffCol.{c}"]
                                               for c in "RGB"], -1),
                "ViewLayer.Mist": source.extra["ViewLayer.Mist.Z"][..., None],
                "object_id": source.extra["object_id"][..., None]}
    for name, values in expected.items():
        got, _ = pixels(base_url, job, layer=name)
        want = np.nan_to_num(values.astype(np.float32), nan=0, posinf=0, neginf=0)
        np.testing.assert_array_equal(got, want, err_msg=name)
    depth, channels = pixels(base_url, job, layer="depth")
    assert channels == ["Z"] and depth[0, 0, 0] == 0.0  # +Inf shown as 0
    # Row 0 is the top of the image.
    np.testing.assert_array_equal(pixels(base_url, job)[0][0], source.color[0])

    (folder / "result.exr").write_bytes(httpx.get(f"{base_url}/v1/jobs/{job}/result").content)
    result = read_frame(folder / "result.exr")
    out, _ = pixels(base_url, job, image="output")
    np.testing.assert_array_equal(out, result.color)  # as the result EXR stores it (half)
    assert not np.array_equal(out, pixels(base_url, job)[0])
    albedo_out, _ = pixels(base_url, job, image="output", layer="albedo")
    np.testing.assert_array_equal(albedo_out, source.albedo)

    assert_error(httpx.get(f"{base_url}/v1/jobs/{job}/pixels", params={"layer": "nope"}),
                 404, "unknown_layer", "nope", "ViewLayer.DiffCol")
    assert_error(httpx.get(f"{base_url}/v1/jobs/{job}/pixels", params={"image": "both"}),
                 422, "bad_option")


def test_unknown_ids_and_bad_uploads(server, good):
    base_url, _ = server
    for path in ("", "/result", "/layers", "/pixels"):
        assert_error(httpx.get(f"{base_url}/v1/jobs/not-a-job{path}"), 404, "unknown_job",
                     "--job-ttl")
    assert_error(httpx.delete(f"{base_url}/v1/jobs/not-a-job"), 404, "unknown_job")
    # What the header check or the options can tell is refused at once, before a job exists.
    assert_error(submit(base_url, b"not an exr" * 10), 422, "not_exr")
    assert_error(submit(base_url, good, data={"model": "nope"}), 422, "unknown_model")
    assert_error(httpx.post(f"{base_url}/v1/jobs", files={"albedo": ("a.exr", good)}),
                 422, "no_color")


def test_a_job_that_cannot_decode_fails_with_its_error(server, good, folder):
    base_url, _ = server
    frame = make_frame(H, W)
    frame.color[1, 1, 0] = np.nan
    data = exr_bytes(frame, folder, "nan.exr")
    response = submit(base_url, data, data={"nonfinite": "refuse"})
    assert response.status_code == 202
    status = wait_done(base_url, response.headers["location"])
    assert status["state"] == "failed"
    assert status["error"]["error"] == "nonfinite" and "color 1" in status["error"]["detail"]
    assert_error(httpx.get(base_url + response.headers["location"] + "/result"), 422,
                 "nonfinite")
    assert_error(httpx.get(base_url + response.headers["location"] + "/layers"), 409,
                 "not_ready")


def test_finished_jobs_expire(model, good):
    app = make_app(model, job_ttl=0.5)
    with server_thread(app) as base_url:
        location = submit(base_url, good).headers["location"]
        assert wait_done(base_url, location)["state"] == "done"
        folder = app.state.jobs.get(location.rsplit("/", 1)[1], None).folder
        assert folder.is_dir()
        time.sleep(0.7)
        assert_error(httpx.get(base_url + location), 404, "unknown_job")
        assert_error(httpx.get(base_url + location + "/result"), 404, "unknown_job")
        wait_for(lambda: not folder.exists())  # its files went with it


def test_the_store_bound_removes_the_oldest_finished_jobs(model, good, folder):
    from service.inputs import Upload, check_headers
    from service.job_routes import job_bytes

    app = make_app(model)
    store = app.state.jobs
    with server_thread(app) as base_url:
        first = submit(base_url, good).headers["location"]
        wait_done(base_url, first)
        kept = store.bytes  # one finished job's files, measured
        (folder / "est.exr").write_bytes(good)
        upload = Upload({"file": folder / "est.exr"})
        reserve = job_bytes(upload, check_headers(upload, 1 << 30))
        assert kept > H * W * 4 * 10 and reserve >= kept
        # Room for two finished jobs and a new one's reservation, but not for three.
        store.max_bytes = 2 * kept + reserve - 1
        second = submit(base_url, good).headers["location"]
        wait_done(base_url, second)
        assert httpx.get(base_url + first).status_code == 200  # both fit so far
        third = submit(base_url, good).headers["location"]
        assert_error(httpx.get(base_url + first), 404, "unknown_job")  # the oldest went
        assert httpx.get(base_url + second).status_code == 200
        assert wait_done(base_url, third)["state"] == "done"
        assert store.bytes <= store.max_bytes
        metrics = httpx.get(f"{base_url}/metrics").text
        assert 'mcdenoise_jobs{state="done"} 2.0' in metrics
        assert f"mcdenoise_job_store_bytes {float(store.bytes)}" in metrics
        # A job larger than the whole store is refused for good, naming the flag.
        store.max_bytes = reserve - 1
        assert_error(submit(base_url, good), 507, "job_too_large", "--job-store-mb")


def test_store_bounds_unit(tmp_path):
    from service.jobs import DONE, JobStore, StoreFull

    store = JobStore(ttl=60, max_bytes=100, max_jobs=3)
    fields = dict(model="m", width=1, height=1, filename="f")
    a = store.add(None, tmp_path / "a", 40, **fields)
    b = store.add(None, tmp_path / "b", 40, **fields)
    with pytest.raises(StoreFull) as full:  # held by unfinished jobs: retry later
        store.add(None, tmp_path / "c", 40, **fields)
    assert full.value.status == 503 and full.value.retry_after
    store.finish(b, DONE)
    store.finish(a, DONE)  # a finished after b: b is the oldest finished
    c = store.add(None, tmp_path / "c", 40, **fields)
    assert store.get(b.id, None) is None and store.get(a.id, None) is a
    store.finish(c, DONE)
    store.add(None, tmp_path / "d", 10, **fields)
    store.add(None, tmp_path / "e", 10, **fields)  # the count bound (3) drops a
    assert store.get(a.id, None) is None and store.get(c.id, None) is c
    assert store.get(c.id, 1) is None  # another key's view
    with pytest.raises(StoreFull) as full:
        store.add(None, tmp_path / "f", 101, **fields)
    assert full.value.status == 507


# --- jobs and the denoise queue (denoiser slowed) ---

@pytest.fixture
def gated(monkeypatch):
    """Every denoiser call waits for the returned event; ``gate.calls`` counts frames."""
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


def test_cancelling_a_queued_job_withdraws_it(model, good, gated):
    app = make_app(model, queue=2, workers=1)
    queue = app.state.queue
    with server_thread(app) as base_url:
        running = submit(base_url, good).headers["location"]
        wait_for(lambda: queue.depth == 1 and queue.waiting == 0)  # on the worker
        waiting = submit(base_url, good).headers["location"]
        wait_for(lambda: queue.waiting == 1)
        status = httpx.get(base_url + running).json()
        assert (status["state"], status["phase"]) == ("running", "denoising")
        assert 0.0 < status["progress"] < 1.0
        assert httpx.get(base_url + waiting).json()["phase"] == "waiting"
        assert_error(httpx.get(base_url + running + "/result"), 409, "not_done")
        assert_error(httpx.get(base_url + running + "/pixels", params={"image": "output"}),
                     409, "not_done")
        # The input is viewable while the denoiser works on it.
        assert httpx.get(base_url + running + "/pixels").status_code == 200

        cancelled = httpx.delete(base_url + waiting)
        assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
        wait_for(lambda: queue.waiting == 0 and queue.admitted == 1, timeout=10)
        gated.set()
        assert wait_done(base_url, running)["state"] == "done"
        wait_for(lambda: queue.admitted == 0)
        assert gated.calls == [1]  # the cancelled job's frame was never denoised
        assert httpx.get(base_url + waiting).json()["state"] == "cancelled"
        assert_error(httpx.get(base_url + waiting + "/result"), 409, "cancelled")
        assert httpx.delete(base_url + waiting).status_code == 204  # now deleted
        assert_error(httpx.get(base_url + waiting), 404, "unknown_job")
        assert httpx.delete(base_url + running).status_code == 204
        assert_error(httpx.get(base_url + running + "/result"), 404, "unknown_job")


def test_a_job_outlives_its_client(model, good, gated):
    """The client reads the 202 and hangs up while its frame waits for the denoiser (a
    /v1/denoise request would be withdrawn now): the job runs to the end all the same. (A
    client that leaves before the 202 never learns the id, so its upload is dropped.)"""
    app = make_app(model)
    with server_thread(app) as base_url:
        host, port = base_url.removeprefix("http://").split(":")
        boundary = "b0undary"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a."
                f"exr\"\r\n\r\n").encode() + good + f"\r\n--{boundary}--\r\n".encode()
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall((f"POST /v1/jobs HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: "
                          f"multipart/form-data; boundary={boundary}\r\nContent-Length: "
                          f"{len(body)}\r\n\r\n").encode() + body)
            sock.settimeout(30)
            head = b""
            while b"\r\n\r\n" not in head:
                head += sock.recv(4096)
        assert head.startswith(b"HTTP/1.1 202")
        location = next(line.split(b": ", 1)[1].decode() for line in head.split(b"\r\n")
                        if line.lower().startswith(b"location:"))
        wait_for(lambda: app.state.queue.depth == 1)  # gated on the worker, client gone
        time.sleep(0.3)
        assert httpx.get(base_url + location).json()["state"] == "running"
        gated.set()
        assert wait_done(base_url, location)["state"] == "done"
        assert httpx.get(base_url + location + "/result").status_code == 200


def test_a_full_queue_refuses_new_jobs_with_retry_after(model, good, gated):
    app = make_app(model, queue=0, workers=1)
    with server_thread(app) as base_url:
        first = submit(base_url, good)
        assert first.status_code == 202  # holds the one denoise slot until it is done
        refused = submit(base_url, good)
        assert_error(refused, 503, "queue_full", "retry")
        assert int(refused.headers["retry-after"]) >= 1
        gated.set()
        wait_done(base_url, first.headers["location"])
        assert submit(base_url, good).status_code == 202


def test_jobs_belong_to_the_key_that_made_them(model, good, tmp_path):
    other = "another-key-5c8e1f2a7d"
    keys = tmp_path / "keys"
    keys.write_text(f"{KEY}\n{other}\n")
    app = make_app(model, api_key_file=keys)
    mine, theirs = {"X-API-Key": KEY}, {"Authorization": f"Bearer {other}"}
    with server_thread(app) as base_url:
        response = submit(base_url, good, headers=mine)
        assert response.status_code == 202
        location = response.headers["location"]
        assert wait_done(base_url, location, headers=mine)["state"] == "done"
        assert_error(httpx.get(base_url + location), 401, "unauthorized")
        assert_error(httpx.get(base_url + location, headers={"X-API-Key": WRONG_KEY}), 403,
                     "forbidden")
        for path in ("", "/result", "/layers", "/pixels"):
            assert_error(httpx.get(base_url + location + path, headers=theirs), 404,
                         "unknown_job")
        assert_error(httpx.delete(base_url + location, headers=theirs), 404, "unknown_job")
        assert httpx.get(base_url + location + "/result", headers=mine).status_code == 200
