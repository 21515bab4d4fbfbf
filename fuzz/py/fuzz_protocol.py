"""Fuzz target: what a client parses from the network (session_core.protocol): the Envelope,
the sealed SealedMessage inside it, a friend request whose signature is valid (so its
payload, Content and prekey bundle are parsed), and a SignalMessage.

First byte picks the layer the rest is put at: 0 the raw Envelope; 1 the SealedMessage
sealed to the test identity; 2 the padded payload of a correctly signed friend request;
3 a SignalMessage of a SIGNAL sealed message.  Only SessionCoreError may come out.
"""

from __future__ import annotations

from harness import atheris, main

with atheris.instrument_imports():
    from session_core.errors import SessionCoreError
    from session_core.identity import Identity
    from session_core.protocol import Messenger
    from session_core.protocol import messages_pb2 as pb
    from session_core.protocol.friend_request import _signed_bytes
    from session_core.protocol.sealed import build_envelope

ME = Identity.from_seed(bytes(range(16)))
SENDER = Identity.from_seed(bytes(range(16, 32)))
MESSENGER = Messenger(ME)


def envelope_for(sealed: pb.SealedMessage) -> bytes:
    return build_envelope(ME.x25519_public_key, sealed, 1_700_000_000_000)


def test_one(data: bytes) -> None:
    if not data:
        return
    mode, rest = data[0] % 4, data[1:]
    try:
        if mode == 0:
            MESSENGER.receive(rest, now_ms=1)
            return
        if mode == 1:
            sealed = pb.SealedMessage()
            try:
                sealed.ParseFromString(rest)
            except Exception:
                return  # not a SealedMessage: nothing to seal (mode 0 covers raw bytes)
        elif mode == 2:
            ts = 1_700_000_000_000
            sig = SENDER.sign(_signed_bytes(ME.x25519_public_key, SENDER.x25519_public_key, ts, rest))
            sealed = pb.SealedMessage(kind=pb.SealedMessage.FRIEND_REQUEST, source=SENDER.session_id,
                                      sourceEd25519=SENDER.ed25519_public_key, signature=sig, payload=rest,
                                      timestamp=ts)
        else:
            sealed = pb.SealedMessage(kind=pb.SealedMessage.SIGNAL, source=SENDER.session_id, payload=rest)
        MESSENGER.receive(envelope_for(sealed), now_ms=1)
    except SessionCoreError:
        pass


if __name__ == "__main__":
    main(test_one)
