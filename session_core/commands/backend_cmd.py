"""``session-core backend``: which implementation and kernel each accelerated module uses."""

from __future__ import annotations

import json

import click

from session_core import backend


@click.command("backend")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def backend_command(as_json: bool) -> None:
    """Show which C extensions and SIMD kernels are active."""
    report = backend()
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    for module, info in report.items():
        details = ", ".join(f"{k}={v}" for k, v in info.items())
        click.echo(f"{module:6} {details}")
