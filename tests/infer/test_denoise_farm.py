"""`mcdenoise denoise` as a farm task runs it: frame ranges, retries, reports, plain progress,
exit codes, Ctrl-C; and the artist's options: layers, aux from layers or files, a fixed
exposure, a blend with the input."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from mcdenoise.cli import main
from mcdenoise.core.exr import check_file, read_frame, write_frame
from mcdenoise.core.files import TMP_MARKER
from mcdenoise.core.frame import Frame
from mcdenoise.infer.denoise import denoise, load_denoiser
from mcdenoise.infer.sequences import DenoiseInputError, parse_frames
from conftest import sigint_as_in_a_terminal
from service_support import make_frame, make_model


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return make_model(tmp_path_factory.mktemp("model") / "m.safetensors", missing_aux="zeros")


def sequence(folder, frames, size=(32, 48), **options):
    for number in frames:
        write_frame(make_frame(*size, seed=number), folder / f"shot.{number:04d}.exr", **options)
    return folder / "shot.####.exr"


def test_frame_ranges_parse_as_farm_managers_write_them():
    assert list(parse_frames("1001-1005")) == [1001, 1002, 1003, 1004, 1005]
    assert list(parse_frames("1001-1009x4")) == [1001, 1005, 1009]
    assert list(parse_frames("1001-1009:4")) == [1001, 1005, 1009]  # OpenJD's chunks
    assert list(parse_frames("1,5,9-12")) == [1, 5, 9, 10, 11, 12]
    assert parse_frames(None) is None
    for bad in ("10-x", "", "a"):
        with pytest.raises(DenoiseInputError, match="--frames"):
            parse_frames(bad)


def test_a_farm_chunk_fails_on_a_missing_frame_and_its_retry_succeeds(tmp_path, model, capsys):
    pattern = sequence(tmp_path / "in", (1001, 1002, 1004))  # 1003 is not rendered yet
    out, report = tmp_path / "out" / "den.####.exr", tmp_path / "task.json"
    args = ["denoise", str(pattern), "--frames", "1001-1004", "-o", str(out), "--model",
            str(model), "--report", str(report)]
    assert main(args) == 1
    printed = capsys.readouterr()
    assert "frame 1003" in printed.err and "does not exist" in printed.err
    # Without a terminal, progress is plain lines a farm log shows.
    assert "denoise: 4 of 4 frames (100%), elapsed" in printed.out and "\r" not in printed.out
    assert sorted(p.name for p in out.parent.iterdir()) == [
        "den.1001.exr", "den.1002.exr", "den.1004.exr"]
    record = json.loads(report.read_text())
    assert record["state"] == "finished" and record["exit_code"] == 1
    assert [(r["frame"], r["status"]) for r in record["frames"]] == [
        (1001, "done"), (1002, "done"), (1003, "failed"), (1004, "done")]
    done = next(r for r in record["frames"] if r["frame"] == 1001)
    assert done["seconds"] > 0 and done["output"].endswith("den.1001.exr")
    assert record["model"] == str(model) and "--frames 1001-1004" in record["command"]

    # The retried task: a plain re-run is refused (exit 2) before anything is touched...
    assert main(args) == 2
    assert "--skip-existing" in capsys.readouterr().err
    # ...with --skip-existing, the valid outputs are kept, a broken one is redone.
    sequence(tmp_path / "in", (1003,))
    broken = out.parent / "den.1002.exr"
    broken.write_bytes(broken.read_bytes()[:300])
    kept = (out.parent / "den.1001.exr").stat().st_mtime_ns
    assert main(args + ["--skip-existing"]) == 0
    record = json.loads(report.read_text())
    assert sorted((r["frame"], r["status"]) for r in record["frames"]) == [
        (1001, "skipped"), (1002, "done"), (1003, "done"), (1004, "skipped")]
    assert (out.parent / "den.1001.exr").stat().st_mtime_ns == kept
    for number in (1001, 1002, 1003, 1004):
        check_file(out.parent / f"den.{number}.exr")
    assert main(args + ["--skip-existing", "--overwrite"]) == 2

    # Every second frame, and the other pattern syntaxes for the same files.
    for spelling, folder in (("shot.%04d.exr", "printf"), ("shot.@@@@.exr", "at")):
        target = tmp_path / folder
        assert main(["denoise", str(tmp_path / "in" / spelling), "--frames", "1001-1004x2",
                     "-o", str(target), "--model", str(model)]) == 0
        assert sorted(p.name for p in target.iterdir()) == ["shot.1001.exr", "shot.1003.exr"]
    capsys.readouterr()
    assert main(["denoise", str(tmp_path / "in" / "shot.1001.exr"), "--frames", "1-2", "-o",
                 str(tmp_path / "x"), "--model", str(model)]) == 2
    assert "needs a sequence pattern" in capsys.readouterr().err


def test_layers_view_layers_and_aux_from_layers_or_files(tmp_path, model):
    rng = np.random.default_rng(5)
    h, w = 32, 40
    base = make_frame(h, w, seed=1)

    def plane():
        return rng.gamma(1.0, 0.5, (h, w)).astype(np.float32)

    unit = rng.normal(size=(h, w, 3))
    unit /= np.linalg.norm(unit, axis=-1, keepdims=True)
    extra = {f"diffuse.{c}": plane().astype(np.float16) for c in "RGB"}
    extra |= {f"right.Combined.{c}": plane() for c in "RGB"}
    extra |= {f"right.Denoising Albedo.{c}": rng.uniform(0.1, 0.9, (h, w)).astype(np.float32)
              for c in "RGB"}
    extra |= {f"right.Denoising Normal.{c}": unit[..., i].astype(np.float32)
              for i, c in enumerate("XYZ")}
    extra |= {f"alb2.{c}": rng.uniform(0.1, 0.9, (h, w)).astype(np.float32) for c in "RGB"}
    extra["specular.R"] = plane()
    source = tmp_path / "multi.exr"
    write_frame(base.replace(extra=extra), source, precision="float")
    original = read_frame(source)
    out = tmp_path / "out.exr"
    assert main(["denoise", str(source), "-o", str(out), "--model", str(model),
                 "--layers", "beauty,diffuse,right"]) == 0
    written, net = read_frame(out), load_denoiser(model, "cpu")

    def rgb(frame, layer):
        return np.stack([frame.extra[f"{layer}.{c}"] for c in "RGB"], -1).astype(np.float32)

    np.testing.assert_allclose(written.color, denoise(net, original).color, rtol=1e-5, atol=1e-6)
    diffuse = denoise(net, Frame(rgb(original, "diffuse"), original.albedo, original.normal))
    assert written.extra["diffuse.R"].dtype == np.float16  # its own type
    np.testing.assert_allclose(rgb(written, "diffuse"), diffuse.color, rtol=2e-3, atol=2e-3)
    right_albedo = rgb(original, "right.Denoising Albedo")
    right_normal = np.stack([original.extra[f"right.Denoising Normal.{c}"] for c in "XYZ"], -1)
    right = denoise(net, Frame(rgb(original, "right.Combined"), right_albedo, right_normal))
    np.testing.assert_allclose(rgb(written, "right.Combined"), right.color, rtol=1e-5, atol=1e-6)
    # The view layer used its own aux, not the beauty's.
    assert not np.allclose(right.color, denoise(net, Frame(rgb(original, "right.Combined"),
                                                           original.albedo, original.normal)).color)
    for name in ("specular.R", "alb2.R", "right.Denoising Albedo.G"):
        np.testing.assert_array_equal(written.extra[name], original.extra[name])

    # Albedo from a named layer, normal from a separate file (a pattern filled per frame).
    bare = make_frame(h, w, aux=False, seed=2).replace(extra={f"alb2.{c}": extra[f"alb2.{c}"]
                                                              for c in "RGB"})
    write_frame(bare, tmp_path / "bare.0007.exr", precision="float")
    write_frame(Frame(color=np.zeros((h, w, 3), np.float32), normal=unit),
                tmp_path / "normal.0007.exr", precision="float")
    with_aux = tmp_path / "with_aux.exr"
    assert main(["denoise", str(tmp_path / "bare.0007.exr"), "-o", str(with_aux), "--model",
                 str(model), "--albedo-layer", "alb2", "--normal",
                 str(tmp_path / "normal.####.exr")]) == 0
    expected = denoise(net, Frame(bare.color, rgb(original, "alb2"), unit.astype(np.float32)))
    np.testing.assert_allclose(read_frame(with_aux).color, expected.color, rtol=1e-5, atol=1e-6)
    assert main(["denoise", str(source), "-o", str(tmp_path / "x.exr"), "--model", str(model),
                 "--layers", "nosuch"]) == 1
    assert main(["denoise", str(source), "-o", str(tmp_path / "y.exr"), "--model", str(model),
                 "--albedo", str(tmp_path / "normal.0007.exr"), "--albedo-layer", "alb2"]) == 2


def test_fixed_exposure_and_blend_with_the_input(tmp_path, model):
    pattern = sequence(tmp_path / "in", (1, 2), precision="float")
    net = load_denoiser(model, "cpu")
    report = tmp_path / "r.json"
    assert main(["denoise", str(pattern), "-o", str(tmp_path / "fixed"), "--model", str(model),
                 "--input-scale", "0.7", "--report", str(report)]) == 0
    auto = tmp_path / "auto"
    assert main(["denoise", str(pattern), "-o", str(auto), "--model", str(model),
                 "--precision", "float", "--report", str(tmp_path / "a.json")]) == 0
    frames = json.loads(report.read_text())["frames"]
    assert [r["exposure_scale"]["beauty"] for r in frames] == [0.7, 0.7]
    auto_scales = [r["exposure_scale"]["beauty"] for r in
                   json.loads((tmp_path / "a.json").read_text())["frames"]]
    assert auto_scales[0] != auto_scales[1]  # each frame's own, which the fixed scale replaces
    original = read_frame(tmp_path / "in" / "shot.0001.exr")
    np.testing.assert_allclose(read_frame(tmp_path / "fixed" / "shot.0001.exr").color,
                               denoise(net, original, scale=0.7).color, rtol=1e-5, atol=1e-6)
    assert not np.allclose(denoise(net, original, scale=0.7).color, denoise(net, original).color)

    mixed = tmp_path / "mixed"
    assert main(["denoise", str(pattern), "-o", str(mixed), "--model", str(model),
                 "--precision", "float", "--blend", "0.25"]) == 0
    full = read_frame(auto / "shot.0001.exr").color
    np.testing.assert_allclose(read_frame(mixed / "shot.0001.exr").color,
                               0.75 * full + 0.25 * original.color, rtol=1e-5, atol=1e-6)
    for flags in (["--blend", "1.5"], ["--input-scale", "0"], ["--input-scale", "nan"]):
        assert main(["denoise", str(pattern), "-o", str(tmp_path / "bad"), "--model", str(model),
                     *flags]) == 2


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
                         ids=["ctrl-c", "sigterm"])
def test_an_interrupt_exits_128_plus_the_signal_and_leaves_no_half_written_frame(
        tmp_path, model, signum, code):
    """Ctrl-C at a terminal, or SIGTERM from a farm manager or `kill PID` (the one a
    background job still receives): frames already written are whole, the report says so."""
    pattern = sequence(tmp_path / "in", range(1, 41), size=(256, 256))
    out, report = tmp_path / "out", tmp_path / "r.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "mcdenoise.cli", "denoise", str(pattern), "-o", str(out),
         "--model", str(model), "--report", str(report)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"}, preexec_fn=sigint_as_in_a_terminal)
    for line in process.stdout:
        if line.startswith("denoise: 2 of 40"):
            process.send_signal(signum)
            break
    _, err = process.communicate(timeout=120)
    assert process.returncode == code, err
    assert "interrupted: " in err and "none half-written" in err, err
    written = list(out.iterdir())
    assert 2 <= len(written) < 40
    assert not [p for p in written if TMP_MARKER in p.name]
    for path in written:
        check_file(path)
    record = json.loads(report.read_text())
    assert record["state"] == "interrupted" and record["exit_code"] == code
    assert len(record["frames"]) == len(written)
