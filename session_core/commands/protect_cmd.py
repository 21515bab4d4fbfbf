"""Client protections (docs/protections.md): ``disappear``, ``wipe``, ``pin``, ``remote-wipe``
and ``backup``.  Secrets are asked for without echo (or taken from SESSION_CORE_PASSPHRASE,
SESSION_CORE_PIN, SESSION_CORE_DURESS_PIN, SESSION_CORE_PHRASE in scripts)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import click

from session_core.commands.unlock import secret as _secret
from session_core.commands.unlock import unlock_identity
from session_core.errors import SessionCoreError


def _home(f: Any) -> Any:
    return click.option("--home", type=click.Path(file_okay=False, path_type=Path), default=None,
                        help="session_core home directory.")(f)


def _profile(f: Any) -> Any:
    return click.option("--profile", required=True, help="Profile name (see `session-core id list`).")(f)


def _offline_client(profile: str, home: Path | None) -> Any:
    """A client on the profile's database, not started (no network needed)."""
    from session_core.client import Client, ClientConfig
    from session_core.identity_store import ProfileStore

    store = ProfileStore(home)
    identity = unlock_identity(store, profile)
    return Client(identity, store.info(profile).display_name, ClientConfig([], store.profile_dir(profile)))


# -- disappear --------------------------------------------------------------------------------


@click.command("disappear")
@_profile
@_home
@click.option("--seed", "seeds", multiple=True, help="Seed URL (chain JSON-RPC or a node's /storage_rpc/v1).")
@click.option("--devnet", "devnet_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Use the devnet running from this directory.")
@click.option("--to", "peer", required=True, help="The contact's Session ID.")
@click.argument("setting")
def disappear_command(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None,
                      peer: str, setting: str) -> None:
    """Set the conversation's disappearing messages: after_send:SECONDS, after_read:SECONDS or off."""
    from session_core.commands.chat_cmd import _client, _run, _start, _stop
    from session_core.protocol.expiration import Expiration

    try:
        expire = Expiration.parse(setting)
    except SessionCoreError as exc:
        raise click.BadParameter(str(exc), param_hint="SETTING") from None

    async def run() -> None:
        c = _client(profile, home, seeds, devnet_dir, sync=False)
        await _start(c, loops=False, recipient=peer)
        try:
            rep = await c.set_disappearing(peer, expire)
            click.echo(f"disappearing messages with {peer[:12]}…: {expire or 'off'} (told them: {rep.detail})")
        finally:
            await _stop(c)

    _run(run)


# -- wipe -------------------------------------------------------------------------------------


@click.command("wipe")
@_profile
@_home
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def wipe_command(profile: str, home: Path | None, yes: bool) -> None:
    """Erase a profile for good: identity, databases, keys (the recovery phrase or a backup is
    the only way back).  No passphrase needed: whoever can delete the files may wipe them."""
    from session_core.client.wipe import scrub_sqlite, wipe_directory
    from session_core.identity_store import ProfileStore

    store = ProfileStore(home)
    try:
        store.info(profile)
    except SessionCoreError as exc:
        raise click.ClickException(str(exc)) from None
    if not yes:
        typed = click.prompt(f"Type the profile name ({profile}) to wipe it for good", default="", show_default=False)
        if typed != profile:
            raise click.ClickException("not confirmed: nothing was wiped")
    directory = store.profile_dir(profile)
    for db_file in sorted(directory.glob("*.db")):
        try:
            scrub_sqlite(sqlite3.connect(str(db_file), isolation_level=None), db_file)
        except sqlite3.DatabaseError:
            pass  # not a database after all: overwritten below like any file
    report = wipe_directory(directory)
    click.echo(f"wiped {profile}: {report.files} files, {report.bytes} bytes overwritten and deleted")


# -- pin --------------------------------------------------------------------------------------


@click.group("pin")
def pin_group() -> None:
    """A PIN to open the profile, and a duress PIN that wipes it and looks like a fresh install."""


@pin_group.command("set")
@_profile
@_home
@click.option("--max-failures", type=int, default=10, show_default=True,
              help="Wrong PINs in a row (3-100) after which the PIN stops working; delays grow from the 5th.")
@click.option("--at-limit", type=click.Choice(["lockout", "wipe"]), default="lockout", show_default=True,
              help="At the limit: lock the PIN (the passphrase still opens the profile) or wipe the profile.")
def pin_set_command(profile: str, home: Path | None, max_failures: int, at_limit: str) -> None:
    """Set (or replace) the PIN and the duress PIN (4-32 digits each, different)."""
    from session_core.client.pin import PinLock
    from session_core.client.pin_attempts import AttemptPolicy
    from session_core.identity_store import ProfileStore

    try:
        policy = AttemptPolicy(max_failures, at_limit)
    except SessionCoreError as exc:
        raise click.ClickException(str(exc)) from None
    store = ProfileStore(home)
    identity = unlock_identity(store, profile)
    pin = _secret("SESSION_CORE_PIN", "New PIN (4-32 digits)", confirm=True)
    duress = _secret("SESSION_CORE_DURESS_PIN", "Duress PIN (wipes the profile when typed instead)", confirm=True)
    try:
        PinLock(store.profile_dir(profile)).set(identity, pin, duress, policy=policy)
    except SessionCoreError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"PIN set for {profile}: it now opens the profile instead of the passphrase")


