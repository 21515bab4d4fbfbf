"""Where an attachment is and how to open it: the fields of upstream's ``AttachmentPointer``.

A pointer's ``url`` is ``<server>/file/<id>`` with the server's Ed25519 key in the fragment,
``#p=<64 hex>``, as current Session clients write it for a file server other than the
default one; the X25519 key onion requests are encrypted for is derived from it (the usual
Ed25519 -> Curve25519 map).  Everything here is a value type or a pure check: the protobuf
conversion is in :mod:`session_core.protocol`, the transfers in the client.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, field

from session_core.errors import AttachmentInputError, InvalidFileIdError
from session_core.server_url import HttpServerAddress, check_base_url

__all__ = ["FLAG_CHUNKED", "FileServerRef", "Pointer", "check_file_id", "safe_file_name"]

#: Our ``AttachmentPointer.flags`` bit for "the blob is a manifest of chunks"
#: (:mod:`~session_core.attachments.chunks`); upstream defines bit 0 (voice message) only.
FLAG_CHUNKED = 1 << 8

# What a file server may issue: its content ids (44 urlsafe-base64 characters) or upstream's
# numeric ids.  No dot, slash or percent sign can pass, so an id is always one path segment.
_FILE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


def check_file_id(file_id: object) -> str:
    """``file_id`` if a server could have issued it, else :class:`InvalidFileIdError`."""
    if not isinstance(file_id, str) or _FILE_ID.fullmatch(file_id) is None:
        raise InvalidFileIdError(f"not a file id: {str(file_id)[:80]!r}")
    return file_id


@dataclass(frozen=True)
class FileServerRef(HttpServerAddress):
    """A file server: its base URL (``http://host:port``) and Ed25519 public key (hex)."""

    base_url: str
    ed25519: str

    def __post_init__(self) -> None:
        base = check_base_url(self.base_url, "file server", AttachmentInputError)
        if _HEX64.fullmatch(self.ed25519) is None:
            raise AttachmentInputError("a file server key is 64 lowercase hex characters (Ed25519)")
        object.__setattr__(self, "base_url", base)

    def x25519(self) -> str:
        from nacl.bindings import crypto_sign_ed25519_pk_to_curve25519

        return bytes(crypto_sign_ed25519_pk_to_curve25519(bytes.fromhex(self.ed25519))).hex()

    def url_for(self, file_id: str) -> str:
        return f"{self.base_url}/file/{check_file_id(file_id)}#p={self.ed25519}"

    def __str__(self) -> str:
        return f"{self.base_url}#p={self.ed25519}"

    @classmethod
    def parse(cls, url: str) -> FileServerRef:
        """``http://host:port#p=<ed25519 hex>`` (what ``str()`` writes and the devnet publishes)."""
        base, _, fragment = url.partition("#")
        return cls(base, _fragment_key(fragment, url))


def _fragment_key(fragment: str, url: str) -> str:
    keys = urllib.parse.parse_qs(fragment).get("p", [])
    if len(keys) != 1:
        raise AttachmentInputError(f"no file server key (#p=<hex>) in {url[:120]!r}")
    return keys[0].lower()


@dataclass(frozen=True)
class Pointer:
    """An uploaded attachment, as a message carries it (upstream's AttachmentPointer fields)."""

    url: str
    key: bytes = field(repr=False)
    digest: bytes
    size: int
    content_type: str = "application/octet-stream"
    file_name: str = ""
    flags: int = 0

    @property
    def chunked(self) -> bool:
        return bool(self.flags & FLAG_CHUNKED)

    def location(self) -> tuple[FileServerRef, str]:
        """The server and file id; :class:`AttachmentInputError` if the URL is not one."""
        base, _, fragment = self.url.partition("#")
        parts = urllib.parse.urlsplit(base)
        segments = parts.path.split("/")
        if len(segments) != 3 or segments[:2] != ["", "file"]:
            raise InvalidFileIdError(f"not a file server URL: {self.url[:120]!r}")
        file_id = check_file_id(segments[2])
        server = FileServerRef(f"{parts.scheme}://{parts.netloc}", _fragment_key(fragment, self.url))
        return server, file_id

    def check(self) -> None:
        """Refuse a pointer no download could succeed with (hostile or broken sender)."""
        if len(self.key) != 64 or len(self.digest) != 32:
            raise AttachmentInputError("an attachment pointer has a 64-byte key and a 32-byte digest")
        if self.size < 0 or self.size >= 2**32:
            raise AttachmentInputError("an attachment size is a uint32")
        self.location()


_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:]")


def safe_file_name(name: str, fallback: str = "attachment") -> str:
    """A name to save a received file under: no directories, no control characters, never
    ``.``/``..`` or hidden; the sender chose it, so it is not trusted."""
    base = _UNSAFE.sub("_", name.replace("\\", "/").rsplit("/", 1)[-1]).strip().lstrip(".")
    return base[:200] or fallback
