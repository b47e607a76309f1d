"""Command-line flags declared on the config dataclasses, so each default is written once.

A command's config dataclass is the single source of its flags: every field declared with
``flag(...)`` becomes one argparse option whose type, default and ``(default ...)`` help
suffix come from the field itself::

    @dataclass
    class RenderConfig:
        scene: str = flag(positional=True, help="Mitsuba 3 XML file or family instance")
        spp: int = flag(64, help="samples per pixel")          # --spp, "(default 64)"
        no_aux: bool = flag(False, help="skip albedo/normal")   # --no-aux, store_true

    add_flags(parser, RenderConfig)

Types: ``int``, ``float``, ``str``, ``Path`` and their ``| None`` forms; ``bool`` defaulting to
False is a switch, defaulting to True or None gets ``--x/--no-x``; ``list[Path]`` is a list
of positional arguments. A help text that already says what its default is (the word
"default") gets no suffix; ``preset=True`` marks a field filled from a preset table and lists
each preset's value instead.
"""
from __future__ import annotations

import argparse
import dataclasses
import typing
from typing import Any

_KEY = "flag"


def flag(default: Any = dataclasses.MISSING, *, help: str, positional: bool = False,
         short: str | None = None, choices: tuple | None = None, metavar: str | None = None,
         preset: bool = False, append: bool = False, required: bool = False,
         default_factory: Any = dataclasses.MISSING) -> Any:
    """A dataclass field that is also a command-line flag (module docstring). A field without
    a default is a required flag (or a required positional argument). ``append``: a
    ``list[...] | None`` field given by repeating the flag. ``required``: a flag the command
    line must give although the dataclass has a default (for fields after defaulted ones)."""
    metadata = {_KEY: {"help": help, "positional": positional, "short": short,
                       "choices": choices, "metavar": metavar, "preset": preset,
                       "append": append, "required": required}}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def preset_help(presets: dict[str, dict], key: str) -> str:
    """'(default: preset; quick 3000, full 100000)': each preset's value of ``key``."""
    values = ", ".join(f"{name} {values[key]}" for name, values in presets.items())
    return f"(default: preset; {values})"


def _base_type(hint: Any) -> tuple[Any, bool]:
    """(the type without ``| None``, whether it is a list)."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        hint = args[0]
    if typing.get_origin(hint) is list:
        return typing.get_args(hint)[0], True
    return hint, False


def add_flags(parser: argparse.ArgumentParser, config_type: type,
              presets: dict[str, dict] | None = None) -> None:
    """One option per ``flag`` field of ``config_type`` (module docstring), in field order."""
    hints = typing.get_type_hints(config_type)
    for field in dataclasses.fields(config_type):
        spec = field.metadata.get(_KEY)
        if spec is None:
            continue
        kind, many = _base_type(hints[field.name])
        has_default = not (field.default is dataclasses.MISSING
                           and field.default_factory is dataclasses.MISSING)
        default = field.default if field.default is not dataclasses.MISSING else None
        help_text = spec["help"]
        if spec["preset"]:
            help_text += " " + preset_help(presets or {}, field.name)
        elif has_default and not spec["required"] and "default" not in help_text \
                and not (default is None or default is False or default == "" or many):
            help_text += f" (default {default:g})" if isinstance(default, float) else \
                f" (default {default})"
        options: dict[str, Any] = {"help": help_text}
        if spec["metavar"]:
            options["metavar"] = spec["metavar"]
        if spec["choices"]:
            options["choices"] = spec["choices"]
        if spec["positional"]:
            names = [field.name]
            options["type"] = kind
            if many:
                options["nargs"] = "+"
        else:
            names = ([spec["short"]] if spec["short"] else []) + ["--" + field.name.replace("_", "-")]
            options["dest"] = field.name
            if spec["append"]:
                options.update(action="append", type=kind, default=default)
            elif kind is bool:
                options["default"] = default
                options["action"] = "store_true" if default is False \
                    else argparse.BooleanOptionalAction
            else:
                options["type"] = kind
                if has_default and not spec["required"]:
                    options["default"] = default
                else:
                    options["required"] = True
        parser.add_argument(*names, **options)


def add_command(commands, name: str, config_type: type, run: Any, presets: dict | None = None,
                **parser_options: Any) -> argparse.ArgumentParser:
    """The subparser of command ``name``: its flags from ``config_type``, and ``run`` (the
    function, or its "module:function" name) that cli.main calls with the parsed config."""
    parser = commands.add_parser(name, **parser_options)
    add_flags(parser, config_type, presets)
    parser.set_defaults(config=config_type, run=run)
    return parser


def command_line(words: list[str], config: Any) -> str:
    """The command that gives ``config``: ``words`` (e.g. ['mcdenoise', 'train']) and, for each
    flag field, the flag when it differs from the field's default (positional ones always)."""
    import shlex

    args = list(words)
    for field in dataclasses.fields(config):
        spec = field.metadata.get(_KEY)
        if spec is None:
            continue
        value = getattr(config, field.name)
        if spec["positional"]:
            args += [str(v) for v in value] if isinstance(value, list) else [str(value)]
            continue
        if field.default is not dataclasses.MISSING and value == field.default:
            continue
        name = spec["short"] or "--" + field.name.replace("_", "-")
        if spec["append"]:
            for item in value:
                args += [name, str(item)]
        elif value is True:
            args.append(name)
        elif value is False:
            args.append("--no-" + field.name.replace("_", "-"))
        else:
            args += [name, str(value)]
    return shlex.join(args)

