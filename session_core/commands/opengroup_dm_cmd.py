"""``session-core opengroup dm`` and ``inbox``: blinded direct messages between room members.

A DM goes to a blinded ID (what ``opengroup read`` shows) through the server of a joined room,
end-to-end encrypted for that ID (:mod:`session_core.rooms.dm`): the server sees two blinded
IDs and an opaque body.  The reader learns the sender's Session ID from inside the message; it
is shown with the contact's name only when the sender is a known contact whose blinded ID on
this server matches, so a room stranger stays a blinded ID.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import click

from session_core.commands.opengroup_session import client_options, open_session, run_main
from session_core.errors import RoomServerError, SessionCoreError

__all__ = ["dm_command", "inbox_command"]


def _blinded_id(text: str) -> str:
    from session_core.blinding import parse_blinded_id

    try:
        parse_blinded_id(text.lower())
    except SessionCoreError as exc:
        raise click.BadParameter(f"{text[:80]!r} is not a blinded ID ({exc}); the 15… IDs are shown by "
                                 "`session-core opengroup read --ids`", param_hint="--to") from None
    return text.lower()


@click.command("dm")
@client_options
@click.option("--room", required=True, help="A joined room (token or URL) that you share with the recipient.")
@click.option("--to", "to", required=True, help="The recipient's blinded ID on that server (15…).")
@click.argument("text")
def dm_command(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None, direct: bool,
               room: str, to: str, text: str) -> None:
    """Send TEXT as a blinded DM to a member of a room you share (end-to-end encrypted)."""
    recipient = _blinded_id(to)
    if not text:
        raise click.UsageError("the message is empty")

    async def main() -> None:
        async with open_session(profile, home, seeds, devnet_dir, direct) as s:
            ref = s.joined.find(room)
            client = s.client_for(ref)
            if recipient == client.blinded_id:
                raise click.ClickException("that is your own blinded ID on this server")
            await client.room(ref.token)  # the server counts us as taking part in the room
            try:
                out = await client.send_private(recipient, text.encode())
            except RoomServerError as exc:
                if exc.status == 404:
                    raise click.ClickException(
                        f"{recipient[:12]}… cannot get DMs from you on {ref.base_url} (hint: they must have used "
                        "a room you share, and you must not be banned there)") from None
                raise
            click.echo(f"sent DM #{out['id']} to {recipient[:12]}… via {ref.base_url} (as {client.blinded_id[:12]}…)")

    run_main(main)


def _contacts(identity: Any, profile_dir: Path) -> dict[str, str]:
    """Session ID -> display name of the profile's contacts (none if it never chatted)."""
    db_path = profile_dir / "client.db"
    if not db_path.exists():
        return {}
    from session_core.client.db import ClientDB

    db = ClientDB(db_path, identity)
    try:
        messenger = db.load_messenger(identity, "")
        return {sid: c.display_name for sid, c in messenger.contacts.items()}
    finally:
        db.close()


def describe_sender(blinded: str, session_id: str, contacts: dict[str, str], server_pk: bytes) -> tuple[str, str | None]:
    """(what to show, Session ID or None): the Session ID only for a contact whose blinded ID matches."""
    from session_core.blinding import blinded_matches_session_id

    if session_id in contacts and blinded_matches_session_id(blinded, session_id, server_pk):
        name = contacts[session_id] or "contact"
        return f"{blinded} ({name}, {session_id})", session_id
    return f"{blinded} (not a contact)", None


@click.command("inbox")
@client_options
@click.option("--all", "from_start", is_flag=True, help="Every DM the servers still hold, not only new ones.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def inbox_command(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None, direct: bool,
                  from_start: bool, as_json: bool) -> None:
    """Fetch and decrypt the blinded DMs sent to you on the servers of your joined rooms."""
    from session_core.rooms.dm import decrypt_from_blinded

    async def main() -> None:
        async with open_session(profile, home, seeds, devnet_dir, direct) as s:
            servers = s.joined.servers()
            if not servers:
                click.echo("no rooms joined yet (`session-core opengroup join URL`)")
                return
            contacts = _contacts(s.identity, s.profile_dir)
            shown = 0
            for ref in servers:
                client = s.client_for(ref)
                last = 0 if from_start else s.joined.inbox_seen(ref)
                while True:
                    batch = await client.inbox(last)
                    for m in batch:
                        last = max(last, int(m["id"]))
                        shown += 1
                        _show(m, ref, s.identity.ed25519_seed, contacts, as_json, decrypt_from_blinded)
                    if len(batch) < 100:
                        break
                s.joined.inbox_read(ref, last)
            if not shown and not as_json:
                click.echo("no new DMs")

    run_main(main)


def _show(m: dict[str, Any], ref: Any, seed: bytes, contacts: dict[str, str], as_json: bool, decrypt: Any) -> None:
    sender = str(m["sender"])
    try:
        text, session_id = decrypt(seed, ref.server_pk, sender, base64.b64decode(m["message"]))
    except (SessionCoreError, ValueError) as exc:
        who, body, sid = f"{sender} (unverified)", f"(cannot be opened: {exc})", None
    else:
        who, sid = describe_sender(sender, session_id, contacts, ref.server_pk)
        body = text.decode("utf-8", "replace")
    if as_json:
        click.echo(json.dumps({"id": m["id"], "server": ref.base_url, "sender": sender, "session_id": sid,
                               "posted": m["posted_at"], "text": body}))
    else:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(m["posted_at"]))
        click.echo(f"#{m['id']:<4} {when} from {who}: {body}")
