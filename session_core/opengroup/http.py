"""What handlers return and raise: a response (code, body, content type) or :class:`Refused`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from session_core.errors import RoomServerError

__all__ = ["Refused", "Response", "json_response", "text_response"]


class Refused(RoomServerError):
    """A request the server answers with an error status; nothing was changed."""


@dataclass(frozen=True, slots=True)
class Response:
    code: int
    body: bytes
    content_type: str

    def json(self) -> Any:
        return json.loads(self.body)


def json_response(obj: Any, code: int = 200) -> Response:
    return Response(code, json.dumps(obj, separators=(",", ":")).encode(), "application/json")


def text_response(code: int, text: str) -> Response:
    return Response(code, text.encode(), "text/plain")
