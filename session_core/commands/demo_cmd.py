"""``session-core demo``: a devnet on loopback, two users, a friend request, messages both ways
asynchronously (through the swarm, with PoW) then synchronously (listening nodes, acks), with the
route and timing of each; everything is stopped at the end, also on Ctrl-C or an error."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from pathlib import Path

import click


async def _run(directory: Path, nodes: int) -> None:
    from session_core.client import Client, ClientConfig, ClientEvent
    from session_core.devnet.launcher import Devnet, DevnetOptions
    from session_core.identity import Identity

    t_all = time.perf_counter()
    net = Devnet(directory / "devnet")
    click.echo(f"starting a devnet: chain + {nodes} nodes on 127.0.0.1, difficulty 1 …")
    await asyncio.to_thread(net.up, DevnetOptions(directory / "devnet", nodes=nodes, difficulty=1, block_interval=1.0,
                                                  timeout=60))
    clients: list[Client] = []
    try:
        click.echo(f"  up in {time.perf_counter() - t_all:.1f} s; chain RPC {net.chain_url}")

        def make(name: str) -> Client:
            c = Client(Identity.generate(), name, ClientConfig([net.chain_url], directory / name, poll_interval=0.3,
                                                               listen_interval=0.1, ack_timeout=3.0))
            clients.append(c)
            return c

        alice, bob = make("Alice"), make("Bob")
        await asyncio.gather(alice.start(), bob.start())
        for c in (alice, bob):
            swarm = await c.router.swarm_of(c.session_id)
            lis = c.listener.node.short() if c.listener else "-"
            click.echo(f"{c.messenger.display_name:5} {c.session_id}  swarm {','.join(n.short() for n in swarm)}  listening on {lis}")

        async def expect(c: Client, kind: str, text: str = "") -> ClientEvent:
            return await c.next_event(lambda ev: ev.kind == kind and (not text or ev.text == text), 15.0)

        async def say(src: Client, dst: Client, text: str) -> None:
            t0 = time.perf_counter()
            rep = await src.send_text(dst.session_id, text)
            ev = await expect(dst, "message", text)
            click.echo(f"  {src.messenger.display_name} -> {dst.messenger.display_name}: {text!r:28} {rep.route:11} "
                       f"sent {rep.elapsed_s * 1000:6.0f} ms, received {(time.perf_counter() - t0) * 1000:6.0f} ms "
                       f"(via {ev.via}): {rep.detail}")

        click.echo("friend request:")
        t0 = time.perf_counter()
        rep = await alice.send_friend_request(bob.session_id, "Hi Bob, it's Alice")
        ev = await expect(bob, "request")
        click.echo(f"  Alice -> Bob: request {ev.text!r} arrived in {(time.perf_counter() - t0) * 1000:.0f} ms: {rep.detail}")
        t0 = time.perf_counter()
        rep = await bob.accept(alice.session_id, "Hello Alice!")
        await expect(alice, "accepted")
        click.echo(f"  Bob accepted; Alice has the session after {(time.perf_counter() - t0) * 1000:.0f} ms: {rep.detail}")
        click.echo("asynchronous (swarm + proof of work) until a peer knows the other's listening node:")
        await say(alice, bob, "Are you there?")
        await expect(alice, "status")  # Bob answers with his listening node
        await say(bob, alice, "Yes, online now")
        click.echo("synchronous (listening nodes, no proof of work, acked):")
        for i, (s, d) in enumerate([(alice, bob), (bob, alice), (alice, bob), (bob, alice)]):
            await say(s, d, f"sync message {i + 1}")
        for c in (alice, bob):
            st = c.stats
            # stats.received counts every decrypted envelope; receipts and online-status notes
            # are envelopes too, so the messages a user reads are counted from the history.
            texts = sum(1 for m in c.history() if m["dir"] == "in")
            click.echo(f"{c.messenger.display_name:5} received {texts} messages (+ {st.received - texts} receipts, "
                       f"status and friend-request envelopes), duplicates dropped {st.duplicates}, "
                       f"sent async {st.async_sent} / sync {st.sync_sent}, paths built {c.pool.rebuilds}"
                       f" ({', '.join(f'{why} {n}' for why, n in sorted(getattr(c.pool, 'built', {}).items()))})")
    finally:
        for c in clients:
            try:
                await asyncio.wait_for(c.stop(), 10)
            except Exception as exc:  # shutting down must go on whatever happened
                click.echo(f"warning: client stop failed: {exc}", err=True)
        await asyncio.to_thread(net.down)
        left = [name for name, p in net.procs.items() if p.poll() is None]
        click.echo(f"devnet stopped{'' if not left else ' (still running: ' + ', '.join(left) + ')'}; "
                   f"total {time.perf_counter() - t_all:.1f} s")


@click.command("demo")
@click.option("--nodes", default=8, show_default=True, help="Service nodes in the demo devnet.")
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=None,
              help="Keep the devnet and profiles here (default: a temporary folder, removed afterwards).")
def demo_command(nodes: int, directory: Path | None) -> None:
    """Two users on a fresh local devnet: friend request, then messages async and sync."""
    if nodes < 4:
        raise click.BadParameter("the demo needs at least 4 nodes (3 hops + a destination)", param_hint="--nodes")
    tmp = None
    if directory is None:
        tmp = directory = Path(tempfile.mkdtemp(prefix="session-core-demo-"))
    try:
        asyncio.run(_run(directory, nodes))
    except KeyboardInterrupt:
        click.echo("interrupted; everything was stopped", err=True)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
