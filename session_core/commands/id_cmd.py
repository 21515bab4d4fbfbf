"""``session-core id new|restore|show|list``: identities (pseudonyms) stored as profiles.

Passphrases are asked for interactively (hidden, with confirmation for new profiles).  For
scripts, ``SESSION_CORE_PASSPHRASE`` is used instead when set -- convenient, but anything that can
read your environment can then read it.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from session_core.errors import SessionCoreError
from session_core.identity import Identity
from session_core.identity_store import HOME_ENV, ProfileInfo, ProfileStore
from session_core.recovery import PhraseFormat

PASSPHRASE_ENV = "SESSION_CORE_PASSPHRASE"


F = TypeVar("F", bound=Callable[..., object])
_HOME_HELP = f"session_core home directory (default: ${HOME_ENV} or the per-user data dir)."


def _home_option(f: F) -> F:
    """`--home` after the subcommand too (`id new --home DIR`), as chat/send/inbox take it."""
    def remember(ctx: click.Context, param: click.Parameter, value: Path | None) -> None:
        if value is not None:
            ctx.ensure_object(dict)
            ctx.obj["home"] = value

    return click.option("--home", type=click.Path(file_okay=False, path_type=Path), default=None,
                        expose_value=False, callback=remember, help=_HOME_HELP)(f)


def _store(ctx: click.Context) -> ProfileStore:
    obj = ctx.find_object(dict) or {}
    home: Path | None = obj.get("home")
    return ProfileStore(home)


def hidden_prompt(text: str, confirm: bool = False) -> str:
    """A prompt that does not echo on a terminal; from a pipe it reads the line quietly.

    getpass cannot turn echo off on a pipe and says so in three lines (GetPassWarning and
    "Password input may be echoed"); a pipe echoes nothing, so there the plain prompt is used,
    written to stderr to keep stdout for the command's output."""
    if sys.stdin.isatty():
        value: str = click.prompt(text, hide_input=True, confirmation_prompt=confirm)
        return value
    value = click.prompt(text, hide_input=False, confirmation_prompt=confirm, err=True)
    click.echo("", err=True)
    return value


def _passphrase(confirm: bool) -> str:
    env = os.environ.get(PASSPHRASE_ENV)
    if env:
        return env
    return hidden_prompt("Passphrase (encrypts the secret on disk)", confirm)


def _print_info(info: ProfileInfo) -> None:
    click.echo(f"profile:      {info.name}")
    click.echo(f"Session ID:   {info.session_id}")
    if info.display_name:
        click.echo(f"display name: {info.display_name}")
    click.echo(f"stored in:    {info.path}")


def _save(ctx: click.Context, name: str, identity: Identity, display_name: str) -> ProfileInfo:
    store = _store(ctx)
    return store.create(
        name, identity, _passphrase(confirm=True), display_name=display_name,
        created_ms=int(time.time() * 1000),
    )


@click.group("id")
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), default=None, help=_HOME_HELP)
@click.pass_context
def id_group(ctx: click.Context, home: Path | None) -> None:
    """Create, restore and show identities (each one a named profile)."""
    ctx.ensure_object(dict)
    ctx.obj["home"] = home


@id_group.command("new")
@_home_option
@click.option("--profile", "name", required=True, help="Name of the new profile.")
@click.option("--display-name", default="", help="Name shown to your contacts.")
@click.pass_context
def new_command(ctx: click.Context, name: str, display_name: str) -> None:
    """Generate a new identity and store it as a profile."""
    try:
        identity = Identity.generate()
        info = _save(ctx, name, identity, display_name)
    except SessionCoreError as exc:
        raise click.ClickException(str(exc)) from None
    _print_info(info)
    click.echo("")
    click.echo("Recovery phrase (write it down; anyone who has it IS you):")
    click.echo(f"  {identity.mnemonic}")


@id_group.command("restore")
@_home_option
@click.option("--profile", "name", required=True, help="Name of the restored profile.")
@click.option("--display-name", default="", help="Name shown to your contacts.")
@click.pass_context
def restore_command(ctx: click.Context, name: str, display_name: str) -> None:
    """Restore an identity from its recovery phrase.

    Session's 13-word phrase, the same 12 words without the checksum word, or a 12-word BIP-39
    phrase from an earlier session_core.

    The command asks for the phrase (it is not an option, so it stays out of your shell
    history): type all the words on one line, separated by spaces, and press Enter; nothing is
    shown while you type.  Then it asks for a passphrase for the new profile, twice.  From a
    script, pipe the phrase as the first line of stdin (and the passphrase twice, or set
    SESSION_CORE_PASSPHRASE).
    """
    words = hidden_prompt("Recovery phrase (13 words, or 12, on one line, separated by spaces)")
    try:
        identity, decoded = Identity.restore(words)
        click.echo(f"recognised:   {decoded.format.value}")
        if decoded.format is PhraseFormat.SESSION_NO_CHECKSUM:
            click.echo("              (no checksum word: check that the Session ID below is yours)")
        info = _save(ctx, name, identity, display_name)
    except SessionCoreError as exc:
        raise click.ClickException(str(exc)) from None
    _print_info(info)


@id_group.command("show")
@_home_option
@click.option("--profile", "name", default=None, help="Profile to show (default: list all).")
@click.option("--mnemonic", "reveal", is_flag=True, help="Also print the recovery phrase.")
@click.pass_context
def show_command(ctx: click.Context, name: str | None, reveal: bool) -> None:
    """Show a profile's Session ID (and, with --mnemonic, its recovery phrase)."""
    store = _store(ctx)
    try:
        if name is None:
            if reveal:
                raise click.UsageError("--mnemonic needs --profile")
            _list(store)
            return
        info = store.info(name)
        _print_info(info)
        if reveal:
            identity = store.load(name, _passphrase(confirm=False))
            click.echo(f"recovery phrase: {identity.mnemonic}")
    except SessionCoreError as exc:
        raise click.ClickException(str(exc)) from None


@id_group.command("list")
@_home_option
@click.pass_context
def list_command(ctx: click.Context) -> None:
    """List the profiles (name, Session ID, display name)."""
    _list(_store(ctx))


def _list(store: ProfileStore) -> None:
    profiles = store.list()
    if not profiles:
        click.echo(f"no profiles under {store.home} (create one: session-core id new --profile NAME)")
        return
    for info in profiles:
        suffix = f"  ({info.display_name})" if info.display_name else ""
        click.echo(f"{info.name:20} {info.session_id}{suffix}")
