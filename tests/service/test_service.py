"""The denoise service: a real uvicorn on 127.0.0.1 over HTTP (httpx), and a few in-process
parts (config, keys, queue, batching).

The main server runs `mcdenoise serve` in a subprocess with two tiny random-weight models, an
API key file and small limits, so that every limit can be hit with small files.
"""
from __future__ import annotations

import asyncio
import struct
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import OpenEXR
import pytest

from mcdenoise.core.exr import read_frame, read_header
from service_support import (KEY, WRONG_KEY, exr_bytes, make_app, make_frame, make_model,
                             server_process, server_thread)

MAX_PIXELS = 128 * 128
MAX_UPLOAD_MB = 1
AUTH = {"Authorization": f"Bearer {KEY}"}


# --- fixtures ---

@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("service")


@pytest.fixture(scope="module")
def models(workdir) -> dict[str, Path]:
    return {"tiny": make_model(workdir / "tiny.safetensors", "full"),
            "tiny-color": make_model(workdir / "tiny-color.safetensors", "color", seed=1),
            "tiny-coping": make_model(workdir / "tiny-coping.safetensors", "full", seed=2,
                                      missing_aux="zeros")}


@pytest.fixture(scope="module")
def server(workdir, models):
    """(base URL, log path) of `mcdenoise serve` with keys, two models and small limits."""
    keys = workdir / "keys.txt"
    keys.write_text(f"# service keys\n\n  {KEY}  \nanother-key-not-used\n")
    log = workdir / "server.log"
    with server_process(["--model", str(models["tiny"]), "--model", str(models["tiny-color"]),
                         "--model", str(models["tiny-coping"]),
                         "--api-key-file", str(keys), "--max-pixels", str(MAX_PIXELS),
                         "--max-upload-mb", str(MAX_UPLOAD_MB), "--queue", "4",
                         "--log-level", "debug"], log) as base_url:
        yield base_url, log


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server[0], headers=AUTH, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def good(workdir) -> bytes:
    """A 64x64 EXR with colour, albedo, normal, an extra layer and metadata."""
    rng = np.random.default_rng(7)
    frame = make_frame(extra={"diffuse.R": rng.random((64, 64)).astype(np.float16),
                              "id.uint": np.arange(64 * 64, dtype=np.uint32).reshape(64, 64)},
                       metadata={"scene": "unit", "spp": 4})
    return exr_bytes(frame, workdir, "good.exr")


def denoise(client, files, data=None, **kwargs) -> httpx.Response:
    return client.post("/v1/denoise", files=files, data=data, **kwargs)


