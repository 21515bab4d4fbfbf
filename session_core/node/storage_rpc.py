"""The client storage API, ``POST /storage_rpc/v1`` (docs/interop.md §4.1-4.2, §1.5-1.7), sans-IO.

Theory of operation
-------------------
:meth:`StorageRPC.handle` takes the raw request body and returns a :class:`Reply`
(status, body text, content type) plus the message it newly stored, if any, so
the driver can queue it for replication.  It never touches sockets or clocks:
the time comes from the ``clock`` callable, the network view from ``view``, and
the store is any :class:`~session_core.node.store.MessageStore` (an in-memory one
in tests).  The store is only written after every check has passed, so a
rejected request leaves it unchanged.  :meth:`StorageRPC.check` stops short of
saving, so an I/O driver can commit many concurrent stores in one SQLite
transaction (group commit) and still answer each only after the commit.
Methods beyond storage (the listening mailboxes, ``info``, ``oxend_request``) are
given to the constructor as handlers of parsed ``params``: every request body is
size-checked and JSON-parsed once, here, whichever method it names.

``retrieve`` (and ``listen_get``) may carry ``wait`` (milliseconds, an extension of ours):
when there is nothing to give, the outcome is *held* (:class:`Held`, ``Outcome.held``)
and the driver answers when a store for that pubkey is committed (:meth:`StorageRPC.committed`
notifies :attr:`StorageRPC.waiters`) or the wait ends (:mod:`session_core.node.long_poll`).
A driver that cannot wait sends ``Outcome.reply``, the answer of the moment.

``store`` checks run in upstream's order: fields present and strings; pubkey
length (and hex); data length, non-empty base64; our swarm (421 with the right
swarm's nodes); TTL (403); timestamp (406); proof of work (432 with the current
D); for a group (``03…``) key, a control record must carry the group's admin signature (401,
:func:`session_core.protocol.groups.wire.node_refusal`); then our quotas (507: the owner's mailbox or the node's budget is full, see
:class:`~session_core.node.store.StorageLimits`).  Error texts are upstream's,
newline included, where upstream has one.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from session_core.errors import InvalidInputError, RpcRejectedError
from session_core.node import powcheck
from session_core.node.difficulty import DifficultyTracker
from session_core.node.expiry_proofs import ExpiryProof
from session_core.node.message import Message
from session_core.node.network import NetworkView
from session_core.node.store import MessageStore
from session_core.node.waiters import MAX_WAIT_MS, Waiters, pubkey_key
from session_core.protocol import storage_auth
from session_core.protocol.groups import wire as group_wire
from session_core.node.group_generations import GroupGenerations

MAX_MESSAGE_BODY = 102_400  # b64 characters (upstream MAX_MESSAGE_BODY)
MAX_REQUEST_BYTES = 256 * 1024  # whole JSON-RPC body; anything larger is refused unparsed
USER_PUBKEY_SIZE = 66
MIN_TTL_MS = 10_000
MAX_TTL_MS = 96 * 3600 * 1000  # whitepaper §6.1.4 (docs/interop.md)
FUTURE_TOLERANCE_MS = 10_000
RETRIEVE_LIMIT = 10

_HEX = frozenset("0123456789abcdef")
# Standard base64, padded or not (a length of 4k+1 can never be base64).
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_OWN_METHODS = frozenset({"store", "retrieve", "get_snodes_for_pubkey", "get_swarm", "expire"})
MAX_EXPIRE_HASHES = 1000  # hashes in one `expire` request
SIGNATURE_TOLERANCE_MS = 60_000  # an expiry may be this far in the past (upstream: >= 60 s ago)
_STORE_FIELDS = ("pubKey", "ttl", "nonce", "timestamp", "data")


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: str
    content_type: str = "application/json"

    @classmethod
    def json(cls, status: int, obj: Any) -> Reply:
        return cls(status, json.dumps(obj, separators=(",", ":")))


@dataclass(frozen=True, slots=True)
class Held:
    """A request that asked to wait (``wait`` ms) and found nothing yet (long-poll)."""

    #: The answer of the moment (nothing yet), for a driver that cannot or may not hold it.
    now: Reply
    #: What wakes it: :meth:`Waiters.notify` of this key.
    key: str
    wait_ms: int
    waiters: Waiters
    #: The answer after a wake (``final=False``: None while there is still nothing) or at
    #: the deadline (``final=True``: always a reply).
    answer: Callable[[bool], Reply | None]


#: A method answered besides the storage ones (e.g. the listening mailboxes): ``params -> reply``.
RpcMethod = Callable[[dict[str, Any]], "Reply | Held"]


@dataclass(frozen=True, slots=True)
class Outcome:
    reply: Reply
    #: From :meth:`StorageRPC.handle`: the message, only when it was new.  From
    #: :meth:`StorageRPC.check`: the accepted message, still to be saved.
    stored: Message | None = None
    #: The request may be held until something arrives (``reply`` is the answer of the moment).
    held: Held | None = None
    #: An accepted ``expire`` (already applied here): the owner's signed proof, for the driver
    #: to hand to the other members of the swarm (:mod:`session_core.node.expiry_proofs`),
    #: and the requested hashes this member does not hold.
    expired: ExpiryProof | None = None
    expired_missing: tuple[str, ...] = ()

    @classmethod
    def of(cls, answer: Reply | Held) -> Outcome:
        return cls(answer) if isinstance(answer, Reply) else cls(answer.now, held=answer)


def _bad(text: str) -> RpcRejectedError:
    return RpcRejectedError(400, text + "\n")


def _decimal(s: str) -> int | None:
    """Canonical non-negative decimal (the PoW payload uses the text, so no '+', spaces or leading zeros)."""
    if not s or not s.isascii() or not s.isdigit() or (len(s) > 1 and s[0] == "0") or len(s) > 18:
        return None
    return int(s)


def wait_param(params: dict[str, Any], method: str) -> int:
    """The ``wait`` of a request in ms (0 when absent), capped at :data:`MAX_WAIT_MS`."""
    wait = params.get("wait", 0)
    if isinstance(wait, bool) or not isinstance(wait, int) or wait < 0:
        raise _bad(f"{method}: `wait` must be a non-negative integer (milliseconds)")
    return min(wait, MAX_WAIT_MS)


class StorageRPC:
    def __init__(
        self,
        store: MessageStore,
        view: Callable[[], NetworkView | None],
        our_ed25519: str,
        difficulty: DifficultyTracker,
        clock: Callable[[], int],
        *,
        max_ttl_ms: int = MAX_TTL_MS,
        methods: Mapping[str, RpcMethod] | None = None,
        sign: Callable[[bytes], bytes] | None = None,
        waiters: Waiters | None = None,
    ) -> None:
        """*methods* are answered besides the storage ones, through the same parse and checks
        (the node passes :meth:`session_core.node.listening.ListeningMethods.table`);
        *waiters* holds ``retrieve`` requests that wait (shared with the mailboxes' on a node)."""
        clash = _OWN_METHODS.intersection(methods or ())
        if clash:
            raise InvalidInputError(f"methods {sorted(clash)} are the storage RPC's own")
        self._methods = dict(methods or {})
        self.store = store
        #: Each group's newest generation, shared with the replicator (service.py).
        self.generations = GroupGenerations(store)
        self._view = view
        self._me = our_ed25519
        self.difficulty = difficulty
        self._clock = clock
        self._max_ttl = max_ttl_ms
        self._sign = sign  # the node's Ed25519 signature, for answers that carry one (`expire`)
        self.waiters = waiters if waiters is not None else Waiters()

    # -- entry point --------------------------------------------------------------------------

    def handle(self, body: bytes) -> Outcome:
        """Answer one request, saving an accepted message right away."""
        out = self.check(body)
        if out.stored is not None:
            new = self.store.save_if_new(out.stored)  # committed before we answer
            out = self.committed(out, new)
        return out

    def committed(self, out: Outcome, new: bool) -> Outcome:
        """Account for a message that :meth:`check` accepted and the driver saved."""
        if not new:
            return Outcome(out.reply)
        msg = out.stored
        self.difficulty.record_store(self._clock(), 1, len(msg.data) if msg is not None else 0)
        if msg is not None:
            self.waiters.notify(pubkey_key(msg.pubkey))  # a held retrieve for them answers now
        return out

    def check(self, body: bytes) -> Outcome:
        """Answer one request, but leave saving to the caller.

        For an accepted ``store``, ``Outcome.stored`` is the message that must be
        committed before ``Outcome.reply`` is sent (then call :meth:`committed`).
        Drivers use this to commit many concurrent stores in one transaction.
        """
        try:
            method, params = self._parse(body)
            if method == "store":
                return self._store(params)
            if method == "retrieve":
                return Outcome.of(self._retrieve(params))
            if method == "expire":
                return self._expire(params)
            if method in ("get_snodes_for_pubkey", "get_swarm"):
                return Outcome(self._snodes(params))
            other = self._methods.get(method)
            if other is not None:
                return Outcome.of(other(params))
            raise _bad(f"no method {method}")
        except RpcRejectedError as exc:
            return Outcome(Reply(exc.status, exc.body, exc.content_type))

    # -- parsing ------------------------------------------------------------------------------

    @staticmethod
    def _parse(body: bytes) -> tuple[str, dict[str, Any]]:
        if len(body) > MAX_REQUEST_BYTES:
            raise RpcRejectedError(413, f"Request body exceeds maximum allowed length of {MAX_REQUEST_BYTES}\n")
        try:
            req = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):  # deep nesting: 400, not a 500 traceback
            raise _bad("invalid json") from None
        if not isinstance(req, dict):
            raise _bad("invalid json: expected an object")
        if "method" not in req:
            raise _bad("invalid json: no `method` field")
        if not isinstance(req["method"], str):
            raise _bad("invalid json: `method` must be a string")
        if "params" not in req:
            raise _bad("invalid json: no `params` field")
        if not isinstance(req["params"], dict):
            raise _bad("invalid json: `params` must be an object")
        return req["method"], req["params"]

    @staticmethod
    def _strings(params: dict[str, Any], fields: tuple[str, ...]) -> list[str]:
        out = []
        for f in fields:
            if f not in params:
                raise _bad(f"invalid json: no `{f}` field")
            v = params[f]
            if not isinstance(v, str):
                raise _bad(f"invalid json: `{f}` must be a string")
            if not v.isascii():
                raise _bad(f"invalid json: `{f}` must be ASCII")
            out.append(v)
        return out

    @staticmethod
    def _check_pubkey(pk: str) -> None:
        if len(pk) != USER_PUBKEY_SIZE:
            raise _bad(f"Pubkey must be {USER_PUBKEY_SIZE} characters long")
        if not _HEX.issuperset(pk):
            raise _bad("Pubkey must be lowercase hex")

    def _swarm_or_421(self, pk: str) -> NetworkView:
        view = self._view()
        if view is None:
            raise RpcRejectedError(503, "Service node is initializing\n")
        me = view.node(self._me)
        swarm = view.swarm_for_pubkey(pk)
        if me is None or swarm is None:
            raise RpcRejectedError(503, "Service node is initializing\n")
        if swarm != me.swarm_id:
            r = Reply.json(421, view.snodes_json(swarm))
            raise RpcRejectedError(421, r.body, r.content_type)
        return view

    # -- methods ------------------------------------------------------------------------------

    def _store(self, params: dict[str, Any]) -> Outcome:
        pk, ttl_s, nonce, ts_s, data = self._strings(params, _STORE_FIELDS)
        self._check_pubkey(pk)
        if len(data) > MAX_MESSAGE_BODY:
            raise _bad(f"Message body exceeds maximum allowed length of {MAX_MESSAGE_BODY}")
        if not data:
            raise _bad("Message body is empty")
        if len(data) % 4 == 1 or not _BASE64.fullmatch(data) or (data.endswith("=") and len(data) % 4):
            raise _bad("Message body is not valid base64")
        self._swarm_or_421(pk)
        ttl = _decimal(ttl_s)
        if ttl is None or not MIN_TTL_MS <= ttl <= self._max_ttl:
            raise RpcRejectedError(403, "Provided TTL is not valid.\n")
        now = self._clock()
        ts = _decimal(ts_s)
        if ts is None or ts > now + FUTURE_TOLERANCE_MS or ts + ttl < now:
            raise RpcRejectedError(406, "Timestamp error: check your clock\n")
        difficulty = self.difficulty.current(now)
        msg_hash = powcheck.check(nonce, ts_s, ttl_s, pk, data, difficulty)
        if msg_hash is None:
            r = Reply.json(432, {"difficulty": difficulty})
            raise RpcRejectedError(432, r.body, r.content_type)
        group_why = group_wire.node_refusal(pk, data)  # a control record for a 03 group: admin-signed?
        if group_why is None:
            group_why = self.generations.refusal(pk, data, now)  # from a member removed since?
        if group_why is not None:
            raise RpcRejectedError(401, group_why + "\n")
        msg = Message(pubkey=pk, hash=msg_hash, data=data, ttl=ttl, timestamp=ts, nonce=nonce)
        why = self.store.refusal(msg, now)
        if why is not None:
            raise RpcRejectedError(507, why + "\n")
        self.generations.noted(msg)
        return Outcome(Reply.json(200, {"difficulty": difficulty}), msg)

    def _retrieve(self, params: dict[str, Any]) -> Reply | Held:
        pk, last_hash = self._strings(params, ("pubKey", "lastHash"))
        self._check_pubkey(pk)
        wait = wait_param(params, "retrieve")
        self._swarm_or_421(pk)
        msgs = self.store.retrieve(pk, last_hash, RETRIEVE_LIMIT, self._clock())
        reply = self._messages(msgs)
        if msgs or not wait:
            return reply

        def again(final: bool) -> Reply | None:
            msgs = self.store.retrieve(pk, last_hash, RETRIEVE_LIMIT, self._clock())
            return self._messages(msgs) if msgs or final else None

        return Held(reply, pubkey_key(pk), wait, self.waiters, again)

    @staticmethod
    def _messages(msgs: list[Message]) -> Reply:
        return Reply.json(
            200, {"messages": [{"hash": m.hash, "expiration": m.expiration, "data": m.data} for m in msgs]}
        )

    def _expire(self, params: dict[str, Any]) -> Outcome:
        """Bring forward the expiry of some of the owner's messages (upstream ``expire``, signed
        by the owner: :mod:`session_core.protocol.storage_auth`).  Never extends: a message's
        lifetime is what its proof of work paid for.  Like upstream's recursive requests, the
        rest of the swarm follows: the outcome carries the signed proof for the driver to
        forward (peers check the signature themselves)."""
        pk = params.get("pubkey", params.get("pubKey"))
        ed, sig, hashes, expiry = (params.get(k) for k in ("pubkey_ed25519", "signature", "messages", "expiry"))
        if not isinstance(pk, str):
            raise _bad("invalid json: `pubkey` must be a string")
        self._check_pubkey(pk)
        if not isinstance(ed, str) or not isinstance(sig, str):
            raise _bad("invalid json: `pubkey_ed25519` and `signature` must be strings")
        if (not isinstance(hashes, list) or not hashes or len(hashes) > MAX_EXPIRE_HASHES
                or not all(isinstance(h, str) and 0 < len(h) <= 128 and h.isascii() for h in hashes)):
            raise _bad(f"invalid json: `messages` must be a list of 1-{MAX_EXPIRE_HASHES} message hashes")
        if isinstance(expiry, bool) or not isinstance(expiry, int) or expiry < 0:
            raise _bad("invalid json: `expiry` must be a non-negative integer (ms)")
        shorten, extend = params.get("shorten", False), params.get("extend", False)
        if not isinstance(shorten, bool) or not isinstance(extend, bool) or (shorten and extend):
            raise _bad("invalid json: `shorten` and `extend` are booleans, not both true")
        if extend:
            raise _bad("extending an expiry is not supported: a message lives what its proof of work paid for")
        self._swarm_or_421(pk)
        now = self._clock()
        if expiry < now - SIGNATURE_TOLERANCE_MS:
            raise _bad("expiry is too far in the past")
        proof = ExpiryProof(pk, ed.lower(), sig, expiry, shorten, tuple(hashes))
        if len(ed) != 64 or len(sig) > 100 or not proof.verify():
            raise RpcRejectedError(401, "expire signature verification failed\n")
        updated, unchanged = self.store.expire(pk, hashes, expiry, now, proof.encode())
        done = set(updated) | set(unchanged)
        missing = tuple(h for h in dict.fromkeys(hashes) if h not in done)
        if not shorten:
            unchanged = {}  # upstream reports (and signs) them only when `shorten` was asked for
        result: dict[str, Any] = {"updated": updated, "expiry": expiry}
        if shorten:
            result["unchanged"] = unchanged
        if self._sign is not None:
            signed = storage_auth.expire_reply_message(pk, expiry, hashes, updated, unchanged)
            result["signature"] = base64.b64encode(self._sign(signed)).decode("ascii")
        return Outcome(Reply.json(200, {"swarm": {self._me: result}}), expired=proof, expired_missing=missing)

    def _snodes(self, params: dict[str, Any]) -> Reply:
        (pk,) = self._strings(params, ("pubKey",))
        self._check_pubkey(pk)
        view = self._view()
        swarm = view.swarm_for_pubkey(pk) if view is not None else None
        if view is None or swarm is None:
            raise RpcRejectedError(503, "Service node is initializing\n")
        return Reply.json(200, view.snodes_json(swarm))
