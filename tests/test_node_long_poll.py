"""Held requests (long-poll, issue 19): a ``listen_get`` or ``retrieve`` with ``wait`` that finds
nothing is held until a deposit/store for it arrives or its wait ends; held requests are bounded
per node and per key; bad ``wait`` values get a 400 and change nothing.  No timing is asserted:
waits are ordered by events, and deadlines are only checked to have passed, never to be quick."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from typing import Any

import pytest

from session_core.bench.loadgen import rpc_bytes
from session_core.errors import InvalidInputError
from session_core.node.difficulty import DifficultyPolicy, DifficultyTracker
from session_core.node.listening import ListeningMethods, mailbox_id
from session_core.node.long_poll import settle
from session_core.node.storage_rpc import Outcome, StorageRPC
from session_core.node.store import MemoryStore
from session_core.node.waiters import MAX_WAIT_MS, WaitLimits, Waiters, mailbox_key
from tests.test_node_rpc import ME, VIEW, Clock, good_params, key_in


def make(limits: WaitLimits | None = None) -> tuple[StorageRPC, ListeningMethods, Waiters]:
    waiters = Waiters(limits)
    clock = Clock()
    methods = ListeningMethods(lambda: VIEW, clock, waiters=waiters)
    rpc = StorageRPC(MemoryStore(), lambda: VIEW, ME.ed25519, DifficultyTracker(DifficultyPolicy(base=1)), clock,
                     methods=methods.table(), waiters=waiters)
    return rpc, methods, waiters


def call(rpc: StorageRPC, method: str, params: Any) -> Outcome:
    return rpc.handle(json.dumps({"method": method, "params": params}).encode())


def body(out_or_reply: Any) -> Any:
    reply = out_or_reply.reply if isinstance(out_or_reply, Outcome) else out_or_reply
    return reply.status, json.loads(reply.body) if reply.content_type == "application/json" else reply.body


def key_b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


async def until(pred: Any) -> None:
    while not pred():
        await asyncio.sleep(0)


# -- the registry -------------------------------------------------------------------------------


def test_waiters_wake_release_and_bounds() -> None:
    w = Waiters(WaitLimits(max_total=3, max_per_key=2))
    woken: list[str] = []
    a1 = w.hold("a", lambda: woken.append("a1"))
    a2 = w.hold("a", lambda: woken.append("a2"))
    b1 = w.hold("b", lambda: woken.append("b1"))
    assert a1 and a2 and b1 and len(w) == 3
    # The node is full: a fourth key is not held (the request answers at once).
    assert w.hold("c", lambda: woken.append("c1")) is None and w.refused == 1
    assert w.notify("a") == 2 and woken == ["a1", "a2"]
    assert w.notify("nobody") == 0
    w.release(b1)
    w.release(b1)  # idempotent
    # A third request for "a" lets the oldest go (flagged, woken) instead of piling up.
    woken.clear()
    a3 = w.hold("a", lambda: woken.append("a3"))
    assert a3 is not None and a1.evicted and not a2.evicted and woken == ["a1"]
    assert w.waiting("a") == 2 and len(w) == 2
    w.release(a1)  # the evicted one releasing itself changes nothing
    assert len(w) == 2
    w.wake_all()
    assert a2.evicted and a3.evicted and woken == ["a1", "a2", "a3"]


def test_wait_limits_must_be_positive() -> None:
    with pytest.raises(InvalidInputError):
        WaitLimits(max_total=0)
    with pytest.raises(ValueError):
        WaitLimits(max_per_key=0)


# -- listen_get ---------------------------------------------------------------------------------


async def test_listen_get_is_held_until_a_put_wakes_it() -> None:
    rpc, methods, waiters = make()
    key = os.urandom(32)
    box = mailbox_id(key)
    out = call(rpc, "listen_get", {"key": key_b64(key), "wait": 10_000})
    assert out.held is not None and body(out) == (200, {"messages": []})
    task = asyncio.ensure_future(settle(out))
    await until(lambda: waiters.waiting(mailbox_key(box)) == 1)
    assert not task.done()
    # The mailbox counts as listened to while held: a deposit is accepted and wakes the request.
    assert body(call(rpc, "listen_put", {"mailbox": box, "data": "aGk="})) == (200, {"queued": 1})
    assert body(await task) == (200, {"messages": ["aGk="]})
    assert len(waiters) == 0 and methods.mailboxes.pending(box) == 0 and waiters.woken == 1


async def test_listen_get_with_waiting_envelopes_is_answered_at_once() -> None:
    rpc, _, waiters = make()
    key = os.urandom(32)
    call(rpc, "listen_get", {"key": key_b64(key)})
    call(rpc, "listen_put", {"mailbox": mailbox_id(key), "data": "eW8="})
    out = call(rpc, "listen_get", {"key": key_b64(key), "wait": 10_000})
    assert out.held is None and body(out) == (200, {"messages": ["eW8="]}) and len(waiters) == 0


async def test_held_listen_get_answers_empty_at_its_deadline() -> None:
    rpc, _, waiters = make()
    out = call(rpc, "listen_get", {"key": key_b64(os.urandom(32)), "wait": 30})
    assert out.held is not None and out.held.wait_ms == 30
    assert body(await settle(out)) == (200, {"messages": []})
    assert len(waiters) == 0


async def test_wake_without_anything_new_keeps_waiting() -> None:
    rpc, _, waiters = make()
    key = os.urandom(32)
    box = mailbox_id(key)
    task = asyncio.ensure_future(settle(call(rpc, "listen_get", {"key": key_b64(key), "wait": 10_000})))
    await until(lambda: waiters.waiting(mailbox_key(box)) == 1)
    waiters.notify(mailbox_key(box))  # e.g. the deposit was collected by a parallel request
    await until(lambda: waiters.waiting(mailbox_key(box)) == 1 and waiters.woken == 1)
    for _ in range(5):
        await asyncio.sleep(0)
    assert not task.done()
    call(rpc, "listen_put", {"mailbox": box, "data": "aGk="})
    assert body(await task) == (200, {"messages": ["aGk="]})


@pytest.mark.parametrize("wait", [-1, "100", 1.5, True, None, [1]])
def test_bad_wait_is_refused_and_creates_no_mailbox(wait: Any) -> None:
    rpc, methods, waiters = make()
    out = call(rpc, "listen_get", {"key": key_b64(os.urandom(32)), "wait": wait})
    status, text = body(out)
    assert status == 400 and "`wait` must be a non-negative integer" in text
    assert len(methods.mailboxes) == 0 and len(waiters) == 0 and out.held is None


def test_a_long_wait_is_capped() -> None:
    rpc, _, _ = make()
    out = call(rpc, "listen_get", {"key": key_b64(os.urandom(32)), "wait": 10**12})
    assert out.held is not None and out.held.wait_ms == MAX_WAIT_MS


# -- retrieve -----------------------------------------------------------------------------------


async def test_retrieve_is_held_until_a_store_for_that_pubkey() -> None:
    rpc, _, waiters = make()
    pk = key_in(ME.swarm_id)
    other = key_in(ME.swarm_id)
    out = call(rpc, "retrieve", {"pubKey": pk, "lastHash": "", "wait": 10_000})
    assert out.held is not None and body(out) == (200, {"messages": []})
    task = asyncio.ensure_future(settle(out))
    await until(lambda: len(waiters) == 1)
    # A store for someone else does not answer it.
    assert rpc.handle(rpc_bytes("store", good_params(other))).reply.status == 200
    for _ in range(5):
        await asyncio.sleep(0)
    assert not task.done()
    assert rpc.handle(rpc_bytes("store", good_params(pk, b"for pk"))).reply.status == 200
    status, got = body(await task)
    assert status == 200 and [base64.b64decode(m["data"]) for m in got["messages"]] == [b"for pk"]
    assert len(waiters) == 0


async def test_retrieve_bad_wait_is_a_400() -> None:
    rpc, _, waiters = make()
    out = call(rpc, "retrieve", {"pubKey": key_in(ME.swarm_id), "lastHash": "", "wait": -5})
    assert body(out)[0] == 400 and out.held is None and len(waiters) == 0


# -- hostile load -------------------------------------------------------------------------------


async def test_many_held_requests_stay_within_the_node_cap() -> None:
    rpc, methods, waiters = make(WaitLimits(max_total=16, max_per_key=2))
    keys = [os.urandom(32) for _ in range(100)]
    tasks = [asyncio.ensure_future(settle(call(rpc, "listen_get", {"key": key_b64(k), "wait": 10_000}))) for k in keys]
    await until(lambda: sum(t.done() for t in tasks) == 100 - 16)
    # Past the cap each request was answered at once with what there was (nothing).
    assert len(waiters) == 16 and waiters.refused == 84
    assert all(body(t.result()) == (200, {"messages": []}) for t in tasks if t.done())
    held = [k for k, t in zip(keys, tasks) if not t.done()]
    assert len(held) == 16
    # Those held still work, and cancelling the rest (clients gone) releases every slot.
    call(rpc, "listen_put", {"mailbox": mailbox_id(held[0]), "data": "aGk="})
    await until(lambda: len(waiters) == 15)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert len(waiters) == 0


async def test_one_key_cannot_pile_up_held_requests() -> None:
    rpc, _, waiters = make(WaitLimits(max_total=100, max_per_key=2))
    key = os.urandom(32)
    tasks = [asyncio.ensure_future(settle(call(rpc, "listen_get", {"key": key_b64(key), "wait": 10_000})))
             for _ in range(10)]
    await until(lambda: sum(t.done() for t in tasks) == 8)
    assert waiters.waiting(mailbox_key(mailbox_id(key))) == 2 and waiters.evicted == 8
    # The newest two are the ones still held (an owner's latest request is never locked out).
    assert [t.done() for t in tasks] == [True] * 8 + [False] * 2
    waiters.wake_all()  # as a stopping node does
    assert [body(r) for r in await asyncio.gather(*tasks[8:])] == [(200, {"messages": []})] * 2
    assert len(waiters) == 0
