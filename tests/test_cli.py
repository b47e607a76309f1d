"""The command line: flags come from the config dataclasses, user errors exit 2 with one line,
bugs show their traceback."""
from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import dataclass, fields
from pathlib import Path

import pytest

from mcdenoise import cli
from mcdenoise.errors import ConfigError, UserError
from mcdenoise.flags import add_flags, command_line, config_from_args, flag


def parse(argv, environ=None):
    """The config ``mcdenoise ARGV`` runs with, as cli.main builds it (``environ``: the
    variables a command with an env prefix reads; none by default)."""
    return config_from_args(vars(cli.build_parser().parse_args(argv)), environ or {})[0]


def test_every_flag_default_is_the_dataclass_default():
    """What the parser fills in for an unset flag is the field's default, for every command."""
    required = {"render": ["scene.xml", "-o", "x.exr"], "scenes": [],
                "dataset": ["-o", "d", "--scenes", "interior:0"], "train": [],
                "denoise": ["in.exr", "-o", "out.exr"], "serve": [],
                "client denoise": ["in.exr", "-o", "out.exr"],
                "bench mc": ["--json", "b.json"],
                "bench photo": ["--noise", "gaussian", "--json", "p.json"]}
    for command, argv in required.items():
        config = parse(command.split() + argv)
        for field in fields(config):
            if field.name in ("scene", "output", "scenes", "json", "noise", "inputs"):
                continue
            assert getattr(config, field.name) == field.default, (command, field.name)


def test_flags_parse_into_the_config_types():
    config = parse(["render", "interior:3", "-o", "a.exr", "--spp", "16", "--width", "64",
                    "--no-aux", "--precision", "float"])
    assert (config.scene, config.output, config.spp, config.width, config.no_aux,
            config.precision) == ("interior:3", Path("a.exr"), 16, 64, True, "float")
    config = parse(["serve", "--model", "a=x.safetensors", "--model", "y.safetensors",
                    "--timeout", "2.5"])
    assert config.model == ["a=x.safetensors", "y.safetensors"] and config.timeout == 2.5
    config = parse(["train", "--no-residual", "--steps", "7", "--preset", "full"])
    assert config.residual is False and config.steps == 7 and config.preset == "full"
    config = parse(["denoise", "a.exr", "b.exr", "-o", "out"])
    assert config.inputs == [Path("a.exr"), Path("b.exr")] and config.output == Path("out")


def test_bad_flags_are_refused_by_the_parser(capsys):
    for argv in (["render", "-o", "x.exr"],                   # the scene is required
                 ["denoise", "a.exr"],                         # so is -o
                 ["render", "s.xml", "-o", "x", "--precision", "double"],
                 ["dataset", "-o", "d", "--scenes", "x", "--spp", "many"]):
        with pytest.raises(SystemExit) as exit_info:
            cli.build_parser().parse_args(argv)
        assert exit_info.value.code == 2
    assert "invalid choice: 'double'" in capsys.readouterr().err


def test_help_shows_each_default_once():
    @dataclass
    class Example:
        count: int = flag(3, help="how many")
        ratio: float = flag(0.25, help="share")
        name: str | None = flag(None, help="a name (default: none)")
        on: bool = flag(True, help="switch")
        seed: int = flag(0, help="seed")

    parser = argparse.ArgumentParser()
    add_flags(parser, Example)
    text = " ".join(parser.format_help().split())
    assert "how many (default 3)" in text and "share (default 0.25)" in text
    assert "a name (default: none)" in text and "seed (default 0)" in text
    assert "--on, --no-on" in text
    assert parser.parse_args(["--no-on", "--count", "5"]).on is False
    assert command_line(["x"], Example(count=5, on=False)) == "x --count 5 --no-on"


def test_user_errors_exit_2_with_one_line(tmp_path, capsys):
    assert issubclass(ConfigError, UserError) and issubclass(ConfigError, ValueError)
    missing = tmp_path / "nothing.exr"
    assert cli.main(["denoise", str(missing), "-o", str(tmp_path / "out.exr")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"mcdenoise: error: {missing}: no such file or folder"]
    assert cli.main(["denoise", str(missing), "-o", str(tmp_path / "o.exr"), "--model",
                     str(tmp_path / "no.safetensors")]) == 2
    assert cli.main(["bench", "mc", "--json", str(tmp_path / "b.json"), "--speed-size", "big"]) == 2
    assert "--speed-size must look like 1920x1080" in capsys.readouterr().err


def test_a_bug_is_not_posing_as_a_usage_error(tmp_path):
    """A ValueError that is not a UserError (here: from inside a command) is a traceback and
    exit 1, not 'error: ...' and exit 2."""
    code = ("import sys; from mcdenoise import cli, scene_commands\n"
            "def broken(config): raise ValueError('a bug')\n"
            "scene_commands.run_scenes = broken\n"
            "sys.exit(cli.main(['scenes']))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "ValueError: a bug" in result.stderr


def test_help_does_not_import_torch():
    code = ("import sys\nfrom mcdenoise import cli\ncli.build_parser()\n"
            "assert 'torch' not in sys.modules, 'torch imported by the parser'\n")
    subprocess.run([sys.executable, "-c", code], check=True)
