"""Property: 5 devices of one account edit their configs concurrently; whatever order the swarm
hands the messages back in (and whichever poll each one arrives at), every device holds the same
config after 2 polls, and no edit is lost.

One round: every device makes 0-4 edits (set or delete, on a small key space so that edits of
the same key collide), then pushes; each pushed message reaches each device at poll 1 or poll 2
in a random order, some twice (its own pusher included: a device sees its own pushes when it polls); after
poll 1 every device pushes what needs pushing (the merge of concurrent pushes), and those
reach everybody at poll 2.  After poll 2 of every round:

* all devices have the same config;
* for every key, its value is the one written in the last round that wrote it: exactly that
  value when one device wrote it then, one of the values written then when several did (the same
  on every device, by the first point); a key never written is absent;
* except the conversation's read mark, a max-register: its value is the largest mark ever
  written, by any device in any round.

At the end, a device linked later that reads only the newest message of each domain gets the
same config (that is what the merge push is for).  Everything goes through the real wire path:
bt-encoding, signature, padding, encryption and back.
"""

from __future__ import annotations

import random
from collections import defaultdict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from session_core.identity import Identity
from session_core.protocol.config import AccountConfig, open_config

DEVICES = 5
ACCOUNT = Identity.from_seed(bytes(range(16)))
KEYS: list[tuple[bytes, tuple[str, ...]]] = [
    (b"UserProfile", ("n",)),
    (b"UserProfile", ("p",)),
    (b"Contacts", ("c", "05" + "aa" * 32, "nickname")),
    (b"Contacts", ("c", "05" + "aa" * 32, "approved")),
    (b"Contacts", ("c", "05" + "bb" * 32, "blocked")),
    (b"ConvoInfoVolatile", ("v", "05" + "aa" * 32, "read")),
    (b"UserGroups", ("g", "group-1", "name")),
]
READ = 5  # the read mark: ms timestamps only (the view refuses anything else)
VALUES = st.one_of(st.none(), st.integers(0, 3), st.sampled_from(["x", "y", "zz"]))
EDIT = st.one_of(st.tuples(st.sampled_from([i for i in range(len(KEYS)) if i != READ]), VALUES),
                 st.tuples(st.just(READ), st.integers(0, 50)))
ROUND = st.lists(st.lists(EDIT, max_size=4), min_size=DEVICES, max_size=DEVICES)

Written = dict[tuple[bytes, tuple[str, ...]], tuple[int, set[int | str | None]]]


def _deliver(device: AccountConfig, inbox: list[bytes], rng: random.Random) -> None:
    # A poll asks 3 swarm members: some messages come back more than once.
    order = list(inbox) + [m for m in inbox if rng.random() < 0.2]
    rng.shuffle(order)
    for data in order:
        device.ingest(data)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(rounds=st.lists(ROUND, min_size=1, max_size=3), seed=st.integers(0, 2**32 - 1))
def test_five_devices_converge_within_two_polls_and_lose_no_edit(
        rounds: list[list[list[tuple[int, int | str | None]]]], seed: int) -> None:
    rng = random.Random(seed)  # delivery: which poll each message reaches each device at, in what order
    devices = [AccountConfig(ACCOUNT) for _ in range(DEVICES)]
    swarm: list[bytes] = []  # everything ever stored in the own swarm
    written: Written = {}
    read_marks: list[int] = []
    for r, edits in enumerate(rounds):
        last_by_device: dict[tuple[bytes, tuple[str, ...]], dict[int, int | str | None]] = defaultdict(dict)
        for d, dev in enumerate(devices):
            for key_index, value in edits[d]:
                domain, key = KEYS[key_index]
                dev.states[domain].set(key, value)
                last_by_device[(domain, key)][d] = value
                if key_index == READ:
                    assert isinstance(value, int)
                    read_marks.append(value)
        for k, by_device in last_by_device.items():
            written[k] = (r, set(by_device.values()))

        pushed = [m for dev in devices for m in dev.pushes()]
        swarm += pushed
        late = {(d, i) for d in range(DEVICES) for i in range(len(pushed)) if rng.random() < 0.5}
        poll1 = [[m for i, m in enumerate(pushed) if (d, i) not in late] for d in range(DEVICES)]
        for d, dev in enumerate(devices):
            _deliver(dev, poll1[d], rng)
        merges = [m for dev in devices for m in dev.pushes()]
        swarm += merges
        for d, dev in enumerate(devices):
            poll2 = [m for i, m in enumerate(pushed) if (d, i) in late] + merges
            _deliver(dev, poll2, rng)

        views = [dev.view() for dev in devices]
        assert all(v == views[0] for v in views), f"devices differ after 2 polls of round {r}"
        for (domain, key), (_, values) in written.items():
            got = views[0][domain.decode()].get(key)
            if key == KEYS[READ][1]:
                assert got == max(read_marks), f"read mark {got} is not the largest written, {max(read_marks)}"
                continue
            assert got in values, f"{key}: {got!r} is none of the last values written {values}"
        for domain, state_view in views[0].items():
            for key in state_view:
                assert (domain.encode(), key) in written, f"{key} was never written"

    # A device that reads only the newest message of each domain gets the whole config.
    final = [m for dev in devices for m in dev.pushes()]
    swarm += final
    newest = {}
    for blob in swarm:
        msg = open_config(ACCOUNT, blob)
        best = newest.get(msg.domain)
        if best is None or (msg.seqno, msg.hash) > (best[0].seqno, best[0].hash):
            newest[msg.domain] = (msg, blob)
    late_device = AccountConfig(ACCOUNT)
    for _, blob in newest.values():
        late_device.ingest(blob)
    assert late_device.view() == devices[0].view()


MARKS = st.lists(st.integers(1, 1000), max_size=3)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rounds=st.lists(st.tuples(st.lists(MARKS, min_size=DEVICES, max_size=DEVICES),
                                 st.lists(MARKS, min_size=DEVICES, max_size=DEVICES)), min_size=1, max_size=3),
       seed=st.integers(0, 2**32 - 1))
def test_read_mark_converges_to_the_largest_mark_any_device_set(
        rounds: list[tuple[list[list[int]], list[list[int]]]], seed: int) -> None:
    """5 devices mark one conversation read concurrently (``mark_read``), before their push and
    again between the two polls (a pending mark below one just merged); after poll 2 every
    device's read mark is the largest mark set so far."""
    rng = random.Random(seed)
    peer = "05" + "cc" * 32
    devices = [AccountConfig(ACCOUNT) for _ in range(DEVICES)]
    marks: list[int] = []
    for before_push, between_polls in rounds:
        for dev, ms in zip(devices, before_push):
            for m in ms:
                dev.conversations.mark_read(peer, m)
                marks.append(m)
        pushed = [m for dev in devices for m in dev.pushes()]
        late = {(d, i) for d in range(DEVICES) for i in range(len(pushed)) if rng.random() < 0.5}
        for d, dev in enumerate(devices):
            _deliver(dev, [m for i, m in enumerate(pushed) if (d, i) not in late], rng)
        for dev, ms in zip(devices, between_polls):
            for m in ms:
                dev.conversations.mark_read(peer, m)
                marks.append(m)
                assert dev.conversations.read_up_to(peer) >= m  # never below a mark just set
        merges = [m for dev in devices for m in dev.pushes()]
        for d, dev in enumerate(devices):
            _deliver(dev, [m for i, m in enumerate(pushed) if (d, i) in late] + merges, rng)
        expected = max(marks, default=0)
        assert [dev.conversations.read_up_to(peer) for dev in devices] == [expected] * DEVICES
        assert all(dev.view() == devices[0].view() for dev in devices)
