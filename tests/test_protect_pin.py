"""PIN and duress PIN: the right PIN opens the identity, the duress PIN wipes and looks like a
fresh install, a wrong PIN changes nothing; bad setups are refused.  (Timing: benches/pin_timing.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import nacl.pwhash.argon2id as argon2id
import pytest

from protect_aids import files_under, link_all, scan
from session_core.client.pin import PinLock, has_pin
from session_core.errors import CorruptProfileError, PinSetupError, ProfileNotFoundError, WrongPinError
from session_core.identity import Identity
from session_core.identity_store import ProfileStore

FAST = dict(opslimit=argon2id.OPSLIMIT_MIN, memlimit=argon2id.MEMLIMIT_MIN)


def setup_profile(tmp: Path) -> tuple[ProfileStore, Identity, PinLock]:
    store = ProfileStore(tmp / "home", **FAST)
    ident = Identity.generate()
    store.create("alice", ident, "passphrase", display_name="Alice-CANARY")
    (store.profile_dir("alice") / "client.db").write_bytes(b"SQLite format 3\x00" + b"CANARY-db" * 100)
    lock = PinLock(store.profile_dir("alice"))
    lock.set(ident, "1234", "9999", **FAST)
    return store, ident, lock


def test_right_pin_opens_wrong_pin_changes_nothing(tmp_path: Path) -> None:
    store, ident, lock = setup_profile(tmp_path)
    assert has_pin(lock.profile_dir)
    before = {p: p.read_bytes() for p in files_under(lock.profile_dir)}
    assert lock.unlock("1234") == ident
    assert {p: p.read_bytes() for p in files_under(lock.profile_dir)} == before
    for wrong in ("0000", "12345", "", "abcd"):
        with pytest.raises(WrongPinError):
            lock.unlock(wrong)
    # Wrong PINs change nothing but the attempt count (test_protect_pin_attempts.py) ...
    assert lock.attempts().failures == 4
    changed = {p.name for p in files_under(lock.profile_dir) if p.read_bytes() != before.get(p)}
    assert changed == {"pin.json", ".pin-state"}
    slots = [json.loads(b)["slots"] for b in (before[lock.path], lock.path.read_bytes())]
    assert slots[0] == slots[1]  # the sealed slots untouched
    # ... which the right PIN clears: every byte as before.
    assert lock.unlock("1234") == ident
    assert {p: p.read_bytes() for p in files_under(lock.profile_dir)} == before
    # The file does not say which slot is the duress one, nor show the seed or the PINs.
    raw = lock.path.read_bytes()
    assert ident.seed.hex().encode() not in raw and b"1234" not in raw and b"9999" not in raw


def test_duress_pin_wipes_and_answers_like_a_fresh_install(tmp_path: Path) -> None:
    store, ident, lock = setup_profile(tmp_path)
    links = link_all(lock.profile_dir, tmp_path / "links")
    with pytest.raises(ProfileNotFoundError) as duress:
        lock.unlock("9999", profile_name="alice")
    lock.wait_wiped(10)
    fresh = ProfileStore(tmp_path / "fresh", **FAST)
    with pytest.raises(ProfileNotFoundError) as never:
        fresh.info("alice")
    assert str(duress.value) == str(never.value).replace(str(tmp_path / "fresh"), str(tmp_path / "home"))
    assert store.list() == [] and not lock.profile_dir.exists()
    assert scan([tmp_path / "links", tmp_path / "home"], [b"CANARY", ident.session_id.encode(), b"SQLite"]) == []
    assert [p.name for p in (tmp_path / "home").iterdir()] == ["profiles"]  # no trash left behind
    assert all(p.stat().st_size == 0 for p in links)
    with pytest.raises(ProfileNotFoundError):  # and the right PIN opens nothing any more
        lock.unlock("1234")


def test_bad_pins_and_files_are_refused_without_change(tmp_path: Path) -> None:
    store, ident, lock = setup_profile(tmp_path)
    before = lock.path.read_bytes()
    for pin, duress in (("123", "9999"), ("1234", "1234"), ("12a4", "9999"), ("1234", "9" * 33), ("١٢٣٤", "9999")):
        with pytest.raises(PinSetupError):
            lock.set(ident, pin, duress, **FAST)
    assert lock.path.read_bytes() == before
    lock.path.write_text('{"format": "session_core-pin", "version": 1, "kdf": "argon2id", "opslimit": 99}')
    with pytest.raises(CorruptProfileError):
        lock.unlock("1234")
    lock.remove()
    assert not has_pin(lock.profile_dir) and store.load("alice", "passphrase") == ident


def test_a_wipe_cut_short_is_finished_at_the_next_start(tmp_path: Path) -> None:
    from session_core.client.pin import finish_pending_wipes

    store, ident, lock = setup_profile(tmp_path)
    trash = tmp_path / "home" / ".wiping-0123456789abcdef"
    lock.profile_dir.rename(trash)  # as if the process died right after the duress rename
    assert finish_pending_wipes(tmp_path / "home") == 1
    assert not trash.exists() and scan([tmp_path / "home"], [b"CANARY"]) == []
