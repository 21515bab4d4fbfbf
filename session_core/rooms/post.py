"""What a room post's bytes say: text, and files uploaded to the room (sans-IO).

A room server stores posts as opaque signed bytes.  Session clients put a padded protobuf
``Content`` there whose ``DataMessage`` has the text as ``body`` and each file as an
``AttachmentPointer`` with ``url = <server>/room/<token>/file/<id>`` (room files are not
encrypted: open groups have transport encryption only, so no key or digest).  We write that
form for posts with files, and read both it and bare UTF-8 text (what ``opengroup post``
writes for text alone).

A post's links come from its author, not the server: :func:`room_file_id` accepts a link only
if it points at a file of the very room the post is in, so reading a post never makes the
client fetch from anywhere else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from google.protobuf.message import DecodeError  # type: ignore[import-untyped,unused-ignore]

from session_core.errors import PaddingError, RoomInputError
from session_core.protocol import messages_pb2 as pb
from session_core.protocol.padding import pad, unpad
from session_core.rooms.url import RoomRef

__all__ = ["RoomFile", "RoomPost", "file_url", "parse_post", "room_file_id"]

_FILE_PATH = re.compile(r"/room/(?P<token>[A-Za-z0-9_-]{1,64})/file/(?P<id>[0-9]{1,18})")


@dataclass(frozen=True)
class RoomFile:
    url: str
    name: str
    size: int
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class RoomPost:
    text: str
    files: list[RoomFile] = field(default_factory=list)

    def to_bytes(self) -> bytes:
        """Bare UTF-8 for text alone; a padded ``Content`` when files are linked."""
        if not self.files:
            return self.text.encode()
        content = pb.Content()
        content.dataMessage.body = self.text
        for f in self.files:
            ptr = content.dataMessage.attachments.add()
            ptr.url, ptr.fileName, ptr.size, ptr.contentType = f.url, f.name, f.size, f.content_type
        return pad(content.SerializeToString())


def file_url(ref: RoomRef, file_id: int) -> str:
    return f"{ref.base_url}/room/{ref.token}/file/{int(file_id)}"


def parse_post(data: bytes) -> RoomPost:
    """The text and files of a post's bytes (Session's padded ``Content``, else UTF-8 text)."""
    try:
        content = pb.Content.FromString(unpad(data))
    except (PaddingError, DecodeError, ValueError, RecursionError):
        return RoomPost(data.decode("utf-8", "replace"))
    if not content.HasField("dataMessage"):
        return RoomPost(data.decode("utf-8", "replace"))
    msg = content.dataMessage
    files = [RoomFile(a.url, a.fileName, int(a.size), a.contentType or "application/octet-stream")
             for a in msg.attachments if a.url]
    return RoomPost(msg.body, files)


def room_file_id(ref: RoomRef, url: str) -> int:
    """The file id a post's link names, if it is a file of room *ref*; else :class:`RoomInputError`."""
    base, sep, path = url.partition("/room/")
    match = _FILE_PATH.fullmatch("/room/" + path) if sep else None
    if match is None or base != ref.base_url or match["token"] != ref.token:
        raise RoomInputError(f"the post links a file outside this room ({url[:120]!r}); not fetched")
    return int(match["id"])
