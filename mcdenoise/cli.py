"""The `mcdenoise` command line: the root parser. Each command's module registers its own
subparser, built from the command's config dataclass (flags.py), and the function that runs it
(or its "module:function" name, imported only when the command runs: the trainer and the
photographic benchmark load torch, which `--help` should not wait for).

Errors the user can fix (mcdenoise.errors.UserError: a bad flag, file or scene) print one line
and exit 2; Ctrl-C exits 130 and SIGTERM, handled the same way, 143; anything else is a bug
and shows its traceback (exit 1).
"""
from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading

from mcdenoise import __version__
from mcdenoise.errors import UserError, interrupt_exit_code, raise_terminated
from mcdenoise.flags import config_from_args

# OpenMP threads that spin while idle slow torch on small machines many times over; set
# before torch is first imported by any subcommand.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# Modules with a register(commands) function, in the order `mcdenoise --help` lists them.
COMMANDS = ("mcdenoise.scene_commands",   # render, scenes
            "mcdenoise.farm.driver",       # dataset
            "mcdenoise.train.config",      # train
            "mcdenoise.infer.files",       # denoise
            "service.serve",               # serve
            "mcdenoise.client",            # client denoise
            "mcdenoise.bench.commands")    # bench mc, bench photo


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcdenoise", description="Noise2Noise Monte Carlo rendering denoiser.")
    parser.add_argument("--version", action="version", version=f"mcdenoise {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = vars(build_parser().parse_args(argv))
    if threading.current_thread() is threading.main_thread():  # (tests call main from threads)
        signal.signal(signal.SIGTERM, raise_terminated)  # `serve`: uvicorn installs its own
    try:
        config, run = config_from_args(args)  # flags not given may come from MCDENOISE_*
        if isinstance(run, str):  # "module:function": a command whose runner is heavy to import
            module, _, name = run.partition(":")
            run = getattr(importlib.import_module(module), name)
        return run(config)
    except UserError as error:
        print(f"mcdenoise: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as interrupt:  # 128 + the signal, which farm managers read
        print("mcdenoise: interrupted", file=sys.stderr)
        return interrupt_exit_code(interrupt)


if __name__ == "__main__":
    sys.exit(main())
