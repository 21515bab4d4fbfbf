"""oxend swarm assignment (docs/interop.md §2.4), membership events (§2.5), storage-test pairs (§4.5).

The assignment tests port the structural checks of oxend's own unit tests
(core-HEAD tests/unit_tests/service_nodes_swarm.cpp): they hold for any node keys.
"""

from __future__ import annotations

import copy
import hashlib
import struct
from collections import Counter
from typing import Any

import numpy as np
import pytest

from session_core import swarm
from session_core.errors import (
    InvalidBlockHashError,
    InvalidSwarmIdError,
    InvalidSwarmKeyError,
    SwarmMembershipError,
    SwarmTooSmallError,
)
from session_core.swarm.assign import (
    EXCESS_BASE,
    IDEAL_SWARM_MARGIN,
    IDEAL_SWARM_SIZE,
    MIN_SWARM_SIZE,
    NEW_SWARM_SIZE,
    _Layout,
    block_seed,
    calc_swarm_changes,
)
from session_core.swarm.rng import MT19937_64
from session_core.swarm.ids import UNASSIGNED_SWARM_ID

Layout = dict[int, list[bytes]]


class Keys:
    """Deterministic distinct 32-byte node keys."""

    def __init__(self, label: str = "k") -> None:
        self.label, self.n = label, 0

    def __call__(self, count: int = 1) -> list[bytes]:
        out = [hashlib.sha256(f"{self.label}{self.n + i}".encode()).digest() for i in range(count)]
        self.n += count
        return out


def seed_hash(seed: int) -> bytes:
    """A block hash whose first 8 bytes, little-endian, are *seed* (oxend's seed rule)."""
    return struct.pack("<Q", seed) + hashlib.sha256(str(seed).encode()).digest()[:24]


def expected_swarms_no_dereg(n: int) -> int:
    return 1 + max(0, n - IDEAL_SWARM_SIZE) // IDEAL_SWARM_SIZE


def excess(layout: Layout) -> int:
    return sum(max(0, len(m) - EXCESS_BASE) for m in layout.values())


def check_no_dereg(layout: Layout, n: int) -> None:
    assert len(layout) == expected_swarms_no_dereg(n), n
    if n >= IDEAL_SWARM_SIZE:
        assert excess(layout) == len(layout) * IDEAL_SWARM_MARGIN + n % IDEAL_SWARM_SIZE, n


def register(layout: Layout, keys: Keys, per_block: int, blocks: int, seed0: int = 0) -> Layout:
    n = sum(len(m) for m in layout.values())
    for i in range(blocks):
        layout = swarm.assign_swarms(layout, keys(per_block), [], seed_hash(seed0 + i)).swarms
        n += per_block
        check_no_dereg(layout, n)
    return layout


def test_block_seed_is_first_8_binary_bytes_little_endian() -> None:
    h = bytes(range(32))
    assert block_seed(h) == int.from_bytes(h[:8], "little") == block_seed(h.hex())


def test_register_one_by_one() -> None:
    register({}, Keys(), 1, 40 * IDEAL_SWARM_SIZE)


def test_register_in_bulk() -> None:
    layout: Layout = {}
    keys = Keys()
    for i, count in enumerate([1, 3, 19, 4, 8, 13, 1, 22, 1, 7, 2, 1, 11, 18, 6, 10]):
        layout = register(layout, keys, count, 1, seed0=i)


def test_calc_excess_and_threshold() -> None:
    keys = Keys()
    layout = {i: keys(EXCESS_BASE) for i in range(11)}
    state = _Layout(copy.deepcopy(layout), MT19937_64(42))
    assert state.excess == 0
    for i in range(52):
        state.add_node(i % 11, keys()[0])
    assert state.excess == 52


def test_create_new_swarm_from_excess() -> None:
    keys = Keys()
    state = _Layout({i: keys(EXCESS_BASE) for i in range(11)}, MT19937_64(42))
    state.create_new_swarms_from_excess()
    assert len(state.ids) == 11
    for i in range(11 * IDEAL_SWARM_MARGIN + NEW_SWARM_SIZE - 1):
        state.add_node(i % 11, keys()[0])
    state.create_new_swarms_from_excess()
    assert len(state.ids) == 11
    state.add_node(1, keys()[0])
    state.create_new_swarms_from_excess()
    assert len(state.ids) == 12
    new_id = next(s for s in state.ids if s not in range(11))
    assert len(state.members[new_id]) == NEW_SWARM_SIZE


