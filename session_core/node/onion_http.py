"""The guard hop's lean HTTP intake: plain ``POST /onion_req/v2`` requests answered without aiohttp.

Why: every client request enters the network through a guard's ``/onion_req/v2``.  Under the
node bench's guard load aiohttp's own per-request work (request object, headers multidict,
URL, router, middlewares, response object) cost ~130 us of CPU for a trivial echo endpoint,
three times the onion peel the hop exists for (docs/performance.md, "Relay").

Theory of operation
-------------------
A connection starts in the lean intake (:class:`OnionConnection`, driven by
:class:`~session_core.node.http_guard.GuardedProtocol`).  As long as the bytes it receives
are plain HTTP/1.1 ``POST /onion_req/v2`` requests (:func:`parse_onion_post`: a
``Content-Length`` body, no transfer or content encoding, no ``Expect`` or ``Upgrade``, a
``Connection`` header at most saying keep-alive, well-formed header lines), it answers them
itself, one at a time and in order, through the same onion handler the aiohttp route calls.
The first request that is anything else (another path or method, HTTP/1.0, a malformed or
too large head, a body larger than :data:`FAST_MAX_BODY`) hands the connection, with every
byte not yet answered, to aiohttp for good, which then decides exactly as it always did
(404/405/400/413, storage RPC, status...).

The guard's protections stay: the connection was admitted by the per-address and total caps,
the header deadline runs until a request's head is complete, and a body must then arrive
within ``body_deadline`` or the request is answered 408 (as ``guard_middleware`` does).  A
client that pipelines requests without reading answers stops being read once its unanswered
bytes pass :data:`MAX_HELD`, and answers are written only while the transport accepts them.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
from collections.abc import Callable
from email.utils import formatdate
from http import HTTPStatus

log = logging.getLogger("session_core.node.http")

#: The one request line the intake takes.
REQUEST_LINE = b"POST /onion_req/v2 HTTP/1.1"
#: Longest head taken (aiohttp's own line limit); a longer one goes to aiohttp.
MAX_HEAD = 8190
#: Most header lines taken.
MAX_HEADERS = 64
#: Largest body taken here; larger onion requests (attachments) go to aiohttp.
FAST_MAX_BODY = 256 * 1024
#: Bytes a client may send ahead of its unanswered request before we stop reading it.
MAX_HELD = 2 * FAST_MAX_BODY + MAX_HEAD

_REFUSED_HEADERS = frozenset({b"transfer-encoding", b"content-encoding", b"expect", b"upgrade"})
# Header lines as RFC 9110 allows them (a token, a colon, visible bytes, spaces and tabs), at
# most MAX_HEADERS of them; checked in one regex call: per-byte checks in Python cost ~10 us.
_HEADER_BLOCK = re.compile(
    rb"(?:[!#$%&'*+.^_`|~0-9A-Za-z-]+:[\t\x20-\x7e\x80-\xff]*\r\n){1," + str(MAX_HEADERS).encode() + rb"}"
)
_FIELD = re.compile(rb"([^:]+):[ \t]*(.*?)[ \t]*\r\n")

#: :func:`parse_onion_post` verdicts besides a parsed request.
NEED_MORE = 0
NOT_OURS = 1

#: ``handle(body, done)``: answer one onion request by calling ``done(status, body)`` exactly
#: once, from the event loop (``OnionRouter.handle_batch`` for one layer: no task per request).
Handle = Callable[[bytes, Callable[[int, bytes], None]], None]


def parse_onion_post(buf: bytes | bytearray, max_body: int = FAST_MAX_BODY) -> int | tuple[int, int, int]:
    """Look at the start of *buf*: ``(body start, body length, head end)`` for a complete
    head of a request the intake takes, :data:`NEED_MORE` if it may become one, else
    :data:`NOT_OURS`.  The body itself may still be incomplete (the caller checks)."""
    prefix = REQUEST_LINE + b"\r\n"
    if len(buf) < len(prefix):
        return NEED_MORE if prefix.startswith(bytes(buf)) else NOT_OURS
    if buf[:len(prefix)] != prefix:
        return NOT_OURS
    end = buf.find(b"\r\n\r\n", len(REQUEST_LINE), MAX_HEAD + 4)
    if end < 0:
        return NEED_MORE if len(buf) < MAX_HEAD else NOT_OURS
    if end < len(prefix):  # no header at all (not even Host): aiohttp's call
        return NOT_OURS
    block = bytes(buf[len(prefix):end + 2])  # the header lines, each with its CRLF
    if _HEADER_BLOCK.fullmatch(block) is None:
        return NOT_OURS  # (obs-fold, bare LF, control bytes, junk: aiohttp says what is wrong)
    length = -1
    for name, value in _FIELD.findall(block.lower()):
        if name == b"content-length":
            if length >= 0 or not value.isdigit() or len(value) > 12:
                return NOT_OURS
            length = int(value)
        elif name in _REFUSED_HEADERS:
            return NOT_OURS
        elif name == b"connection" and value != b"keep-alive":
            return NOT_OURS
    if length < 0 or length > max_body:
        return NOT_OURS
    return end + 4, length, end


_date_second = -1
_date_text = b""


def _http_date() -> bytes:
    global _date_second, _date_text
    now = int(time.time())
    if now != _date_second:
        _date_second, _date_text = now, formatdate(now, usegmt=True).encode()
    return _date_text


@functools.lru_cache(maxsize=64)  # once per status, not per answer (the guard's hot path)
def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""


def response(status: int, body: bytes, close: bool = False, content_type: bytes = b"application/octet-stream") -> bytes:
    """An HTTP/1.1 answer with the headers aiohttp's ``web.Response(body=...)`` sends
    (its ``Server`` header aside)."""
    return b"".join((
        b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nDate: %s\r\n"
        % (status, _reason(status), content_type, len(body), _http_date()),
        b"Connection: close\r\n\r\n" if close else b"\r\n",
        body,
    ))


class OnionConnection:
    """The intake's side of one client connection (see the module doc).

    *hand_over(data)* gives the connection to aiohttp with *data*, the bytes not answered;
    *started* / *done* tell the guard a request's head is complete / a request is answered
    (its deadlines); *timed_out* counts a body that missed its deadline.
    """

    def __init__(
        self,
        transport: asyncio.Transport,
        handle: Handle,
        hand_over: Callable[[bytes], None],
        started: Callable[[], None],
        done: Callable[[], None],
        timed_out: Callable[[], None],
        body_deadline: float,
    ) -> None:
        self._transport = transport
        self._handle = handle
        self._hand_over = hand_over
        self._started = started
        self._done = done
        self._timed_out = timed_out
        self._body_deadline = body_deadline
        self._buf = bytearray()
        self._busy = False  # a request is being answered
        self._eof = False
        self._closed = False
        self._write_paused = False
        self._read_paused = False
        self._body_timer: asyncio.TimerHandle | None = None
        self._in_next = False  # inside _next's loop
        self._gone = False  # handed over to aiohttp

    # -- from the protocol --------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        self._buf += data
        if self._busy or self._write_paused:
            if len(self._buf) > MAX_HELD and not self._read_paused:
                self._read_paused = True
                self._transport.pause_reading()
            return
        self._next()

    def eof_received(self) -> bool:
        """Keep the transport open while an answer is still to be written."""
        self._eof = True
        if self._busy:
            return True
        self._next()
        return self._busy

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        if not self._busy and not self._closed:
            self._next()

    def connection_lost(self) -> None:
        self._closed = True
        self._cancel_body_timer()

    # -- requests -----------------------------------------------------------------------------

    def _next(self) -> None:
        """Answer the requests in the buffer, one at a time, or hand the connection over.

        A loop, not recursion: an answer given at once (a bad layer) must not nest one call
        per pipelined request."""
        if self._in_next:
            return  # (called back from an answer given inside the loop below: it goes on)
        self._in_next = True
        try:
            while not self._busy and not self._closed and not self._gone and self._step():
                pass
        finally:
            self._in_next = False

    def _step(self) -> bool:
        """Start the next request; False when there is nothing to start now."""
        if self._read_paused and len(self._buf) <= MAX_HELD:
            self._read_paused = False
            self._transport.resume_reading()
        if not self._buf:
            if self._eof:
                self._transport.close()
            return False
        verdict = parse_onion_post(self._buf)
        if verdict == NEED_MORE:
            if self._eof:
                self._give_away()
            return False
        if isinstance(verdict, int):
            self._give_away()
            return False
        start, length, _ = verdict
        if self._body_timer is None:
            self._started()  # the head is complete: the header clock stops
        if len(self._buf) < start + length:
            if self._eof:
                self._give_away()
            elif self._body_timer is None:
                self._body_timer = asyncio.get_running_loop().call_later(self._body_deadline, self._body_late)
            return False
        self._cancel_body_timer()
        body = bytes(self._buf[start:start + length])
        del self._buf[:start + length]
        self._busy = True
        try:
            self._handle(body, self._answer)
        except Exception:
            log.exception("onion request failed")
            self._answer(500, b"", failed=True)
        return True

    def _give_away(self) -> None:
        self._gone = True
        self._cancel_body_timer()
        data, self._buf = bytes(self._buf), bytearray()
        if self._read_paused:
            self._read_paused = False
            self._transport.resume_reading()
        self._hand_over(data)

    def _cancel_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _body_late(self) -> None:
        self._body_timer = None
        self._timed_out()
        self._buf.clear()
        self._transport.write(response(408, b"Request body not received in time\n", close=True,
                                       content_type=b"text/plain; charset=utf-8"))
        self._transport.close()

    def _answer(self, status: int, body: bytes, failed: bool = False) -> None:
        if not self._busy:
            return  # (answered already: the handler failed after calling back)
        self._busy = False
        if self._closed:
            return
        if failed:  # as aiohttp answers a handler that raised, and the connection ends
            self._transport.write(response(500, b"500 Internal Server Error\n\nServer got itself in trouble",
                                           close=True, content_type=b"text/plain; charset=utf-8"))
            self._transport.close()
            return
        self._transport.write(response(status, body))
        self._done()
        self._next()
