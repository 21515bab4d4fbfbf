"""``AttachmentPointer`` (upstream's SignalService.proto) <-> :class:`attachments.Pointer`."""

from __future__ import annotations

from session_core.attachments import Pointer
from session_core.protocol import messages_pb2 as pb

__all__ = ["to_pb", "from_pb"]


def to_pb(pointer: Pointer, out: pb.AttachmentPointer) -> None:
    out.url = pointer.url
    out.key = pointer.key
    out.digest = pointer.digest
    out.size = pointer.size
    out.contentType = pointer.content_type
    if pointer.file_name:
        out.fileName = pointer.file_name
    if pointer.flags:
        out.flags = pointer.flags


def from_pb(msg: pb.AttachmentPointer) -> Pointer | None:
    """The pointer, or None for one no download could use (no URL, key or digest of the right
    size): a broken or hostile sender's, dropped rather than shown as a file."""
    if not msg.url or len(msg.key) != 64 or len(msg.digest) != 32:
        return None
    return Pointer(msg.url, bytes(msg.key), bytes(msg.digest), int(msg.size),
                   msg.contentType or "application/octet-stream", msg.fileName, int(msg.flags))
