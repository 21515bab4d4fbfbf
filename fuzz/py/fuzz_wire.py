"""Fuzz target: the node-to-node frame decoder (node/wire.py).  Only PeerFrameError may come
out; a frame that decodes must encode back to the same bytes."""

from __future__ import annotations

from harness import atheris, main

with atheris.instrument_imports():
    from session_core.errors import PeerFrameError
    from session_core.node.wire import decode, encode


def test_one(data: bytes) -> None:
    try:
        kind, req_id, parts = decode(data)
    except PeerFrameError:
        return
    if encode(kind, req_id, parts) != data:
        raise AssertionError("decode/encode round trip changed the frame")


if __name__ == "__main__":
    main(test_one)
