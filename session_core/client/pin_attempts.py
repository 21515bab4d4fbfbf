"""The PIN attempt limit: escalating delays after wrong PINs, then a hard lockout or a wipe.

Theory of operation
-------------------
Every PIN try is counted *before* the PIN is checked (the count is on disk before the Argon2id
starts), so killing the process when a try turns out wrong saves nothing; a right PIN (or the
duress PIN, on its way to the wipe) sets the count back to zero.  After a run of wrong PINs the
next try must wait (:func:`delay_after`: the schedule of the iOS passcode, which is what a
Session app's lock inherits there: nothing for 4 failures, then 1 min, 5 min, 15 min, 15 min,
1 h), and at :attr:`AttemptPolicy.max_failures` wrong PINs in a row (default 10) the PIN is
locked for good (``lockout``: only the passphrase opens the profile) or the profile is wiped
(``wipe``).  A try refused for either reason does no Argon2id and changes nothing.

Where the count lives.  In two places that must agree: the ``attempts`` member of ``pin.json``
and a second file, ``.pin-state``, tied to that ``pin.json`` by a tag of its salt.  The count in
force is the larger of the two, the limit the stricter, so editing one of them back does not
reset anything; a missing or altered copy (while the other says a PIN with a counter is set)
locks the PIN (:class:`PinLockedOutError`), it does not reset it.  Both are fixed-width records
overwritten *in place*: a write-and-rename would leave each earlier ``pin.json`` -- the sealed
seed -- in freed blocks the wipe can no longer reach, once per PIN try.

What it does not stop: someone who can copy ``pin.json`` guesses offline at the Argon2id cost
(docs/protections.md), and someone who can rewrite both files, or restore a copy of the whole
profile directory, or set the system clock forward (the delays are wall-clock time, the only
time that survives a restart), gets more tries.  The limit is for a thief with the device and
our program, not with a file editor.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import nacl.hash

from session_core.errors import PinDelayError, PinLockedOutError, PinSetupError
from session_core.private_files import create_private

__all__ = ["AT_LIMIT", "AttemptPolicy", "AttemptState", "AttemptCounter", "SHADOW_FILE", "delay_after"]

SHADOW_FILE = ".pin-state"
AT_LIMIT = ("lockout", "wipe")
MIN_MAX_FAILURES, MAX_MAX_FAILURES = 3, 100
#: Seconds to wait after the n-th wrong PIN in a row (the iOS passcode schedule); from the 9th on
#: an hour each until the limit.
_DELAYS_S = {5: 60, 6: 5 * 60, 7: 15 * 60, 8: 15 * 60}
_LAST_DELAY_S = 60 * 60


def delay_after(failures: int) -> int:
    """Seconds the next try must wait after *failures* wrong PINs in a row."""
    if failures < 5:
        return 0
    return _DELAYS_S.get(failures, _LAST_DELAY_S)


@dataclass(frozen=True)
class AttemptPolicy:
    #: Wrong PINs in a row after which the PIN stops working (default 10, as iOS's "erase data"
    #: and Signal's PIN guess limit).
    max_failures: int = 10
    #: What happens then: ``lockout`` (only the passphrase opens the profile; the default, so a
    #: prankster typing ten PINs cannot destroy the account) or ``wipe`` (the whole profile).
    at_limit: str = "lockout"

    def __post_init__(self) -> None:
        if isinstance(self.max_failures, bool) or not isinstance(self.max_failures, int) \
                or not MIN_MAX_FAILURES <= self.max_failures <= MAX_MAX_FAILURES:
            raise PinSetupError(f"the attempt limit is {MIN_MAX_FAILURES} to {MAX_MAX_FAILURES} wrong PINs")
        if self.at_limit not in AT_LIMIT:
            raise PinSetupError(f"at the attempt limit the profile is locked or wiped: one of {', '.join(AT_LIMIT)}")


@dataclass(frozen=True)
class AttemptState:
    failures: int  # wrong PINs in a row
    last_ms: int  # wall-clock time of the last counted try (0: none)
    policy: AttemptPolicy

    def record(self) -> str:
        """The fixed-width text both copies hold (same length whatever the values)."""
        return (f"{min(self.failures, 9999):04d}.{min(self.last_ms, 10**16 - 1):016d}."
                f"{self.policy.max_failures:03d}.{self.policy.at_limit:<7}")

    @classmethod
    def parse(cls, text: str) -> AttemptState:
        m = _RECORD.fullmatch(text)
        if m is None:
            raise ValueError("not an attempt record")
        return cls(int(m[1]), int(m[2]), AttemptPolicy(int(m[3]), m[4].rstrip()))


_RECORD = re.compile(r"(\d{4})\.(\d{16})\.(\d{3})\.(lockout|wipe   )")
RECORD_CHARS = len("0000.0000000000000000.010.lockout")


def _tampered(where: Path) -> PinLockedOutError:
    return PinLockedOutError(
        f"the PIN attempt counter in {where} is missing or altered: the PIN is locked; open the profile "
        "with its passphrase (session-core pin remove --passphrase) and set the PIN again")


class AttemptCounter:
    """The two copies of one profile's count, read and written together."""

    def __init__(self, profile_dir: Path, salt: bytes, clock_ms: Callable[[], int]) -> None:
        self.profile_dir = Path(profile_dir)
        self._tag = nacl.hash.blake2b(salt, digest_size=16, person=b"sc-pin-attempts",
                                      encoder=nacl.encoding.HexEncoder).decode("ascii")
        self._clock_ms = clock_ms

    @property
    def shadow(self) -> Path:
        return self.profile_dir / SHADOW_FILE

    # -- reading ------------------------------------------------------------------------------

    def load(self, pin_doc: dict[str, Any]) -> AttemptState:
        """The state in force: the larger count and the stricter policy of the two copies.
        A PIN file from before the counter existed (no copy anywhere) starts at zero."""
        main = pin_doc.get("attempts")
        shadow = self._read_shadow()
        if main is None and shadow is None:
            return AttemptState(0, 0, AttemptPolicy())
        if not isinstance(main, str) or shadow is None:
            raise _tampered(self.profile_dir)
        try:
            a, b = AttemptState.parse(main), AttemptState.parse(shadow)
        except (ValueError, PinSetupError):
            raise _tampered(self.profile_dir) from None
        policy = AttemptPolicy(min(a.policy.max_failures, b.policy.max_failures),
                               "wipe" if "wipe" in (a.policy.at_limit, b.policy.at_limit) else "lockout")
        return AttemptState(max(a.failures, b.failures), max(a.last_ms, b.last_ms), policy)

    def _read_shadow(self) -> str | None:
        """The shadow's record, if the file exists (``tag\nrecord\n``, for this pin.json)."""
        try:
            raw = self.shadow.read_bytes()
        except FileNotFoundError:
            return None
        except OSError:
            raise _tampered(self.profile_dir) from None
        lines = raw.split(b"\n")
        if len(lines) != 3 or lines[2] != b"" or lines[0] != self._tag.encode("ascii"):
            raise _tampered(self.profile_dir)
        try:
            return lines[1].decode("ascii")
        except UnicodeDecodeError:
            raise _tampered(self.profile_dir) from None

    # -- deciding whether a try may happen ----------------------------------------------------

    def check(self, state: AttemptState) -> None:
        """Raise if no try is allowed now (nothing is counted or changed)."""
        if state.failures >= state.policy.max_failures:
            raise PinLockedOutError(
                f"{state.failures} wrong PINs in a row: the PIN is locked; open the profile with its passphrase "
                "(session-core pin remove --passphrase) and set the PIN again")
        wait_ms = delay_after(state.failures) * 1000
        now = self._clock_ms()
        if wait_ms and now < state.last_ms:
            # The clock went back: count the delay from the later of the two times.
            remaining = state.last_ms - now + wait_ms
        else:
            remaining = state.last_ms + wait_ms - now
        if wait_ms and remaining > 0:
            secs = -(-remaining // 1000)
            raise PinDelayError(f"{state.failures} wrong PINs in a row: try again in {secs} s "
                                f"({state.policy.max_failures - state.failures} tries left before the PIN is "
                                f"{'wiped with the profile' if state.policy.at_limit == 'wipe' else 'locked'})", secs)

    @staticmethod
    def describe_delay(failures: int) -> str:
        """``"; next try in 60 s"`` when wrong PINs so far impose a wait, else ``""``."""
        d = delay_after(failures)
        return f"; next try in {d} s" if d else ""

    # -- writing ------------------------------------------------------------------------------

    def counted(self, state: AttemptState) -> AttemptState:
        """The state once this try is counted as wrong (written before the PIN is checked)."""
        return replace(state, failures=state.failures + 1, last_ms=self._clock_ms())

    @staticmethod
    def cleared(state: AttemptState) -> AttemptState:
        return replace(state, failures=0, last_ms=0)

    def start(self, pin_doc: dict[str, Any], state: AttemptState) -> None:
        """A new PIN: the shadow file made afresh, the record put in *pin_doc* (to be written)."""
        create_private(self.shadow)
        with open(self.shadow, "r+b") as f:
            f.write(self._shadow_bytes(state))
            f.truncate()
        pin_doc["attempts"] = state.record()

    def write(self, state: AttemptState, pin_path: Path) -> None:
        """Both copies, each overwritten in place (same inode, same length)."""
        _overwrite_at(self.shadow, 0, self._shadow_bytes(state))
        raw = pin_path.read_bytes()
        at = raw.find(_PIN_MARK)
        if at < 0:
            raise _tampered(self.profile_dir)
        _overwrite_at(pin_path, at + len(_PIN_MARK), state.record().encode("ascii"))

    def _shadow_bytes(self, state: AttemptState) -> bytes:
        return f"{self._tag}\n{state.record()}\n".encode("ascii")


#: How the record starts in pin.json (json.dumps with its default separators).
_PIN_MARK = b'"attempts": "'


def _overwrite_at(path: Path, offset: int, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, data, offset)
    finally:
        os.close(fd)
