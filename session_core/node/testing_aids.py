"""Test aids for a devnet node: a misbehaviour switch and an observation log.  Both are OFF
unless ``node run`` is given ``--misbehave`` / ``--observe``; a real node never uses them.

- *misbehave* ``drop``: acknowledge every store (from clients and peers) but keep nothing and
  relay nothing, so a client that trusted the 200 would lose the message unless it used other
  copies.  ``tamper``: store honestly, but flip one byte in the middle of every message a
  ``retrieve`` returns, so the recipient must detect the bad copy and use another.
- *observe*: append one JSON line per thing the node handles, so an end-to-end test can check
  what each node could learn (the metadata test of docs/client.md):

  - ``{"event": "in", "source": "client:<ip>:<port>" | "node", "req": N, ...}`` for each onion
    request (``client`` when it arrived over HTTP, i.e. straight from whoever built the onion;
    ``node`` when a peer relayed it over ZMQ) and for each direct ``/storage_rpc/v1`` post;
  - ``{"event": "forward", "req": N, "to": <ed25519>, ...}``: the blob this node peeled out and
    sends on (what it could read of that request);
  - ``{"event": "storage", "req": N, "pubkey": ..., ...}``: the plaintext storage RPC payload
    an exit node handled, with the ``pubKey`` it names.

  Every line carries ``node`` (this node's Ed25519 key), ``sha256`` and ``body_b64`` (the exact
  bytes).  ``req`` ties the lines caused by one incoming request together: it travels in a
  context variable, so anything the request's task (or tasks it spawned) records shares it.
"""

from __future__ import annotations

import base64
import contextvars
import hashlib
import json
import threading
import time
from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import IO, Any

from aiohttp import web

from session_core.node.storage_rpc import Reply

MISBEHAVIOURS = ("drop", "tamper")

#: (source, request number) of the incoming request being handled, for the observation log.
_current: contextvars.ContextVar[tuple[str, int]] = contextvars.ContextVar("observed_request", default=("node", 0))


class _Observed:
    """One observed incoming request: a new ``req`` in the current context for the ``with``
    block (logging its bodies as ``in``); what is recorded after the block is not tied to it."""

    def __init__(self, aids: TestingAids, source: str, bodies: Iterable[bytes]) -> None:
        self._aids, self._source, self._bodies = aids, source, bodies
        self._token: contextvars.Token[tuple[str, int]] | None = None

    def __enter__(self) -> None:
        self._aids._next += 1
        self._token = _current.set((self._source, self._aids._next))
        for body in self._bodies:
            self._aids._write("in", body)

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _current.reset(self._token)


_OFF: AbstractContextManager[None] = nullcontext()  # not observing: nothing to start or end


class TestingAids:
    """What a node consults at its few hook points; inert when built with ``(None, None)``."""

    __test__ = False  # not a pytest class, despite the name

    def __init__(self, me: str, misbehave: str | None, observe: Path | None) -> None:
        if misbehave is not None and misbehave not in MISBEHAVIOURS:
            raise ValueError(f"unknown misbehaviour {misbehave!r}; expected one of {MISBEHAVIOURS}")
        self.me = me
        self.drops = misbehave == "drop"
        self.tampers = misbehave == "tamper"
        self._out: IO[str] | None = open(observe, "a", encoding="utf-8") if observe is not None else None
        self._lock = threading.Lock()  # HTTP and ZMQ handlers may share the file
        self._next = 0

    @property
    def observing(self) -> bool:
        return self._out is not None

    # -- observation --------------------------------------------------------------------------

    def incoming_http(self, request: web.Request, body: bytes) -> AbstractContextManager[None]:
        """``with``-block of a request posted straight to this node (source: the poster's address)."""
        if self._out is None:
            return _OFF
        peer = request.transport.get_extra_info("peername") if request.transport else None
        port = peer[1] if isinstance(peer, tuple) and len(peer) >= 2 else None
        return _Observed(self, f"client:{request.remote}:{port}", (body,))

    def incoming_batch(self, bodies: Iterable[bytes]) -> AbstractContextManager[None]:
        """``with``-block of the relayed onion requests of one ZMQ wakeup: peeled together, so
        they share one ``req``.  *bodies* is only iterated when observing (a relay's hot path)."""
        if self._out is None:
            return _OFF
        return _Observed(self, "node", bodies)

    def forwarded(self, to_ed25519: str, body: bytes) -> None:
        if self._out is not None:
            self._write("forward", body, to=to_ed25519)

    def storage(self, payload: bytes) -> None:
        if self._out is not None:
            self._write("storage", payload, pubkey=_pubkey_of(payload))

    def _write(self, event: str, body: bytes, **extra: Any) -> None:
        source, req = _current.get()
        line = {
            "t": int(time.time() * 1000), "node": self.me, "event": event, "source": source, "req": req,
            "sha256": hashlib.sha256(body).hexdigest(), "body_b64": base64.b64encode(body).decode("ascii"), **extra,
        }
        assert self._out is not None
        with self._lock:
            self._out.write(json.dumps(line) + "\n")
            self._out.flush()  # the test reads the file while the node still runs

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None

    # -- misbehaviour -------------------------------------------------------------------------

    def reply(self, reply: Reply) -> Reply:
        """The reply a ``tamper`` node sends instead of *reply* (others: *reply* itself)."""
        if not self.tampers or reply.status != 200 or '"messages"' not in reply.body:
            return reply
        try:
            doc = json.loads(reply.body)
            for m in doc["messages"]:
                raw = bytearray(base64.b64decode(m["data"]))
                if raw:
                    raw[len(raw) // 2] ^= 0x55
                m["data"] = base64.b64encode(bytes(raw)).decode("ascii")
        except (ValueError, KeyError, TypeError):
            return reply
        return Reply.json(reply.status, doc)


def _pubkey_of(payload: bytes) -> str | None:
    try:
        params = json.loads(payload).get("params")
        key = params.get("pubKey") if isinstance(params, dict) else None
    except (ValueError, UnicodeDecodeError, AttributeError):
        return None
    return key if isinstance(key, str) else None


def read_observations(path: Path) -> list[dict[str, Any]]:
    """The lines of an observation log (a half-written last line is skipped)."""
    out: list[dict[str, Any]] = []
    if not path.exists():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(dict(json.loads(line)))
        except ValueError:
            continue
    return out
