"""Fuzz target: what a group member parses from its group's swarm (session_core.protocol.groups).

First byte picks where the rest goes: 0 a raw record; 1 the body of a key message and 2 the body
of a roster snapshot, both validly signed by the group key (so the key agreement blob, the roster
change and the snapshot are parsed); 3 the padded plaintext of a member message sealed under a
real header and message key of the current generation.  Each input starts from the same member
state.  Only SessionCoreError may come out, and a refused input must leave the state unchanged.
"""

from __future__ import annotations

import json
import struct

from harness import atheris, main

with atheris.instrument_imports():
    import nacl.bindings

    from session_core.errors import SessionCoreError
    from session_core.identity import Identity
    from session_core.protocol.groups import Group, GroupSigner
    from session_core.protocol.groups.wire import KIND_KEYS, KIND_MESSAGE, KIND_ROSTER, seal_control, seal_member_auth

ADMIN = Identity.from_seed(bytes(range(16)))
MEMBER = Identity.from_seed(bytes(range(16, 32)))
OTHER = Identity.from_seed(bytes(range(32, 48)))
SIGNER = GroupSigner(bytes(range(48, 80)))
NOW = 1_800_000_000_000

admin, records = Group.create(ADMIN, NOW, [MEMBER.session_id, OTHER.session_id], signer=SIGNER)
_member = Group.join(MEMBER, admin.group_id)
for _r in records:
    _member.receive(_r.data, NOW)
PRISTINE = json.dumps(_member.to_json())


def sealed_message(plaintext: bytes) -> bytes:
    """A member message from ADMIN at counter 0 whose body is ``plaintext`` (already padded or not)."""
    cur = admin.current
    assert cur is not None and cur.send is not None
    counter, mk, _ = cur.send.step()  # the same first key every time: the admin's chain is not advanced
    hnonce = bytes(24)
    prefix = bytes([KIND_MESSAGE]) + struct.pack("<I", cur.number) + hnonce
    enc = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt
    hct = enc(struct.pack("<II", cur.my_index, counter), prefix, hnonce, cur.secrets.header_key)
    inner = prefix + hct + enc(plaintext, prefix + hct, bytes(24), mk)
    return seal_member_auth(admin.group_pk, inner, cur.secrets.store_seed, cur.store_cert)


def test_one(data: bytes) -> None:
    if not data:
        return
    mode, rest = data[0] % 4, data[1:]
    if mode == 1:
        record = seal_control(SIGNER, KIND_KEYS, rest)
    elif mode == 2:
        record = seal_control(SIGNER, KIND_ROSTER, rest)
    elif mode == 3:
        record = sealed_message(rest)
    else:
        record = rest
    member = Group.from_json(MEMBER, json.loads(PRISTINE))
    try:
        member.receive(record, NOW)
    except SessionCoreError:
        if json.dumps(member.to_json()) != PRISTINE:
            raise AssertionError("a refused group record changed the member's state") from None


if __name__ == "__main__":
    main(test_one)
