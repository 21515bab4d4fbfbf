"""The PIN attempt limit: escalating delays after wrong PINs, a hard lockout or a wipe at the
limit, a count that survives restarts and is not reset by editing (or deleting) one file, and
refused tries that change nothing."""

from __future__ import annotations

import json
from pathlib import Path

import nacl.pwhash.argon2id as argon2id
import pytest

from protect_aids import files_under
from session_core.client.pin import PinLock
from session_core.client.pin_attempts import SHADOW_FILE, AttemptPolicy, delay_after
from session_core.errors import (PinAttemptsError, PinDelayError, PinLockedOutError, PinSetupError,
                                 ProfileNotFoundError, WrongPinError)
from session_core.identity import Identity
from session_core.identity_store import ProfileStore

FAST = dict(opslimit=argon2id.OPSLIMIT_MIN, memlimit=argon2id.MEMLIMIT_MIN)
T0 = 1_800_000_000_000


class Clock:
    def __init__(self) -> None:
        self.ms = T0

    def __call__(self) -> int:
        return self.ms


def setup(tmp: Path, policy: AttemptPolicy | None = None) -> tuple[ProfileStore, Identity, PinLock, Clock]:
    store = ProfileStore(tmp / "home", **FAST)
    ident = Identity.generate()
    store.create("alice", ident, "passphrase", display_name="Alice")
    clock = Clock()
    lock = PinLock(store.profile_dir("alice"), clock_ms=clock)
    lock.set(ident, "1234", "9999", policy=policy, **FAST)
    return store, ident, lock, clock


def snapshot(lock: PinLock) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in files_under(lock.profile_dir)}


def wrong(lock: PinLock, n: int = 1) -> None:
    for _ in range(n):
        with pytest.raises(WrongPinError):
            lock.unlock("0000")


def test_the_schedule_is_the_documented_one() -> None:
    assert [delay_after(n) for n in range(11)] == [0, 0, 0, 0, 0, 60, 300, 900, 900, 3600, 3600]


def test_delays_escalate_and_a_refused_try_changes_nothing(tmp_path: Path) -> None:
    _, ident, lock, clock = setup(tmp_path)
    wrong(lock, 4)  # no delay yet
    with pytest.raises(WrongPinError, match="5 tries left before the PIN is locked; next try in 60 s"):
        lock.unlock("0000")
    before = snapshot(lock)
    for pin in ("1234", "0000", "9999"):  # even the right and the duress PIN wait
        with pytest.raises(PinDelayError) as exc:
            lock.unlock(pin)
        assert exc.value.retry_after_s == 60 and isinstance(exc.value, PermissionError)
    assert snapshot(lock) == before and lock.profile_dir.exists()
    clock.ms += 59_000
    with pytest.raises(PinDelayError, match="try again in 1 s"):
        lock.unlock("1234")
    clock.ms += 1_000
    wrong(lock)  # the 6th: 5 minutes
    clock.ms += 299_999
    with pytest.raises(PinDelayError):
        lock.unlock("1234")
    clock.ms += 1
    assert lock.unlock("1234") == ident  # the right PIN clears the count
    assert lock.attempts().failures == 0
    wrong(lock, 4)  # and the free tries are back


def test_hard_lockout_at_the_limit_then_the_passphrase_way_back(tmp_path: Path) -> None:
    store, ident, lock, clock = setup(tmp_path, AttemptPolicy(max_failures=3))
    wrong(lock, 2)
    with pytest.raises(PinLockedOutError, match="3 wrong PINs in a row: the PIN is locked"):
        lock.unlock("0000")
    clock.ms += 10 * 24 * 3600 * 1000  # no amount of waiting helps
    before = snapshot(lock)
    for pin in ("1234", "9999", "0000"):
        with pytest.raises(PinLockedOutError):
            lock.unlock(pin)
    assert snapshot(lock) == before  # the duress PIN does not wipe either: it was not tried
    assert store.load("alice", "passphrase") == ident  # the passphrase still opens the profile
    lock.remove()
    assert not (lock.profile_dir / SHADOW_FILE).exists()
    lock.set(ident, "4321", "8888", **FAST)
    assert lock.unlock("4321") == ident


def test_wipe_at_the_limit(tmp_path: Path) -> None:
    store, _, lock, _ = setup(tmp_path, AttemptPolicy(max_failures=3, at_limit="wipe"))
    wrong(lock)
    with pytest.raises(WrongPinError, match="1 try left before the profile is wiped"):
        lock.unlock("0000")
    with pytest.raises(ProfileNotFoundError):
        lock.unlock("0000")
    lock.wait_wiped(10)
    assert not lock.profile_dir.exists() and store.list() == []


