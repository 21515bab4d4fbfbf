"""PIN lock with a duress PIN (whitepaper 5.4).

Theory of operation.  ``pin.json`` in the profile directory holds one Argon2id salt and cost and
two *slots* of the same size in random order: one is the identity's seed sealed (XSalsa20-Poly1305)
under Argon2id(PIN), the other a fixed marker sealed under Argon2id(duress PIN).  Neither the
file nor its size says which slot is which, or that a duress PIN exists at all.

An unlock does the same work whatever PIN is typed: one Argon2id derivation with the file's
salt and costs, then an attempt to open *both* slots (no early exit), then one decision.  The
right PIN gives the identity; the duress PIN wipes the profile (:func:`wipe_directory`:
identity, databases, everything) and answers exactly as if the profile had never existed
(:class:`ProfileNotFoundError`, the error of a fresh install); any other PIN is
:class:`WrongPinError`.  The wipe itself (tens of ms of overwriting and fsync) would give the
duress PIN away by its time, so the answer comes after one rename that takes the profile out of
sight, and the overwriting finishes in a background thread.  ``benches/pin_timing.py`` measures the right and the duress path.

Tries are limited (:mod:`session_core.client.pin_attempts`): each one is counted before the
PIN is checked, wrong ones in a row bring escalating delays, and at the limit (default 10) the
PIN is locked for good or the profile wiped.  Right and duress PIN write the same counter
files the same way, so the limit adds nothing that tells them apart.

The PIN wraps the seed, the key every other key of the profile is derived from; the passphrase
wrapping in identity.json remains (the recovery route when the PIN is forgotten).  A short
PIN is weak against someone who copies pin.json and guesses offline: Argon2id makes each guess
cost, it cannot make 10^6 guesses impossible.  The duress PIN is for coercion, not for theft.
"""

from __future__ import annotations

import hmac
import json
import os
import queue
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.pwhash.argon2id as argon2id
import nacl.secret

from session_core.client.pin_attempts import AttemptCounter, AttemptPolicy, AttemptState
from session_core.client.wipe import overwrite_and_unlink, wipe_directory
from session_core.errors import CorruptProfileError, PinSetupError, ProfileNotFoundError, WrongPinError
from session_core.identity import Identity
from session_core.private_files import create_private

__all__ = ["PIN_FILE", "PinLock", "finish_pending_wipes", "has_pin"]

PIN_FILE = "pin.json"
_TRASH_PREFIX = ".wiping-"  # a profile taken out of sight by a duress PIN, being overwritten
_WIPE_DELAY_S = 0.2
_BEING_WIPED: set[Path] = set()  # trash directories a thread of this process is wiping now
_FORMAT = "session_core-pin"
_OPEN = b"open"
_DURESS = b"duress"
_PAYLOAD = 32  # both slots seal this many bytes: marker, zero padding, seed
_MAX_OPSLIMIT = 16
_MAX_MEMLIMIT = 1 << 30


def has_pin(profile_dir: Path) -> bool:
    return (Path(profile_dir) / PIN_FILE).exists()


def _check_pin(pin: str, what: str) -> bytes:
    if not isinstance(pin, str) or not pin.isascii() or not pin.isdigit() or not 4 <= len(pin) <= 32:
        raise PinSetupError(f"the {what} is 4 to 32 digits")
    return pin.encode("ascii")


def _payload(marker: bytes, seed: bytes = b"") -> bytes:
    body = marker + bytes(_PAYLOAD - len(marker) - len(seed)) + seed
    assert len(body) == _PAYLOAD
    return body


