"""Two devices of one account in a group would derive the same send chain.  The record's random
nonce keeps the reused message key safe (no shared keystream), and the client refuses to make a
device of a multi-device account a member at all (its messages would be dropped as repeats)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from session_core.client import Client, ClientConfig
from session_core.client.groups import Groups
from session_core.errors import ClientStateError
from session_core.identity import Identity
from session_core.protocol.groups import Group
from session_core.protocol.groups.wire import MEMBER_AUTH_BYTES
from session_core.testing.memnet import MemNetwork, MemTransport

NOW = 1_800_000_000_000
_BODY = 1 + 4 + 24 + 8 + 16  # kind, generation, header nonce, sealed header: then the sealed body


def test_the_same_chain_step_on_two_copies_shares_no_keystream() -> None:
    ann, ben = Identity.generate(), Identity.generate()
    admin, outs = Group.create(ann, NOW, [ben.session_id])
    one = Group.join(ben, admin.group_id)
    for o in outs:
        one.receive(o.data, NOW)
    two = Group.from_json(ben, one.to_json())  # a second device with the same state
    full = one.send_text("same text", NOW).data
    a, b = full[:-MEMBER_AUTH_BYTES], two.send_text("same text", NOW).data[:-MEMBER_AUTH_BYTES]
    assert len(a) == len(b)
    # Same message key, same plaintext: with a fixed nonce the ciphertexts would be equal.
    assert a[_BODY:-16] != b[_BODY:-16]
    events = admin.receive(full, NOW)  # and the record still opens for the others
    assert [e.text for e in events] == ["same text"]  # type: ignore[attr-defined]


async def test_a_device_of_a_multi_device_account_cannot_become_a_member(tmp_path: Path) -> None:
    net = MemNetwork(8)
    cfg = ClientConfig([net.seed_url], tmp_path / "a", request_timeout=2.0, sync=False, multi_device=True)
    c = Client(Identity.generate(), "a", cfg, transport=MemTransport(net), rng=random.Random())
    await c.start(loops=False)
    groups = Groups(c)
    with pytest.raises(ClientStateError, match="one device per account"):
        await groups.create([])
    with pytest.raises(ClientStateError, match="one device per account"):
        groups.join("03" + "ab" * 32)
    assert groups.groups == {}
    await c.stop()
