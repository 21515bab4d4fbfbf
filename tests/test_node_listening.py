"""The listening mailboxes (whitepaper §4.6.2) and the node's ``info``/``oxend_request``, answered
through the storage RPC's one dispatcher: one parse, the same checks as every other method, and
bad input gets a clear 400 without changing any mailbox."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import pytest

from session_core.errors import InvalidInputError
from session_core.node import listening, storage_rpc
from session_core.node.difficulty import DifficultyTracker
from session_core.node.listening import ListeningMethods, mailbox_id
from session_core.node.mailboxes import MailboxLimits
from session_core.node.store import MemoryStore
from session_core.node.storage_rpc import MAX_REQUEST_BYTES, StorageRPC
from tests.test_node_rpc import NOW, VIEW, ME, Clock


def make(clock: Clock) -> tuple[StorageRPC, ListeningMethods]:
    methods = ListeningMethods(lambda: VIEW, clock)
    rpc = StorageRPC(MemoryStore(), lambda: VIEW, ME.ed25519, DifficultyTracker(), clock, methods=methods.table())
    return rpc, methods


def ask(rpc: StorageRPC, method: str, params: Any) -> tuple[int, Any]:
    out = rpc.handle(json.dumps({"method": method, "params": params}).encode())
    assert out.stored is None  # nothing here is ever stored on disk or replicated
    r = out.reply
    return r.status, json.loads(r.body) if r.content_type == "application/json" else r.body


def test_table_names_every_method() -> None:
    assert set(ListeningMethods(lambda: VIEW, Clock()).table()) == listening.METHODS


def test_put_then_get_round_trip_and_owner_only_reads() -> None:
    clock = Clock()
    rpc, methods = make(clock)
    key = os.urandom(32)
    box = mailbox_id(key)
    # Nobody polled yet: a deposit is refused so the sender falls back to the swarm at once.
    assert ask(rpc, "listen_put", {"mailbox": box, "data": "aGk="}) == (404, "No listener for this mailbox\n")
    assert ask(rpc, "listen_get", {"key": base64.b64encode(key).decode()}) == (200, {"messages": []})
    assert ask(rpc, "listen_put", {"mailbox": box, "data": "aGk="}) == (200, {"queued": 1})
    assert ask(rpc, "listen_put", {"mailbox": box, "data": "eW8="}) == (200, {"queued": 2})
    # Another key reads its own (empty) mailbox, not this one.
    assert ask(rpc, "listen_get", {"key": base64.b64encode(os.urandom(32)).decode()}) == (200, {"messages": []})
    assert ask(rpc, "listen_get", {"key": base64.b64encode(key).decode()}) == (200, {"messages": ["aGk=", "eW8="]})
    assert ask(rpc, "listen_get", {"key": base64.b64encode(key).decode()}) == (200, {"messages": []})
    assert methods.mailboxes.delivered == 2


def test_expiry_and_bounds() -> None:
    clock = Clock()
    rpc, _ = make(clock)
    key = base64.b64encode(b"k" * 32).decode()
    box = mailbox_id(b"k" * 32)
    ask(rpc, "listen_get", {"key": key})
    limits = MailboxLimits()
    statuses = [ask(rpc, "listen_put", {"mailbox": box, "data": f"{i:04d}"})[0] for i in range(limits.max_items + 3)]
    assert statuses == [200] * limits.max_items + [429] * 3  # full: refused, nothing accepted is dropped
    status, doc = ask(rpc, "listen_get", {"key": key})
    assert status == 200 and doc["messages"] == [f"{i:04d}" for i in range(limits.max_items)]
    ask(rpc, "listen_put", {"mailbox": box, "data": "old="})
    clock.now += limits.item_ttl_ms + 1
    assert ask(rpc, "listen_get", {"key": key}) == (200, {"messages": []})  # expired in the box
    clock.now += limits.listen_ttl_ms + 1
    assert ask(rpc, "listen_put", {"mailbox": box, "data": "aGk="})[0] == 404  # the owner went quiet


BAD = [
    ("listen_put", {"mailbox": "AB" * 32, "data": "x"}, "listen_put: `mailbox` must be 64 lowercase hex\n"),
    ("listen_put", {"mailbox": "ab" * 31, "data": "x"}, "listen_put: `mailbox` must be 64 lowercase hex\n"),
    ("listen_put", {"mailbox": 7, "data": "x"}, "listen_put: `mailbox` must be 64 lowercase hex\n"),
    ("listen_put", {"mailbox": "ab" * 32, "data": ""}, "listen_put: `data` must be a non-empty string"),
    ("listen_put", {"mailbox": "ab" * 32, "data": ["x"]}, "listen_put: `data` must be a non-empty string"),
    ("listen_put", {"mailbox": "ab" * 32, "data": "x" * (storage_rpc.MAX_MESSAGE_BODY + 1)},
     "listen_put: `data` must be a non-empty string"),
    ("listen_get", {}, "listen_get: `key` must be 32 bytes, base64\n"),
    ("listen_get", {"key": "not base64!"}, "listen_get: `key` must be 32 bytes, base64\n"),
    ("listen_get", {"key": base64.b64encode(b"k" * 31).decode()}, "listen_get: `key` must be 32 bytes, base64\n"),
    ("listen_get", {"key": 12}, "listen_get: `key` must be 32 bytes, base64\n"),
    ("oxend_request", {"endpoint": "get_height"}, "oxend_request: only get_service_nodes is supported\n"),
    ("listen_get", [], "invalid json: `params` must be an object\n"),
    ("info", "x", "invalid json: `params` must be an object\n"),
]


@pytest.mark.parametrize("method,params,text", BAD)
def test_bad_requests_get_a_clear_400_and_change_nothing(method: str, params: Any, text: str) -> None:
    clock = Clock()
    rpc, methods = make(clock)
    key = base64.b64encode(b"k" * 32).decode()
    ask(rpc, "listen_get", {"key": key})
    ask(rpc, "listen_put", {"mailbox": mailbox_id(b"k" * 32), "data": "aGk="})
    status, body = ask(rpc, method, params)
    assert status == 400 and body.startswith(text)
    assert ask(rpc, "listen_get", {"key": key}) == (200, {"messages": ["aGk="]})


def test_oversized_body_is_refused_unparsed_for_mailbox_methods_too() -> None:
    rpc, _ = make(Clock())
    body = json.dumps({"method": "listen_put", "params": {"mailbox": "ab" * 32, "data": "x" * MAX_REQUEST_BYTES}})
    assert rpc.handle(body.encode()).reply.status == 413


def test_info_and_service_nodes() -> None:
    clock = Clock()
    rpc, _ = make(clock)
    assert ask(rpc, "info", {}) == (200, {"t": NOW})
    status, doc = ask(rpc, "oxend_request", {"endpoint": "get_service_nodes"})
    assert status == 200 and doc["height"] == VIEW.height and doc["block_hash"] == VIEW.block_hash
    assert [s["pubkey_ed25519"] for s in doc["service_node_states"]] == [n.ed25519 for n in VIEW.nodes]
    initializing = StorageRPC(MemoryStore(), lambda: None, ME.ed25519, DifficultyTracker(), clock,
                              methods=ListeningMethods(lambda: None, clock).table())
    assert initializing.handle(b'{"method":"oxend_request","params":{"endpoint":"get_service_nodes"}}').reply.status == 503


def test_a_plain_storage_rpc_does_not_answer_mailbox_methods() -> None:
    rpc = StorageRPC(MemoryStore(), lambda: VIEW, ME.ed25519, DifficultyTracker(), Clock())
    out = rpc.handle(b'{"method":"listen_get","params":{}}')
    assert (out.reply.status, out.reply.body) == (400, "no method listen_get\n")


def test_methods_cannot_replace_the_storage_ones() -> None:
    with pytest.raises(InvalidInputError, match="store"):
        StorageRPC(MemoryStore(), lambda: VIEW, ME.ed25519, DifficultyTracker(), Clock(),
                   methods={"store": lambda params: storage_rpc.Reply(200, "")})


def test_each_body_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = json.loads

    def counting(s: Any, *a: Any, **k: Any) -> Any:
        calls.append(s)
        return real(s, *a, **k)

    rpc, _ = make(Clock())
    monkeypatch.setattr(json, "loads", counting)  # every module's json.loads is this one
    for body in (b'{"method":"listen_get","params":{"key":"' + base64.b64encode(b"k" * 32) + b'"}}',
                 b'{"method":"info","params":{}}', b'{"method":"retrieve","params":{"pubKey":"05","lastHash":""}}'):
        calls.clear()
        rpc.handle(body)
        assert calls == [body]
