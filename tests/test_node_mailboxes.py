"""Listening mailboxes are bounded (issue 11 item 1): per mailbox, in all, and in time.

The attack as reported: one ``listen_get``, then 256 ``listen_put`` of 100 KB each without
proof of work, over 40 mailboxes, took a node from 122 MB to 1.1 GB.  Here it runs through the
same request handler a node uses, with tracemalloc watching what stays allocated.
"""

from __future__ import annotations

import base64
import json
import os
import tracemalloc
from typing import Any

import pytest

from session_core.errors import InvalidInputError
from session_core.node import listening
from session_core.node.mailboxes import ITEM_OVERHEAD, MailboxLimits, Mailboxes
from session_core.node.storage_rpc import MAX_MESSAGE_BODY
from session_core.protocol.mailbox import mailbox_id


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000_000

    def __call__(self) -> int:
        return self.now


def req(method: str, **params: Any) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": "0", "method": method, "params": params}).encode()


def node_methods(clock: Clock) -> listening.ListeningMethods:
    """What a node's storage RPC dispatches listening requests to (no network view needed)."""
    return listening.ListeningMethods(lambda: None, clock)


def handle(node: listening.ListeningMethods, body: bytes) -> Any:
    """One request as the storage RPC passes it on: a freshly parsed body, then its method."""
    request = json.loads(body)
    return node.table()[request["method"]](request["params"])


def listen_get(node: listening.ListeningMethods, key: bytes) -> Any:
    return handle(node, req("listen_get", key=base64.b64encode(key).decode()))


def test_reported_attack_is_bounded_per_mailbox_and_in_memory() -> None:
    clock = Clock()
    node = node_methods(clock)
    limits = MailboxLimits()
    boxes, puts = 40, 40  # of the reported 256 per mailbox: the rest would be refused the same way
    data = base64.b64encode(os.urandom(MAX_MESSAGE_BODY * 3 // 4)).decode()  # 100 KB, the maximum
    assert len(data) == MAX_MESSAGE_BODY
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        statuses: dict[int, int] = {}
        for _ in range(boxes):
            key = os.urandom(32)
            assert listen_get(node, key).status == 200
            mid = mailbox_id(key)
            for _ in range(puts):
                # A fresh request body each time, as off the network: the node parses a new string.
                r = handle(node, req("listen_put", mailbox=mid, data=data))
                assert r is not None
                statuses[r.status] = statuses.get(r.status, 0) + 1
                if r.status != 200:
                    assert r.status == 429 and "mailbox is full" in r.body
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    per_box = limits.max_box_bytes // (MAX_MESSAGE_BODY + ITEM_OVERHEAD)
    assert statuses == {200: boxes * per_box, 429: boxes * (puts - per_box)}
    # Unbounded, this kept 40 x 40 x 100 KB = 164 MB; bounded, at most the per-mailbox budgets.
    assert held - before <= boxes * limits.max_box_bytes + 2 * 2**20


def test_node_wide_budget_refuses_with_4xx_and_changes_nothing() -> None:
    clock = Clock()
    lim = MailboxLimits(max_box_bytes=10_000, max_total_bytes=25_000)
    mb = Mailboxes(clock, lim)
    keys = [os.urandom(32) for _ in range(4)]
    for k in keys:
        assert mb.get(k).status == 200
    item = "A" * (5_000 - ITEM_OVERHEAD)  # costs exactly 5 000 bytes
    accepted = []
    for k in keys:
        for _ in range(2):
            accepted.append(mb.put(mailbox_id(k), item).status)
    assert accepted == [200] * 5 + [429] * 3
    total, count = mb.total_bytes, len(mb)
    r = mb.put(mailbox_id(keys[3]), item)
    assert r.status == 429 and "node's mailboxes are full" in r.body
    assert (mb.total_bytes, len(mb)) == (total, count) == (25_000, 4)
    # The owner collecting frees the budget.
    got = json.loads(mb.get(keys[0]).body)["messages"]
    assert got == [item, item]
    assert mb.total_bytes == 15_000
    assert mb.put(mailbox_id(keys[3]), item).status == 200


def test_per_mailbox_envelope_count_bounds_tiny_deposits() -> None:
    clock = Clock()
    mb = Mailboxes(clock, MailboxLimits(max_items=3))
    key = os.urandom(32)
    mb.get(key)
    assert [mb.put(mailbox_id(key), "QQ==").status for _ in range(5)] == [200, 200, 200, 429, 429]
    # Nothing accepted was dropped to make room: the first three arrive, in order.
    assert json.loads(mb.get(key).body)["messages"] == ["QQ=="] * 3
    assert mb.refused == 2


def test_expiry_runs_on_the_timer_without_any_request() -> None:
    clock = Clock()
    lim = MailboxLimits(item_ttl_ms=60_000, listen_ttl_ms=30_000)
    mb = Mailboxes(clock, lim)
    key = os.urandom(32)
    mb.get(key)
    assert mb.put(mailbox_id(key), "x" * 1000).status == 200
    assert mb.total_bytes == 1000 + ITEM_OVERHEAD
    clock.now += 20_000
    assert mb.sweep() == 0 and mb.total_bytes == 1000 + ITEM_OVERHEAD
    clock.now += 20_001  # the owner stopped polling 40 s ago: mailbox and envelope go
    assert mb.sweep() == 1
    assert (mb.total_bytes, len(mb)) == (0, 0)
    assert mb.put(mailbox_id(key), "x").status == 404


def test_envelope_expires_while_its_owner_still_polls_elsewhere() -> None:
    clock = Clock()
    mb = Mailboxes(clock, MailboxLimits(item_ttl_ms=5_000, listen_ttl_ms=30_000, sweep_interval_ms=1_000))
    key, other = os.urandom(32), os.urandom(32)
    mb.get(key)
    mb.put(mailbox_id(key), "y" * 100)
    clock.now += 5_001
    mb.get(other)  # any request past the sweep interval sweeps
    assert mb.total_bytes == 0
    assert json.loads(mb.get(key).body)["messages"] == []


def test_sweep_through_the_node_methods() -> None:
    clock = Clock()
    node = node_methods(clock)
    key = os.urandom(32)
    listen_get(node, key)
    assert handle(node, req("listen_put", mailbox=mailbox_id(key), data="QUJD")).status == 200
    clock.now += 10 * 60_000
    assert node.mailboxes.sweep() == 1  # what the node's purge loop calls
    assert node_methods(clock).mailboxes.sweep() == 0  # a node nobody listened on


def test_unknown_mailbox_is_404_and_deliveries_keep_order() -> None:
    clock = Clock()
    mb = Mailboxes(clock)
    assert mb.put("ab" * 32, "QQ==").status == 404
    key = os.urandom(32)
    mb.get(key)
    for i in range(5):
        assert mb.put(mailbox_id(key), f"m{i}").status == 200
    assert json.loads(mb.get(key).body)["messages"] == [f"m{i}" for i in range(5)]
    assert mb.delivered == 5 and mb.total_bytes == 0


@pytest.mark.parametrize("field", ["max_items", "max_box_bytes", "max_total_bytes", "max_mailboxes",
                                   "item_ttl_ms", "listen_ttl_ms", "sweep_interval_ms"])
def test_limits_must_be_positive(field: str) -> None:
    with pytest.raises(InvalidInputError):
        MailboxLimits(**{field: 0})  # type: ignore[arg-type]
