"""Chunked attachments: files too large for one blob (up to 4 GiB; tested to 100 MB).

Theory of operation
-------------------
A file larger than :data:`~session_core.attachments.padding.MAX_SINGLE_PLAINTEXT` is cut into
chunks of :data:`CHUNK_PLAINTEXT` bytes (every full chunk encrypts to exactly
:data:`~session_core.attachments.padding.CHUNK_BLOB` = 4 MiB, a fixed size like XFTP's); the
last chunk is padded to a bucket like any small file.  Chunk ``i`` is encrypted in Session's
attachment format with its own key ``HKDF-SHA256(K, info="session_core chunk" ‖ u32 i)``,
derived from the file key ``K``: a chunk moved to another place (swapped, repeated) does not
authenticate there.

The uploads' ids, digests and sizes go in a :class:`Manifest`, which is itself padded and
encrypted with ``K`` and uploaded as one blob; the message's pointer names the manifest (its
``flags`` has :data:`~session_core.attachments.pointer.FLAG_CHUNKED`), with ``K``, the
manifest's digest and the file's size.  A receiver downloads the manifest, then each chunk,
and checks each one (length, digest, MAC) before writing it.

Resuming: chunks are independent, so a sender that stops keeps ``K`` and the (index -> id)
of the chunks already uploaded (:class:`UploadState`) and later uploads only the rest; a
receiver keeps the indexes already written (the client stores both).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from session_core.attachments import crypto
from session_core.attachments.padding import BUCKETS, CHUNK_BLOB, OVERHEAD, unpad, zero_fill
from session_core.attachments.pointer import check_file_id
from session_core.errors import AttachmentDecryptError, AttachmentDigestError, AttachmentInputError

__all__ = [
    "CHUNK_PLAINTEXT", "MAX_FILE_SIZE", "ChunkRef", "Manifest", "UploadState",
    "chunk_count", "chunk_key", "encrypt_chunk", "decrypt_chunk",
]

CHUNK_PLAINTEXT = CHUNK_BLOB - OVERHEAD
#: AttachmentPointer.size is a uint32.
MAX_FILE_SIZE = 2**32 - 1
_INFO = b"session_core chunk"
_MANIFEST_VERSION = 1


def chunk_count(size: int) -> int:
    return max(1, -(-size // CHUNK_PLAINTEXT))


def chunk_key(file_key: bytes, index: int) -> bytes:
    if len(file_key) != crypto.KEY_BYTES:
        raise AttachmentInputError(f"an attachment key is {crypto.KEY_BYTES} bytes")
    if not 0 <= index < 2**32:
        raise AttachmentInputError("a chunk index is a uint32")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=crypto.KEY_BYTES, salt=None, info=_INFO + index.to_bytes(4, "big"))
    return hkdf.derive(bytes(file_key))


def encrypt_chunk(file_key: bytes, index: int, plaintext: bytes) -> crypto.Encrypted:
    """Chunk ``index`` of a file (full chunks are CHUNK_PLAINTEXT bytes; the last may be shorter)."""
    if not 0 < len(plaintext) <= CHUNK_PLAINTEXT:
        raise AttachmentInputError(f"a chunk holds 1..{CHUNK_PLAINTEXT} bytes")
    return crypto.encrypt(plaintext, chunk_key(file_key, index), zero_fill=zero_fill(len(plaintext)))


@dataclass(frozen=True)
class ChunkRef:
    """Where chunk ``index`` is: file id, blob digest and blob size."""

    file_id: str
    digest: bytes
    blob_size: int


def decrypt_chunk(file_key: bytes, index: int, ref: ChunkRef, blob: bytes, plaintext_size: int) -> bytes:
    """Check and open chunk ``index`` (``plaintext_size``: what the manifest says it holds)."""
    if len(blob) != ref.blob_size:
        raise AttachmentDigestError(f"chunk {index} is {len(blob)} bytes, the manifest says {ref.blob_size} (truncated?)")
    return unpad(crypto.decrypt(blob, chunk_key(file_key, index), ref.digest), plaintext_size)


@dataclass(frozen=True)
class Manifest:
    """The list of a chunked file's chunks (what the pointer of a chunked file names)."""

    size: int
    chunks: tuple[ChunkRef, ...]

    def __post_init__(self) -> None:
        if not 0 < self.size <= MAX_FILE_SIZE or len(self.chunks) != chunk_count(self.size):
            raise AttachmentInputError("a manifest lists exactly the chunks of its file size")

    def plaintext_size(self, index: int) -> int:
        return min(CHUNK_PLAINTEXT, self.size - index * CHUNK_PLAINTEXT)

    def to_bytes(self) -> bytes:
        return json.dumps(
            {"v": _MANIFEST_VERSION, "size": self.size, "chunk": CHUNK_PLAINTEXT,
             "chunks": [[c.file_id, c.digest.hex(), c.blob_size] for c in self.chunks]},
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Manifest:
        """Parse a decrypted manifest.  It authenticated, so a bad one means a buggy sender,
        reported as :class:`AttachmentDecryptError` (the download cannot proceed)."""
        try:
            obj = json.loads(data)
            if obj["v"] != _MANIFEST_VERSION or obj["chunk"] != CHUNK_PLAINTEXT:
                raise ValueError("unknown manifest version or chunk size")
            chunks = tuple(
                ChunkRef(check_file_id(fid), bytes.fromhex(dig), _blob_size(bs)) for fid, dig, bs in obj["chunks"]
            )
            if any(len(c.digest) != 32 for c in chunks):
                raise ValueError("a chunk digest is not 32 bytes")
            return cls(int(obj["size"]), chunks)
        except (ValueError, KeyError, TypeError, AttachmentInputError) as exc:
            raise AttachmentDecryptError(f"the chunk manifest is malformed: {exc}") from None


def _blob_size(value: Any) -> int:
    if type(value) is not int or value not in BUCKETS:
        raise ValueError(f"chunk blob size {value!r} is not a bucket size")
    return value


@dataclass
class UploadState:
    """A chunked upload in progress: enough to resume it after a crash or a lost network.

    Holds the file key in clear: keep it where the profile keeps its secrets.  ``size`` and
    ``mtime_ns`` tell whether the file changed since (then the upload starts over).
    """

    key: bytes = field(repr=False)
    size: int
    mtime_ns: int
    done: dict[int, ChunkRef] = field(default_factory=dict)

    def missing(self) -> list[int]:
        return [i for i in range(chunk_count(self.size)) if i not in self.done]

    def manifest(self) -> Manifest:
        if self.missing():
            raise AttachmentInputError(f"chunks {self.missing()[:5]} are not uploaded yet")
        return Manifest(self.size, tuple(self.done[i] for i in range(chunk_count(self.size))))

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key.hex(), "size": self.size, "mtime_ns": self.mtime_ns,
                "done": {str(i): [c.file_id, c.digest.hex(), c.blob_size] for i, c in self.done.items()}}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> UploadState:
        try:
            done = {int(i): ChunkRef(check_file_id(f), bytes.fromhex(d), int(b)) for i, (f, d, b) in obj["done"].items()}
            return cls(bytes.fromhex(obj["key"]), int(obj["size"]), int(obj["mtime_ns"]), done)
        except (ValueError, KeyError, TypeError) as exc:
            raise AttachmentInputError(f"a saved upload state is malformed: {exc}") from None
