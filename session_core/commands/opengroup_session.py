"""What every ``session-core opengroup`` client command shares: the options, opening a profile
with its joined rooms and a link per server (onion paths, or ``--direct`` HTTP), and turning our
errors into one line with a hint instead of a traceback."""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from session_core.errors import RoomServerError, SessionCoreError

__all__ = ["RoomSession", "client_options", "open_session", "run_main"]


def client_options(f: Any) -> Any:
    """The chat commands' --profile/--home/--seed/--devnet, and --direct."""
    from session_core.commands.chat_cmd import _options

    f = click.option("--direct", is_flag=True, help="Plain HTTP to the server instead of onion paths (it sees your IP).")(f)
    return _options(f)


#: What a refusal by the server means for someone at the command line (by status).
_HINTS = {
    401: "the server did not accept the signed request: is this machine's clock right?",
    403: "you lack the rights for this here (banned, invite-only room, or not a moderator or admin)",
    404: "check the room, message or user ID (`session-core opengroup read --room ROOM` shows IDs)",
    413: "too large for this server",
    425: "the request was stale or replayed: check this machine's clock and retry",
    429: "slow down: the room limits how often you may post or react",
}


def one_line(exc: SessionCoreError) -> str:
    text = " ".join(str(exc).split())
    hint = _HINTS.get(exc.status) if isinstance(exc, RoomServerError) else None
    return f"{text} (hint: {hint})" if hint and "hint:" not in text else text


def run_main(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    try:
        asyncio.run(main())
    except SessionCoreError as exc:
        raise click.ClickException(one_line(exc)) from None
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        raise SystemExit(130) from None


@dataclass
class RoomSession:
    joined: Any  # JoinedRooms
    client_for: Callable[[Any], Any]  # RoomRef -> RoomClient
    identity: Any  # Identity
    profile_dir: Path


@asynccontextmanager
async def open_session(profile: str, home: Path | None, seeds: tuple[str, ...], devnet_dir: Path | None,
                       direct: bool) -> AsyncIterator[RoomSession]:
    """The profile's joined rooms and a RoomClient per room; links close on exit."""
    from session_core.client.joined_rooms import JoinedRooms
    from session_core.client.opengroup import RoomClient
    from session_core.client.server_link import DirectLink, OnionLink
    from session_core.commands.chat_cmd import _seed_urls
    from session_core.commands.id_cmd import hidden_prompt
    from session_core.identity_store import ProfileStore

    store = ProfileStore(home)
    try:
        store.info(profile)
    except SessionCoreError as exc:
        raise click.ClickException(f"{exc} (create it with `session-core id new --profile {profile}`)") from None
    passphrase = os.environ.get("SESSION_CORE_PASSPHRASE") or hidden_prompt(f"Passphrase for {profile}")
    identity = store.load(profile, passphrase)
    joined = JoinedRooms(store.profile_dir(profile) / "rooms.json")
    closers: list[Any] = []
    make_link: Callable[[Any], Any]
    if direct:
        def make_link(ref: Any) -> Any:
            link = DirectLink(ref, timeout=30)
            closers.append(link)
            return link
    else:
        from session_core.client.nodelist import NodeList
        from session_core.client.onion_client import OnionClient
        from session_core.client.paths import PathPool
        from session_core.client.transport import HttpTransport

        urls = _seed_urls(seeds, devnet_dir)
        rng = random.Random()
        nodelist = NodeList(urls, store.profile_dir(profile) / "nodes.json", rng=rng)
        transport = HttpTransport()
        closers.append(transport)
        await nodelist.bootstrap(transport)
        pool = PathPool(rng)
        pool.set_nodes(nodelist.nodes)
        oc = OnionClient(transport, pool, timeout=30)

        def make_link(ref: Any) -> Any:
            return OnionLink(oc, ref, timeout=30)
    try:
        yield RoomSession(joined, lambda ref: RoomClient(identity.ed25519_seed, ref.server_pk, make_link(ref)),
                          identity, store.profile_dir(profile))
    finally:
        for c in closers:
            await c.close()
