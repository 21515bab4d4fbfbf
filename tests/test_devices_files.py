"""A file sent from one device of an account shows, and downloads, on its other devices: the
sync copy in the own swarm carries the attachment pointers (real file server on loopback,
in-memory nodes, onion paths)."""

from __future__ import annotations

import os
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from session_core import attachments as att
from session_core.client import Client, ClientConfig
from session_core.fileserver import FileServer, FileServerConfig
from session_core.identity import Identity
from session_core.node.exit_http import ExitClient
from session_core.protocol import messages_pb2 as pb
from session_core.protocol.events import SentMessageSynced
from session_core.protocol.sent_sync import sync_copy, synced_events
from session_core.testing.memnet import MemNetwork, MemTransport


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[MemNetwork, FileServer]]:
    fs = FileServer(FileServerConfig(tmp_path / "fs"))
    await fs.start()
    net = MemNetwork(8)
    exits = ExitClient(allow_loopback=True, timeout=30)
    net.exit_post = lambda step: exits.post(step.method, step.url, step.host, step.body)
    yield net, fs
    await exits.close()
    await fs.stop()


def make(net: MemNetwork, fs: FileServer, home: Path, identity: Identity, *, multi_device: bool = True) -> Client:
    cfg = ClientConfig([net.seed_url], home, poll_interval=0.05, listen_interval=0.03, request_timeout=5.0,
                       sync=False, multi_device=multi_device, file_server=f"{fs.url}#p={fs.keys.ed25519.hex()}")
    return Client(identity, home.name, cfg, transport=MemTransport(net), rng=random.Random())


async def test_a_file_sent_on_one_device_is_shown_and_saved_on_the_other(
        world: tuple[MemNetwork, FileServer], tmp_path: Path) -> None:
    net, fs = world
    alice = Identity.generate()
    a1, a2 = make(net, fs, tmp_path / "a1", alice), make(net, fs, tmp_path / "a2", alice)
    bob = make(net, fs, tmp_path / "bob", Identity.generate(), multi_device=False)
    for c in (a1, a2, bob):
        await c.start(loops=False)
    try:
        await a1.send_friend_request(bob.session_id, "hi")
        await bob.poll_swarm()
        await bob.accept(alice.session_id)
        for c in (a1, a2):
            await c.poll_swarm()
        src = tmp_path / "src"
        src.mkdir()
        path = src / "report.pdf"
        path.write_bytes(os.urandom(2 * att.CHUNK_PLAINTEXT + 11))  # chunked: the pointer's flags travel too
        await a1.send_file(bob.session_id, path, "the report")

        got = await a2.poll_swarm()
        line = f"the report [file: report.pdf ({path.stat().st_size} bytes)]"
        assert [(e.kind, e.peer, e.text) for e in got] == [("sent", bob.session_id, line)]
        assert [m["body"] for m in a2.history(bob.session_id) if m["dir"] == "out"] == [line]
        ev = await a2.next_event(lambda e: e.kind in ("file", "file_error"), 30)
        assert ev.kind == "file", ev.text
        saved = Path(ev.text)
        assert saved.parent == tmp_path / "a2" / "attachments" and saved.read_bytes() == path.read_bytes()

        await bob.poll_swarm()  # the peer gets the same file, as before
        ev = await bob.next_event(lambda e: e.kind in ("file", "file_error"), 30)
        assert ev.kind == "file" and Path(ev.text).read_bytes() == path.read_bytes()
        # The sending device does not download its own file again (its copy is marked seen).
        assert not (tmp_path / "a1" / "attachments").exists()
    finally:
        for c in (a1, a2, bob):
            await c.stop()


def test_the_copy_carries_pointers_and_drops_unusable_ones() -> None:
    me = Identity.generate()
    peer = Identity.generate().session_id
    pointer = att.Pointer(f"http://127.0.0.1:9/file/{'A' * 44}#p={'ab' * 32}", os.urandom(64), os.urandom(32), 99,
                          "image/png", "cat.png")
    copy = sync_copy(me, peer, "", sent_ms=5, attachments=[pointer])
    assert copy.recipient == me.session_id

    content = pb.Content()
    content.dataMessage.syncTarget = peer
    from session_core.protocol.attachment_pointer import to_pb

    to_pb(pointer, content.dataMessage.attachments.add())
    assert synced_events(content, 5) == [SentMessageSynced(peer, "", 5, (pointer,))]
    # A pointer without a usable key is dropped; with no body left, the copy shows nothing.
    content.dataMessage.attachments[0].key = b"short"
    assert synced_events(content, 5) == []
    content.dataMessage.body = "text stays"
    assert synced_events(content, 5) == [SentMessageSynced(peer, "text stays", 5, ())]
