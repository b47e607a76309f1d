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

A command registered with ``env_prefix`` (``add_command(..., env_prefix="MCDENOISE_")``) also
reads each flag from the environment: ``--max-pixels`` from ``MCDENOISE_MAX_PIXELS``, a
repeatable flag from a comma- or space-separated list, a switch from 1/true/yes/on or
0/false/no/off. A flag on the command line wins over its variable; a variable's value is
checked as the flag's would be, and a bad one is a UserError naming the variable
(``resolve_env``, called by cli.main once the command is known, so a bad variable of one
command never breaks another). ``env_table`` renders the variables as a Markdown table.
"""
from __future__ import annotations

import argparse
import dataclasses
import typing
from typing import Any

_KEY = "flag"
# argparse's default for the flags of a command that reads the environment: "not given on the
# command line", so resolve_env can tell a flag given with its default value from an absent one.
_UNSET = type("_Unset", (), {"__repr__": lambda self: "<not given>"})()
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


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
              presets: dict[str, dict] | None = None, env: bool = False) -> None:
    """One option per ``flag`` field of ``config_type`` (module docstring), in field order.
    ``env``: options not given default to a marker that resolve_env replaces."""
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
            if spec["append"]:  # append copies a default list: None stands for "not given"
                options.update(action="append", type=kind, default=None if env else default)
            elif kind is bool:
                options["default"] = _UNSET if env else default
                options["action"] = "store_true" if default is False \
                    else argparse.BooleanOptionalAction
            else:
                options["type"] = kind
                if has_default and not spec["required"]:
                    options["default"] = _UNSET if env else default
                elif env:  # the variable may stand in for a required flag
                    options["default"] = _UNSET
                else:
                    options["required"] = True
        parser.add_argument(*names, **options)


def add_command(commands, name: str, config_type: type, run: Any, presets: dict | None = None,
                env_prefix: str | None = None, **parser_options: Any) -> argparse.ArgumentParser:
    """The subparser of command ``name``: its flags from ``config_type``, and ``run`` (the
    function, or its "module:function" name) that cli.main calls with the parsed config.
    ``env_prefix``: the flags are read from variables with this prefix too (module
    docstring); cli.main applies them with resolve_env."""
    parser = commands.add_parser(name, **parser_options)
    add_flags(parser, config_type, presets, env=env_prefix is not None)
    parser.set_defaults(config=config_type, run=run, env_prefix=env_prefix)
    return parser


def config_from_args(args: dict[str, Any], environ: Any = None) -> tuple[Any, Any]:
    """The config and runner of a parsed command line: ``args`` is ``vars()`` of the namespace
    a parser built by add_command returns (the subcommand's ``command`` key, if any, ignored);
    flags not given are read from ``environ`` (default os.environ) for a command with an env
    prefix. Raises UserError for a variable the flag would refuse."""
    args = {k: v for k, v in args.items() if k != "command"}
    config_type, run, prefix = args.pop("config"), args.pop("run"), args.pop("env_prefix")
    if prefix is not None:
        args = resolve_env(config_type, args, prefix, environ)
    return config_type(**args), run


def env_name(prefix: str, field_name: str) -> str:
    """The variable of a field: ``MCDENOISE_`` + ``max_pixels`` -> ``MCDENOISE_MAX_PIXELS``."""
    return prefix + field_name.upper()


def resolve_env(config_type: type, args: dict[str, Any], prefix: str | None,
                environ: Any = None) -> dict[str, Any]:
    """``args`` (argparse's values for ``config_type``) with every flag that the command line
    did not give taken from its variable, when set, else left to the dataclass default.
    Raises UserError naming the variable for a value the flag would refuse (not a number, not
    one of the choices, empty), or naming flag and variable for a required one that neither
    gives."""
    import os

    from mcdenoise.errors import UserError

    environ = os.environ if environ is None else environ
    hints = typing.get_type_hints(config_type)
    resolved = dict(args)
    for field in dataclasses.fields(config_type):
        spec = field.metadata.get(_KEY)
        if spec is None or spec["positional"] or field.name not in resolved:
            continue
        given = resolved[field.name]
        if given is not _UNSET and not (spec["append"] and given is None):
            continue
        flag_name = "--" + field.name.replace("_", "-")
        variable = env_name(prefix, field.name) if prefix else None
        raw = environ.get(variable) if variable else None
        if raw is None:
            del resolved[field.name]
            no_default = (field.default is dataclasses.MISSING
                          and field.default_factory is dataclasses.MISSING)
            if no_default or spec["required"]:
                also = f" or set {variable}" if variable else ""
                raise UserError(f"{flag_name} is required{also}")
            continue
        resolved[field.name] = _from_env(variable, flag_name, raw, hints[field.name], spec, UserError)
    return resolved


def _from_env(variable: str, flag_name: str, raw: str, hint: Any, spec: dict, error: type) -> Any:
    """The value of ``variable`` (text ``raw``) as the field's type (module docstring)."""
    kind, _ = _base_type(hint)
    words = [w for w in raw.replace(",", " ").split()] if spec["append"] else [raw.strip()]
    if not words or not all(words):
        raise error(f"{variable} is set but empty (it stands for {flag_name}; unset it for "
                    "the default)")
    values = []
    for word in words:
        if kind is bool:
            if word.lower() not in _TRUE + _FALSE:
                raise error(f"{variable}={word[:64]!r}: expected 1/true/yes/on or "
                            f"0/false/no/off (it stands for {flag_name})")
            values.append(word.lower() in _TRUE)
            continue
        try:
            value = kind(word)
        except (TypeError, ValueError):
            what = {int: "a whole number", float: "a number"}.get(kind, kind.__name__)
            raise error(f"{variable}={word[:64]!r}: not {what} (it stands for {flag_name})"
                        ) from None
        if spec["choices"] and value not in spec["choices"]:
            raise error(f"{variable}={word[:64]!r}: must be one of "
                        f"{', '.join(map(str, spec['choices']))} (it stands for {flag_name})")
        values.append(value)
    return values if spec["append"] else values[0]


def env_table(config_type: type, prefix: str) -> str:
    """A Markdown table of the variables of ``config_type``'s flags: variable, flag, default."""
    rows = ["| Variable | Flag | Default |", "| --- | --- | --- |"]
    for field in dataclasses.fields(config_type):
        spec = field.metadata.get(_KEY)
        if spec is None or spec["positional"]:
            continue
        default = field.default if field.default is not dataclasses.MISSING else None
        shown = "" if default is None else f"`{default:g}`" if isinstance(default, float) \
            else f"`{default}`"
        flag_name = "--" + field.name.replace("_", "-")
        rows.append(f"| `{env_name(prefix, field.name)}` | `{flag_name}` | {shown} |")
    return "\n".join(rows) + "\n"


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