@pin_group.command("unlock")
@_profile
@_home
def pin_unlock_command(profile: str, home: Path | None) -> None:
    """Open the profile with its PIN (prints the Session ID)."""
    from session_core.identity_store import ProfileStore

    identity = unlock_identity(ProfileStore(home), profile)
    click.echo(identity.session_id)


@pin_group.command("remove")
@_profile
@_home
@click.option("--passphrase", "by_passphrase", is_flag=True,
              help="Check the passphrase instead of the PIN (the way back from a locked PIN).")
def pin_remove_command(profile: str, home: Path | None, by_passphrase: bool) -> None:
    """Remove the PIN (after checking it, or the passphrase): the passphrase opens the profile again."""
    from session_core.client.pin import PinLock, has_pin
    from session_core.identity_store import ProfileStore

    store = ProfileStore(home)
    if not has_pin(store.profile_dir(profile)):
        raise click.ClickException(f"{profile} has no PIN")
    if by_passphrase:
        try:
            store.load(profile, _secret("SESSION_CORE_PASSPHRASE", f"Passphrase for {profile}"))
        except SessionCoreError as exc:
            raise click.ClickException(str(exc)) from None
    else:
        unlock_identity(store, profile)
    PinLock(store.profile_dir(profile)).remove()
    click.echo(f"PIN removed from {profile}")


# -- remote wipe ------------------------------------------------------------------------------


@click.group("remote-wipe")
def remote_wipe_group() -> None:
    """Let a trusted friend wipe this account by sending a prearranged secret."""


@remote_wipe_group.command("arm")
@_profile
@_home
@click.option("--friend", required=True, help="The friend's Session ID (an established contact).")
def arm_command(profile: str, home: Path | None, friend: str) -> None:
    """Make the secret (shown once: give it to the friend in person; only its hash is kept)."""
    c = _offline_client(profile, home)
    try:
        secret = c.arm_remote_wipe(friend)
    except SessionCoreError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        c.db.close()
    click.echo(f"secret for {friend[:12]}…: {secret}\n(if they send it to you in a message, this profile is wiped)")


@remote_wipe_group.command("disarm")
@_profile
@_home
@click.option("--friend", required=True, help="The friend's Session ID.")
def disarm_command(profile: str, home: Path | None, friend: str) -> None:
    """Forget the friend's secret."""
    c = _offline_client(profile, home)
    try:
        done = c.disarm_remote_wipe(friend)
    except SessionCoreError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        c.db.close()
    click.echo("disarmed" if done else f"{friend[:12]}… was not armed")


@remote_wipe_group.command("list")
@_profile
@_home
def list_armings_command(profile: str, home: Path | None) -> None:
    """The friends who can wipe this account."""
    c = _offline_client(profile, home)
    try:
        for a in c.remote_wipe_armings():
            click.echo(f"{a.friend} armed at {a.armed_ms}")
    finally:
        c.db.close()


# -- backup -----------------------------------------------------------------------------------


@click.group("backup")
def backup_group() -> None:
    """Encrypted backups, opened by the recovery phrase alone."""


@backup_group.command("create")
@_profile
@_home
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Backup file to write.")
def backup_create_command(profile: str, home: Path | None, out: Path) -> None:
    """Write the profile's contacts, sessions, history and settings, encrypted (disappearing
    messages are left out)."""
    from session_core.private_files import create_private

    if out.exists():
        raise click.ClickException(f"{out} exists: choose another name (a backup never overwrites)")
    c = _offline_client(profile, home)
    try:
        blob = c.backup()
    finally:
        c.db.close()
    create_private(out)
    out.write_bytes(blob)
    click.echo(f"backup of {profile}: {out} ({len(blob)} bytes); restore with "
               f"`session-core backup restore --profile NAME --in {out}` and the recovery phrase")


@backup_group.command("restore")
@_profile
@_home
@click.option("--in", "src", required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Backup file to read.")
@click.option("--display-name", default="", help="Name shown to your contacts.")
def backup_restore_command(profile: str, home: Path | None, src: Path, display_name: str) -> None:
    """Restore into a NEW profile from the backup and the 13-word recovery phrase (asked for)."""
    import time

    from session_core.client.backup import read_backup, restore_backup
    from session_core.client.wipe import wipe_directory
    from session_core.identity import Identity
    from session_core.identity_store import ProfileStore

    store = ProfileStore(home)
    try:
        identity = Identity.from_mnemonic(_secret("SESSION_CORE_PHRASE", "Recovery phrase (13 words on one line)"))
        blob = src.read_bytes()
        read_backup(blob, identity)  # refused here, before any profile is made
        passphrase = _secret("SESSION_CORE_PASSPHRASE", "Passphrase for the restored profile", confirm=True)
        store.create(profile, identity, passphrase, display_name=display_name)
    except SessionCoreError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        doc = restore_backup(blob, identity, store.profile_dir(profile), int(time.time() * 1000))
    except BaseException as exc:
        wipe_directory(store.profile_dir(profile))  # no half-restored profile stays behind
        if isinstance(exc, SessionCoreError):
            raise click.ClickException(str(exc)) from None
        raise
    click.echo(f"restored {profile} ({identity.session_id}): {len(doc['messenger_obj'].contacts)} contacts, "
               f"{len(doc['messages'])} messages")
