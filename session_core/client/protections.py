"""The client's protections layer (docs/protections.md): disappearing messages as they are
received and read, full wipe, encrypted backup, and remote wipe by a trusted friend."""

from __future__ import annotations

import contextlib

from session_core.client.backup import create_backup
from session_core.client.remote_wipe import Arming, make_secret, secret_hash
from session_core.client.sending import Sender
from session_core.client.state import ClientEvent
from session_core.client.wipe import WipeReport, wipe_directory
from session_core.errors import ClientError, RemoteWipeSetupError, WipedError
from session_core.identity import canonical_session_id
from session_core.protocol import ContactState, MessageReceived
from session_core.protocol.expiration import AFTER_SEND

__all__ = ["Protections"]


class Protections(Sender):
    """What protects the user's data on this device and in the swarm; see the module doc."""

    async def wipe(self) -> WipeReport:
        """Erase this profile: stop, scrub the database, overwrite and delete every file of the
        profile directory (identity included; see session_core.client.wipe).  The client is
        unusable afterwards; the recovery phrase (or a backup) is the only way back."""
        if self.wiped:
            raise WipedError("this profile was already wiped")
        await self.stop_loops()
        self.db.scrub_and_close()
        report = wipe_directory(self.cfg.home)
        self.wiped = True
        with contextlib.suppress(Exception):  # nothing may stop a wipe that has happened
            await self.transport.close()
        ev = ClientEvent("wiped", self.session_id, f"{report.files} files, {report.bytes} bytes overwritten")
        self.events.put_nowait(ev)
        if self.on_event is not None:
            self.on_event(ev)
        return report

    def backup(self) -> bytes:
        """This profile's state, encrypted under a key derived from the seed (see
        session_core.client.backup; restore with restore_backup and the recovery phrase)."""
        self._alive()
        self._save()  # first, so the backup holds the current sessions
        return create_backup(self.db, self.messenger, self.identity, self.clock.now_ms())

    def remote_wipe_armings(self) -> list[Arming]:
        self._alive()
        saved = self.db.get("remote_wipe")
        return [Arming.from_json(d) for d in saved] if isinstance(saved, list) else []

    def arm_remote_wipe(self, friend: str) -> str:
        """Let *friend* (an established contact) wipe this account by sending the returned
        secret in a message.  Show the secret once, hand it over in person; only its hash is
        kept.  Arming the same friend again replaces the old secret."""
        self._alive()
        friend = canonical_session_id(friend)
        contact = self.messenger.contacts.get(friend)
        if contact is None or contact.state is not ContactState.ESTABLISHED:
            raise RemoteWipeSetupError(f"{friend[:12]}… is not an established contact: only a friend can be trusted")
        secret = make_secret()
        keep = [a for a in self.remote_wipe_armings() if a.friend != friend]
        keep.append(Arming(friend, secret_hash(friend, secret), self.clock.now_ms()))
        self.db.put("remote_wipe", [a.to_json() for a in keep])
        return secret

    def disarm_remote_wipe(self, friend: str) -> bool:
        self._alive()
        friend = canonical_session_id(friend)
        armings = self.remote_wipe_armings()
        keep = [a for a in armings if a.friend != friend]
        self.db.put("remote_wipe", [a.to_json() for a in keep])
        return len(keep) != len(armings)

    def _keep_disappearing(self, ev: MessageReceived, body: str, via: str, node_hash: str,
                           shorten: list[tuple[str, int]]) -> bool:
        """Record a received message (its history line: *body*) with its time of death; False
        if it is already dead."""
        if not ev.expire_mode:
            self._record(ev.sender, "in", body, ev.timestamp_ms, via, ev.display_name)
            return True
        timer_ms = ev.expire_after_s * 1000
        dies_at = ev.timestamp_ms + timer_ms if ev.expire_mode == AFTER_SEND else 0
        if dies_at and dies_at <= self.clock.now_ms():
            if node_hash:
                shorten.append((node_hash, self.clock.now_ms()))
            return False  # arrived after its time: never shown, never stored
        msg_id = self._record(ev.sender, "in", body, ev.timestamp_ms, via, ev.display_name)
        self.db.set_expiry(msg_id, dies_at, timer_ms, node_hash)
        if dies_at and node_hash:
            shorten.append((node_hash, dies_at))
        return True

    async def mark_read(self, peer: str | None = None, up_to_ms: int | None = None) -> int:
        """The user saw the conversation with ``peer`` (or all of them): after-read timers start
        now and our swarm's copies are shortened to the same time; with several devices the
        read mark moves too (:meth:`set_read_mark`, up to ``up_to_ms``).  Returns how many
        after-read timers started."""
        self._alive()
        if peer is not None:
            peer = canonical_session_id(peer)
        async with self._lock:
            due = self.db.start_read_timers(peer, self.clock.now_ms())
        with contextlib.suppress(ClientError):
            await self.router.expire(self.identity, [(h, at) for h, at in due if h])
        if self.devices is not None:
            for who in [peer] if peer is not None else list(self.messenger.contacts):
                self.set_read_mark(who, up_to_ms)
        return len(due)
