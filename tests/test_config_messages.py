"""Config messages: libsession-util's sealing byte for byte, the strict encoding, and every kind
of bad input ignored with a reason and no change of state."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from session_core.errors import (
    ConfigFormatError,
    ConfigReplayError,
    ConfigSignatureError,
    ConfigTooLargeError,
    DecryptionError,
    LinkCodeError,
    LinkExpiredError,
)
from session_core.identity import Identity
from session_core.protocol import Messenger
from session_core.protocol.config import (
    MAX_CONFIG_BYTES,
    AccountConfig,
    ConfigMessage,
    ConfigState,
    Entry,
    open_config,
    seal_config,
)
from session_core.protocol.config import bencode, sealing
from session_core.protocol.config.message import edit_tag
from session_core.protocol.link import LinkCode, make_link, open_link
from session_core.protocol.sent_sync import sync_copy

VECTORS = json.loads((Path(__file__).parent / "data" / "config_encrypt_vectors.json").read_text())
ALICE = Identity.from_seed(bytes(range(16)))
MALLORY = Identity.from_seed(bytes(range(1, 17)))
BOB_SID = "05" + "b0" * 32


# -- upstream facts -----------------------------------------------------------------------------


def test_encryption_matches_libsession_util() -> None:
    for v in VECTORS["encrypt"]:
        out = sealing.encrypt(v["message"].encode(), bytes.fromhex(v["key"]), v["domain"].encode())
        if "ciphertext" in v:
            assert out.hex() == v["ciphertext"]
            assert sealing.decrypt(out, bytes.fromhex(v["key"]), v["domain"].encode()) == v["message"].encode()
        if "nonce" in v:
            assert out[-24:].hex() == v["nonce"]


def test_padding_buckets_match_libsession_util() -> None:
    for size, overhead, expected in VECTORS["padded_size"]:
        assert sealing.padded_size(size, overhead) == expected


def test_decrypt_refuses_other_domain_key_and_tampering() -> None:
    v = VECTORS["encrypt"][0]
    key, ct = bytes.fromhex(v["key"]), bytes.fromhex(v["ciphertext"])
    with pytest.raises(ConfigSignatureError):
        sealing.decrypt(ct, key, b"test-suite2")
    with pytest.raises(ConfigSignatureError):
        sealing.decrypt(ct, bytes(32), b"test-suite1")
    bad = bytearray(ct)
    bad[3] ^= 1
    with pytest.raises(ConfigSignatureError):
        sealing.decrypt(bytes(bad), key, b"test-suite1")
    with pytest.raises(ConfigSignatureError):
        sealing.decrypt(ct[:39], key, b"test-suite1")


# -- encoding -----------------------------------------------------------------------------------


def test_bencode_round_trip_and_strictness() -> None:
    value: bencode.Value = {b"a": [1, -2, b"xy", {b"k": 0}], b"b": b""}
    assert bencode.decode(bencode.encode(value)) == value
    for bad in [b"i01e", b"i-0e", b"ie", b"d1:bi1e1:ai1ee", b"d1:ai1e1:ai1ee", b"5:abc", b"li1e",
                b"i1ei2e", b"x", b"01:a", b"d", b"l" * 40 + b"e" * 40]:
        with pytest.raises(ConfigFormatError):
            bencode.decode(bad)
    with pytest.raises(ConfigFormatError):
        bencode.encode(True)  # type: ignore[arg-type]


def test_message_round_trips_through_the_wire() -> None:
    state = ConfigState(b"Contacts")
    state.set(("c", BOB_SID, "nickname"), "bob")
    state.set(("c", BOB_SID, "approved"), 1)
    msg = state.push(ALICE)
    data = seal_config(ALICE, msg)
    assert (len(data) - 6 + 0) % 256 == 0  # padded to a bucket (header of 6 bytes outside)
    back = open_config(ALICE, data)
    assert back.entries == msg.entries and back.seqno == 1 and back.hash == msg.hash


# -- bad input: ignored with a reason, state unchanged ----------------------------------------


def _with_edit(identity: Identity = ALICE, value: str = "x") -> tuple[AccountConfig, bytes]:
    src = AccountConfig(identity)
    src.profile.name = value
    return src, src.pushes()[0]


def test_unsigned_or_foreign_messages_are_ignored(caplog: pytest.LogCaptureFixture) -> None:
    me = AccountConfig(ALICE)
    me.profile.name = "alice"
    me.pushes()
    before = me.to_bytes()
    # Sealed with Mallory's key: does not decrypt with ours.
    _, foreign = _with_edit(MALLORY, "evil")
    # Sealed with our key but signed by Mallory (someone who learned the config key only).
    entries = {("n",): _entry("evil", 9)}
    forged = ConfigMessage.sign(MALLORY, b"UserProfile", 9, entries)
    forged_data = _seal_raw(forged.encoded)
    # Our key and our signature field, but the signature is garbage.
    doc = bencode.decode(ConfigMessage.sign(ALICE, b"UserProfile", 9, entries).encoded)
    assert isinstance(doc, dict)
    doc[b"~"] = bytes(64)
    unsigned = _seal_raw(bencode.encode(doc))
    del doc[b"~"]
    no_sig = _seal_raw(bencode.encode(doc))
    with caplog.at_level(logging.INFO, logger="session_core.protocol.config"):
        results = [me.ingest(d) for d in (foreign, forged_data, unsigned, no_sig)]
    assert [r.ignored.split(":")[0] for r in results] == [
        "ConfigSignatureError", "ConfigSignatureError", "ConfigSignatureError", "ConfigFormatError"]
    assert all(not r.changed for r in results)
    assert me.to_bytes() == before and me.profile.name == "alice"
    assert caplog.text.count("ignored a config message") == 4


def test_replays_of_old_seqnos_are_ignored() -> None:
    src = AccountConfig(ALICE)
    src.profile.name = "v1"
    old = src.pushes()[0]
    src.profile.name = "v2"
    src.pushes()
    src.profile.avatar_url = "https://x/y"
    new = src.pushes()[0]
    me = AccountConfig(ALICE)
    assert me.ingest(new).changed
    before = me.to_bytes()
    r = me.ingest(old)  # a node replaying the message of seqno 1 after we saw seqno 3
    assert r.ignored.startswith("ConfigReplayError") and "older than ours" in r.ignored
    r = me.ingest(new)  # and the same message twice
    assert r.ignored.startswith("ConfigReplayError") and "already merged" in r.ignored
    assert me.to_bytes() == before and me.profile.name == "v2"


def test_deleted_values_do_not_come_back_with_a_replay() -> None:
    src = AccountConfig(ALICE)
    src.contacts.set(BOB_SID, nickname="bob")
    with_bob = src.pushes()[0]
    src.contacts.remove(BOB_SID)
    without = src.pushes()[0]
    me = AccountConfig(ALICE)
    me.ingest(without)
    me.ingest(with_bob)  # arrives late, or replayed
    assert me.contacts.get(BOB_SID) is None


def test_oversize_and_malformed_messages_are_ignored() -> None:
    me = AccountConfig(ALICE)
    before = me.to_bytes()
    _, good = _with_edit()
    for data, kind in [
        (good + bytes(MAX_CONFIG_BYTES), "ConfigTooLargeError"),
        (b"SCCF\x01\x63" + good[6:], "ConfigFormatError"),  # unknown domain
        (b"SCCF\x01", "ConfigFormatError"),
        (good[:-1], "ConfigSignatureError"),
        (_seal_raw(b"d1:#i1e1:&le1:~" + b"64:" + bytes(64) + b"e"), "ConfigSignatureError"),
        (_seal_raw(b"\x00" * 10), "ConfigFormatError"),
        (_seal_raw(b"not bencode"), "ConfigFormatError"),
    ]:
        r = me.ingest(data)
        assert r.ignored.startswith(kind), (kind, r)
    assert me.to_bytes() == before


def test_a_config_too_big_to_store_is_refused_when_pushed() -> None:
    state = ConfigState(b"Contacts")
    for i in range(40):
        state.set(("c", f"05{i:064x}", "nickname"), "n" * 4000)
    with pytest.raises(ConfigTooLargeError):
        seal_config(ALICE, state.push(ALICE))


def test_bad_keys_and_values_are_refused_without_change() -> None:
    state = ConfigState(b"Contacts")
    for key, value in [((), 1), (("",), 1), (("a" * 129,), 1), (("a",) * 5, 1), (("a",), True),
                       (("a",), 2**63), (("a",), "x" * 4097), (("a",), b"raw")]:
        with pytest.raises(ConfigFormatError):
            state.set(key, value)  # type: ignore[arg-type]
    assert not state.pending and not state.needs_push
    acct = AccountConfig(ALICE)
    with pytest.raises(ConfigFormatError):
        acct.contacts.set(BOB_SID, colour="red")
    with pytest.raises(ConfigFormatError):
        acct.contacts.set(BOB_SID, blocked=2)
    with pytest.raises(ValueError):
        acct.contacts.set("05zz", nickname="x")
    assert not acct.needs_push


# -- merge semantics ----------------------------------------------------------------------------


def test_concurrent_edits_same_key_resolve_by_content_hash_everywhere() -> None:
    a, b = AccountConfig(ALICE), AccountConfig(ALICE)
    a.profile.name, b.profile.name = "from a", "from b"
    ma, mb = a.pushes()[0], b.pushes()[0]
    x, y = AccountConfig(ALICE), AccountConfig(ALICE)
    x.ingest(ma), x.ingest(mb)
    y.ingest(mb), y.ingest(ma)
    winner = max(("from a", "from b"), key=lambda v: edit_tag(("n",), 1, v))
    assert x.profile.name == y.profile.name == winner
    assert x.needs_push == y.needs_push  # a conflict: both want to publish the same merge
    if x.needs_push:
        assert x.pushes() == y.pushes()  # byte-identical: the swarm stores one message


def test_state_survives_save_and_load() -> None:
    a = AccountConfig(ALICE)
    a.contacts.set(BOB_SID, nickname="bob", approved=True)
    a.pushes()
    a.groups.join("g1", "friends", joined_ms=5)  # pending, not pushed yet
    b = AccountConfig.from_bytes(ALICE, a.to_bytes())
    assert b.view() == a.view() and b.needs_push
    assert b.pushes() == a.pushes()


# -- linking ------------------------------------------------------------------------------------


def test_link_code_round_trip_and_refusals() -> None:
    code, record = make_link(ALICE, now_ms=1000, ttl_ms=600_000)
    assert len(code.text) == len("sclink1-") + 77
    for shown in (code.text, code.qr_payload, code.text.upper(), code.text[:20] + " " + code.text[20:]):
        assert LinkCode.parse(shown) == code
    assert open_link(code, record, now_ms=2000) == ALICE
    with pytest.raises(LinkExpiredError):
        open_link(code, record, now_ms=1000 + 600_001)
    with pytest.raises(LinkCodeError):
        open_link(LinkCode(code.account_x25519, bytes(16)), record, now_ms=2000)
    with pytest.raises(LinkCodeError):  # a record of another account under a code naming Alice
        other_code, other_record = make_link(MALLORY, now_ms=1000, key=code.key)
        open_link(code, other_record, now_ms=2000)
    tampered = bytearray(record)
    tampered[-1] ^= 1
    with pytest.raises(LinkCodeError):
        open_link(code, bytes(tampered), now_ms=2000)
    for bad in ["", "sclink1-", "sclink1-" + "1" * 77, "hello", code.text[:-1], code.text + "a"]:
        with pytest.raises(LinkCodeError):
            LinkCode.parse(bad)


# -- sent-message copies ------------------------------------------------------------------------


def test_sync_copy_is_read_as_sent_by_the_other_device_only() -> None:
    copy = sync_copy(ALICE, BOB_SID, "hello bob", sent_ms=1234)
    assert copy.recipient == ALICE.session_id
    other_device = Messenger(ALICE)
    events = other_device.receive(copy.data, now_ms=2000)
    assert [(type(e).__name__, e.peer, e.body, e.timestamp_ms) for e in events] == [  # type: ignore[attr-defined]
        ("SentMessageSynced", BOB_SID, "hello bob", 1234)]
    assert other_device.contacts == {}  # a copy is not a conversation with ourselves
    with pytest.raises(DecryptionError):
        Messenger(MALLORY).receive(copy.data, now_ms=2000)  # sealed to Alice: nobody else reads it


def _entry(value: str, seqno: int) -> Entry:
    return Entry(seqno, edit_tag(("n",), seqno, value), value)


def _seal_raw(encoded: bytes) -> bytes:
    """Encrypt arbitrary plaintext with Alice's config key (what only her devices can do)."""
    return b"SCCF\x01\x02" + sealing.encrypt(sealing.pad(encoded), ALICE.ed25519_seed, b"UserProfile")


def test_contacts_view_skips_keys_that_name_no_session_id() -> None:
    acct = AccountConfig(ALICE)
    acct.states[b"Contacts"].set(("c", "not-a-session-id", "nickname"), "x")  # a newer device's key
    acct.states[b"Contacts"].set(("c", BOB_SID.upper(), "nickname"), "y")  # not the canonical spelling
    acct.contacts.set(BOB_SID, nickname="bob")
    assert [(c.session_id, c.nickname) for c in acct.contacts.all()] == [(BOB_SID, "bob")]
