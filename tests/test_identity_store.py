"""session_core.identity_store: profiles under a home directory, secrets encrypted at rest."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import nacl.pwhash.argon2id as argon2id
import pytest

from session_core.errors import (
    CorruptProfileError,
    InvalidInputError,
    InvalidProfileNameError,
    ProfileExistsError,
    ProfileNotFoundError,
    WrongPassphraseError,
)
from session_core.identity import Identity
from session_core.identity_store import HOME_ENV, ProfileStore, default_home


@pytest.fixture
def store(tmp_path: Path) -> ProfileStore:
    # Minimum Argon2id cost keeps the tests fast; the format records the cost per file.
    return ProfileStore(tmp_path, opslimit=argon2id.OPSLIMIT_MIN, memlimit=argon2id.MEMLIMIT_MIN)


def test_create_load_roundtrip(store: ProfileStore) -> None:
    ident = Identity.generate()
    info = store.create("alice", ident, "pw", display_name="Alice", created_ms=123)
    assert info.session_id == ident.session_id and info.display_name == "Alice"
    assert info.created_ms == 123
    assert store.load("alice", "pw") == ident


def test_several_profiles_listed(store: ProfileStore) -> None:
    ids = {name: Identity.generate() for name in ("work", "anon.1", "z_z")}
    for name, ident in ids.items():
        store.create(name, ident, "pw")
    listed = store.list()
    assert [p.name for p in listed] == sorted(ids)
    assert {p.name: p.session_id for p in listed} == {n: i.session_id for n, i in ids.items()}


def test_secret_not_in_file_and_file_private(store: ProfileStore) -> None:
    ident = Identity.generate()
    store.create("alice", ident, "pw")
    path = store.profile_dir("alice") / "identity.json"
    text = path.read_text()
    assert ident.seed.hex() not in text
    assert ident.mnemonic.split()[0] not in text.split('"')
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_wrong_passphrase(store: ProfileStore) -> None:
    store.create("alice", Identity.generate(), "right")
    with pytest.raises(WrongPassphraseError, match="alice"):
        store.load("alice", "wrong")


def test_never_overwrites(store: ProfileStore) -> None:
    first = Identity.generate()
    store.create("alice", first, "pw")
    with pytest.raises(ProfileExistsError):
        store.create("alice", Identity.generate(), "pw")
    assert store.load("alice", "pw") == first


def test_missing_profile(store: ProfileStore) -> None:
    with pytest.raises(ProfileNotFoundError):
        store.load("nobody", "pw")
    assert store.list() == []


@pytest.mark.parametrize("name", ["", "../x", "a/b", ".hidden", "x" * 65, "sp ace", None])
def test_bad_names(store: ProfileStore, name: str) -> None:
    with pytest.raises(InvalidProfileNameError):
        store.create(name, Identity.generate(), "pw")
    assert not store.profiles_dir.exists() or list(store.profiles_dir.iterdir()) == []


def test_empty_passphrase_refused(store: ProfileStore) -> None:
    with pytest.raises(InvalidInputError, match="passphrase"):
        store.create("alice", Identity.generate(), "")


def _edit(store: ProfileStore, name: str, change: object) -> None:
    path = store.profile_dir(name) / "identity.json"
    doc = json.loads(path.read_text())
    change(doc)  # type: ignore[operator]
    path.write_text(json.dumps(doc))


def test_edited_session_id_detected(store: ProfileStore) -> None:
    store.create("alice", Identity.generate(), "pw")
    other = Identity.generate().session_id
    _edit(store, "alice", lambda d: d.__setitem__("session_id", other))
    with pytest.raises(CorruptProfileError, match="does not match"):
        store.load("alice", "pw")


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["secret"].__setitem__("memlimit", 1 << 40),
        lambda d: d["secret"].__setitem__("salt", "00"),
        lambda d: d["secret"].__setitem__("kdf", "md5"),
        lambda d: d.__setitem__("version", 99),
        lambda d: d.pop("secret"),
    ],
    ids=["huge-memlimit", "short-salt", "unknown-kdf", "version", "no-secret"],
)
def test_hostile_files_rejected(store: ProfileStore, change: object) -> None:
    store.create("alice", Identity.generate(), "pw")
    _edit(store, "alice", change)
    with pytest.raises(CorruptProfileError):
        store.load("alice", "pw")


def test_garbage_file(store: ProfileStore) -> None:
    store.create("alice", Identity.generate(), "pw")
    (store.profile_dir("alice") / "identity.json").write_text("{not json")
    with pytest.raises(CorruptProfileError, match="JSON"):
        store.info("alice")
    assert store.list() == []  # unreadable profiles are skipped, not fatal


def test_home_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "h"))
    assert default_home() == tmp_path / "h"
    assert ProfileStore().home == tmp_path / "h"
    monkeypatch.delenv(HOME_ENV)
    assert default_home() != tmp_path / "h"
