"""`mcdenoise client` (being written)."""
from __future__ import annotations


def register(commands) -> None:
    commands.add_parser("client", help="denoise through a running `mcdenoise serve`")
