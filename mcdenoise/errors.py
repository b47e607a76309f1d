"""The project's user errors: problems the user can fix (a flag, a file, a scene name).

``mcdenoise`` prints their message on one line and exits 2; any other exception is a bug and
shows its traceback (exit 1). Each subclass also keeps the built-in base it had before this
module existed (ValueError, RuntimeError), so code that catches those still does.

Interrupts: Ctrl-C raises KeyboardInterrupt (exit 130); SIGTERM, which farm managers and
``kill PID`` send and which a background job (``cmd &``, where SIGINT is ignored) still
receives, raises Terminated, a KeyboardInterrupt, so that every command stops the same way
(a trainer checkpoints, a denoise leaves nothing half-written) and exits 143.
"""
from __future__ import annotations


class UserError(Exception):
    """An error in what the user asked for; ``str()`` says what and, where it can, how to fix it."""


class ConfigError(UserError, ValueError):
    """A flag or configuration value that cannot be used (the message names the flag)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread as Ctrl-C is (cli.main installs the handler)."""


def interrupt_exit_code(interrupt: KeyboardInterrupt) -> int:
    """The shell's convention, 128 + the signal: 143 for SIGTERM, 130 for Ctrl-C."""
    return 143 if isinstance(interrupt, Terminated) else 130


def raise_terminated(signum, frame) -> None:  # noqa: ARG001 -- a signal handler's signature
    raise Terminated(f"signal {signum}")
