"""The project's user errors: problems the user can fix (a flag, a file, a scene name).

``mcdenoise`` prints their message on one line and exits 2; any other exception is a bug and
shows its traceback (exit 1). Each subclass also keeps the built-in base it had before this
module existed (ValueError, RuntimeError), so code that catches those still does.
"""
from __future__ import annotations


class UserError(Exception):
    """An error in what the user asked for; ``str()`` says what and, where it can, how to fix it."""


class ConfigError(UserError, ValueError):
    """A flag or configuration value that cannot be used (the message names the flag)."""
