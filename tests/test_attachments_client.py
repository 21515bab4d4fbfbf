"""Files between two clients in memory (real node logic on a MemNetwork) through a real file
server on loopback: uploads and downloads go through 3-hop onion paths whose exit posts to it."""

from __future__ import annotations

import os
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from session_core import attachments as att
from session_core.client import Client, ClientConfig
from session_core.errors import AttachmentInputError
from session_core.fileserver import FileServer, FileServerConfig
from session_core.identity import Identity
from session_core.node.exit_http import ExitClient
from session_core.protocol import Messenger
from session_core.protocol import messages_pb2 as pb
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


def make(net: MemNetwork, fs: FileServer, home: Path) -> Client:
    cfg = ClientConfig([net.seed_url], home, poll_interval=0.05, listen_interval=0.03, request_timeout=5.0,
                       file_server=f"{fs.url}#p={fs.keys.ed25519.hex()}")
    return Client(Identity.generate(), home.name, cfg, transport=MemTransport(net), rng=random.Random())


async def test_files_go_through_onion_paths_and_land_under_the_profile(
        world: tuple[MemNetwork, FileServer], tmp_path: Path) -> None:
    net, fs = world
    a, b = make(net, fs, tmp_path / "alice"), make(net, fs, tmp_path / "bob")
    await a.start()
    await b.start()
    try:
        await a.send_friend_request(b.session_id, "hi")
        await b.next_event(lambda e: e.kind == "request", 5)
        await b.accept(a.session_id)
        await a.next_event(lambda e: e.kind == "accepted", 5)
        exits_before = sum(n.requests for n in net.nodes)
        for name, size in (("note.txt", 1000), ("../../evil.sh", 2000), ("video.bin", 2 * att.CHUNK_PLAINTEXT + 7)):
            src = tmp_path / "src"
            src.mkdir(exist_ok=True)
            path = src / os.path.basename(name)
            path.write_bytes(os.urandom(size))
            await a.send_file(b.session_id, path, f"here is {path.name}")
            ev = await b.next_event(lambda e: e.kind in ("file", "file_error"), 30)
            assert ev.kind == "file", ev.text
            saved = Path(ev.text)
            assert saved.parent == tmp_path / "bob" / "attachments" and saved.read_bytes() == path.read_bytes()
        assert sum(n.requests for n in net.nodes) > exits_before  # every transfer crossed the nodes
        assert any("[file: video.bin" in m["body"] for m in b.history())
        assert all(s in att.BUCKETS for s in fs.store.stored_sizes())
    finally:
        await a.stop()
        await b.stop()


def test_the_pointer_travels_as_upstream_attachment_pointer() -> None:
    alice, bob = Messenger(Identity.generate(), "alice"), Messenger(Identity.generate(), "bob")
    bob.receive(alice.send_friend_request(bob.session_id, "hi", now_ms=1000).data, now_ms=1001)
    alice.receive(bob.accept(alice.session_id, now_ms=1002).data, now_ms=1003)
    pointer = att.Pointer(f"http://127.0.0.1:9/file/{'A' * 44}#p={'ab' * 32}", os.urandom(64), os.urandom(32), 1234,
                          "image/png", "cat.png")
    out = alice.send_text(bob.session_id, "", now_ms=2000, attachments=[pointer])
    (ev,) = bob.receive(out.data, now_ms=2001)
    assert ev.attachments == (pointer,) and ev.body == ""
    # The fields sit where upstream's SignalService.proto puts them.
    msg = pb.AttachmentPointer()
    from session_core.protocol.attachment_pointer import to_pb

    to_pb(pointer, msg)
    wire = msg.SerializeToString()
    back = pb.AttachmentPointer.FromString(wire)
    assert (back.url, back.key, back.digest, back.size, back.contentType, back.fileName) == (
        pointer.url, pointer.key, pointer.digest, 1234, "image/png", "cat.png")
    assert {f.name: f.number for f in pb.AttachmentPointer.DESCRIPTOR.fields if f.name in
            ("contentType", "key", "size", "digest", "fileName", "url")} == {
        "contentType": 2, "key": 3, "size": 4, "digest": 6, "fileName": 7, "url": 101}


def test_a_pointer_with_a_bad_key_is_refused_before_sending() -> None:
    alice = Messenger(Identity.generate(), "alice")
    bad = att.Pointer(f"http://h:1/file/abc#p={'ab' * 32}", b"short", bytes(32), 1)
    with pytest.raises(AttachmentInputError):
        alice.send_text(Identity.generate().session_id, "x", now_ms=1, attachments=[bad])
