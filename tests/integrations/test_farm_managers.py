"""The farm-manager integrations in integrations/: each is checked by its own tool where one
exists (openjd check), run for real (openjd run), or compiled as its manager would and the
commands it would hand the render nodes run (OpenCue's outline without a Cuebot, Flamenco's
job type under node)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as Et
from pathlib import Path

import fileseq
import numpy as np
import pytest

from mcdenoise.core.exr import read_frame, write_frame
from mcdenoise.infer.denoise import denoise, load_denoiser
from service_support import make_frame, make_model

ROOT = Path(__file__).resolve().parents[2]
INTEGRATIONS = ROOT / "integrations"
BIN = Path(sys.executable).parent
MCDENOISE = str(BIN / "mcdenoise")
FRAMES = range(1001, 1006)


@pytest.fixture(scope="module")
def shot(tmp_path_factory):
    """Five frames shot.1001-1005.exr and a model to denoise them with."""
    folder = tmp_path_factory.mktemp("shot")
    for number in FRAMES:
        write_frame(make_frame(32, 40, seed=number), folder / f"shot.{number}.exr")
    return folder, make_model(folder / "model.safetensors")


def assert_denoised(folder: Path, shot_folder: Path, model: Path, frames=FRAMES) -> None:
    net = load_denoiser(model, "cpu")
    assert sorted(p.name for p in folder.glob("*.exr")) == [f"shot.{n}.exr" for n in frames]
    for number in frames:
        expected = denoise(net, read_frame(shot_folder / f"shot.{number}.exr")).color
        np.testing.assert_allclose(read_frame(folder / f"shot.{number}.exr").color, expected,
                                   rtol=2e-3, atol=2e-3)


def openjd(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "openjd"), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600)


def test_openjd_denoise_template_checks_and_runs_a_chunked_range(shot, tmp_path):
    folder, model = shot
    template = INTEGRATIONS / "openjd" / "denoise.yaml"
    for name in ("denoise.yaml", "train.yaml"):
        checked = openjd("check", str(INTEGRATIONS / "openjd" / name), cwd=tmp_path)
        assert checked.returncode == 0 and "passes validation" in checked.stdout, checked.stderr
    out = tmp_path / "out"
    params = ["-p", f"Input={folder}/shot.####.exr", "-p", f"OutputDir={out}", "-p",
              "Frames=1001-1005", "-p", "ChunkSize=2", "-p", f"Model={model}", "-p",
              f"Mcdenoise={MCDENOISE}"]
    ran = openjd("run", str(template), *params, cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout[-3000:]
    assert "Chunks run: 3" in ran.stdout
    assert_denoised(out, folder, model)
    reports = [json.loads(p.read_text()) for p in sorted(out.glob("mcdenoise-report-*.json"))]
    assert [[r["frame"] for r in report["frames"]] for report in reports] == [
        [1001, 1002], [1003, 1004], [1005]]  # a report per task, of its chunk
    # A requeued job: every task finds its outputs and succeeds without redoing them.
    again = openjd("run", str(template), *params, cwd=tmp_path)
    assert again.returncode == 0
    record = json.loads((out / "mcdenoise-report-1005.json").read_text())
    assert [r["status"] for r in record["frames"]] == ["skipped"]


def test_openjd_train_template_renders_parts_on_tasks_then_trains(tmp_path):
    data, run = tmp_path / "data", tmp_path / "run"
    ran = openjd("run", str(INTEGRATIONS / "openjd" / "train.yaml"), "--step", "Train",
                 "--run-dependencies", "-p", f"DataDir={data}", "-p", f"RunDir={run}",
                 "-p", "Families=cornell", "-p", "TrainScenes=0-1", "-p", "ScenesPerTask=1",
                 "-p", "ValScenes=cornell:8000", "-p", "Spp=4", "-p", "ReferenceSpp=16",
                 "-p", "Size=32", "-p", "Minutes=10", "-p",
                 "TrainArgs=--width 16 --crop 32 --batch 2 --steps 4 --val-every 2",
                 "-p", f"Mcdenoise={MCDENOISE}", cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout[-3000:]
    names = sorted(p.name for p in data.iterdir())
    assert len(names) == 3 and names[-1] == "validation"  # a part folder per render task
    assert all(name.startswith("part-") for name in names[:2])
    assert (run / "model.safetensors").is_file()
    from mcdenoise.nn.modelfile import read_card

    card = read_card(run / "model.safetensors")
    # Trained on the union of the parts the render tasks wrote, validated on the validation set.
    assert "on 2 scenes" in ran.stdout and card["validation"]["scenes"] == 1


def rqd_chunks(frame_range: str, chunk: int) -> list[list[int]]:
    """The frames of each OpenCue frame of a layer (RQD runs a chunk as one command)."""
    frames = list(fileseq.FrameSet(frame_range))
    return [frames[i:i + chunk] for i in range(0, len(frames), chunk)]


def test_opencue_outline_builds_without_cuebot_and_its_commands_run(shot, tmp_path):
    sys.path.insert(0, str(INTEGRATIONS / "opencue"))
    try:
        import mcdenoise_outline as cue
    finally:
        sys.path.pop(0)
    folder, model = shot
    out = tmp_path / "out"
    job = cue.denoise_outline(f"{folder}/shot.####.exr", str(out), "1001-1005x2", chunk=2,
                              model=str(model), command=MCDENOISE)
    layer = Et.fromstring(cue.job_spec(job).split("?>", 1)[1]).find("job/layers/layer")
    assert (layer.get("name"), layer.findtext("range"), layer.findtext("chunk")) == (
        "denoise", "1001-1005x2", "2")
    command = layer.findtext("cmd")
    assert "#FRAME_START#-#FRAME_END#x2" in command
    for frames in rqd_chunks("1001-1005x2", 2):  # as RQD: fill the tokens, run in a shell
        filled = command.replace("#FRAME_START#", str(frames[0])).replace(
            "#FRAME_END#", str(frames[-1]))
        subprocess.run(["/bin/sh", "-c", filled], check=True, capture_output=True, timeout=300)
    assert_denoised(out, folder, model, frames=(1001, 1003, 1005))
    with pytest.raises(ValueError, match="evenly stepped"):
        cue.denoise_outline("a.####.exr", "o", "1,2,7", chunk=2)

    spec = Et.fromstring(cue.job_spec(cue.train_outline("/d", "/r", scenes="0-7", chunk=4))
                         .split("?>", 1)[1])
    layers = {layer.get("name"): layer for layer in spec.find("job/layers")}
    assert list(layers) == ["pairs", "validation", "train"]
    assert layers["pairs"].findtext("chunk") == "4"
    assert "/d/part-#FRAME_START#-#FRAME_END#" in layers["pairs"].findtext("cmd")
    assert "--resume" in layers["train"].findtext("cmd")
    depends = {(d.findtext("deplayer"), d.findtext("onlayer")) for d in spec.find("depends")}
    assert depends == {("train", "pairs"), ("train", "validation")}


def flamenco_tasks(script: str, settings: dict) -> list[dict]:
    node = shutil.which("node")
    assert node, "node (Debian nodejs) is needed to compile the Flamenco job types"
    compiled = subprocess.run(
        [node, str(Path(__file__).with_name("flamenco_harness.js")),
         str(INTEGRATIONS / "flamenco" / script), json.dumps(settings)],
        capture_output=True, text=True, timeout=60)
    assert compiled.returncode == 0, compiled.stderr
    return json.loads(compiled.stdout)


def test_flamenco_job_types_compile_and_their_commands_run(shot, tmp_path):
    folder, model = shot
    out = tmp_path / "out"
    tasks = flamenco_tasks("mcdenoise-denoise.js", {
        "input": f"{folder}/shot.####.exr", "output_dir": str(out), "frames": "1001-1005",
        "chunk_size": 3, "model": str(model), "mcdenoise": MCDENOISE})
    assert [t["name"] for t in tasks] == ["denoise-1001-1003", "denoise-1004-1005"]
    for task in tasks:  # as a Worker: each exec command in turn
        for command in task["commands"]:
            assert command["type"] == "exec"
            subprocess.run([command["exe"], *command["args"]], check=True, capture_output=True,
                           timeout=300)
    assert_denoised(out, folder, model)

    tasks = flamenco_tasks("mcdenoise-train.js", {"data_dir": "/d", "run_dir": "/r",
                                                  "scenes": "0-5", "chunk_size": 4})
    by_name = {t["name"]: t for t in tasks}
    assert list(by_name) == ["pairs-0-3", "pairs-4-5", "validation", "train"]
    assert by_name["train"]["dependencies"] == ["pairs-0-3", "pairs-4-5", "validation"]
    pairs = by_name["pairs-4-5"]["commands"][0]["args"]
    assert pairs[:3] == ["dataset", "-o", "/d/part-4-5"] and "cornell:4-5" in pairs[4]
    assert "--resume" in by_name["train"]["commands"][0]["args"]