def assert_error(response: httpx.Response, status: int, code: str, *words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error"] == code, body
    for word in words:
        assert word.lower() in body["detail"].lower(), body


def assert_serves(client, good: bytes) -> None:
    response = denoise(client, {"file": ("good.exr", good)})
    assert response.status_code == 200, response.text


# --- the main path ---

def test_health_ready_models_docs(server, client):
    base_url, _ = server
    assert httpx.get(f"{base_url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{base_url}/readyz").json()
    assert ready["status"] == "ready" and ready["models"] == ["tiny", "tiny-color", "tiny-coping"]
    models = client.get("/v1/models").json()
    assert models["default"] == "tiny"
    assert [(m["name"], m["inputs"]) for m in models["models"]] == [
        ("tiny", ["color", "albedo", "normal"]), ("tiny-color", ["color"]),
        ("tiny-coping", ["color", "albedo", "normal"])]
    schema = httpx.get(f"{base_url}/openapi.json").json()
    assert {"/v1/denoise", "/v1/models", "/metrics", "/healthz", "/readyz"} <= set(schema["paths"])
    assert httpx.get(f"{base_url}/docs").status_code == 200
    page = httpx.get(f"{base_url}/")
    assert page.status_code == 200 and "<canvas" in page.text


def test_denoise_keeps_everything_but_the_colour(client, good, workdir):
    response = denoise(client, {"file": ("shot_010.exr", good)})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/x-exr"
    assert 'filename="shot_010_denoised.exr"' in response.headers["content-disposition"]
    out_path = workdir / "out.exr"
    out_path.write_bytes(response.content)
    (workdir / "in.exr").write_bytes(good)
    before, after = read_frame(workdir / "in.exr"), read_frame(out_path)
    assert after.color.shape == before.color.shape and np.isfinite(after.color).all()
    assert not np.allclose(after.color, before.color)
    np.testing.assert_array_equal(after.albedo, before.albedo)
    np.testing.assert_array_equal(after.normal, before.normal)
    assert set(after.extra) == {"diffuse.R", "id.uint"}
    for name in after.extra:
        assert after.extra[name].dtype == before.extra[name].dtype
        np.testing.assert_array_equal(after.extra[name], before.extra[name])
    assert after.metadata["scene"] == "unit" and after.metadata["spp"] == 4
    assert after.metadata["denoised"]["model"]["architecture"]["width"] == 16
    assert read_header(out_path)["channels"]["R"] == "half"  # precision auto: as the input


def test_precision_float_and_colour_only_model(client, workdir):
    frame = make_frame(aux=False, seed=3)
    data = exr_bytes(frame, workdir, "float_in.exr", precision="float")
    response = denoise(client, {"file": ("f.exr", data)}, {"model": "tiny-color"})
    assert response.status_code == 200, response.text
    assert response.headers["x-model"] == "tiny-color"
    path = workdir / "float_out.exr"
    path.write_bytes(response.content)
    assert read_header(path)["channels"]["R"] == "float"  # auto follows the float input
    response = denoise(client, {"file": ("f.exr", data)}, {"model": "tiny-color",
                                                          "precision": "half"})
    path.write_bytes(response.content)
    assert read_header(path)["channels"]["R"] == "half"
    # The default model needs albedo and normal, which this frame lacks; one trained with
    # aux dropout denoises it from the colour alone.
    assert_error(denoise(client, {"file": ("f.exr", data)}), 422, "missing_aux", "albedo")
    response = denoise(client, {"file": ("f.exr", data)}, {"model": "tiny-coping"})
    assert response.status_code == 200, response.text


def test_separate_colour_albedo_normal_files(client, workdir):
    from mcdenoise.core.frame import Frame

    frame = make_frame(seed=4)
    color = exr_bytes(Frame(color=frame.color), workdir, "c.exr")
    albedo = exr_bytes(Frame(color=frame.albedo), workdir, "a.exr")  # a pass saved as R,G,B
    # Normals as N.X, N.Y, N.Z with no colour at all: read_frame alone would refuse it.
    normal_path = workdir / "n.exr"
    OpenEXR.File({}, {f"N.{c}": np.ascontiguousarray(frame.normal[..., i])
                      for i, c in enumerate("XYZ")}).write(str(normal_path))
    response = denoise(client, {"color": ("c.exr", color), "albedo": ("a.exr", albedo),
                                "normal": ("n.exr", normal_path.read_bytes())})
    assert response.status_code == 200, response.text
    assert 'filename="c_denoised.exr"' in response.headers["content-disposition"]
    out = workdir / "sep_out.exr"
    out.write_bytes(response.content)
    # The answer is the colour file with its colour replaced: no layers added to it.
    assert set(read_header(out)["channels"]) == {"R", "G", "B"}
    # Same frame as one file with layers: same result.
    single = denoise(client, {"file": ("s.exr", exr_bytes(frame, workdir, "s.exr"))})
    (workdir / "single_out.exr").write_bytes(single.content)
    np.testing.assert_allclose(read_frame(out).color,
                               read_frame(workdir / "single_out.exr").color, rtol=1e-3, atol=1e-3)


def test_nonfinite_repaired_by_default_refused_on_request(client, workdir):
    frame = make_frame(seed=5)
    frame.color[3, 4] = [np.nan, np.inf, 1.0]
    frame.normal[0, 0, 0] = np.nan
    data = exr_bytes(frame, workdir, "nan.exr")
    response = denoise(client, {"file": ("nan.exr", data)})
    assert response.status_code == 200, response.text
    assert response.headers["x-nonfinite-repaired"] == "3"
    (workdir / "nan_out.exr").write_bytes(response.content)
    assert np.isfinite(read_frame(workdir / "nan_out.exr").color).all()
    clean = denoise(client, {"file": ("ok.exr", exr_bytes(make_frame(seed=5), workdir, "ok.exr"))})
    assert clean.status_code == 200 and "x-nonfinite-repaired" not in clean.headers
    assert_error(denoise(client, {"file": ("nan.exr", data)}, {"nonfinite": "refuse"}),
                 422, "nonfinite", "color 2", "normal 1")


def test_preview_endpoint(client, workdir):
    frame = make_frame(100, 60, aux=False, seed=6)
    data = exr_bytes(frame, workdir, "p.exr")
    response = client.post("/v1/preview", files={"file": ("p.exr", data)}, data={"max_side": "50"})
    assert response.status_code == 200, response.text
    width, height = int(response.headers["x-preview-width"]), int(response.headers["x-preview-height"])
    assert (width, height) == (30, 50)
    assert (response.headers["x-source-width"], response.headers["x-source-height"]) == ("60", "100")
    pixels = np.frombuffer(response.content, "<f4").reshape(height, width, 3)
    np.testing.assert_allclose(pixels[0, 0], frame.color[:2, :2].mean(axis=(0, 1)), rtol=1e-2)


def test_metrics(server, client, good):
    assert_serves(client, good)
    text = client.get("/metrics").text
    for name in ("mcdenoise_http_request_duration_seconds_count",
                 "mcdenoise_http_request_duration_seconds_bucket",
                 "mcdenoise_queue_depth", "mcdenoise_pixels_denoised_total"):
        assert name in text
    pixels = [line for line in text.splitlines()
              if line.startswith("mcdenoise_pixels_denoised_total")]
    assert float(pixels[0].split()[-1]) >= 64 * 64
    assert 'code="200",method="POST",route="/v1/denoise"' in text


# --- keeping strangers out ---

def test_api_keys(server, good):
    base_url, log = server
    files = {"file": ("good.exr", good)}
    no_key = httpx.post(f"{base_url}/v1/denoise", files=files)
    assert_error(no_key, 401, "unauthorized", "API key")
    assert no_key.headers["www-authenticate"] == "Bearer"
    wrong = httpx.post(f"{base_url}/v1/denoise", files=files,
                       headers={"Authorization": f"Bearer {WRONG_KEY}"})
    assert_error(wrong, 403, "forbidden")
    assert WRONG_KEY not in wrong.text
    assert_error(httpx.get(f"{base_url}/v1/models", headers={"X-API-Key": WRONG_KEY}), 403,
                 "forbidden")
    assert_error(httpx.get(f"{base_url}/metrics"), 401, "unauthorized")
    assert httpx.get(f"{base_url}/v1/models", headers={"X-API-Key": KEY}).status_code == 200
    ok = httpx.post(f"{base_url}/v1/denoise", files=files, headers={"X-API-Key": KEY}, timeout=60)
    assert ok.status_code == 200
    # Health checks stay open for load balancers.
    assert httpx.get(f"{base_url}/healthz").status_code == 200
    time.sleep(0.3)  # let the server flush its log
    text = log.read_text(errors="replace")
    assert "/v1/denoise" in text  # the log did record these requests (at debug level)...
    assert KEY not in text and WRONG_KEY not in text  # ...but never a key


def test_keys_not_logged_in_process(tmp_path, models, good, caplog):
    """The same with every logger of the process captured at DEBUG (uvicorn, starlette, ours)."""

    keys = tmp_path / "keys"
    keys.write_text(KEY + "\n")
    app = make_app(models["tiny"], api_key_file=keys)
    with caplog.at_level("DEBUG"), server_thread(app) as base_url:
        for key in (KEY, WRONG_KEY):
            httpx.post(f"{base_url}/v1/denoise", files={"file": ("g.exr", good)}, timeout=60,
                       headers={"Authorization": f"Bearer {key}"})
            httpx.get(f"{base_url}/v1/models", headers={"X-API-Key": key})
    assert caplog.records
    assert not [r for r in caplog.records if KEY in r.getMessage() or WRONG_KEY in r.getMessage()]


def test_served_as_a_self_ensemble(tmp_path, models, good, workdir):
    """`serve --ensemble 4`: every frame goes through the ensemble, as `denoise` would run it,
    and the result's header says so; a size that is not one of 1, 2, 4, 8 stops the start."""
    from mcdenoise.infer.denoise import denoise as denoise_frame, load_denoiser
    from service.config import ServeConfig, ServeConfigError

    with pytest.raises(ServeConfigError, match="--ensemble must be one of 1, 2, 4, 8"):
        ServeConfig(model=[str(models["tiny"])], ensemble=3)
    with server_thread(make_app(models["tiny"], ensemble=4)) as base_url:
        response = httpx.post(f"{base_url}/v1/denoise", files={"file": ("g.exr", good)},
                              timeout=60)
    assert response.status_code == 200, response.text
    (tmp_path / "out.exr").write_bytes(response.content)
    (tmp_path / "in.exr").write_bytes(good)
    served = read_frame(tmp_path / "out.exr")
    assert served.metadata["denoised"]["ensemble"] == 4
    expected = denoise_frame(load_denoiser(models["tiny"], "cpu", engine="torch", ensemble=4),
                             read_frame(tmp_path / "in.exr")).color
    np.testing.assert_allclose(served.color, expected, rtol=2e-3, atol=1e-3)  # half-float out


def test_config_refuses_public_address_without_keys(tmp_path, models, capsys):
    from mcdenoise.cli import main
    from service.config import ServeConfig, ServeConfigError, is_loopback

    assert all(map(is_loopback, ("127.0.0.1", "127.8.9.1", "::1", "localhost", "[::1]")))
    assert not any(map(is_loopback, ("0.0.0.0", "::", "10.0.0.5", "example.com", "")))
    with pytest.raises(ServeConfigError, match="--api-key-file"):
        ServeConfig(host="0.0.0.0")
    assert main(["serve", "--host", "0.0.0.0", "--model", str(models["tiny"])]) == 2
    assert "--api-key-file" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.write_text("# no keys\n\n")
    with pytest.raises(ServeConfigError, match="holds no key"):
        make_app(models["tiny"], api_key_file=empty)


def test_key_comparison():
    from service.auth import key_matches

    assert key_matches("abc", (b"xyz", b"abc")) and not key_matches("ab", (b"abc",))
    assert not key_matches("", (b"abc",)) and not key_matches("abcd", (b"abc",))
    # Headers arrive decoded as latin-1: the bytes sent are what is compared.
    assert key_matches("caf\xe9-0123456789ab", (b"caf\xe9-0123456789ab",))


@pytest.mark.parametrize("line, problem", [
    ("clé-0123456789abcdef", "printable ASCII"), ("two words 0123456789", "printable ASCII"),
    ("short-key", "at least 16 characters")])
def test_key_file_refuses_keys_that_cannot_work(tmp_path, line, problem):
    from service.auth import load_keys
    from service.config import ServeConfigError

    keys = tmp_path / "keys.txt"
    keys.write_text(f"# keys\n{KEY}\n{line}\n", encoding="utf-8")
    with pytest.raises(ServeConfigError, match=problem) as caught:
        load_keys(keys)
    assert "line 3" in str(caught.value) and line not in str(caught.value)


def test_model_errors_at_startup(tmp_path, monkeypatch):
    import mcdenoise.nn.modelfile
    from service.config import ServeConfigError
    from service.model_set import ModelSet, default_model_path, model_specs

    monkeypatch.setattr(mcdenoise.nn.modelfile, "DEFAULT_MODEL", tmp_path / "not-there.safetensors")
    with pytest.raises(ServeConfigError, match="--model"):
        default_model_path()
    with pytest.raises(ServeConfigError, match="no --model given"):
        model_specs(None)
    assert list(model_specs(["a/b/run7/model.safetensors", "x=a/y.safetensors"])) == ["run7", "x"]
    with pytest.raises(ServeConfigError, match="two models"):
        model_specs(["a/m.safetensors", "b/m.safetensors"])
    with pytest.raises(ServeConfigError, match="no such file"):
        ModelSet(model_specs([str(tmp_path / "missing.safetensors")]))
    (tmp_path / "junk.safetensors").write_bytes(b"not a model")
    with pytest.raises(ServeConfigError, match="junk"):
        ModelSet(model_specs([str(tmp_path / "junk.safetensors")]))


# --- surviving garbage: a corpus of bad inputs ---

def _patch_window(data: bytes, window: tuple[int, int, int, int]) -> bytes:
    """The EXR ``data`` with its data and display windows replaced (header only)."""
    for name in (b"dataWindow", b"displayWindow"):
        tag = name + b"\0box2i\0" + struct.pack("<i", 16)
        at = data.index(tag) + len(tag)
        data = data[:at] + struct.pack("<4i", *window) + data[at + 16:]
    return data


def _uint_colour(folder: Path) -> bytes:
    path = folder / "uint.exr"
    OpenEXR.File({}, {c: np.ones((16, 16), np.uint32) for c in "RGB"}).write(str(path))
    return path.read_bytes()


def _bad_inputs(good: bytes, folder: Path) -> dict[str, tuple]:
    """name -> (request kwargs, status, error code, words the detail must contain)."""
    small = exr_bytes(make_frame(32, 32, seed=9), folder, "small.exr")
    nan_frame = make_frame(seed=10)
    nan_frame.albedo[0, 0, 0] = np.nan
    multipart = {"content-type": "multipart/form-data; boundary=xyz"}
    return {
        "not an EXR": (dict(files={"file": ("notes.txt", b"hello, I am text\n" * 20)}),
                       422, "not_exr", "notes.txt", "not an OpenEXR file"),
        "empty file": (dict(files={"file": ("empty.exr", b"")}), 422, "not_exr", "OpenEXR"),
        "truncated": (dict(files={"file": ("cut.exr", good[: len(good) // 2])}),
                      422, "bad_exr", "truncated"),
        "truncated header": (dict(files={"file": ("cut.exr", good[:40])}),
                             422, "not_exr", "truncated"),
        "bad magic": (dict(files={"file": ("magic.exr", b"\x00" + good[1:])}),
                      422, "not_exr", "magic"),
        "huge declared size": (dict(files={"file": ("huge.exr",
                                                    _patch_window(good, (0, 0, 99999, 99999)))}),
                               413, "too_many_pixels", "100000x100000"),
        "over the pixel limit": (dict(files={"file": ("big.exr", _patch_window(good, (0, 0, 199, 99)))}),
                                 413, "too_many_pixels", "200x100", f"{MAX_PIXELS:,}"),
        "zero size": (dict(files={"file": ("zero.exr", _patch_window(good, (0, 0, -1, -1)))}),
                      422, "not_exr", "empty data window"),
        "wrong channel types": (dict(files={"file": ("uint.exr", _uint_colour(folder))}),
                                422, "bad_channel_type", "uint", "'R'"),
        "mismatched layer sizes": (dict(files={"color": ("c.exr", good),
                                               "albedo": ("a.exr", small)}),
                                   422, "size_mismatch", "32x32", "64x64"),
        "NaN/Inf": (dict(files={"file": ("nan.exr", exr_bytes(nan_frame, folder, "nan.exr"))},
                         data={"nonfinite": "refuse"}), 422, "nonfinite", "albedo 1"),
        "empty form": (dict(content=b"--xyz--\r\n", headers=multipart), 422, "no_file", "'file'"),
        "no boundary": (dict(content=b"abc", headers={"content-type": "multipart/form-data"}),
                        400, "bad_multipart", "boundary"),
        "wrong content type": (dict(json={"file": "frame.exr"}), 415, "unsupported_media_type",
                               "multipart/form-data", "application/json"),
        "urlencoded form": (dict(data={"file": "frame.exr"}), 415, "unsupported_media_type",
                            "x-www-form-urlencoded"),
        "text instead of a file": (dict(data={"file": "frame.exr"},
                                        files={"albedo": ("a.exr", good)}),
                                   422, "not_a_file", "'file'", "curl -F file=@"),
        "unknown field": (dict(files={"file": ("g.exr", good), "beauty": ("b.exr", good)}),
                          422, "unknown_field", "'beauty'"),
        "unknown model": (dict(files={"file": ("g.exr", good)}, data={"model": "nope"}),
                          422, "unknown_model", "nope", "tiny"),
        "bad precision": (dict(files={"file": ("g.exr", good)}, data={"precision": "double"}),
                          422, "bad_option", "precision"),
        "file and color": (dict(files={"file": ("g.exr", good), "color": ("c.exr", good)}),
                           422, "conflicting_fields"),
        "albedo alone": (dict(files={"albedo": ("a.exr", good)}), 422, "no_color", "albedo"),
        "too many files": (dict(files=[("file", ("g.exr", good))] * 5), 400, "bad_multipart",
                           "files"),
        "upload too large": (dict(files={"file": ("big.exr", good + b"\0" * (2 << 20))}),
                             413, "upload_too_large", "1.0 MiB"),
    }


@pytest.mark.parametrize("case", [
    "not an EXR", "empty file", "truncated", "truncated header", "bad magic",
    "huge declared size", "over the pixel limit", "zero size", "wrong channel types",
    "mismatched layer sizes", "NaN/Inf", "empty form", "no boundary", "wrong content type",
    "urlencoded form", "text instead of a file", "unknown field", "unknown model", "bad precision",
    "file and color", "albedo alone", "too many files", "upload too large"])
def test_bad_input_gets_a_clear_4xx_and_the_server_goes_on(case, client, good, workdir):
    kwargs, status, code, *words = _bad_inputs(good, workdir)[case]
    assert_error(client.post("/v1/denoise", **kwargs), status, code, *words)
    assert_serves(client, good)


def test_streamed_upload_over_the_limit(client, good):
    """No Content-Length (chunked): the limit is enforced while the body streams in."""
    boundary = "b0undary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"big.exr\"\r\n\r\n").encode()

    def body():
        yield head
        for _ in range(48):  # 3 MiB of pixels, in 64 KiB chunks
            yield b"\0" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    response = client.post("/v1/denoise", content=body(),
                           headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    assert_error(response, 413, "upload_too_large", "limit of 1.0 MiB")
    assert_serves(client, good)


def test_unknown_route_and_method(client):
    assert_error(client.get("/v2/nothing"), 404, "not_found")
    response = client.delete("/v1/denoise")
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "POST"


# --- load: the bounded queue, timeouts, batching (uvicorn in a thread, denoiser slowed) ---

@pytest.fixture
def gated(monkeypatch):
    """Make every denoiser call wait for ``gate`` (a threading.Event); yields the gate."""
    import service.inference

    gate = threading.Event()
    real = service.inference.denoise

    def slow(denoiser, frames):
        gate.wait(30)
        return real(denoiser, frames)

    monkeypatch.setattr(service.inference, "denoise", slow)
    yield gate
    gate.set()


def _wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_full_queue_answers_503_with_retry_after(models, good, gated):

    app = make_app(models["tiny"], queue=1, workers=1)
    queue = app.state.queue
    with server_thread(app) as base_url:
        async def scenario():
            async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
                def post():
                    return client.post("/v1/denoise", files={"file": ("g.exr", good)})
                first = asyncio.ensure_future(post())
                await asyncio.to_thread(_wait_for, lambda: queue.depth == 1)  # on the worker
                second = asyncio.ensure_future(post())
                await asyncio.to_thread(_wait_for, lambda: queue.waiting == 1)  # in the queue
                third = await post()
                fourth = await client.post("/v1/preview", files={"file": ("g.exr", good)})
                gated.set()
                return await first, await second, third, fourth

        first, second, third, fourth = asyncio.run(scenario())
        assert first.status_code == 200 and second.status_code == 200
        for rejected in (third, fourth):
            assert_error(rejected, 503, "queue_full", "retry")
            assert int(rejected.headers["retry-after"]) >= 1
        _wait_for(lambda: queue.admitted == 0)
        assert httpx.post(f"{base_url}/v1/denoise", files={"file": ("g.exr", good)},
                          timeout=60).status_code == 200
        metrics = httpx.get(f"{base_url}/metrics").text
        assert 'mcdenoise_rejected_total{reason="queue_full"} 2.0' in metrics


def test_request_timeout_answers_504_and_frees_the_slot(models, good, gated):

    # 3 s: ample for the upload and decoding of the small frame on a loaded machine, so the
    # timeout always falls while the gated denoiser holds the job.
    app = make_app(models["tiny"], queue=0, timeout=3.0)
    queue = app.state.queue
    with server_thread(app) as base_url:
        response = httpx.post(f"{base_url}/v1/denoise", files={"file": ("g.exr", good)}, timeout=30)
        assert_error(response, 504, "timeout", "3 s")
        # The job still runs on the worker and keeps its slot until it is done...
        assert queue.admitted == 1
        assert_error(httpx.post(f"{base_url}/v1/denoise", files={"file": ("g.exr", good)}),
                     503, "queue_full")
        gated.set()
        _wait_for(lambda: queue.admitted == 0)  # ...then frees it.

        def slow_body():  # an upload that never finishes in time: 408, not 504
            yield b"--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\n"
            time.sleep(4.0)  # past the 3 s timeout, within the upload idle limit (30 s)
            yield b"--xyz--\r\n"

        response = httpx.post(f"{base_url}/v1/denoise", content=slow_body(), timeout=30,
                              headers={"content-type": "multipart/form-data; boundary=xyz"})
        assert_error(response, 408, "upload_timeout")
        _wait_for(lambda: queue.admitted == 0)
        response = httpx.post(f"{base_url}/v1/denoise", files={"file": ("g.exr", good)}, timeout=30)
        assert response.status_code == 200


def test_waiting_small_frames_are_batched(models, workdir, monkeypatch):
    """With --batch 4, frames queued behind a busy worker share one forward pass (as they do by
    default on a GPU), and come out as if denoised one by one."""
    import service.inference
    from mcdenoise.infer.denoise import denoise, load_denoiser

    gate, sizes = threading.Event(), []
    real = service.inference.denoise

    def recorded(denoiser, frames):
        gate.wait(30)
        sizes.append(len(frames))
        return real(denoiser, frames)

    monkeypatch.setattr(service.inference, "denoise", recorded)
    frames = [make_frame(32, 32, seed=20 + i) for i in range(4)]
    files = [exr_bytes(f, workdir, f"batch{i}.exr", precision="float") for i, f in enumerate(frames)]
    app = make_app(models["tiny"], queue=4, batch=4)
    with server_thread(app) as base_url:
        async def scenario():
            async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
                def post(i):
                    return client.post("/v1/denoise", files={"file": (f"{i}.exr", files[i])})
                first = asyncio.ensure_future(post(0))
                await asyncio.to_thread(_wait_for, lambda: app.state.queue.depth == 1)
                rest = [asyncio.ensure_future(post(i)) for i in (1, 2, 3)]
                await asyncio.to_thread(_wait_for, lambda: app.state.queue.waiting == 3)
                gate.set()
                return [await first] + [await r for r in rest]

        responses = asyncio.run(scenario())
    assert sizes == [1, 3]
    denoiser = load_denoiser(models["tiny"], "cpu")
    for i, response in enumerate(responses):
        assert response.status_code == 200
        path = workdir / f"batch_out{i}.exr"
        path.write_bytes(response.content)
        alone = denoise(denoiser, read_frame(workdir / f"batch{i}.exr")).color
        np.testing.assert_allclose(read_frame(path).color, alone, rtol=5e-3, atol=1e-4)


def test_batched_inference_matches_denoise(tmp_path):
    """A batch through infer.denoise gives what it gives frame by frame, for every output map
    a model card may name."""
    import dataclasses

    import mcdenoise.nn.transform as transform
    from mcdenoise.infer.denoise import denoise, load_denoiser
    from service.inference import batch_key

    denoiser = load_denoiser(make_model(tmp_path / "m.safetensors"), "cpu")
    frames = [make_frame(32, 24, seed=30 + i) for i in range(3)]
    frames[1].color *= 50  # a different exposure scale per frame
    assert len({batch_key("m", f) for f in frames}) == 1
    for output in getattr(transform, "OUTPUT_MAPS", ("linear",)):
        denoiser.transform = dataclasses.replace(denoiser.transform, output=output)
        for batched, frame in zip(denoise(denoiser, frames), frames):
            alone = denoise(denoiser, frame)
            # Batched convolutions may pick other kernels: close, not bit-identical.
            np.testing.assert_allclose(batched.color, alone.color, rtol=5e-3, atol=1e-4)
            assert batched.metadata == alone.metadata


def test_preview_array_downsamples():
    from service.preview import preview_array

    color = np.arange(8 * 6 * 3, dtype=np.float32).reshape(8, 6, 3)
    small = preview_array(color, 4)
    assert small.shape == (4, 3, 3) and small.dtype == np.dtype("<f4")
    np.testing.assert_allclose(small[0, 0], color[:2, :2].mean(axis=(0, 1)))
    assert preview_array(np.full((3, 10000, 3), np.nan, np.float32), 100).max() == 0.0
