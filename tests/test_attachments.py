"""Attachments, pure parts: size buckets, Session's attachment format, chunks, pointers, and the
v4 server framing they travel in."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import padding as pkcs7
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from session_core import attachments as att
from session_core.errors import (
    AttachmentDecryptError,
    AttachmentDigestError,
    AttachmentInputError,
    InvalidFileIdError,
    ServerPayloadError,
    SessionCoreError,
)
from session_core.onion import v4

DATA = Path(__file__).parent / "data"


# -- buckets ------------------------------------------------------------------------------------


def test_buckets_are_sorted_block_multiples_ending_at_the_chunk_size() -> None:
    b = att.BUCKETS
    assert list(b) == sorted(set(b)) and all(x % 16 == 0 for x in b)
    assert b[0] == 512 and b[-1] == att.CHUNK_BLOB == 4 * 1024 * 1024


def test_overhead_is_at_most_5_percent_from_64_kb() -> None:
    # The worst case of each bucket is one byte more than the previous bucket holds.
    sizes = [s for s in (b - att.OVERHEAD + 1 for b in att.BUCKETS) if 65536 <= s <= att.MAX_SINGLE_PLAINTEXT]
    rng = random.Random(7)
    sizes += [rng.randrange(65536, att.MAX_SINGLE_PLAINTEXT + 1) for _ in range(2000)] + [65536, att.MAX_SINGLE_PLAINTEXT]
    worst = max(att.bucket_for(n) / n for n in sizes)
    assert worst <= 1.05
    # And a chunked file: full 4 MiB chunks plus the last one's bucket.
    for n in (att.MAX_SINGLE_PLAINTEXT + 1, 50_000_000, 100_000_000, 100 * 2**20 + 1):
        last = n - (att.chunk_count(n) - 1) * att.CHUNK_PLAINTEXT
        stored = (att.chunk_count(n) - 1) * att.CHUNK_BLOB + att.bucket_for(last)
        assert stored / n <= 1.05, n


@pytest.mark.parametrize("n", [0, 1, 15, 16, 447, 448, 449, 65472, 65473, 1_000_000, att.MAX_SINGLE_PLAINTEXT])
def test_the_encrypted_blob_is_exactly_a_bucket(n: int) -> None:
    data = os.urandom(n)
    enc = att.encrypt(data, zero_fill=att.zero_fill(n))
    assert len(enc.blob) == att.bucket_for(n) and len(enc.blob) in att.BUCKETS
    assert att.unpad(att.decrypt(enc.blob, enc.key, enc.digest), n) == data


def test_too_large_for_one_blob() -> None:
    with pytest.raises(AttachmentInputError, match="chunked"):
        att.bucket_for(att.MAX_SINGLE_PLAINTEXT + 1)


# -- Session's attachment format (INTEROP 6.1) -------------------------------------------------


def _reference_blob(plaintext: bytes, key: bytes, iv: bytes) -> bytes:
    """The format as INTEROP 6.1 states it, built independently of the module."""
    padder = pkcs7.PKCS7(128).padder()
    enc = Cipher(algorithms.AES(key[:32]), modes.CBC(iv)).encryptor()
    ct = enc.update(padder.update(plaintext) + padder.finalize()) + enc.finalize()
    return iv + ct + hmac.new(key[32:], iv + ct, hashlib.sha256).digest()


@pytest.mark.parametrize("n", [0, 5, 16, 1000])
def test_format_is_iv_cbc_hmac_with_sha256_digest(n: int) -> None:
    key, iv, data = os.urandom(64), os.urandom(16), os.urandom(n)
    enc = att.encrypt(data, key, iv=iv)
    assert enc.blob == _reference_blob(data, key, iv)
    assert enc.digest == hashlib.sha256(enc.blob).digest()
    assert att.decrypt(_reference_blob(data, key, iv), key, enc.digest) == data


def test_bad_key_mac_digest_and_truncation_are_clear_errors() -> None:
    enc = att.encrypt(b"secret file", zero_fill=att.zero_fill(11))
    with pytest.raises(AttachmentDecryptError, match="does not authenticate"):
        att.decrypt(enc.blob, os.urandom(64), enc.digest)
    tampered = bytearray(enc.blob)
    tampered[20] ^= 1
    with pytest.raises(AttachmentDecryptError, match="does not authenticate"):
        att.decrypt(bytes(tampered), enc.key, enc.digest)
    with pytest.raises(AttachmentDigestError):
        att.decrypt(enc.blob, enc.key, bytes(32))
    for cut in (enc.blob[:-1], enc.blob[:-16], enc.blob[:40], b""):
        with pytest.raises(AttachmentDecryptError):
            att.decrypt(cut, enc.key, enc.digest)
    with pytest.raises(AttachmentInputError):
        att.decrypt(enc.blob, enc.key[:32], enc.digest)
    assert issubclass(AttachmentDecryptError, SessionCoreError) and issubclass(AttachmentDecryptError, ValueError)


def test_unpad_refuses_a_size_that_hides_data() -> None:
    enc = att.encrypt(b"abcdef", zero_fill=att.zero_fill(6))
    padded = att.decrypt(enc.blob, enc.key, enc.digest)
    assert att.unpad(padded, 6) == b"abcdef"
    with pytest.raises(AttachmentDecryptError, match="not zero"):
        att.unpad(padded, 3)
    with pytest.raises(AttachmentDecryptError):
        att.unpad(padded, len(padded) + 1)


# -- chunks -------------------------------------------------------------------------------------


def _chunked(size: int) -> tuple[bytes, att.UploadState, list[bytes]]:
    data = os.urandom(size)
    state = att.UploadState(att.new_key(), size, 0)
    blobs = []
    for i in range(att.chunk_count(size)):
        enc = att.encrypt_chunk(state.key, i, data[i * att.CHUNK_PLAINTEXT : (i + 1) * att.CHUNK_PLAINTEXT])
        blobs.append(enc.blob)
        state.done[i] = att.ChunkRef(f"id{i}", enc.digest, len(enc.blob))
    return data, state, blobs


def test_chunks_round_trip_and_are_fixed_size() -> None:
    data, state, blobs = _chunked(2 * att.CHUNK_PLAINTEXT + 1000)
    manifest = att.Manifest.from_bytes(state.manifest().to_bytes())
    assert [len(b) for b in blobs] == [att.CHUNK_BLOB, att.CHUNK_BLOB, att.bucket_for(1000)]
    out = b"".join(att.decrypt_chunk(state.key, i, manifest.chunks[i], b, manifest.plaintext_size(i))
                   for i, b in enumerate(blobs))
    assert out == data


def test_swapped_truncated_and_foreign_chunks_are_refused() -> None:
    _, state, blobs = _chunked(2 * att.CHUNK_PLAINTEXT)
    m = state.manifest()
    size = att.CHUNK_PLAINTEXT
    with pytest.raises(AttachmentDecryptError, match="does not authenticate"):  # the server swapped two chunks
        att.decrypt_chunk(state.key, 0, m.chunks[0], blobs[1], size)
    with pytest.raises(AttachmentDecryptError, match="does not authenticate"):
        # Even with the digest list swapped too, chunk 1's key does not open chunk 0.
        att.decrypt_chunk(state.key, 1, m.chunks[0], blobs[0], size)
    with pytest.raises(AttachmentDigestError, match="truncated"):
        att.decrypt_chunk(state.key, 0, m.chunks[0], blobs[0][:-16], size)
    with pytest.raises(AttachmentDecryptError):
        att.decrypt_chunk(att.new_key(), 0, m.chunks[0], blobs[0], size)


def test_chunk_keys_differ_per_index_and_file() -> None:
    k = att.new_key()
    keys = {att.chunk_key(k, i) for i in range(100)} | {att.chunk_key(att.new_key(), 0)}
    assert len(keys) == 101 and all(len(x) == 64 for x in keys)


@pytest.mark.parametrize("doc", [
    b"not json", b"[]", b'{"v":2,"size":1,"chunk":4194240,"chunks":[["a","00",512]]}',
    b'{"v":1,"size":1,"chunk":4194240,"chunks":[]}',
    b'{"v":1,"size":1,"chunk":4194240,"chunks":[["../etc","' + b"00" * 32 + b'",512]]}',
    b'{"v":1,"size":1,"chunk":4194240,"chunks":[["a","' + b"00" * 32 + b'",513]]}',
])
def test_malformed_manifests(doc: bytes) -> None:
    with pytest.raises(AttachmentDecryptError, match="manifest"):
        att.Manifest.from_bytes(doc)


def test_upload_state_round_trips_and_lists_what_is_missing() -> None:
    _, state, _ = _chunked(3 * att.CHUNK_PLAINTEXT)
    del state.done[1]
    again = att.UploadState.from_json(json.loads(json.dumps(state.to_json())))
    assert again.missing() == [1] and again.key == state.key
    with pytest.raises(AttachmentInputError):
        again.manifest()


# -- pointers -----------------------------------------------------------------------------------

KEY = "ab" * 32


def test_pointer_url_names_server_key_and_id() -> None:
    server = att.FileServerRef.parse(f"http://127.0.0.1:8080#p={KEY}")
    url = server.url_for("A" * 44)
    assert url == f"http://127.0.0.1:8080/file/{'A' * 44}#p={KEY}"
    p = att.Pointer(url, bytes(64), bytes(32), 10)
    assert p.location() == (server, "A" * 44)
    assert (server.host, server.port, server.protocol) == ("127.0.0.1", 8080, "http")


@pytest.mark.parametrize("file_id", ["..", "../x", "a/b", "a%2Fb", "a.b", "", "x" * 65, "é", "a b"])
def test_path_traversal_and_odd_ids_are_refused(file_id: str) -> None:
    with pytest.raises(InvalidFileIdError):
        att.check_file_id(file_id)
    with pytest.raises(InvalidFileIdError):
        att.Pointer(f"http://h:1/file/{file_id}#p={KEY}", bytes(64), bytes(32), 1).location()


@pytest.mark.parametrize("url", [f"http://h:1/x/abc#p={KEY}", "http://h:1/file/abc", f"http://h:1/file/a/b#p={KEY}",
                                 f"ftp://h/file/abc#p={KEY}", "http://h:1/file/abc#p=zz"])
def test_malformed_pointer_urls(url: str) -> None:
    with pytest.raises(AttachmentInputError):
        att.Pointer(url, bytes(64), bytes(32), 1).check()


@pytest.mark.parametrize("name, saved", [
    ("report.pdf", "report.pdf"), ("../../.bashrc", "bashrc"), ("/etc/passwd", "passwd"),
    ("a\\..\\b.txt", "b.txt"), ("..", "attachment"), ("", "attachment"), ("x\x00y\n.txt", "x_y_.txt"),
])
def test_received_names_are_made_safe(name: str, saved: str) -> None:
    assert att.safe_file_name(name) == saved


# -- v4 server framing --------------------------------------------------------------------------


def test_v4_framing_matches_the_pysogs_examples() -> None:
    ex = json.loads((DATA / "onion_v4_examples.json").read_text())
    req, resp = ex["request"], ex["response"]
    assert v4.encode_request(req["method"], req["endpoint"], None, req["headers"]) == req["bytes"].encode()
    assert v4.decode_request(req["bytes"].encode()) == (req["method"], req["endpoint"], req["headers"], None)
    assert v4.decode_response(resp["bytes"].encode()) == (resp["code"], resp["headers"], resp["body"].encode())
    body = os.urandom(1000)
    assert v4.decode_request(v4.encode_request("POST", "/file", body))[3] == body


@pytest.mark.parametrize("bad", [b"", b"l", b"le", b"l2:{}", b"l2:{}e1", b"l2:{}3:abe", b"l02:{}e", b"x2:{}e",
                                 b"l2:[]e", b"l9999999999:{}e", b'l16:{"method":"GET"}e'])
def test_v4_malformed(bad: bytes) -> None:
    with pytest.raises(ServerPayloadError):
        v4.decode_request(bad)
