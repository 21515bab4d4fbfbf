"""Property tests: hostile input to the protection parsers raises their own errors only and
changes nothing -- backups, `expire` requests, PIN files, disappearing settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nacl.pwhash.argon2id as argon2id
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from session_core.client.backup import read_backup
from session_core.client.pin import PinLock
from session_core.errors import BackupError, CorruptProfileError, InvalidExpirationError, WrongPinError
from session_core.identity import Identity
from session_core.node.difficulty import DifficultyTracker
from session_core.node.message import Message
from session_core.node.network import NetworkView, SnodeInfo
from session_core.node.storage_rpc import StorageRPC
from session_core.node.store import MemoryStore
from session_core.protocol import storage_auth
from session_core.protocol.expiration import Expiration

IDENT = Identity.from_seed(bytes(range(16)))
ME = SnodeInfo("11" * 32, "22" * 32, "127.0.0.1", 1, 2, 0)
VIEW = NetworkView(1, "00" * 32, (ME,))
NOW = 1_700_000_000_000


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_read_backup_raises_only_backup_errors(blob: bytes) -> None:
    try:
        read_backup(blob, IDENT)
    except BackupError:
        return
    raise AssertionError("random bytes authenticated as a backup")


json_values = st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=12)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["pubkey", "pubkey_ed25519", "messages", "expiry", "signature", "shorten",
                                        "extend", "pubKey"]), json_values, max_size=8))
def test_expire_with_hostile_params_changes_nothing(overrides: dict[str, Any]) -> None:
    store = MemoryStore()
    m = Message(pubkey=IDENT.session_id, hash="h1", data="QUJD", ttl=3_600_000, timestamp=NOW, nonce="n")
    store.save_if_new(m)
    rpc = StorageRPC(store, lambda: VIEW, ME.ed25519, DifficultyTracker(), lambda: NOW)
    params = {**storage_auth.expire_params(IDENT, ["h1"], NOW + 1_000), **overrides}
    out = rpc.handle(json.dumps({"method": "expire", "params": params}).encode())
    changed = store.get("h1", NOW + 2_000) is None
    if out.reply.status == 200:  # accepted: then the owner really signed what was done
        pk = params.get("pubkey", params.get("pubKey"))
        assert storage_auth.verify_owner(pk, params["pubkey_ed25519"], params["signature"], storage_auth.expire_message(
            params["expiry"], params["messages"], shorten=params.get("shorten") is True))
    else:
        assert not changed
    assert out.reply.status in (200, 400, 401)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=80))
def test_pin_file_garbage_is_a_corrupt_profile(tmp_path: Path, text: str) -> None:
    (tmp_path / "pin.json").write_text(text)
    try:
        PinLock(tmp_path).unlock("1234")
    except (CorruptProfileError, WrongPinError):
        return
    raise AssertionError("a garbage PIN file opened")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_expiration_parse_raises_only_its_error(text: str) -> None:
    try:
        e = Expiration.parse(text)
    except InvalidExpirationError:
        return
    assert e is None or Expiration.parse(str(e)) == e


def test_pin_costs_are_bounded_before_any_work(tmp_path: Path) -> None:
    lock = PinLock(tmp_path)
    lock.set(IDENT, "1234", "5678", opslimit=argon2id.OPSLIMIT_MIN, memlimit=argon2id.MEMLIMIT_MIN)
    doc = json.loads(lock.path.read_text())
    doc["memlimit"] = 1 << 40  # a hostile file must not make us allocate a terabyte
    lock.path.write_text(json.dumps(doc))
    try:
        lock.unlock("1234")
    except CorruptProfileError:
        return
    raise AssertionError("out-of-range costs accepted")