def test_assign_snodes_fills_the_smallest() -> None:
    keys = Keys()
    state = _Layout({0: keys(3), 1: keys(1), 2: keys(5), 3: keys(2)}, MT19937_64(42))
    state.assign(keys(1), 25)
    assert len(state.members[1]) == 2
    state.assign(keys(1), 25)
    state.assign(keys(1), 25)
    assert len(state.members[1]) == 3 and len(state.members[3]) == 3


def _shrink(layout: Layout, sid: int, to: int, seed: int) -> Layout:
    drop = layout[sid][to:]
    return swarm.assign_swarms(layout, [], drop, seed_hash(seed)).swarms


def test_swarm_above_min_size_unaffects_other_swarms() -> None:
    layout = register({}, Keys(), 10 * IDEAL_SWARM_SIZE, 1)
    first = min(layout)
    seed = 70
    while len(layout[first]) > MIN_SWARM_SIZE:
        before = copy.deepcopy(layout)
        layout = _shrink(layout, first, len(layout[first]) - 1, seed)
        seed += 1
        assert layout.keys() == before.keys()
        assert all(sorted(layout[s]) == sorted(before[s]) for s in layout if s != first)
    second = sorted(layout)[1]
    before = copy.deepcopy(layout)
    layout = _shrink(layout, second, MIN_SWARM_SIZE, seed)
    assert layout.keys() == before.keys()
    assert all(sorted(layout[s]) == sorted(before[s]) for s in layout if s != second)


def test_register_snode_fills_low_swarms() -> None:
    keys = Keys()
    layout = register({}, keys, 10 * IDEAL_SWARM_SIZE, 1)
    first, second = sorted(layout)[:2]
    seed = 70
    while len(layout[first]) > MIN_SWARM_SIZE:
        drop = [layout[first][-1], layout[second][-1]]
        layout = swarm.assign_swarms(layout, [], drop, seed_hash(seed)).swarms
        seed += 1
    drop = [layout[first][-1], layout[second][-1]]
    layout = swarm.assign_swarms(layout, keys(3), drop, seed_hash(seed)).swarms
    assert len(layout[first]) >= MIN_SWARM_SIZE and len(layout[second]) >= MIN_SWARM_SIZE


def test_stealing_from_rich_swarms() -> None:
    layout = register({}, Keys(), 10 * IDEAL_SWARM_SIZE, 1)
    before = copy.deepcopy(layout)
    first = min(layout)
    layout = _shrink(layout, first, MIN_SWARM_SIZE - 1, 70)
    assert len(layout[first]) >= MIN_SWARM_SIZE
    shrunk = [s for s in layout if s != first and len(layout[s]) < len(before[s])]
    assert len(shrunk) == 1
    assert len(layout[shrunk[0]]) == len(before[shrunk[0]]) - 1 >= MIN_SWARM_SIZE


def test_decommission_dissolves_a_starving_swarm() -> None:
    layout = register({}, Keys(), 10 * IDEAL_SWARM_SIZE, 1)
    count = len(layout)
    drop = [n for m in layout.values() for n in m[MIN_SWARM_SIZE:]]
    drop.append(layout[min(layout)][0])
    changes = swarm.assign_swarms(layout, [], drop, seed_hash(70))
    assert len(changes.swarms) == count - 1
    dissolved = [e for e in changes.events if isinstance(e, swarm.SwarmDissolved)]
    assert [e.swarm_id for e in dissolved] == [min(layout)]
    assert len(dissolved[0].former_members) == MIN_SWARM_SIZE - 1
    assert all(len(m) >= MIN_SWARM_SIZE for m in changes.swarms.values())


