"""The server side of a v4 onion request, shared by every server reached through onions (the
file server, the room server): open the last layer, read the v4 request, seal the answer.

Sans-IO: bytes in, bytes out.  The servers call :func:`open_v4` (in a worker thread for large
bodies), run their own dispatch, then :meth:`V4Request.seal` the answer for the client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from session_core.errors import ServerPayloadError
from session_core.onion import v4
from session_core.onion.api import open_request
from session_core.onion.types import Reply

__all__ = ["V4Request", "open_v4"]


@dataclass(frozen=True, slots=True)
class V4Request:
    """One opened request.  ``error`` is set (and the rest empty) when the layer opened but the
    v4 payload inside it is malformed: the server still answers it, encrypted, with a 400."""

    reply: Reply
    method: str = ""
    endpoint: str = ""
    headers: dict[str, Any] = field(default_factory=dict)
    #: The body as a view into the opened layer (no copy; it keeps the layer alive).
    body_view: memoryview | None = None
    error: str | None = None

    @property
    def body(self) -> bytes | None:
        """The body as ``bytes`` (a copy of :attr:`body_view`)."""
        return None if self.body_view is None else bytes(self.body_view)

    def seal(self, code: int, body: bytes, content_type: str = "application/octet-stream") -> bytes:
        """The HTTP body to answer with: the v4 response encrypted for the client."""
        return self.reply.encrypt(v4.encode_response(code, body, content_type))


def open_v4(body: bytes, x25519_secret: bytes) -> V4Request:
    """Open what an exit node POSTed to ``/oxen/v4/lsrpc``.  Raises an ``OnionError`` (with the
    HTTP ``status``/``body`` to answer in clear) when the layer itself cannot be opened."""
    final = open_request(body, x25519_secret)
    try:
        method, endpoint, headers, payload = v4.decode_request_view(final.payload)
    except ServerPayloadError as exc:
        return V4Request(final.reply, error=str(exc))
    return V4Request(final.reply, method, endpoint, headers, payload)
