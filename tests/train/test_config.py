"""`mcdenoise train`'s configuration: flags built from TrainConfig, the command line a run
records, preset filling and checking, and that none of it loads torch."""
from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from mcdenoise.errors import ConfigError
from mcdenoise.flags import config_from_args
from mcdenoise.train.config import (FIXED_ON_RESUME, PRESETS, TrainConfig, command_line,
                                    config_dict, config_from_dict, register, resolve)


def parse(argv: list[str]) -> TrainConfig:
    parser = argparse.ArgumentParser(prog="mcdenoise")
    register(parser.add_subparsers(dest="command"))
    return config_from_args(vars(parser.parse_args(["train", *argv])))[0]


def test_no_flags_give_the_dataclass_defaults_and_every_field_is_a_flag():
    assert parse([]) == TrainConfig()
    assert all("flag" in f.metadata for f in dataclasses.fields(TrainConfig))
    assert set(FIXED_ON_RESUME) <= {f.name for f in dataclasses.fields(TrainConfig)}


def test_the_recorded_command_line_starts_with_spp_and_gives_the_config_back():
    assert command_line(TrainConfig()) == "mcdenoise train --spp 64"
    config = TrainConfig(spp=16, output=Path("runs/my run"), preset="full", steps=20, lr=5e-4,
                         residual=False, resume=True, scenes="cornell:0-1", aux_dropout=0.0)
    line = command_line(config)
    assert line.startswith("mcdenoise train --spp 16 -o 'runs/my run' --preset full --steps 20")
    assert "--no-residual" in line and "--resume" in line
    assert parse(shlex.split(line)[2:]) == config


def test_flags_keep_their_types_choices_and_preset_help(capsys):
    config = parse(["--width", "32", "--lr", "0.01", "--data", "d", "--no-residual"])
    assert config.width == 32 and config.lr == 0.01 and config.data == Path("d")
    assert config.residual is False
    with pytest.raises(SystemExit):
        parse(["--width", "20"])
    assert "invalid choice" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: preset; quick 3000, full 100000)" in text  # --steps
    assert "(default 64)" in text and "(default runs/train)" in text


def test_resolve_fills_from_the_preset_and_names_the_bad_flag():
    quick = resolve(TrainConfig())
    assert (quick.steps, quick.width, quick.crop) == (3000, 16, 64)
    assert resolve(TrainConfig(preset="full", width=16)).width == 16  # a set flag wins
    assert resolve(TrainConfig(preset="full")).steps == PRESETS["full"]["steps"]
    for bad, flag in ((dict(preset="huge"), "--preset"), (dict(steps=0), "--steps"),
                      (dict(kernel=4), "--kernel"), (dict(loss="masked_l2"), "--loss"),
                      (dict(aux_dropout=1.0), "--aux-dropout")):
        with pytest.raises(ConfigError, match=flag):
            resolve(TrainConfig(**bad))
    assert issubclass(ConfigError, ValueError)


def test_the_albedo_kind_comes_from_the_data_and_must_agree(tmp_path):
    """A run learns one albedo kind (renderers/albedo.py): --albedo, else its datasets', else
    its --init model's; datasets written before the kind was recorded hold "diffuse"."""
    def dataset(name: str, **settings) -> Path:
        root = tmp_path / name
        root.mkdir()
        (root / "dataset.json").write_text(json.dumps({"spp": 64, "seed": 0, **settings}))
        return root

    directional, legacy = dataset("d", albedo="directional"), dataset("legacy")
    assert resolve(TrainConfig(data=directional)).albedo == "directional"
    assert resolve(TrainConfig(data=legacy)).albedo == "diffuse"
    assert resolve(TrainConfig(data=tmp_path / "none-yet")).albedo == "diffuse"
    assert resolve(TrainConfig(init="default")).albedo == "diffuse"  # the shipped model's
    assert resolve(TrainConfig(albedo="directional")).albedo == "directional"
    with pytest.raises(ConfigError, match="legacy holds diffuse albedo renders"):
        resolve(TrainConfig(data=directional, val_data=legacy))
    with pytest.raises(ConfigError, match="--albedo diffuse: .*d holds directional"):
        resolve(TrainConfig(data=directional, albedo="diffuse"))


def test_config_dict_round_trips_and_ignores_unknown_keys():
    config = TrainConfig(data=Path("a/b"), val_data=None, steps=5)
    values = config_dict(config)
    assert values["data"] == "a/b" and values["output"] == "runs/train"
    assert config_from_dict({**values, "retired_flag": 1}) == config


def test_importing_the_config_and_building_the_parser_does_not_load_torch():
    code = ("import argparse, sys; from mcdenoise.train.config import register; "
            "register(argparse.ArgumentParser().add_subparsers()); "
            "assert 'torch' not in sys.modules, 'torch loaded'")
    subprocess.run([sys.executable, "-c", code], check=True)