class PinLock:
    """The PIN file of one profile directory."""

    def __init__(self, profile_dir: Path, *, clock_ms: Callable[[], int] | None = None) -> None:
        self.profile_dir = Path(profile_dir)
        self._wiping: threading.Thread | None = None
        # Wall-clock time: the attempt delays must outlast a restart.
        self._clock_ms = clock_ms or (lambda: int(time.time() * 1000))

    @property
    def path(self) -> Path:
        return Path(self.profile_dir) / PIN_FILE

    def set(self, identity: Identity, pin: str, duress_pin: str, *, opslimit: int = argon2id.OPSLIMIT_INTERACTIVE,
            memlimit: int = argon2id.MEMLIMIT_INTERACTIVE, policy: AttemptPolicy | None = None) -> None:
        """Write (or replace) the PIN file, with a fresh attempt counter under *policy* (default:
        10 wrong PINs in a row lock the PIN).  The caller has unlocked *identity* already."""
        policy = policy if policy is not None else AttemptPolicy()
        if not isinstance(policy, AttemptPolicy):
            raise PinSetupError("the attempt policy must be an AttemptPolicy")
        a, d = _check_pin(pin, "PIN"), _check_pin(duress_pin, "duress PIN")
        if hmac.compare_digest(a, d):
            raise PinSetupError("the duress PIN must differ from the PIN")
        if not (argon2id.OPSLIMIT_MIN <= opslimit <= _MAX_OPSLIMIT and argon2id.MEMLIMIT_MIN <= memlimit <= _MAX_MEMLIMIT):
            raise PinSetupError("Argon2id costs out of range")
        salt = secrets.token_bytes(argon2id.SALTBYTES)
        slots = [self._seal(a, salt, opslimit, memlimit, _payload(_OPEN, identity.seed)),
                 self._seal(d, salt, opslimit, memlimit, _payload(_DURESS))]
        secrets.SystemRandom().shuffle(slots)
        doc: dict[str, Any] = {"format": _FORMAT, "version": 1, "kdf": "argon2id", "opslimit": opslimit,
                               "memlimit": memlimit, "salt": salt.hex(), "slots": [s.hex() for s in slots]}
        AttemptCounter(self.profile_dir, salt, self._clock_ms).start(doc, AttemptState(0, 0, policy))
        self._write_doc(doc)

    def _write_doc(self, doc: dict[str, Any]) -> None:
        tmp = self.path.with_name(PIN_FILE + ".new")
        create_private(tmp)
        tmp.write_text(json.dumps(doc), encoding="utf-8")
        os.replace(tmp, self.path)

    def attempts(self) -> AttemptState:
        """The attempt count in force (wrong PINs in a row, last try, policy)."""
        doc, salt = self._read_doc()
        return AttemptCounter(self.profile_dir, salt, self._clock_ms).load(doc)

    @staticmethod
    def _seal(pin: bytes, salt: bytes, ops: int, mem: int, payload: bytes) -> bytes:
        key = argon2id.kdf(nacl.secret.SecretBox.KEY_SIZE, pin, salt, opslimit=ops, memlimit=mem)
        return bytes(nacl.secret.SecretBox(key).encrypt(payload))

    def _read_doc(self) -> tuple[dict[str, Any], bytes]:
        """pin.json as a dict, and its salt (the rest is checked by :meth:`_read`)."""
        try:
            doc: Any = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ProfileNotFoundError(f"no PIN is set in {self.profile_dir}") from None
        except ValueError as exc:
            raise CorruptProfileError(f"{self.path} is not valid JSON: {exc}") from None
        try:
            return doc, bytes.fromhex(doc["salt"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptProfileError(f"{self.path}: malformed ({exc})") from None

    def _read(self) -> tuple[bytes, int, int, list[bytes]]:
        doc, _ = self._read_doc()
        try:
            if doc["format"] != _FORMAT or doc["version"] != 1 or doc["kdf"] != "argon2id":
                raise ValueError("not a version-1 PIN file")
            ops, mem = int(doc["opslimit"]), int(doc["memlimit"])
            salt = bytes.fromhex(doc["salt"])
            slots = [bytes.fromhex(s) for s in doc["slots"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptProfileError(f"{self.path}: malformed ({exc})") from None
        if not (argon2id.OPSLIMIT_MIN <= ops <= _MAX_OPSLIMIT and argon2id.MEMLIMIT_MIN <= mem <= _MAX_MEMLIMIT):
            raise CorruptProfileError(f"{self.path}: Argon2id costs out of range")
        if len(salt) != argon2id.SALTBYTES or len(slots) != 2 or len({len(s) for s in slots}) != 1:
            raise CorruptProfileError(f"{self.path}: wrong salt or slot sizes")
        return salt, ops, mem, slots

    def decide(self, pin: str) -> tuple[str, bytes]:
        """("open", seed) | ("duress", b"") | ("wrong", b"") after the same work for any PIN:
        one Argon2id, both slots tried, no early exit.  Does not act on the answer."""
        salt, ops, mem, slots = self._read()
        raw = pin.encode("utf-8", "replace") if isinstance(pin, str) else b""
        key = argon2id.kdf(nacl.secret.SecretBox.KEY_SIZE, raw, salt, opslimit=ops, memlimit=mem)
        box = nacl.secret.SecretBox(key)
        opened = [self._try(box, s) for s in slots]
        found = [p for p in opened if p is not None]
        if not found:
            return "wrong", b""
        payload = found[0]
        if payload.startswith(_OPEN):
            return "open", payload[-16:]
        return "duress", b""

    @staticmethod
    def _try(box: nacl.secret.SecretBox, slot: bytes) -> bytes | None:
        try:
            return bytes(box.decrypt(slot))
        except nacl.exceptions.CryptoError:
            return None

    def unlock(self, pin: str, *, profile_name: str = "") -> Identity:
        """The identity for the right PIN.  The duress PIN wipes the profile directory and raises
        what a fresh install raises (ProfileNotFoundError); a wrong PIN raises WrongPinError.

        Every unlock starts the wiper thread *before* deciding, and after deciding either hands
        it the profile or dismisses it: starting a thread waits for the scheduler, which on a
        busy machine costs milliseconds, so only the duress path doing it would show."""
        doc, salt = self._read_doc()
        counter = AttemptCounter(self.profile_dir, salt, self._clock_ms)
        state = counter.load(doc)
        counter.check(state)  # too many wrong PINs: refused before any work, nothing changed
        if "attempts" not in doc:  # a PIN file from before the counter: give it one, once
            self._read()  # (only a well-formed one)
            counter.start(doc, state)
            self._write_doc(doc)
        jobs: queue.SimpleQueue[Path | None] = queue.SimpleQueue()
        self._wiping = threading.Thread(target=_wiper, args=(jobs,), name="pin-wiper", daemon=False)
        self._wiping.start()
        handed = False
        try:
            counted = counter.counted(state)
            counter.write(counted, self.path)  # on disk before the PIN is checked
            verdict, seed = self.decide(pin)
            if verdict != "wrong":  # right and duress PIN: the same write, so the same time
                counter.write(counter.cleared(counted), self.path)
            at_limit = verdict == "wrong" and counted.failures >= counted.policy.max_failures
            if verdict == "duress" or (at_limit and counted.policy.at_limit == "wipe"):
                jobs.put(self._hide())
                handed = True
                raise ProfileNotFoundError(fresh_install_message(profile_name or self.profile_dir.name,
                                                                self.profile_dir.parent.parent))
        finally:
            if not handed:
                jobs.put(None)
        if verdict == "open":
            return Identity.from_seed(seed)
        left = counted.policy.max_failures - counted.failures
        if left <= 0:
            counter.check(counted)  # raises PinLockedOutError
        then = "the PIN is locked" if counted.policy.at_limit == "lockout" else "the profile is wiped"
        wait = AttemptCounter.describe_delay(counted.failures)
        raise WrongPinError(f"wrong PIN ({left} {'try' if left == 1 else 'tries'} left before {then}{wait})")

    def _hide(self) -> Path:
        """Take the profile out of sight at once: one rename, as cheap as the right PIN's answer.
        The wiper overwrites it afterwards; a wipe cut short (power loss) is finished by
        :func:`finish_pending_wipes`."""
        trash = self.profile_dir.parent.parent / f"{_TRASH_PREFIX}{secrets.token_hex(8)}"
        os.rename(self.profile_dir, trash)
        _BEING_WIPED.add(trash)
        return trash

    def wait_wiped(self, timeout: float | None = None) -> None:
        """Block until a duress wipe started by :meth:`unlock` has finished (tests, benches)."""
        if self._wiping is not None:
            self._wiping.join(timeout)

    def remove(self) -> None:
        """Drop the PIN (the passphrase opens the profile again); the files are overwritten."""
        for path in (self.path, AttemptCounter(self.profile_dir, b"", self._clock_ms).shadow):
            if path.exists():
                overwrite_and_unlink(path)


def _wiper(jobs: queue.SimpleQueue[Path | None]) -> None:
    """The thread of one unlock: wipes the directory it is handed, or ends when dismissed.
    Non-daemon, so the interpreter waits for a wipe before it exits."""
    trash = jobs.get()
    if trash is None:
        return
    try:
        # Start once the caller has had its answer: overwriting files at once would compete
        # with the answer for the interpreter and show up in its timing.
        time.sleep(_WIPE_DELAY_S)
        wipe_directory(trash)
    finally:
        _BEING_WIPED.discard(trash)


def finish_pending_wipes(home: Path) -> int:
    """Finish duress wipes an earlier process could not (run before opening any profile)."""
    n = 0
    for d in sorted(Path(home).glob(_TRASH_PREFIX + "*")) if Path(home).is_dir() else []:
        if d.is_dir() and not d.is_symlink() and d not in _BEING_WIPED:
            wipe_directory(d)
            n += 1
    return n


def fresh_install_message(name: str, home: Path) -> str:
    """Word for word what ProfileStore says of a profile that does not exist."""
    return f"no profile {name!r} under {home}"
