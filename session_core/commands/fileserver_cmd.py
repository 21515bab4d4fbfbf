"""``session-core fileserver run``: the attachment file server (whitepaper 5.3)."""

from __future__ import annotations

import functools
from pathlib import Path

import click


@click.group("fileserver")
def fileserver_group() -> None:
    """Run the file server attachments are uploaded to (reached through onion requests)."""


@fileserver_group.command("run")
@click.option("--data-dir", type=click.Path(path_type=Path), required=True, help="Key, index and blobs (created if missing).")
@click.option("--ip", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=0, show_default=True, help="HTTP port (0: any free port).")
@click.option("--max-size-mb", default=10.0, show_default=True, help="Largest upload (MB = 10^6 bytes); larger: 413.")
@click.option("--expiry-days", default=21.0, show_default=True, help="Files are deleted this long after their last upload.")
@click.option("--ready-file", type=click.Path(path_type=Path), default=None, help="Write URL and keys here once serving.")
@click.option("--log-level", default="INFO", show_default=True)
def run_command(data_dir: Path, ip: str, port: int, max_size_mb: float, expiry_days: float,
                ready_file: Path | None, log_level: str) -> None:
    """Serve POST /file, GET /file/<id> directly and through /oxen/v4/lsrpc until Ctrl-C."""
    from session_core.commands.serve import serve_until_signal
    from session_core.fileserver import FileServerConfig, run

    if max_size_mb <= 0 or expiry_days <= 0:
        raise click.BadParameter("the size limit and the expiry must be positive")
    cfg = FileServerConfig(data_dir, ip=ip, port=port, max_size=int(max_size_mb * 1_000_000),
                           ttl=expiry_days * 86400, ready_file=ready_file)
    serve_until_signal(functools.partial(run, cfg), log_level, "file server")
