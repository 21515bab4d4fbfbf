"""``session-core id link`` (existing device) and ``id join`` (new device): one account, two devices.

``id link`` stores a sealed link record in the account's own swarm and shows a one-time code
(text, and the same as a QR payload); it then waits for the new device's ack.  ``id join`` asks
for that code, reads the record from the swarm the code names, and stores the account as a new
profile.  Both profiles are then marked multi-device: ``chat``/``send``/``inbox`` sync configs
and sent messages through the own swarm (docs/devices.md).  The 13-word phrase (``id restore``)
gives the same account too; mark that profile with ``id link`` once to sync it.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from session_core.commands.chat_cmd import _client, _options, _run, _seed_urls, _SEED_HINT, _start, _stop
from session_core.commands.id_cmd import PASSPHRASE_ENV, hidden_prompt
from session_core.commands.id_cmd import id_group as _id_group
from session_core.errors import SessionCoreError

__all__ = ["MULTI_DEVICE_MARK", "id_group", "join_command", "link_command"]

#: A file in a profile's directory saying the account runs on several devices.
MULTI_DEVICE_MARK = "multi_device"


def _mark(profile_dir: Path) -> None:
    profile_dir.mkdir(parents=True, exist_ok=True)
    (profile_dir / MULTI_DEVICE_MARK).touch()


@click.command("link")
@_options
@click.option("--minutes", type=click.IntRange(1, 60), default=10, show_default=True,
              help="How long the code stays valid.")
@click.option("--no-wait", is_flag=True, help="Show the code and exit instead of waiting for the new device.")
@click.option("--revoke", is_flag=True, help="Revoke every code this profile showed that has not expired yet.")
def link_command(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None,
                 minutes: int, no_wait: bool, revoke: bool) -> None:
    """Show a one-time code that makes a new device a device of this profile's account.
    Interrupting the wait (Ctrl-C) revokes the code; so does `--revoke` later."""
    from session_core.client.linking import link_acks, offer_link, outstanding_offers, revoke_links
    from session_core.identity_store import ProfileStore

    c = _client(profile, home, seeds, devnet_dir, sync=False)
    ttl_ms = minutes * 60_000

    async def revoke_all() -> None:
        pending = len(outstanding_offers(c.db, c.clock.now_ms()))
        done = await revoke_links(c.router, c.clock, c.identity, c.db)
        click.echo(f"revoked {done} of {pending} unexpired link code{'s' if pending != 1 else ''}"
                   + ("" if done == pending else " (run again to retry the others)"))

    async def main() -> None:
        await _start(c, loops=False)
        try:
            if revoke:
                await revoke_all()
                return
            code = await offer_link(c.router, c.clock, c.identity, ttl_ms, db=c.db)
            _mark(ProfileStore(home).profile_dir(profile))
            click.echo(f"link code (valid {minutes} min; type it into `session-core id join` on the new device):")
            click.echo(f"  {code.text}")
            click.echo("QR payload (the same code, for a QR encoder):")
            click.echo(f"  {code.qr_payload}")
            if no_wait:
                click.echo("not used after all? `session-core id link --revoke` takes it back", err=True)
                return
            click.echo("waiting for the new device (Ctrl-C revokes the code) ...", err=True)
            deadline = time.monotonic() + ttl_ms / 1000
            try:
                while time.monotonic() < deadline:
                    n = await link_acks(c.router, code)
                    if n:
                        click.echo(f"linked: {n} device{'s' if n > 1 else ''} used this code"
                                   + (" -- more than one: if that was not you, your account is shared" if n > 1 else ""))
                        return
                    await asyncio.sleep(2.0)
            except asyncio.CancelledError:  # Ctrl-C: the code was not used, take it back
                await revoke_all()
                raise
            click.echo("the code expired unused")
        finally:
            await _stop(c)

    _run(main)


@click.command("join")
@click.option("--profile", "name", required=True, help="Name of the new profile on this device.")
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), default=None, help="session_core home directory.")
@click.option("--seed", "seeds", multiple=True, help="Seed URL (chain JSON-RPC or a node's /storage_rpc/v1).")
@click.option("--devnet", "devnet_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Use the devnet running from this directory.")
@click.option("--display-name", default="", help="Name shown to your contacts.")
def join_command(name: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None,
                 display_name: str) -> None:
    """Become a device of an existing account, with the code `session-core id link` shows there.

    The code is asked for (not an option, to keep it out of your shell history); from a script,
    pipe it as the first line of stdin.
    """
    from session_core.client import Client, ClientConfig
    from session_core.client.linking import import_link
    from session_core.identity import Identity
    from session_core.identity_store import ProfileStore
    from session_core.protocol.link import LinkCode

    urls = _seed_urls(seeds, devnet_dir)
    if not urls:
        raise click.ClickException(f"no network to use: give {_SEED_HINT}")
    store = ProfileStore(home)
    try:
        code = LinkCode.parse(hidden_prompt("Link code (from `session-core id link` on the existing device)"))
    except SessionCoreError as exc:
        raise click.ClickException(str(exc)) from None

    async def main() -> None:
        with tempfile.TemporaryDirectory() as scratch:
            # A throwaway client only to reach the network: the account is not known yet.
            probe: Any = Client(Identity.generate(), "", ClientConfig(urls, Path(scratch), sync=False))
            await _start(probe, loops=False)
            try:
                identity = await import_link(probe.router, probe.clock, code)
            finally:
                await _stop(probe)
        passphrase = os.environ.get(PASSPHRASE_ENV) or hidden_prompt("Passphrase (encrypts the secret on disk)", True)
        info = store.create(name, identity, passphrase, display_name=display_name, created_ms=int(time.time() * 1000))
        _mark(store.profile_dir(name))
        click.echo(f"profile:      {info.name}")
        click.echo(f"Session ID:   {info.session_id}  (the same account as the device that showed the code)")

    _run(main)


# `session-core id` is the id group with these two added (cli.py points "id" here), so id_cmd
# itself stays free of the network stack and of an import cycle through chat_cmd.
_id_group.add_command(link_command)
_id_group.add_command(join_command)
id_group = _id_group
