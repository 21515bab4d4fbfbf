"""What goes in a swarm's ``store.data``: the Envelope wrapped as a WebSocket request.

Real clients store ``base64(WebSocketMessage{type=REQUEST, request=WebSocketRequestMessage{
verb="PUT", path="/api/v1/message", body=<Envelope bytes>, id=0}})`` (Desktop
``MessageSender.wrapEnvelope``; the storage server's 2019 test data decodes to exactly this), a
leftover of Signal's server pushing envelopes over a WebSocket.  We wrap every message we send
and accept both that and a bare Envelope (what session_core stored before) on receipt.

Telling them apart: a bare Envelope also parses as a WebSocketMessage (its field 1 is a type,
its content field 8 is unknown there), but never as one of type REQUEST carrying a request with a
body -- an Envelope's type is 6 or 7 (1 only for 2020 CIPHERTEXT, whose field 2 is then a hex
``source`` string, no sub-message with a field 3).  Anything that is not clearly wrapped is
treated as bare, and the Envelope parser then has the last word.
"""

from __future__ import annotations

from google.protobuf.message import DecodeError  # type: ignore[import-untyped,unused-ignore]

from session_core.protocol import messages_pb2 as pb

__all__ = ["STORE_PATH", "STORE_VERB", "unwrap_store_data", "wrap_envelope"]

STORE_VERB = "PUT"
STORE_PATH = "/api/v1/message"


def wrap_envelope(envelope: bytes) -> bytes:
    """The WebSocketMessage bytes real clients put (base64'd) in ``store.data``."""
    message = pb.WebSocketMessage(
        type=pb.WebSocketMessage.REQUEST,
        request=pb.WebSocketRequestMessage(verb=STORE_VERB, path=STORE_PATH, body=envelope, id=0),
    )
    return bytes(message.SerializeToString())


def unwrap_store_data(data: bytes) -> bytes:
    """The Envelope bytes inside ``data``, wrapped or bare."""
    message = pb.WebSocketMessage()
    try:
        message.ParseFromString(bytes(data))
    except DecodeError:
        return bytes(data)
    if (
        message.type == pb.WebSocketMessage.REQUEST
        and message.HasField("request")
        and message.request.HasField("body")
    ):
        return bytes(message.request.body)
    return bytes(data)
