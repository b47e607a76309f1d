"""The OpenVINO engine (`denoise --engine openvino`): the shipped model's output as torch's,
through tiling and padding, from the file command, with its conversion cached on disk."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from mcdenoise.cli import main
from mcdenoise.core.exr import read_frame, write_frame
from mcdenoise.infer.denoise import denoise, load_denoiser
from mcdenoise.infer.openvino import EngineError
from mcdenoise.nn.modelfile import default_model_path
from service_support import make_frame


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MCDENOISE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "openvino"


def test_openvino_denoises_as_torch_does_and_caches_the_conversion(cache):
    # 150x97: padded to multiples of 32, and tiled (tile 96) so the seams are crossed too.
    frame = make_frame(97, 150, seed=4)
    torch_out = denoise(load_denoiser(default_model_path(), "cpu"), frame, tile=96, overlap=32)
    first = load_denoiser(default_model_path(), "cpu", engine="openvino")
    ov_out = denoise(first, frame, tile=96, overlap=32)
    assert ov_out.color.shape == frame.color.shape and ov_out.albedo is not None
    relative = np.abs(ov_out.color - torch_out.color) / (np.abs(torch_out.color) + 1e-3)
    assert relative.max() < 1e-3, relative.max()
    assert not np.allclose(ov_out.color, frame.color, rtol=1e-2)  # it did denoise
    [converted] = cache.glob("*.xml")
    assert converted.with_suffix(".bin").stat().st_size > 100_000
    # A second load reads the cached conversion: the same file, the same output (to rounding).
    again = denoise(load_denoiser(default_model_path(), "cpu", engine="openvino"), frame,
                    tile=96, overlap=32)
    assert list(cache.glob("*.xml")) == [converted]
    np.testing.assert_allclose(again.color, ov_out.color, rtol=1e-5, atol=1e-6)


def test_openvino_runs_the_demodulated_head_as_torch_does(tmp_path):
    """A model with the demodulated head, its own kernels and band weights (train --demodulate
    --separate-kernels --band-weights), its share far from the start value so that both
    filtered images count, its demodulated kernels apart from the plain ones and its bands
    partly dropped: OpenVINO's output is torch's."""
    import torch

    from mcdenoise.nn.modelfile import load_model, save_model
    from mcdenoise.nn.widen import banded, demodulated, separated

    model, _, card = load_model(default_model_path())
    grown = banded(separated(demodulated(model)))
    with torch.no_grad():
        torch.manual_seed(0)
        grown.out_c.weight[-1].normal_(0, 0.3)  # a share that varies from pixel to pixel
        grown.out_c.bias[-1] = 0.0
        for level, head in enumerate([grown.out_c, *grown.level_heads]):
            size = grown.head_set(level)  # the demodulated set: other kernels
            head.weight[size:2 * size].add_(torch.randn_like(head.weight[size:2 * size]), alpha=0.05)
            if level < grown.config.scales - 1:  # band logits around 0: some of each band kept
                head.weight[26:size * 2:size].normal_(0, 0.3)
    path = tmp_path / "demod.safetensors"
    save_model(path, grown, {**card, "architecture": grown.config.to_dict()})
    frame = make_frame(97, 150, seed=5)
    torch_out = denoise(load_denoiser(path, "cpu", engine="torch"), frame, tile=96, overlap=32)
    ov_out = denoise(load_denoiser(path, "cpu", engine="openvino"), frame, tile=96, overlap=32)
    plain = denoise(load_denoiser(default_model_path(), "cpu", engine="torch"), frame)
    assert not np.allclose(torch_out.color, plain.color, rtol=1e-2)  # the share is at work
    relative = np.abs(ov_out.color - torch_out.color) / (np.abs(torch_out.color) + 1e-3)
    assert relative.max() < 1e-3, relative.max()


def test_denoise_command_takes_the_engine(tmp_path):
    source = tmp_path / "frame.exr"
    write_frame(make_frame(64, 96, seed=1), source)
    assert main(["denoise", str(source), "-o", str(tmp_path / "ov.exr"), "--engine", "openvino"]) == 0
    assert main(["denoise", str(source), "-o", str(tmp_path / "torch.exr")]) == 0
    ov, reference = read_frame(tmp_path / "ov.exr"), read_frame(tmp_path / "torch.exr")
    np.testing.assert_allclose(ov.color, reference.color, rtol=2e-3, atol=1e-3)


def test_a_missing_openvino_package_is_a_clear_error(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino now fails
    with pytest.raises(EngineError, match=r"pip install openvino"):
        load_denoiser(default_model_path(), "cpu", engine="openvino")
    source = tmp_path / "frame.exr"
    write_frame(make_frame(32, 32), source)
    assert main(["denoise", str(source), "-o", str(tmp_path / "out.exr"), "--engine",
                 "openvino"]) == 2
    assert "openvino" in capsys.readouterr().err
    assert not (tmp_path / "out.exr").exists()


def test_serve_takes_the_engine(tmp_path, cache):
    """A real server started with --engine openvino answers what torch computes."""
    import httpx

    from service_support import exr_bytes, server_process

    frame = make_frame(64, 96, seed=2)
    body = exr_bytes(frame, tmp_path)
    env_cache = {"MCDENOISE_CACHE": str(cache.parent)}
    with server_process(["--engine", "openvino"], tmp_path / "server.log", env=env_cache) as url:
        answer = httpx.post(f"{url}/v1/denoise", files={"file": ("f.exr", body)}, timeout=120)
        assert answer.status_code == 200, answer.text
    (tmp_path / "served.exr").write_bytes(answer.content)
    reference = denoise(load_denoiser(default_model_path(), "cpu"), frame)
    np.testing.assert_allclose(read_frame(tmp_path / "served.exr").color, reference.color,
                               rtol=2e-3, atol=1e-3)
    assert "(openvino)" in (tmp_path / "server.log").read_text()
    assert list(cache.glob("*.xml"))  # the server converted through the same cache


def test_serve_without_openvino_refuses_to_start(monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)
    from service.app import create_app
    from service.config import ServeConfig, ServeConfigError

    with pytest.raises(ServeConfigError, match=r"pip install openvino"):
        create_app(ServeConfig(engine="openvino"))
    with pytest.raises(ServeConfigError, match="CPU"):
        ServeConfig(engine="openvino", device="cuda")


def test_auto_takes_openvino_on_the_cpu_and_torch_without_it(monkeypatch):
    chosen = load_denoiser(default_model_path(), "cpu", engine="auto")
    assert (chosen.engine, chosen.tile) == ("openvino", 1088)
    monkeypatch.setitem(sys.modules, "openvino", None)
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None)
    fallback = load_denoiser(default_model_path(), "cpu", engine="auto")
    assert (fallback.engine, fallback.tile) == ("torch", 768)


def test_openvino_sends_no_telemetry(tmp_path):
    """OpenVINO reports its import and each conversion to Google Analytics from a forked
    process unless told not to: converting a model in a fresh process forks nothing here."""
    code = ("import os, sys\n"
            "forks = []\n"
            "real_fork = os.fork\n"
            "os.fork = lambda: forks.append(1) or real_fork()\n"
            "from mcdenoise.infer.denoise import load_denoiser\n"
            "from mcdenoise.nn.modelfile import default_model_path\n"
            "assert load_denoiser(default_model_path(), 'cpu', engine='openvino').engine == 'openvino'\n"
            "print('forks', len(forks), 'telemetry', sys.modules.get('openvino_telemetry'))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, env={**os.environ, "MCDENOISE_CACHE": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert "forks 0 telemetry None" in out.stdout
