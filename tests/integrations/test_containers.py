"""The container recipes in docker/, checked without building them (the smoke run that builds
and runs them needs root and podman; docker/README.md records it): every image the compose
file and the smoke script use is a stage of the Dockerfile, every extra the stages install is
one the project declares, the workers join the head the compose file names, and the
service's entry point is a command line `mcdenoise serve` accepts."""
from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path

import yaml

from mcdenoise import cli
from mcdenoise.flags import config_from_args

DOCKER = Path(__file__).resolve().parents[2] / "docker"


def stages() -> dict[str, str]:
    """Each stage's name -> its text (FROM line to the next FROM)."""
    text = (DOCKER / "Dockerfile").read_text()
    parts = re.split(r"^(?=FROM )", text, flags=re.M)[1:]
    return {re.match(r"FROM \S+ AS (\S+)", part).group(1): part for part in parts}


def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())["services"]


def test_every_image_used_is_a_stage_and_every_extra_exists():
    found = stages()
    assert {"render-node", "trainer", "service"} <= set(found)
    used = {service["image"] for service in compose().values()}
    smoke = (DOCKER / "smoke.sh").read_text()
    targets = set(re.search(r"for target in ([\w -]+); do", smoke).group(1).split())
    assert used <= {f"localhost/mcdenoise-{target}" for target in targets}
    assert targets <= set(found)
    extras = tomllib.loads((DOCKER.parent / "pyproject.toml").read_text())[
        "project"]["optional-dependencies"]
    for name, text in found.items():
        for extra in re.findall(r'"mcdenoise\[(\w+)\]"', text):
            assert extra in extras, f"stage {name} installs mcdenoise[{extra}], not declared"
    # Nothing comes from an index at build time except the trainer's optional CUDA torch.
    for name, text in found.items():
        for line in re.findall(r"pip install [^\n&]*", text):
            assert "--no-index" in line or "TORCH_INDEX_URL" in line, (name, line)


def test_the_workers_join_the_head_and_the_head_renders_nothing():
    services = compose()
    head = services["ray-head"]
    port = head["command"][head["command"].index("--port") + 1]
    assert head["command"][head["command"].index("--num-cpus") + 1] == "0"
    workers = [s for s in services.values() if "--address" in s.get("command", [])]
    assert len(workers) == 2
    for worker in workers:
        assert worker["command"][worker["command"].index("--address") + 1] == \
            f"{head['hostname']}:{port}"
    # One shared folder at /data in every container: the dataset the workers write is the
    # head's and the service's.
    assert {tuple(s["volumes"]) for s in services.values()} == {("${SHARE:-./share}:/data",)}


def test_the_service_entry_point_is_a_valid_serve_command():
    service = stages()["service"]
    entry = json.loads(re.search(r"^ENTRYPOINT (\[.*\])$", service, re.M).group(1))
    default = json.loads(re.search(r"^CMD (\[.*\])$", service, re.M).group(1))
    assert entry[:2] == ["mcdenoise", "serve"]
    for args in (default, compose()["service"]["command"]):
        config, _ = config_from_args(vars(cli.build_parser().parse_args(entry[1:] + args)), {})
        assert config.host == "0.0.0.0" and config.port == 8000
        assert config.api_key_file is not None  # listening on all interfaces needs keys
        assert str(config.api_key_file) in shlex.join(args)
