"""Full wipe: afterwards neither the profile directory nor the very inodes its files used (kept
reachable through hard links made before the wipe) hold any of the profile's bytes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from protect_aids import befriend, files_under, link_all, profile_client, scan, sqlite_net, wait_event
from session_core.client.wipe import wipe_directory
from session_core.errors import WipedError
from session_core.identity_store import ProfileStore


async def test_wipe_leaves_no_canary_in_the_profile_or_its_old_inodes(tmp_path: Path) -> None:
    net = sqlite_net(tmp_path)
    a = profile_client(net, tmp_path / "home", "alice", "Alice-CANARY-NAME")
    b = profile_client(net, tmp_path / "home", "bob", "Bob")
    await a.start(); await b.start()
    await befriend(a, b)
    for i in range(20):
        await b.send_text(a.session_id, f"CANARY-message-{i}-" + "x" * 200)
    await wait_event(a, lambda e: e.kind == "message" and e.text.startswith("CANARY-message-19"))
    home = a.cfg.home
    db = sqlite3.connect(home / "client.db")
    sealed = [bytes(r[0]) for r in db.execute("SELECT blob FROM messages UNION ALL SELECT blob FROM contacts "
                                              "UNION ALL SELECT blob FROM kv")]
    db.close()
    needles = [b"Alice-CANARY-NAME", b"CANARY-message", a.session_id.encode(), a.identity.seed.hex().encode(),
               (home / "identity.json").read_bytes()[-200:], (home / "nodes.json").read_bytes()[:200],
               b"SQLite format 3", *sealed]
    links = link_all(home, tmp_path / "links")
    assert {p.name.split("-", 1)[1] for p in links} >= {"identity.json", "client.db", "nodes.json"}
    assert scan([tmp_path / "links"], needles)  # the scanner sees them before
    report = await a.wipe()
    assert report.files >= 3 and report.bytes > 0
    assert not home.exists()
    assert scan([tmp_path / "links", tmp_path / "home" / "profiles" / "alice"], needles) == []
    # Every old inode is empty, but SQLite's WAL index, which it maps and unlinks itself: zeroed
    # in place (what SQLite writes into it while closing is its own header, never row data).
    assert [p.name for p in links if p.stat().st_size and not p.name.endswith("-shm")] == []
    for shm in [p for p in links if p.name.endswith("-shm")]:
        raw = shm.read_bytes()
        assert raw[136:].count(0) == len(raw) - 136, "only the WAL-index header may be non-zero"
    assert [i.name for i in ProfileStore(tmp_path / "home").list()] == ["bob"]  # the other profile is untouched
    with pytest.raises(WipedError):
        await a.wipe()
    with pytest.raises(WipedError):  # a clear error, not a closed-database traceback
        a.history()
    with pytest.raises(WipedError):
        await a.send_text(b.session_id, "still there?")
    assert await a.poll_once() == [] and a.sweep_expired() == 0
    await a.stop()  # a no-op now, not an error
    await b.stop()


def test_wipe_directory_never_follows_a_symlink(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"keep me")
    victim = tmp_path / "profile"
    (victim / "sub").mkdir(parents=True)
    (victim / "sub" / "f").write_bytes(b"secret")
    (victim / "link").symlink_to(outside)
    (victim / "dirlink").symlink_to(tmp_path, target_is_directory=True)
    report = wipe_directory(victim)
    assert report.files == 1 and not victim.exists() and outside.read_bytes() == b"keep me"
    assert files_under(tmp_path) == [outside]
