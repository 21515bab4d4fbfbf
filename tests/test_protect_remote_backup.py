"""Remote wipe by a trusted friend, and encrypted backups: backup -> wipe -> restore from the
13-word phrase brings back contacts, sessions and history; tampered or foreign backups are
refused; a friend's old trigger message does not wipe the restored account again."""

from __future__ import annotations

import asyncio

from pathlib import Path

import pytest

from protect_aids import befriend, make_client, profile_client, scan, sqlite_net, wait_event
from session_core.client.backup import read_backup, restore_backup
from session_core.client.remote_wipe import Arming, find_trigger, make_secret, secret_hash
from session_core.errors import BackupError, BackupTamperedError, ClientStateError, RemoteWipeSetupError
from session_core.identity import Identity
from session_core.protocol.expiration import Expiration


def test_trigger_rules() -> None:
    friend, other = Identity.generate().session_id, Identity.generate().session_id
    s = make_secret()
    arm = [Arming(friend, secret_hash(friend, s), 1000)]
    assert find_trigger(arm, friend, f"please {s} now", 1001) == "wipe"
    assert find_trigger(arm, friend, f"please {s}", 1000) == "spent"  # sent before (or at) the arming: a replay
    assert find_trigger(arm, other, s, 2000) == ""  # the secret is bound to the friend
    assert find_trigger(arm, friend, make_secret(), 2000) == ""  # a wrong secret
    assert find_trigger(arm, friend, s.upper(), 2000) == ""
    with pytest.raises(RemoteWipeSetupError):
        secret_hash(friend, "wipe-short")


async def test_friend_wipes_within_one_poll_wrong_secret_does_nothing(tmp_path: Path) -> None:
    net = sqlite_net(tmp_path)
    a = profile_client(net, tmp_path / "home", "alice", "Alice-CANARY")
    b = make_client(net, tmp_path / "b", "bob")
    c = make_client(net, tmp_path / "c", "carol")
    await a.start(loops=False); await b.start(); await c.start()
    with pytest.raises(RemoteWipeSetupError):
        a.arm_remote_wipe(b.session_id)  # not a contact yet: refused, nothing stored
    assert a.remote_wipe_armings() == []
    await a.send_friend_request(b.session_id, "hi")
    await wait_event(b, lambda e: e.kind == "request")
    await b.accept(a.session_id, "welcome")
    await a.send_friend_request(c.session_id, "hi")
    await wait_event(c, lambda e: e.kind == "request")
    await c.accept(a.session_id, "welcome")
    await a.poll_once()
    secret = a.arm_remote_wipe(b.session_id)
    await b.send_text(a.session_id, f"hello {make_secret()}")  # a wrong secret
    await c.send_text(a.session_id, f"hello {secret}")  # the right words from someone else
    got = await a.poll_swarm()
    assert {e.text.split()[0] for e in got if e.kind == "message"} == {"hello"} and not a.wiped
    await b.send_text(a.session_id, f"as agreed: {secret}")
    await a.poll_swarm()  # one poll
    assert a.wiped and not a.cfg.home.exists()
    assert scan([tmp_path / "home"], [b"Alice-CANARY", a.session_id.encode()]) == []
    await a.stop(); await b.stop(); await c.stop()


async def test_backup_wipe_restore_from_phrase_and_no_second_wipe(tmp_path: Path) -> None:
    from session_core.identity_store import ProfileStore

    net = sqlite_net(tmp_path)
    a = profile_client(net, tmp_path / "home", "alice", "Alice")
    b = make_client(net, tmp_path / "b", "bob")
    await a.start(loops=False); await b.start()
    await a.send_friend_request(b.session_id, "hi")
    await wait_event(b, lambda e: e.kind == "request")
    await b.accept(a.session_id, "welcome")
    await a.poll_once()
    for i in range(3):
        await b.send_text(a.session_id, f"history {i}")
    await a.send_text(b.session_id, "from alice")
    await a.poll_swarm()
    await a.set_disappearing(b.session_id, Expiration("after_send", 3600))
    await a.send_text(b.session_id, "this one disappears")
    secret = a.arm_remote_wipe(b.session_id)
    phrase = a.identity.mnemonic
    history = [(m["dir"], m["body"]) for m in a.history() if m["body"] != "this one disappears"]
    blob = a.backup()
    # The friend's trigger, then the wipe.  (Each client stamps with its own estimate of network
    # time; on a loaded machine Bob's may trail Alice's by a few ms, and a revelation stamped
    # before the arming is a replay by design: let Bob's clock pass the arming first.)
    armed = max(x.armed_ms for x in a.remote_wipe_armings())
    while b.clock.local() + b.clock.offset_ms <= armed:
        await asyncio.sleep(0.005)
    await b.send_text(a.session_id, secret)
    await a.poll_swarm()
    assert a.wiped
    # Tampering with any byte (header, nonce, body, tag), truncation, another identity: refused.
    ident = Identity.from_mnemonic(phrase)
    for i in (0, 8, 10, len(blob) // 2, len(blob) - 1):
        bad = bytearray(blob)
        bad[i] ^= 1
        with pytest.raises(BackupError):
            read_backup(bytes(bad), ident)
    with pytest.raises(BackupTamperedError):
        read_backup(blob[:-1], ident)
    with pytest.raises(BackupTamperedError):
        read_backup(blob, Identity.generate())
    with pytest.raises(BackupError):
        read_backup(b"not a backup at all, sorry....", ident)
    # Restore from the 13 words into a fresh profile.
    store = ProfileStore(tmp_path / "home")
    store.create("alice", ident, "new passphrase")
    with pytest.raises(ClientStateError):  # and a failed attempt leaves no client.db behind
        (store.profile_dir("alice") / "client.db").write_bytes(b"")
        restore_backup(blob, ident, store.profile_dir("alice"), net.now_ms())
    (store.profile_dir("alice") / "client.db").unlink()
    restore_backup(blob, ident, store.profile_dir("alice"), net.now_ms())
    a2 = make_client(net, store.profile_dir("alice"), "Alice", ident)
    await a2.start(loops=False)
    assert len(a2.remote_wipe_armings()) == 1
    await a2.poll_swarm()  # the old trigger is still in the swarm and still decrypts: no second wipe
    assert not a2.wiped and a2.remote_wipe_armings() == []  # that secret is spent: arm again
    assert [(m["dir"], m["body"]) for m in a2.history()] == history  # the disappearing one stayed gone
    assert b.session_id in a2.messenger.contacts and str(a2.disappearing(b.session_id)) == "after_send:3600"
    # The ratchet sessions came back: both directions decrypt.
    await b.send_text(a2.session_id, "after restore")
    got = await a2.poll_swarm()
    assert [e.text for e in got if e.kind == "message"] == ["after restore"]
    await a2.send_text(b.session_id, "restored alice")
    await wait_event(b, lambda e: e.kind == "message" and e.text == "restored alice")
    await a2.stop(); await b.stop()
