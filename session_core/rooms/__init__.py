"""The open group (room server) protocol, sans-IO: room URLs, X-SOGS-* request signing and the
JSON shapes of posts.  The server is :mod:`session_core.opengroup`, the client API
:mod:`session_core.client.opengroup`."""

from session_core.rooms.auth import AuthHeaders, parse_auth_headers, sign_request, signature_message
from session_core.rooms.url import RoomRef

__all__ = ["AuthHeaders", "RoomRef", "parse_auth_headers", "sign_request", "signature_message"]
