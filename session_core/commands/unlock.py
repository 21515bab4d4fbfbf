"""Opening a profile for a command: by PIN when one is set (session_core.client.pin), else by
passphrase; shared by the chat commands and the protection commands."""

from __future__ import annotations

import os
from typing import Any

import click

from session_core.errors import ProfileNotFoundError, SessionCoreError


def secret(env: str, prompt: str, confirm: bool = False) -> str:
    from session_core.commands.id_cmd import hidden_prompt

    return os.environ.get(env) or hidden_prompt(prompt, confirm)


def unlock_identity(store: Any, profile: str) -> Any:
    """The profile's identity: by PIN when one is set (the duress PIN wipes and answers like a
    fresh install), else by passphrase.  Errors become one-line click errors."""
    from session_core.client.pin import PinLock, finish_pending_wipes, has_pin

    try:
        finish_pending_wipes(store.home)
        store.info(profile)  # "no profile" before asking for anything
        directory = store.profile_dir(profile)
        if has_pin(directory):
            pin = secret("SESSION_CORE_PIN", f"PIN for {profile}")
            return PinLock(directory).unlock(pin, profile_name=profile)
        return store.load(profile, secret("SESSION_CORE_PASSPHRASE", f"Passphrase for {profile}"))
    except ProfileNotFoundError as exc:
        # Word for word what a missing profile gets, so a duress PIN answers like a fresh install.
        raise click.ClickException(missing_profile(exc, profile)) from None
    except SessionCoreError as exc:
        raise click.ClickException(str(exc)) from None


def missing_profile(exc: Exception, profile: str) -> str:
    return f"{exc} (create it with `session-core id new --profile {profile}`)"