def test_first_block_creates_swarm_zero() -> None:
    keys = Keys()
    changes = swarm.assign_swarms({}, keys(3), [], seed_hash(1))
    assert list(changes.swarms) == [0] and len(changes.swarms[0]) == 3
    assert changes.events == [swarm.SwarmCreated(0, tuple(changes.swarms[0]))]
    assert swarm.assign_swarms({}, [], [], seed_hash(1)).swarms == {}


def test_member_order_of_the_input_does_not_matter() -> None:
    # oxend rebuilds each swarm's list from the key-sorted node list, so only membership counts.
    keys = Keys()
    layout = register({}, keys, 21, 1)
    shuffled = {sid: list(reversed(m)) for sid, m in reversed(list(layout.items()))}
    new = keys(2)
    a = swarm.assign_swarms(layout, new, [], seed_hash(9))
    b = swarm.assign_swarms(shuffled, new[::-1], [], seed_hash(9))
    assert a == b and list(a.swarms) == sorted(a.swarms)


def test_assign_is_pure_and_deterministic() -> None:
    keys = Keys()
    layout = register({}, keys, 50, 1)
    frozen = copy.deepcopy(layout)
    new, gone = keys(4), [layout[min(layout)][0]]
    a = swarm.assign_swarms(layout, new, gone, seed_hash(5))
    b = swarm.assign_swarms(layout, list(reversed(new)), gone, seed_hash(5))
    assert layout == frozen
    assert a == b
    other = [swarm.assign_swarms(layout, new, gone, seed_hash(s)).swarms for s in range(6, 12)]
    assert any(o != a.swarms for o in other)  # the block hash does steer the draws


def test_hex_keys_give_the_same_layout_as_bytes() -> None:
    keys = Keys()
    layout = register({}, keys, 30, 1)
    new = keys(9)
    as_bytes = swarm.assign_swarms(layout, new, [], seed_hash(3)).swarms
    hex_layout = {s: [n.hex() for n in m] for s, m in layout.items()}
    as_hex = swarm.assign_swarms(hex_layout, [n.hex() for n in new], [], seed_hash(3).hex()).swarms
    assert as_hex == {s: [n.hex() for n in m] for s, m in as_bytes.items()}


def test_events_describe_the_change() -> None:
    keys = Keys()
    layout = register({}, keys, 40, 1)
    new = keys(12)
    changes = swarm.assign_swarms(layout, new, [], seed_hash(77))
    old_of = {n: s for s, m in layout.items() for n in m}
    new_of = {n: s for s, m in changes.swarms.items() for n in m}
    created = {e.swarm_id for e in changes.events if isinstance(e, swarm.SwarmCreated)}
    assert created == set(changes.swarms) - set(layout)
    joined = {(e.swarm_id, e.node) for e in changes.events if isinstance(e, swarm.NodeJoined)}
    expected = {(s, n) for n, s in new_of.items() if s in layout and old_of.get(n) != s}
    assert joined == expected and joined
    for e in changes.events:
        if isinstance(e, swarm.NodeJoined):
            assert set(e.peers) == {n for n in changes.swarms[e.swarm_id] if old_of.get(n) == e.swarm_id}


@pytest.mark.parametrize("case", ["dup_in_swarms", "dup_new", "new_present", "removed_unknown", "dup_removed"])
def test_membership_errors_leave_input_untouched(case: str) -> None:
    keys = Keys()
    layout = register({}, keys, 14, 1)
    frozen = copy.deepcopy(layout)
    placed = layout[min(layout)][0]
    args: dict[str, Any] = {"swarms": layout, "new_nodes": [], "removed_nodes": []}
    if case == "dup_in_swarms":
        args["swarms"] = {**layout, 12345: [placed]}
    elif case == "dup_new":
        args["new_nodes"] = keys(1) * 2
    elif case == "new_present":
        args["new_nodes"] = [placed]
    elif case == "removed_unknown":
        args["removed_nodes"] = keys(1)
    else:
        args["removed_nodes"] = [placed, placed]
    with pytest.raises(SwarmMembershipError):
        swarm.assign_swarms(block_hash=seed_hash(1), **args)
    assert layout == frozen


