"""The file server on loopback: the session-file-server subset directly and through its onion
endpoint, limits, dedup, expiry, hostile ids; and client transfers against it (chunked,
resumed, tampered)."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from session_core import attachments as att
from session_core import onion
from session_core.client.files import DirectLink, FileTransfer
from session_core.errors import (
    AttachmentDecryptError,
    AttachmentTooLargeError,
    FileNotOnServerError,
    FileServerError,
)
from session_core.fileserver import FileServer, FileServerConfig
from session_core.onion import v4


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[FileServer]:
    fs = FileServer(FileServerConfig(tmp_path / "fs", max_size=10_000_000))
    fs.store.clock = Clock()
    await fs.start()
    yield fs
    await fs.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def on_disk(fs: FileServer) -> list[Path]:
    return sorted(p for p in fs.store.blob_dir.rglob("*") if p.is_file())


def nothing_left_over(fs: FileServer) -> bool:
    return not any(fs.store.tmp_dir.iterdir())


def ref(fs: FileServer) -> att.FileServerRef:
    return att.FileServerRef(fs.url, fs.keys.ed25519.hex())


async def test_upload_download_info_and_dedup(server: FileServer, http: aiohttp.ClientSession) -> None:
    data = os.urandom(3000)
    ids = []
    for _ in range(2):
        async with http.post(server.url + "/file", data=data) as r:
            assert r.status == 200
            ids.append((await r.json())["id"])
    assert ids[0] == ids[1] and len(ids[0]) == 44
    assert len(on_disk(server)) == 1 and server.store.deduplicated == 1
    async with http.get(f"{server.url}/file/{ids[0]}") as r:
        assert r.status == 200 and await r.read() == data
    async with http.get(f"{server.url}/file/{ids[0]}/info") as r:
        info = await r.json()
    assert info["size"] == 3000 and info["expires"] - info["uploaded"] == pytest.approx(21 * 86400)


async def test_over_the_limit_is_413_and_stores_nothing(server: FileServer, http: aiohttp.ClientSession) -> None:
    big = b"x" * (server.store.max_size + 1)
    async with http.post(server.url + "/file", data=big) as r:  # refused on its Content-Length
        assert r.status == 413

    async def stream() -> AsyncIterator[bytes]:  # no Content-Length: refused while streaming
        for _ in range(11):
            yield b"y" * 1_000_000

    async with http.post(server.url + "/file", data=stream()) as r:
        assert r.status == 413
    assert on_disk(server) == [] and nothing_left_over(server) and server.store.stored_sizes() == []


@pytest.mark.parametrize("path", ["/file/..%2F..%2Ffiles.db", "/file/%2E%2E", "/file/a.b", "/file/" + "x" * 65,
                                  "/file/..%2Ffileserver_ed25519/info"])
async def test_hostile_ids_are_refused(server: FileServer, http: aiohttp.ClientSession, path: str) -> None:
    async with http.get(server.url + path) as r:
        assert r.status in (400, 404)
        assert b"fileserver_ed25519" not in await r.read()


async def test_files_expire_after_three_weeks(server: FileServer, http: aiohttp.ClientSession) -> None:
    async with http.post(server.url + "/file", data=b"hello") as r:
        file_id = (await r.json())["id"]
    clock = server.store.clock
    assert isinstance(clock, Clock)
    clock.now += 21 * 86400 - 1
    assert server.store.purge() == 0
    clock.now += 2
    async with http.get(f"{server.url}/file/{file_id}") as r:
        assert r.status == 404  # expired even before the purge ran
    assert server.store.purge() == 1 and on_disk(server) == []


# -- through the onion endpoint -----------------------------------------------------------------


def target(fs: FileServer) -> onion.ServerTarget:
    return onion.ServerTarget("127.0.0.1", fs.keys.x25519_public.hex(), target="/oxen/v4/lsrpc", port=fs.port,
                              protocol="http")


async def via_onion(fs: FileServer, http: aiohttp.ClientSession, payload: bytes) -> tuple[int, bytes]:
    # What an exit node posts: the last layer, for the server (build with no hops = that layer).
    body, ctx = onion.build(payload, [], target(fs))
    async with http.post(fs.url + "/oxen/v4/lsrpc", data=body) as r:
        assert r.status == 200
        code, _, answer = v4.decode_response(ctx.decrypt_reply(await r.read()))
    return code, answer


async def test_onion_endpoint_upload_download(server: FileServer, http: aiohttp.ClientSession) -> None:
    data = os.urandom(100_000)
    code, answer = await via_onion(server, http, v4.encode_request("POST", "/file", data))
    assert code == 200
    file_id = json.loads(answer)["id"]
    assert await via_onion(server, http, v4.encode_request("GET", f"/file/{file_id}")) == (200, data)
    assert (await via_onion(server, http, v4.encode_request("GET", "/file/..")))[0] == 400
    assert (await via_onion(server, http, v4.encode_request("GET", "/file/" + "A" * 44)))[0] == 404
    assert (await via_onion(server, http, v4.encode_request("DELETE", "/file")))[0] == 404
    assert (await via_onion(server, http, b"l2:{}"))[0] == 400


async def test_onion_upload_over_the_limit(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    fs = FileServer(FileServerConfig(tmp_path / "small", max_size=1000))
    await fs.start()
    try:
        code, _ = await via_onion(fs, http, v4.encode_request("POST", "/file", b"z" * 1001))
        assert code == 413 and on_disk(fs) == [] and nothing_left_over(fs)
    finally:
        await fs.stop()


async def test_onion_layer_for_another_key_is_refused(server: FileServer, http: aiohttp.ClientSession) -> None:
    other = onion.ServerTarget("127.0.0.1", "11" * 32, target="/oxen/v4/lsrpc", port=server.port, protocol="http")
    body, _ = onion.build(v4.encode_request("POST", "/file", b"data"), [], other)
    async with http.post(server.url + "/oxen/v4/lsrpc", data=body) as r:
        assert r.status == 400
    async with http.post(server.url + "/oxen/v4/lsrpc", data=b"\x00garbage") as r:
        assert r.status == 400
    assert on_disk(server) == []


# -- client transfers (direct link: the crypto and chunking, no onion) --------------------------


class FlakyLink:
    """Passes calls to a real link, failing the ``fail_at``-th one (1-based) once; can tamper."""

    def __init__(self, inner: DirectLink, fail_at: int | None = None) -> None:
        self.inner = inner
        self.fail_at = fail_at
        self.calls: list[tuple[str, str]] = []
        self.swap: dict[str, str] = {}  # endpoint -> endpoint served instead
        self.truncate: set[str] = set()

    async def call(self, method: str, endpoint: str, body: bytes | None = None) -> tuple[int, bytes]:
        self.calls.append((method, endpoint))
        if self.fail_at is not None and len(self.calls) == self.fail_at:
            raise FileServerError(503, "injected failure")
        code, data = await self.inner.call(method, self.swap.get(endpoint, endpoint), body)
        return code, data[:-16] if endpoint in self.truncate else data


@pytest.fixture
async def link(server: FileServer) -> AsyncIterator[FlakyLink]:
    direct = DirectLink(ref(server))
    yield FlakyLink(direct)
    await direct.close()


SIZES = [0, 1, 1000, 70_000, att.MAX_SINGLE_PLAINTEXT, 2 * att.CHUNK_PLAINTEXT + 12345]


async def test_every_stored_blob_is_a_bucket_size(server: FileServer, link: FlakyLink, tmp_path: Path) -> None:
    ft = FileTransfer(lambda s: link)
    for n in SIZES:
        src = tmp_path / f"f{n}.bin"
        src.write_bytes(os.urandom(n))
        pointer = await ft.upload_file(src, ref(server))
        assert pointer.size == n and pointer.chunked == (n > att.MAX_SINGLE_PLAINTEXT)
        saved = await ft.download(pointer, tmp_path / "got")
        assert saved.read_bytes() == src.read_bytes() and saved.name == src.name
    sizes = server.store.stored_sizes()
    assert len(sizes) >= len(SIZES) + 3  # + chunks and a manifest
    assert all(s in att.BUCKETS for s in sizes), sorted(set(sizes) - set(att.BUCKETS))


async def test_chunked_upload_resumes_after_a_failure(server: FileServer, link: FlakyLink, tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(3 * att.CHUNK_PLAINTEXT))
    link.fail_at = 2
    ft = FileTransfer(lambda s: link, concurrency=1)
    with pytest.raises(FileServerError, match="injected"):
        await ft.upload_file(src, ref(server), state_dir=tmp_path / "uploads")
    assert len(list((tmp_path / "uploads").iterdir())) == 1  # the saved state
    link.calls.clear()
    link.fail_at = None
    pointer = await ft.upload_file(src, ref(server), state_dir=tmp_path / "uploads")
    # Chunk 0 went through the first time: the resumed upload sends chunks 1 and 2, then the manifest.
    assert [m for m, _ in link.calls] == ["POST"] * 3
    assert list((tmp_path / "uploads").iterdir()) == []
    assert (await ft.download(pointer, tmp_path / "got")).read_bytes() == src.read_bytes()


async def test_chunked_download_resumes(server: FileServer, link: FlakyLink, tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(3 * att.CHUNK_PLAINTEXT))
    ft = FileTransfer(lambda s: link, concurrency=1)
    pointer = await ft.upload_file(src, ref(server))
    link.calls.clear()
    link.fail_at = 3  # manifest, chunk 0, then the failure
    with pytest.raises(FileServerError):
        await ft.download(pointer, tmp_path / "got")
    assert [p.name for p in (tmp_path / "got").iterdir()] == [".partial"]
    link.calls.clear()
    link.fail_at = None
    saved = await ft.download(pointer, tmp_path / "got")
    assert len(link.calls) == 3  # manifest, chunks 1 and 2
    assert saved.read_bytes() == src.read_bytes()


async def test_swapped_truncated_and_wrong_key_save_nothing(server: FileServer, link: FlakyLink, tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(2 * att.CHUNK_PLAINTEXT))
    ft = FileTransfer(lambda s: link)
    pointer = await ft.upload_file(src, ref(server))
    blob = await ft.download_blob(ref(server), pointer.location()[1])
    manifest = att.Manifest.from_bytes(att.decrypt(blob, pointer.key, pointer.digest).rstrip(b"\0"))
    c0, c1 = (f"/file/{c.file_id}" for c in manifest.chunks)
    dest = tmp_path / "got"
    link.swap = {c0: c1, c1: c0}  # a server that swaps two chunks
    with pytest.raises(AttachmentDecryptError):
        await ft.download(pointer, dest)
    link.swap = {}
    link.truncate = {c1}
    with pytest.raises(AttachmentDecryptError, match="truncated"):
        await ft.download(pointer, dest)
    link.truncate = set()
    wrong = att.Pointer(pointer.url, att.new_key(), pointer.digest, pointer.size, file_name="x", flags=pointer.flags)
    with pytest.raises(AttachmentDecryptError, match="does not authenticate"):
        await ft.download(wrong, dest)
    assert [p.name for p in dest.iterdir() if p.is_file()] == []  # only .partial, never a final file


async def test_client_side_errors(server: FileServer, link: FlakyLink, tmp_path: Path) -> None:
    ft = FileTransfer(lambda s: link)
    with pytest.raises(FileNotOnServerError):
        await ft.download_blob(ref(server), "A" * 44)
    small = FileServer(FileServerConfig(tmp_path / "small", max_size=1000))
    await small.start()
    try:
        direct = DirectLink(ref(small))
        with pytest.raises(AttachmentTooLargeError):
            await FileTransfer(lambda s: direct).upload_blob(ref(small), b"q" * 2000)
        await direct.close()
        assert on_disk(small) == []
    finally:
        await small.stop()
