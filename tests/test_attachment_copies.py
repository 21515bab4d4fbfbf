"""The onion path's copy-avoiding pieces behave exactly as the copying ones did: v4 bodies as
views, a response framed around a body written later, zero-copy ZMQ sends of large frames,
and malloc keeping large blocks for reuse."""

from __future__ import annotations

import ctypes
import os
import sys

import pytest
import zmq

from session_core.devnet.process import keep_large_buffers
from session_core.errors import ServerPayloadError
from session_core.node.peer.pump import ZERO_COPY_BYTES, send_frame
from session_core.onion import v4


@pytest.mark.parametrize("size", [0, 1, 1000, 4 * 1024 * 1024])
def test_request_view_is_the_body(size: int) -> None:
    body = os.urandom(size)
    framed = v4.encode_request("POST", "/file", body, {"a": "b"})
    method, endpoint, headers, view = v4.decode_request_view(framed)
    assert (method, endpoint, headers) == ("POST", "/file", {"a": "b"})
    assert isinstance(view, memoryview) and view.obj is framed  # a view, not a copy
    assert bytes(view) == body
    assert v4.decode_request(framed) == ("POST", "/file", {"a": "b"}, body)
    assert type(v4.decode_request(framed)[3]) is bytes


def test_request_view_without_body_and_malformed() -> None:
    assert v4.decode_request_view(v4.encode_request("GET", "/file/x"))[3] is None
    with pytest.raises(ServerPayloadError):
        v4.decode_request_view(v4.encode_request("POST", "/file", b"abc")[:-2] + b"e")


@pytest.mark.parametrize("size", [0, 5, 4 * 1024 * 1024])
def test_response_head_frames_like_encode_response(size: int) -> None:
    body = os.urandom(size)
    for code, ctype in ((200, "application/octet-stream"), (404, "text/plain")):
        assert v4.response_head(code, size, ctype) + body + b"e" == v4.encode_response(code, body, ctype)
        assert v4.decode_response(v4.encode_response(code, body, ctype))[2] == body


@pytest.mark.parametrize("size", [10, ZERO_COPY_BYTES - 1, ZERO_COPY_BYTES, 4 * 1024 * 1024 + 17])
def test_send_frame_delivers_the_same_bytes(size: int) -> None:
    ctx = zmq.Context()
    a, b = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
    try:
        a.bind("inproc://send-frame")
        b.connect("inproc://send-frame")
        frame = os.urandom(size)
        send_frame(a, frame, 0)
        assert b.poll(5000)
        assert b.recv() == frame
    finally:
        a.close(0)
        b.close(0)
        ctx.term()


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


def test_keep_large_buffers_serves_4_mib_from_the_heap() -> None:
    libc = ctypes.CDLL(None)
    if not sys.platform.startswith("linux") or not hasattr(libc, "mallinfo2"):
        pytest.skip("needs glibc >= 2.33 (mallinfo2) to observe the allocator")
    libc.mallinfo2.restype = _Mallinfo2
    assert keep_large_buffers() is True
    before = libc.mallinfo2().hblks
    blocks = [bytes(4 * 1024 * 1024) for _ in range(4)]  # would each be an mmap by default
    during = libc.mallinfo2().hblks
    del blocks
    assert during == before, "4 MiB blocks were still mmapped one by one"
