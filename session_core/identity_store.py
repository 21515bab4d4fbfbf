"""Identity profiles on disk: several pseudonyms per machine, secrets encrypted at rest.

Layout under the session_core home (``$SESSION_CORE_HOME``, else the platform's per-user data
directory from ``platformdirs``, e.g. ``~/.local/share/session-core`` on Linux)::

    profiles/<name>/identity.json    public info + the encrypted 16-byte seed

Each profile has its own directory so that later layers (the client's SQLite database) can keep
their files beside the identity.

How the secret is protected (simple and honest): the seed is encrypted with XSalsa20-Poly1305
(libsodium ``secretbox``) under a key derived from a passphrase with Argon2id (libsodium
``pwhash``; salt and cost parameters are stored in the file).  Without the passphrase the file
reveals only the Session ID, the display name and the creation time.  There is no escrow: a
forgotten passphrase means restoring from the recovery phrase.  The file is created with mode
0600, so on a shared machine other users cannot even read the ciphertext.  Nothing here protects
against malware running as the same user while the profile is unlocked.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.pwhash.argon2id as argon2id
import nacl.secret
import platformdirs

from session_core.errors import (
    CorruptProfileError,
    InvalidInputError,
    InvalidProfileNameError,
    ProfileExistsError,
    ProfileNotFoundError,
    WrongPassphraseError,
)
from session_core.identity import Identity

__all__ = [
    "HOME_ENV",
    "ProfileInfo",
    "ProfileStore",
    "default_home",
]

HOME_ENV = "SESSION_CORE_HOME"
_FORMAT = "session_core-profile"
_VERSION = 1
_IDENTITY_FILE = "identity.json"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# A hostile or corrupt file must not make us allocate gigabytes or spin for minutes.
_MAX_MEMLIMIT = 1 << 30
_MAX_OPSLIMIT = 16


def default_home() -> Path:
    """``$SESSION_CORE_HOME`` if set, else the per-user data directory of session-core."""
    env = os.environ.get(HOME_ENV, "")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("session-core", appauthor=False))


@dataclass(frozen=True)
class ProfileInfo:
    """What a profile shows without its passphrase."""

    name: str
    session_id: str
    display_name: str
    created_ms: int
    path: Path


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InvalidProfileNameError(
            f"profile names are 1-64 characters of [A-Za-z0-9_.-] starting with a letter or digit,"
            f" got {name!r}"
        )
    return name


def _derive_key(passphrase: str, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    return bytes(
        argon2id.kdf(
            nacl.secret.SecretBox.KEY_SIZE,
            passphrase.encode("utf-8"),
            salt,
            opslimit=opslimit,
            memlimit=memlimit,
        )
    )


class ProfileStore:
    """The profiles under one session_core home directory.

    ``opslimit``/``memlimit`` are the Argon2id costs used for *new* profiles (defaults: libsodium's
    "interactive" level, about a quarter second here); loading uses the costs stored in the file.
    """

    def __init__(
        self,
        home: Path | str | None = None,
        *,
        opslimit: int = argon2id.OPSLIMIT_INTERACTIVE,
        memlimit: int = argon2id.MEMLIMIT_INTERACTIVE,
    ) -> None:
        self.home = Path(home).expanduser() if home is not None else default_home()
        if not (argon2id.OPSLIMIT_MIN <= opslimit <= _MAX_OPSLIMIT):
            raise InvalidInputError(f"opslimit out of range: {opslimit}")
        if not (argon2id.MEMLIMIT_MIN <= memlimit <= _MAX_MEMLIMIT):
            raise InvalidInputError(f"memlimit out of range: {memlimit}")
        self._opslimit = opslimit
        self._memlimit = memlimit

    @property
    def profiles_dir(self) -> Path:
        return self.home / "profiles"

    def profile_dir(self, name: str) -> Path:
        """The directory of a profile (for files other layers keep beside the identity)."""
        return self.profiles_dir / _check_name(name)

    # -- create -------------------------------------------------------------------------------

    def create(
        self, name: str, identity: Identity, passphrase: str, *, display_name: str = "",
        created_ms: int = 0,
    ) -> ProfileInfo:
        """Store ``identity`` as a new profile; never overwrites an existing one."""
        _check_name(name)
        if not isinstance(passphrase, str) or not passphrase:
            raise InvalidInputError("a non-empty passphrase is required to encrypt the profile")
        if not isinstance(display_name, str) or len(display_name) > 64:
            raise InvalidInputError("the display name is a str of at most 64 characters")
        salt = secrets.token_bytes(argon2id.SALTBYTES)
        key = _derive_key(passphrase, salt, self._opslimit, self._memlimit)
        box = nacl.secret.SecretBox(key)
        nonce = secrets.token_bytes(nacl.secret.SecretBox.NONCE_SIZE)
        ciphertext = box.encrypt(identity.seed, nonce).ciphertext
        document = {
            "format": _FORMAT,
            "version": _VERSION,
            "name": name,
            "session_id": identity.session_id,
            "display_name": display_name,
            "created_ms": int(created_ms),
            "secret": {
                "cipher": "xsalsa20poly1305",
                "kdf": "argon2id",
                "opslimit": self._opslimit,
                "memlimit": self._memlimit,
                "salt": salt.hex(),
                "nonce": nonce.hex(),
                "ciphertext": bytes(ciphertext).hex(),
            },
        }
        directory = self.profile_dir(name)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = directory / _IDENTITY_FILE
        try:
            # O_EXCL: two processes creating the same profile cannot both win.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise ProfileExistsError(f"profile {name!r} already exists at {path}") from None
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2)
            handle.write("\n")
        return self.info(name)

    # -- read ---------------------------------------------------------------------------------

    def _read(self, name: str) -> tuple[dict[str, Any], Path]:
        path = self.profile_dir(name) / _IDENTITY_FILE
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ProfileNotFoundError(f"no profile {name!r} under {self.home}") from None
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise CorruptProfileError(f"{path} is not valid JSON: {exc}") from None
        if not isinstance(document, dict) or document.get("format") != _FORMAT:
            raise CorruptProfileError(f"{path} is not a session_core profile")
        if document.get("version") != _VERSION:
            raise CorruptProfileError(f"{path} has unsupported version {document.get('version')!r}")
        return document, path

    def info(self, name: str) -> ProfileInfo:
        """Public information of a profile (no passphrase needed)."""
        document, path = self._read(name)
        try:
            return ProfileInfo(
                name=name,
                session_id=str(document["session_id"]),
                display_name=str(document.get("display_name", "")),
                created_ms=int(document.get("created_ms", 0)),
                path=path.parent,
            )
        except (KeyError, TypeError, ValueError):
            raise CorruptProfileError(f"{path} lacks its session_id") from None

    def list(self) -> list[ProfileInfo]:
        """All readable profiles, sorted by name (unreadable ones are skipped)."""
        if not self.profiles_dir.is_dir():
            return []
        found: list[ProfileInfo] = []
        for entry in sorted(self.profiles_dir.iterdir()):
            if entry.is_dir() and _NAME_RE.match(entry.name):
                try:
                    found.append(self.info(entry.name))
                except (ProfileNotFoundError, CorruptProfileError):
                    continue
        return found

    def load(self, name: str, passphrase: str) -> Identity:
        """Decrypt a profile's identity; :class:`WrongPassphraseError` if it does not unlock."""
        document, path = self._read(name)
        try:
            secret = document["secret"]
            opslimit = int(secret["opslimit"])
            memlimit = int(secret["memlimit"])
            salt = bytes.fromhex(secret["salt"])
            nonce = bytes.fromhex(secret["nonce"])
            ciphertext = bytes.fromhex(secret["ciphertext"])
            expected_id = str(document["session_id"])
            if secret.get("kdf") != "argon2id" or secret.get("cipher") != "xsalsa20poly1305":
                raise ValueError("unknown kdf or cipher")
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptProfileError(f"{path}: malformed secret section ({exc})") from None
        if not (argon2id.OPSLIMIT_MIN <= opslimit <= _MAX_OPSLIMIT) or not (
            argon2id.MEMLIMIT_MIN <= memlimit <= _MAX_MEMLIMIT
        ):
            raise CorruptProfileError(f"{path}: KDF cost parameters out of range")
        if len(salt) != argon2id.SALTBYTES or len(nonce) != nacl.secret.SecretBox.NONCE_SIZE:
            raise CorruptProfileError(f"{path}: salt or nonce has the wrong size")
        if not isinstance(passphrase, str):
            raise InvalidInputError("the passphrase is a str")
        key = _derive_key(passphrase, salt, opslimit, memlimit)
        try:
            seed = nacl.secret.SecretBox(key).decrypt(ciphertext, nonce)
        except nacl.exceptions.CryptoError:
            raise WrongPassphraseError(f"wrong passphrase for profile {name!r}") from None
        try:
            identity = Identity.from_seed(bytes(seed))
        except ValueError:
            raise CorruptProfileError(f"{path}: the decrypted seed has the wrong size") from None
        if identity.session_id != expected_id:
            # The plaintext header was edited: refuse rather than show a misleading Session ID.
            raise CorruptProfileError(f"{path}: stored Session ID does not match the secret")
        return identity
