"""`mcdenoise denoise`: inputs and outputs, what the written file keeps, input hygiene, Ray."""
from __future__ import annotations

import json

import numpy as np
import pytest

from mcdenoise.cli import main
from mcdenoise.infer.sequences import DenoiseInputError, expand_inputs, plan
from mcdenoise.core.exr import read_frame, read_header, write_frame
from mcdenoise.infer.denoise import denoise, load_denoiser
from mcdenoise.nn.transform import signed_normals
from service_support import make_frame, make_model


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A model that must have albedo and normal, and one trained to do without them."""
    folder = tmp_path_factory.mktemp("models")
    return {"strict": make_model(folder / "strict.safetensors"),
            "coping": make_model(folder / "coping.safetensors", missing_aux="zeros")}


def write(frame, path, **options):
    write_frame(frame, path, **options)
    return path


def test_inputs_expand_from_files_folders_and_sequences(tmp_path):
    shot = tmp_path / "shot"
    for name in ("frame.0002.exr", "frame.0010.exr", "frame.12345.exr", "frame.01.exr",
                 "other.0001.exr", "notes.txt"):
        (shot / name).parent.mkdir(exist_ok=True)
        (shot / name).write_bytes(b"")

    def names(*inputs):
        return [p.name for p, _, _ in expand_inputs(list(inputs))]

    # At least four digits, ordered by number (12345 after 0010), not by name; the three
    # pattern syntaxes agree.
    for pattern in ("frame.####.exr", "frame.%04d.exr", "frame.@@@@.exr"):
        assert names(shot / pattern) == ["frame.0002.exr", "frame.0010.exr", "frame.12345.exr"]
    assert names(shot) == ["frame.0002.exr", "frame.0010.exr", "frame.01.exr",
                           "frame.12345.exr", "other.0001.exr"]
    assert expand_inputs([shot / "other.0001.exr"]) == [(shot / "other.0001.exr", 1, None)]
    for bad, problem in ((shot / "missing.exr", "no such file"), (shot / "x.####.exr", "no file matches"),
                         (tmp_path, "no .exr files")):
        with pytest.raises(DenoiseInputError, match=problem):
            expand_inputs([bad])


def test_outputs_never_clash_or_replace_inputs(tmp_path):
    a, b = tmp_path / "a" / "f.exr", tmp_path / "b" / "f.exr"
    for path in (a, b):
        path.parent.mkdir()
        path.write_bytes(b"")

    def pairs(inputs, output, **options):
        return [(job.source, job.target) for job in plan(inputs, output, **options)]

    assert pairs([a], tmp_path / "out.exr") == [(a, tmp_path / "out.exr")]
    assert pairs([a], tmp_path / "out") == [(a, tmp_path / "out" / "f.exr")]
    with pytest.raises(DenoiseInputError, match="both be written"):
        pairs([a, b], tmp_path / "out")
    with pytest.raises(DenoiseInputError, match="need an output folder"):
        pairs([a, b], tmp_path / "out.exr")
    with pytest.raises(DenoiseInputError, match="replace the input"):
        pairs([a], a.parent)
    with pytest.raises(DenoiseInputError, match="--overwrite"):
        pairs([a], b)
    assert pairs([a], b, overwrite=True) == [(a, b)]


def test_denoised_file_keeps_every_other_layer_and_the_header(tmp_path, models):
    rng = np.random.default_rng(3)
    frame = make_frame(48, 80, alpha=rng.uniform(0, 1, (48, 80)).astype(np.float32),
                       depth=rng.uniform(1, 9, (48, 80)).astype(np.float32),
                       extra={"specular.R": rng.uniform(0, 1, (48, 80)).astype(np.float32)},
                       metadata={"shot": "sq010_sh020", "frame_number": 17})
    source = write(frame, tmp_path / "in.exr", precision="float", compression="piz")
    out = tmp_path / "out.exr"
    assert main(["denoise", str(source), "-o", str(out), "--model", str(models["strict"])]) == 0

    written, original = read_frame(out), read_frame(source)
    expected = denoise(load_denoiser(models["strict"], "cpu"), original).color
    np.testing.assert_allclose(written.color, expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(written.color, original.color)
    for role in ("albedo", "normal", "alpha", "depth"):
        np.testing.assert_array_equal(getattr(written, role), getattr(original, role))
    np.testing.assert_array_equal(written.extra["specular.R"], original.extra["specular.R"])
    assert written.metadata["shot"] == "sq010_sh020" and written.metadata["frame_number"] == 17
    header = read_header(out)
    assert header["compression"] == "piz"  # the input's (lossless) compression
    assert header["channels"]["R"] == "float"  # and its precision


def test_a_bad_file_fails_alone_and_nothing_is_half_written(tmp_path, models, capsys):
    folder = tmp_path / "in"
    good = write(make_frame(32, 32), folder / "a.exr")
    data = write(make_frame(32, 32, seed=1), folder / "b.exr").read_bytes()
    (folder / "b.exr").write_bytes(data[:len(data) // 2])  # truncated
    (folder / "c.exr").write_bytes(b"not an exr at all")
    out = tmp_path / "out"
    assert main(["denoise", str(folder), "-o", str(out), "--model", str(models["strict"])]) == 1
    printed = capsys.readouterr()
    assert "b.exr" in printed.out and "truncated" in printed.out.lower()
    assert "c.exr" in printed.out and "1 denoised, 2 failed" in printed.out
    assert sorted(p.name for p in out.iterdir()) == [good.name]  # no partial or temp files


def test_frames_without_aux_need_a_model_trained_for_them(tmp_path, models, capsys):
    with_aux = write(make_frame(32, 64), tmp_path / "full.exr")
    bare = write(make_frame(32, 64, aux=False), tmp_path / "bare.exr")
    assert main(["denoise", str(bare), "-o", str(tmp_path / "x.exr"),
                 "--model", str(models["strict"])]) == 1
    assert "needs the albedo buffer" in capsys.readouterr().out
    for source, flags in ((bare, []), (with_aux, ["--no-aux"]), (with_aux, [])):
        target = tmp_path / f"out-{source.stem}-{len(flags)}.exr"
        assert main(["denoise", str(source), "-o", str(target), "--model",
                     str(models["coping"]), *flags]) == 0
    no_aux, full = (read_frame(tmp_path / f"out-full-{n}.exr").color for n in (1, 0))
    assert not np.allclose(no_aux, full)  # --no-aux really withheld the buffers
    np.testing.assert_allclose(no_aux, read_frame(tmp_path / "out-bare-0.exr").color, rtol=1e-5)


def test_input_hygiene_nonfinite_negative_and_encoded_normals(tmp_path, models, capsys):
    frame = make_frame(32, 32)
    color = frame.color.copy()
    color[0, 0], color[1, 1], color[2, 2] = np.nan, np.inf, -0.5
    source = write(frame.replace(color=color), tmp_path / "dirty.exr", precision="float")
    out = tmp_path / "clean.exr"
    assert main(["denoise", str(source), "-o", str(out), "--model", str(models["strict"])]) == 0
    printed = capsys.readouterr().out
    assert "non-finite (NaN/Inf) values repaired (color 6" in printed
    assert "negative colour values clamped" in printed
    assert np.isfinite(read_frame(out).color).all()
    # As the service's nonfinite=refuse: the frame fails, naming the counts, nothing written.
    refused = tmp_path / "refused.exr"
    assert main(["denoise", str(source), "-o", str(refused), "--model", str(models["strict"]),
                 "--nonfinite", "refuse"]) == 1
    assert "FAILED" in (printed := capsys.readouterr().out) and "color 6" in printed
    assert not refused.exists()

    # Normals stored as 0.5 n + 0.5 give the same input as the signed ones.
    signed = frame.normal.astype(np.float32)
    np.testing.assert_allclose(signed_normals(0.5 * signed + 0.5), signed, atol=1e-6)
    floor = np.zeros((4, 4, 3), np.float32)
    floor[..., 1] = 1.0  # all non-negative but already unit length: left alone
    np.testing.assert_array_equal(signed_normals(floor), floor)


def test_empty_frame_and_many_frames_on_ray_workers(tmp_path, models):
    import ray

    folder = tmp_path / "seq"
    for k in range(3):
        write(make_frame(32, 48, seed=k), folder / f"shot.{k + 1:04d}.exr")
    local, remote = tmp_path / "local", tmp_path / "ray"
    args = ["--model", str(models["strict"])]
    assert main(["denoise", str(folder / "shot.####.exr"), "-o", str(local), *args]) == 0
    try:
        assert main(["denoise", str(folder / "shot.####.exr"), "-o", str(remote), "--workers", "2",
                     *args]) == 0
    finally:
        ray.shutdown()
    for k in range(3):
        name = f"shot.{k + 1:04d}.exr"
        np.testing.assert_allclose(read_frame(remote / name).color, read_frame(local / name).color,
                                   rtol=1e-3, atol=1e-4)

    black = write(make_frame(32, 32).replace(color=np.zeros((32, 32, 3), np.float32)),
                  tmp_path / "black.exr")
    assert main(["denoise", str(black), "-o", str(tmp_path / "black-out.exr"), *args]) == 0
    assert np.isfinite(read_frame(tmp_path / "black-out.exr").color).all()


def test_shipped_model_denoises_a_third_party_scene_without_model_flag(tmp_path):
    """A frame rendered from a Mitsuba scene file we did not write, denoised with no --model:
    the shipped model is found, its card is complete, and the result keeps the frame's
    brightness and colour (no cast) while removing noise. As a self-ensemble of 8
    (--ensemble 8) it keeps them too, comes closer to the reference, and says so in the
    report and the output's header."""
    from conftest import ENVMAP_SPHERES, shared_path

    from mcdenoise.core.metrics import channel_ratio, psnr
    from mcdenoise.nn.modelfile import default_model_path, read_card

    card = read_card(default_model_path())
    assert card["command"].startswith("mcdenoise train") and card["training"]["targets"] == "noisy"
    assert card["validation"]["psnr_denoised_db"] > card["validation"]["psnr_noisy_db"]
    scene = shared_path(*ENVMAP_SPHERES)
    for spp, name in ((16, "noisy.exr"), (512, "reference.exr")):
        assert main(["render", str(scene), "-o", str(tmp_path / name), "--spp", str(spp),
                     "--seed", "3", "--width", "96"]) == 0
    out = tmp_path / "denoised.exr"
    assert main(["denoise", str(tmp_path / "noisy.exr"), "-o", str(out)]) == 0
    noisy, clean = read_frame(tmp_path / "noisy.exr").color, read_frame(out).color
    reference = read_frame(tmp_path / "reference.exr").color
    assert np.all(np.abs(channel_ratio(clean, noisy, tonemapped=True) - 1) < 0.05)
    assert psnr(clean, reference) > psnr(noisy, reference)

    out8, report = tmp_path / "denoised8.exr", tmp_path / "report.json"
    assert main(["denoise", str(tmp_path / "noisy.exr"), "-o", str(out8), "--ensemble", "8",
                 "--report", str(report)]) == 0
    many = read_frame(out8)
    assert np.all(np.abs(channel_ratio(many.color, noisy, tonemapped=True) - 1) < 0.05)
    assert psnr(many.color, reference) > psnr(clean, reference)
    assert many.metadata["denoised"]["ensemble"] == 8
    assert json.loads(report.read_text())["ensemble"] == 8
    with pytest.raises(SystemExit):  # argparse: not one of the sizes
        main(["denoise", str(tmp_path / "noisy.exr"), "-o", str(out8), "--ensemble", "3"])
