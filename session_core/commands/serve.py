"""Running a server process from the CLI (node, file server, room server, devnet chain)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import click

from session_core.errors import SessionCoreError


def serve_until_signal(main: Callable[[asyncio.Event], Awaitable[None]], log_level: str, what: str) -> None:
    """``run_until_signal`` for a command: a server that cannot start or keep running (data
    directory not writable, port taken, a damaged key file) ends with one line, not a traceback."""
    from session_core.devnet.process import run_until_signal

    try:
        run_until_signal(main, log_level)
    except (OSError, SessionCoreError) as exc:
        raise click.ClickException(f"the {what} stopped: {exc}") from None
