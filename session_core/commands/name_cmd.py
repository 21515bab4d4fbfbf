"""``session-core name``: register, renew, transfer and resolve names (whitepaper 6.5).

``register``/``renew``/``transfer`` sign with a profile's key and go to the chain RPC (like a
wallet to its daemon); ``resolve`` asks 3 random service nodes through onion paths and checks
their Merkle proofs against headers synced from the chain RPC.  The chain is ``--chain URL``
(its JSON-RPC) or the devnet of ``--devnet DIR``.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import click

from session_core.errors import SessionCoreError


def _chain_url(chain: str | None, devnet_dir: Path | None) -> str:
    if chain:
        return chain
    if devnet_dir is not None:
        try:
            return str(json.loads((devnet_dir / "devnet.json").read_text())["chain_rpc"])
        except (OSError, ValueError, KeyError) as exc:
            raise click.ClickException(f"no devnet state in {devnet_dir}: {exc}") from None
    raise click.UsageError("say which chain: --chain URL or --devnet DIR")


def _network(f: Any) -> Any:
    f = click.option("--chain", default=None, help="The chain's JSON-RPC URL.")(f)
    f = click.option("--devnet", "devnet_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="Use the devnet running from this directory.")(f)
    return f


def _profile(f: Any) -> Any:
    f = click.option("--profile", required=True, help="Profile whose key owns the name (see `session-core id list`).")(f)
    f = click.option("--home", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="session_core home directory.")(f)
    return f


def _run(main: Callable[[], Awaitable[None]]) -> None:
    try:
        asyncio.run(main())  # type: ignore[arg-type]
    except SessionCoreError as exc:
        raise click.ClickException(str(exc)) from None


async def resolve_name(name: str, chain_url: str, *, oc: Any = None, nodes: Any = None,
                       cache_dir: Path | None = None) -> Any:
    """Resolve *name*; with no onion client given, build one from the chain's node list.
    With *cache_dir*, synced block headers are kept there for the next resolve."""
    import aiohttp

    from session_core.chain.client import ChainClient
    from session_core.client.names import HeaderSync, NameResolver, header_cache_path
    from session_core.client.nodelist import NodeList
    from session_core.client.onion_client import OnionClient
    from session_core.client.paths import PathPool
    from session_core.client.transport import HttpTransport

    async with aiohttp.ClientSession() as http:
        chain = ChainClient(chain_url, http)
        transport = None
        try:
            if oc is None:
                rng = random.Random()
                transport = HttpTransport()
                nodelist = NodeList([chain_url], None, rng=rng)
                await nodelist.bootstrap(transport)  # (a dead chain: the transport still closes)
                pool = PathPool(rng)
                pool.set_nodes(nodelist.nodes)
                oc = OnionClient(transport, pool)
                nodes = lambda: pool.usable() or nodelist.nodes  # noqa: E731
            cache = None if cache_dir is None else header_cache_path(cache_dir, chain_url)
            return await NameResolver(oc, HeaderSync(chain.call, cache), nodes).resolve(name)
        finally:
            if transport is not None:
                await transport.close()


async def _wait_block(call: Callable[[str, Any], Awaitable[Any]], height: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = await call("get_info", {})
        if isinstance(info, dict) and int(info.get("height", 0)) - 1 >= height:
            return True
        await asyncio.sleep(0.25)
    return False


@click.group("name")
def name_group() -> None:
    """Human-readable names for Session IDs: register, renew, transfer, resolve."""


def _registrar_action(verb: str) -> Callable[..., Any]:
    def run_action(name: str, profile: str, home: Path | None, chain: str | None, devnet_dir: Path | None,
                   wait: float, act: Callable[[Any], Awaitable[dict[str, Any]]]) -> None:
        import aiohttp

        from session_core.chain.client import ChainClient
        from session_core.client.names import NameRegistrar
        from session_core.identity_store import ProfileStore

        url = _chain_url(chain, devnet_dir)
        store = ProfileStore(home)
        passphrase = os.environ.get("SESSION_CORE_PASSPHRASE") or click.prompt(f"Passphrase for {profile}", hide_input=True)
        identity = store.load(profile, passphrase)

        async def main() -> None:
            async with aiohttp.ClientSession() as http:
                cc = ChainClient(url, http)
                res = await act(NameRegistrar(cc.call, identity))
                at = int(res.get("applies_at", 0))
                click.echo(f"{verb} of {name.lower()!r} submitted; it applies in block {at}")
                if wait > 0:
                    if await _wait_block(cc.call, at, wait):
                        rec = await NameRegistrar(cc.call, identity).record(name)
                        click.echo(f"done: owner {str(rec.get('owner'))[:16]}…, expires at block {rec.get('expiration_height')}")
                    else:
                        click.echo(f"block {at} not made within {wait:.0f} s; check later with `name resolve`")

        _run(main)

    return run_action


_WAIT = click.option("--wait", default=30.0, show_default=True, help="Seconds to wait for the block that applies it (0: do not wait).")


@name_group.command("register")
@click.argument("name")
@_profile
@_network
@click.option("--for", "session_id", default=None, help="Session ID the name points to (default: the profile's).")
@_WAIT
def register_command(name: str, profile: str, home: Path | None, chain: str | None, devnet_dir: Path | None,
                     session_id: str | None, wait: float) -> None:
    """Register NAME for the profile's Session ID (burns the chain's fee)."""
    _registrar_action("registration")(name, profile, home, chain, devnet_dir, wait,
                                       lambda r: r.register(name, session_id))


@name_group.command("renew")
@click.argument("name")
@_profile
@_network
@_WAIT
def renew_command(name: str, profile: str, home: Path | None, chain: str | None, devnet_dir: Path | None, wait: float) -> None:
    """Extend NAME by one lease (burns the fee again)."""
    _registrar_action("renewal")(name, profile, home, chain, devnet_dir, wait, lambda r: r.renew(name))


@name_group.command("transfer")
@click.argument("name")
@_profile
@_network
@click.option("--owner", "new_owner", required=True, help="The new owner's Ed25519 public key (hex).")
@click.option("--to", "session_id", default=None, help="Also point the name at this Session ID.")
@_WAIT
def transfer_command(name: str, profile: str, home: Path | None, chain: str | None, devnet_dir: Path | None,
                     new_owner: str, session_id: str | None, wait: float) -> None:
    """Hand NAME to another owner (and optionally point it at their Session ID)."""
    _registrar_action("transfer")(name, profile, home, chain, devnet_dir, wait,
                                   lambda r: r.update(name, session_id, new_owner))


@name_group.command("resolve")
@click.argument("name")
@_network
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="session_core home directory (synced block headers are cached there).")
def resolve_command(name: str, chain: str | None, devnet_dir: Path | None, as_json: bool, home: Path | None) -> None:
    """Print the Session ID of NAME, as proven by 3 random nodes (through onion paths)."""
    from session_core.identity_store import ProfileStore

    url = _chain_url(chain, devnet_dir)

    async def main() -> None:
        res = await resolve_name(name, url, cache_dir=ProfileStore(home).home)
        if as_json:
            click.echo(json.dumps({"name": res.name, "session_id": res.session_id, "owner": res.owner,
                                   "expiration_height": res.expiration_height, "height": res.height,
                                   "nodes": list(res.nodes)}))
        else:
            click.echo(res.session_id)
            click.echo(f"  proven at block {res.height} by {len(res.nodes)} nodes; expires at block "
                       f"{res.expiration_height}", err=True)

    _run(main)


async def resolve_for_client(client: Any, name: str) -> str:
    """The Session ID of *name* for a running :class:`~session_core.client.Client` (chat's
    ``/to @name``): through the client's own onion paths, headers from its chain seed."""
    from session_core.errors import ClientError

    chains = [s for s in client.cfg.seeds if s.rstrip("/").endswith("/json_rpc")]
    if not chains:
        raise ClientError("resolving a name needs the chain's JSON-RPC (--devnet DIR or a --seed .../json_rpc)")
    nodes = lambda: client.pool.usable() or client.nodelist.nodes  # noqa: E731
    res = await resolve_name(name, chains[0], oc=client.oc, nodes=nodes, cache_dir=client.cfg.home)
    return str(res.session_id)
