"""Encrypted backups of a profile's state, keyed by the seed (whitepaper 5.4).

What a backup holds: the Messenger (prekeys, contacts, ratchet sessions), the message history,
the per-conversation disappearing-message timers, the remote-wipe armings and the dedup tags of
envelopes already handled.  What it leaves out on purpose: messages that disappear (a restore
must not bring back what was meant to vanish -- a complaint of Session users) and the node list.

Key: HKDF-SHA256 of the identity's Ed25519 seed (salt ``session_core/backup/v1``), so the
13-word recovery phrase alone opens it.  Cipher: AES-256-GCM, random 96-bit nonce, the format
header as associated data.  Layout: ``b"SCBACKUP" || version(1) || nonce(12) || ciphertext+tag``.
Any change to any byte, or a backup of another identity, fails authentication
(:class:`BackupTamperedError`); nothing is written before it has been read whole and verified.

On restore the remote-wipe armings are re-stamped with the restore time: a trigger message of
the friend sent before the restore (still in the swarm, still decryptable with the restored
sessions) must not wipe the restored account again.
"""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from session_core.client.db import ClientDB
from session_core.errors import BackupError, BackupTamperedError, ClientStateError, StateDecryptionError
from session_core.identity import Identity
from session_core.protocol.conversation import Messenger

__all__ = ["BackupContents", "create_backup", "read_backup", "restore_backup"]

_MAGIC = b"SCBACKUP"
_VERSION = 1
_HEADER = _MAGIC + bytes([_VERSION])
_NONCE = 12
MAX_BACKUP_BYTES = 512 * 1024 * 1024


def _key(identity: Identity) -> AESGCM:
    return AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=b"session_core/backup/v1",
                       info=b"backup key").derive(identity.ed25519_seed))


BackupContents = dict[str, Any]


def create_backup(db: ClientDB, messenger: Messenger, identity: Identity, now_ms: int) -> bytes:
    """The encrypted backup of a profile's state (the caller has saved the Messenger)."""
    disappearing = {int(r[0]) for r in db.db.execute("SELECT msg_id FROM expiries")}
    messages = [{k: v for k, v in m.items() if k != "id"} for m in db.messages() if m["id"] not in disappearing]
    kv = {}
    for (name,) in db.db.execute("SELECT name FROM kv WHERE name LIKE 'expire:%' OR name = 'remote_wipe'"):
        kv[str(name)] = db.get(str(name))
    doc = {"v": _VERSION, "session_id": identity.session_id, "created_ms": now_ms,
           "messenger": base64.b64encode(messenger.to_bytes()).decode("ascii"),
           "messages": messages, "kv": kv,
           "seen": [str(r[0]) for r in db.db.execute("SELECT tag FROM seen")]}
    nonce = secrets.token_bytes(_NONCE)
    return _HEADER + nonce + _key(identity).encrypt(nonce, json.dumps(doc, separators=(",", ":")).encode(), _HEADER)


def read_backup(blob: bytes, identity: Identity) -> BackupContents:
    """Decrypt and check a backup; raises BackupError / BackupTamperedError, changes nothing."""
    if not isinstance(blob, (bytes, bytearray)) or len(blob) < len(_HEADER) + _NONCE + 16:
        raise BackupError("not a session_core backup (too short)")
    if len(blob) > MAX_BACKUP_BYTES:
        raise BackupError(f"backup larger than {MAX_BACKUP_BYTES} bytes")
    if bytes(blob[: len(_MAGIC)]) != _MAGIC:
        raise BackupError("not a session_core backup (no SCBACKUP header)")
    if blob[len(_MAGIC)] != _VERSION:
        raise BackupError(f"backup format version {blob[len(_MAGIC)]} is not supported (this reads {_VERSION})")
    nonce = bytes(blob[len(_HEADER): len(_HEADER) + _NONCE])
    try:
        raw = _key(identity).decrypt(nonce, bytes(blob[len(_HEADER) + _NONCE:]), _HEADER)
    except InvalidTag:
        raise BackupTamperedError("the backup does not authenticate: it was changed, or it belongs to another "
                                  "recovery phrase") from None
    try:
        doc = json.loads(raw)
        if doc["session_id"] != identity.session_id or doc["v"] != _VERSION:
            raise ValueError("identity or version mismatch inside the backup")
        messenger = Messenger.from_bytes(identity, base64.b64decode(doc["messenger"]))
        if not isinstance(doc["messages"], list) or not isinstance(doc["kv"], dict) or not isinstance(doc["seen"], list):
            raise ValueError("malformed sections")
        if not all(isinstance(m, dict) and isinstance(m.get("peer"), str) and isinstance(m.get("ts", 0), int)
                   for m in doc["messages"]) or not all(isinstance(t, str) for t in doc["seen"]):
            raise ValueError("malformed message or seen entries")
    except (ValueError, KeyError, TypeError, StateDecryptionError) as exc:
        raise BackupError(f"the backup authenticates but its contents are malformed: {exc}") from None
    doc["messenger_obj"] = messenger
    return dict(doc)


def restore_backup(blob: bytes, identity: Identity, profile_dir: Path, now_ms: int) -> BackupContents:
    """Rebuild the client database of *identity* in *profile_dir* from a backup.  Refuses a
    profile directory that already has a client database (a restore never merges)."""
    doc = read_backup(blob, identity)
    path = Path(profile_dir) / "client.db"
    if path.exists():
        raise ClientStateError(f"{path} exists: restore into a fresh profile")
    db = ClientDB(path, identity)
    try:
        _fill(db, doc, now_ms)
    except BaseException:
        db.close()
        for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            p.unlink(missing_ok=True)  # a restore that fails leaves no half-made profile
        raise
    db.close()
    return doc


def _fill(db: ClientDB, doc: BackupContents, now_ms: int) -> None:
    db.save_messenger(doc["messenger_obj"])
    db.db.execute("BEGIN")
    for m in doc["messages"]:
        db.add_message(str(m["peer"]), m, int(m.get("ts", now_ms)))
    for name, value in doc["kv"].items():
        if name == "remote_wipe" and isinstance(value, list):
            value = [{**a, "armed_ms": now_ms} for a in value]  # see the module docstring
        db.put(str(name), value)
    db.db.executemany("INSERT OR IGNORE INTO seen(tag, at) VALUES (?, ?)", [(str(t), now_ms) for t in doc["seen"]])
    db.db.execute("COMMIT")