def test_unassigned_entry_is_oxends_form_of_new_nodes() -> None:
    keys = Keys()
    layout = register({}, keys, 21, 1)
    new = keys(4)
    as_list = swarm.assign_swarms(layout, new, [], seed_hash(8))
    as_entry = swarm.assign_swarms({**layout, UNASSIGNED_SWARM_ID: new[::-1]}, [], [], seed_hash(8))
    assert as_entry == as_list
    assert all(e.swarm_id != UNASSIGNED_SWARM_ID for e in as_entry.events if isinstance(e, swarm.SwarmDissolved))


def test_removed_and_readded_in_one_block_is_allowed() -> None:
    keys = Keys()
    layout = register({}, keys, 14, 1)
    node = layout[min(layout)][0]
    out = swarm.assign_swarms(layout, [node], [node], seed_hash(2)).swarms
    assert sum(m.count(node) for m in out.values()) == 1


@pytest.mark.parametrize(
    "kwargs,error",
    [({"block_hash": b"\x00" * 31}, InvalidBlockHashError), ({"block_hash": "zz" * 32}, InvalidBlockHashError),
     ({"block_hash": 5}, InvalidBlockHashError), ({"new_nodes": [b"\x01" * 31]}, InvalidSwarmKeyError),
     ({"new_nodes": ["AB" * 32]}, InvalidSwarmKeyError), ({"new_nodes": [b"\x01" * 32, "01" * 32]}, InvalidSwarmKeyError),
     ({"swarms": {1 << 64: [b"\x01" * 32]}}, InvalidSwarmIdError), ({"swarms": {-1: [b"\x01" * 32]}}, InvalidSwarmIdError),
     ({"swarms": {UNASSIGNED_SWARM_ID: [b"\x01" * 32]}, "new_nodes": [b"\x01" * 32]}, SwarmMembershipError),
     ({"new_nodes": [7]}, InvalidSwarmKeyError)],
)
def test_assign_rejects_bad_input(kwargs: dict[str, Any], error: type[Exception]) -> None:
    args: dict[str, Any] = {"swarms": {}, "new_nodes": [], "removed_nodes": [], "block_hash": b"\x00" * 32}
    args.update(kwargs)
    with pytest.raises(error) as info:
        swarm.assign_swarms(**args)
    assert isinstance(info.value, ValueError)


def test_libstdcxx_sort_is_stable_up_to_16_swarms() -> None:
    # Documented difference: we sort sizes stably.  For <= 16 swarms libstdc++'s std::sort is an
    # insertion sort, hence stable too; check our order is (size, id) on such a layout.
    keys = Keys()
    state = _Layout({sid: keys(size) for sid, size in zip(range(16, 0, -1), [5, 6, 5, 7] * 4)}, MT19937_64(1))
    order = state.sorted_sizes()
    assert order == sorted(order, key=lambda t: (t[1], t[0]))


# ---- node view (storage server derive_swarm_events) and pushes ------------------------------


def test_derive_swarm_events_for_joined_new_swarm_and_dissolved() -> None:
    a, b, c, d, e, f, g = Keys()(7)
    old = {10: [a, b, c], 20: [d, e]}
    new = {10: [a, b, c, f], 30: [d, e, g]}  # 20 dissolved, 30 is new, f joined 10
    ev_a = swarm.derive_swarm_events(a, old, new)
    assert ev_a == swarm.SwarmEvents(10, False, (30,), (f,), (a, b, c, f))
    ev_d = swarm.derive_swarm_events(d, old, new)
    assert ev_d.dissolved and ev_d.our_swarm_id == 30 and ev_d.new_snodes == ()
    assert swarm.derive_swarm_events(f, old, new) == swarm.SwarmEvents(10, our_swarm_members=(a, b, c, f))
    assert swarm.derive_swarm_events(f, None, new).our_swarm_id == 10
    assert swarm.derive_swarm_events(Keys("x")()[0], old, new) == swarm.SwarmEvents(None)
    with pytest.raises(InvalidSwarmKeyError):
        swarm.derive_swarm_events(5, old, new)  # type: ignore[type-var]