def test_the_count_survives_a_restart_and_a_kill_during_the_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, ident, lock, clock = setup(tmp_path)
    wrong(lock, 3)
    again = PinLock(lock.profile_dir, clock_ms=clock)  # another process
    assert again.attempts().failures == 3

    def killed(self: PinLock, pin: str) -> tuple[str, bytes]:
        raise KeyboardInterrupt  # the process dies while Argon2id runs
    monkeypatch.setattr(PinLock, "decide", killed)
    with pytest.raises(KeyboardInterrupt):
        again.unlock("0000")
    monkeypatch.undo()
    assert PinLock(lock.profile_dir, clock_ms=clock).attempts().failures == 4  # counted before the check
    again.wait_wiped(5)


def test_editing_or_deleting_one_copy_does_not_reset_the_count(tmp_path: Path) -> None:
    _, ident, lock, clock = setup(tmp_path)
    wrong(lock, 5)
    shadow = lock.profile_dir / SHADOW_FILE
    fresh_record = "0000.0000000000000000.010.lockout"
    # pin.json edited back to zero: the shadow's count stands.
    doc = json.loads(lock.path.read_text())
    doc["attempts"] = fresh_record
    lock.path.write_text(json.dumps(doc))
    with pytest.raises(PinDelayError):
        lock.unlock("1234")
    # The shadow edited back to zero as well as a higher limit in one copy: still the strict one.
    text = shadow.read_text().splitlines()
    saved = shadow.read_bytes()
    shadow.write_text(f"{text[0]}\n0000.0000000000000000.100.lockout\n")
    doc["attempts"] = "0005.%016d.010.lockout" % T0
    lock.path.write_text(json.dumps(doc))
    assert lock.attempts().failures == 5 and lock.attempts().policy.max_failures == 10
    shadow.write_bytes(saved)
    # One copy removed, emptied, garbled or taken from another profile: locked, not reset.
    for tamper in (lambda: shadow.unlink(), lambda: shadow.write_bytes(b""),
                   lambda: shadow.write_text(f"{'00' * 16}\n{fresh_record}\n"),
                   lambda: shadow.write_text(f"{text[0]}\n0000.00.010.lockout\n")):
        tamper()
        with pytest.raises(PinLockedOutError, match="missing or altered"):
            lock.unlock("1234")
        shadow.write_bytes(saved)
    del doc["attempts"]
    lock.path.write_text(json.dumps(doc))
    with pytest.raises(PinLockedOutError, match="missing or altered"):
        lock.unlock("1234")


def test_a_clock_set_back_does_not_shorten_the_delay(tmp_path: Path) -> None:
    _, ident, lock, clock = setup(tmp_path)
    wrong(lock, 5)
    clock.ms -= 3600_000  # an hour back
    with pytest.raises(PinDelayError) as exc:
        lock.unlock("1234")
    assert exc.value.retry_after_s >= 3600 + 60


def test_a_pin_file_from_before_the_counter_gets_one(tmp_path: Path) -> None:
    _, ident, lock, clock = setup(tmp_path)
    doc = json.loads(lock.path.read_text())
    del doc["attempts"]
    lock.path.write_text(json.dumps(doc))
    (lock.profile_dir / SHADOW_FILE).unlink()
    wrong(lock)
    assert lock.attempts().failures == 1 and (lock.profile_dir / SHADOW_FILE).exists()
    assert lock.unlock("1234") == ident


def test_bad_policies_are_refused_and_change_nothing(tmp_path: Path) -> None:
    _, ident, lock, _ = setup(tmp_path)
    before = snapshot(lock)
    for bad in (dict(max_failures=2), dict(max_failures=101), dict(max_failures=True),
                dict(at_limit="explode"), dict(at_limit="")):
        with pytest.raises(PinSetupError) as exc:
            AttemptPolicy(**bad)  # type: ignore[arg-type]
        assert isinstance(exc.value, ValueError)
    with pytest.raises(PinSetupError):
        lock.set(ident, "1111", "2222", policy="lockout", **FAST)  # type: ignore[arg-type]
    assert snapshot(lock) == before
    assert issubclass(PinDelayError, PinAttemptsError) and issubclass(PinLockedOutError, PermissionError)