def test_plan_pushes_uses_the_new_map() -> None:
    a, b, c, d, e, f, g = Keys()(7)
    old = {10: [a, b, c], 1 << 63: [d, e]}
    new = {10: [a, b, c, f], 1 << 63: [d, e], 1 << 62: [g]}
    new_map = swarm.SwarmMap(new)
    spaces = np.array([5, (1 << 62) + 3, (1 << 63) - 9, (1 << 62) - 5], dtype=np.uint64)
    plan = swarm.plan_pushes(swarm.derive_swarm_events(a, old, new), spaces, new_map)
    assert plan.to_nodes == (f,)
    assert {k: v.tolist() for k, v in plan.by_swarm.items()} == {1 << 62: [1, 3]}
    salvage = swarm.SwarmEvents(10, dissolved=True)
    plan = swarm.plan_pushes(salvage, spaces, new_map)
    assert {k: v.tolist() for k, v in plan.by_swarm.items()} == {10: [0], 1 << 62: [1, 3], 1 << 63: [2]}
    assert swarm.plan_pushes(swarm.SwarmEvents(None), spaces, new_map) == swarm.PushPlan()


# ---- storage-test pair (§4.5) ----------------------------------------------------------------


def _pair_oracle(members: list[bytes], block_hash_hex: str) -> tuple[bytes, bytes]:
    """Independent restatement: seed from the ASCII of the hex string, sorted members."""
    seed = struct.unpack("<Q", block_hash_hex[:8].encode())[0]
    rng = MT19937_64(seed)
    n = len(members)
    bound = (1 << 64) - 1 - ((1 << 64) - 1) % n

    def draw() -> int:
        x = rng()
        while x >= bound:
            x = rng()
        return x // (bound // n)

    ordered = sorted(members)
    t = draw()
    u = draw()
    while u == t:
        u = draw()
    return ordered[t], ordered[u]


@pytest.mark.parametrize("size", [2, 3, 5, 7, 10])
def test_storage_test_pair(size: int) -> None:
    members = Keys("m")(size)
    testers = Counter()
    for height in range(60):
        h = hashlib.sha256(str(height).encode()).hexdigest()
        tester, testee = swarm.storage_test_pair(list(reversed(members)), h)
        assert (tester, testee) == _pair_oracle(members, h)
        assert tester != testee and {tester, testee} <= set(members)
        assert swarm.storage_test_pair([m.hex() for m in members], h) == (tester.hex(), testee.hex())
        testers[tester] += 1
    assert len(testers) > 1


def test_storage_test_seed_is_ascii_not_binary() -> None:
    from session_core.swarm.peer_test import storage_test_seed

    h = "0123456789abcdef" * 4
    assert storage_test_seed(h) == int.from_bytes(b"01234567", "little")
    assert storage_test_seed(h) != int.from_bytes(bytes.fromhex(h)[:8], "little")


@pytest.mark.parametrize(
    "members,block_hash,error",
    [([b"\x01" * 32], "ab" * 32, SwarmTooSmallError), ([], "ab" * 32, SwarmTooSmallError),
     ([b"\x01" * 32, b"\x02" * 32], "AB" * 32, InvalidBlockHashError),
     ([b"\x01" * 32, b"\x02" * 32], "ab" * 31, InvalidBlockHashError),
     ([b"\x01" * 32, b"\x02" * 32], bytes(32), InvalidBlockHashError),
     ([b"\x01" * 32, b"\x01" * 32], "ab" * 32, SwarmMembershipError),
     ([b"\x01" * 30, b"\x02" * 32], "ab" * 32, InvalidSwarmKeyError)],
)
def test_storage_test_pair_rejects(members: list[Any], block_hash: Any, error: type[Exception]) -> None:
    with pytest.raises(error) as info:
        swarm.storage_test_pair(members, block_hash)
    assert isinstance(info.value, ValueError)


def test_calc_swarm_changes_direct_matches_assign() -> None:
    keys = Keys()
    layout = register({}, keys, 35, 1)
    new = sorted(keys(3))
    # calc_swarm_changes takes oxend's normalised input: every member list in key order.
    direct = calc_swarm_changes({s: sorted(m) for s, m in layout.items()}, new, 99)
    assert direct == swarm.assign_swarms(layout, new, [], seed_hash(99)).swarms
