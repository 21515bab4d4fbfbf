"""The client's account layer: what several devices of one account share through the own
swarm (docs/devices.md) -- copies of sent messages, config pushes through the durable outbox,
contacts (blocked, approved), conversation settings (read marks, mutes, pins), the display
name -- and the conversations' disappearing-message timers."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from session_core.attachments import Pointer
from session_core.client import timers
from session_core.client.devices import CONFIG_KIND, DeviceSync
from session_core.client.router import MIN_TTL_MS
from session_core.client.state import ClientState
from session_core.errors import ClientStateError
from session_core.identity import canonical_session_id
from session_core.protocol.config import Conversations
from session_core.protocol.expiration import Expiration
from session_core.protocol.friend_request import check_text
from session_core.protocol.sent_sync import sync_copy

__all__ = ["AccountSync", "SYNC_COPY"]

SYNC_COPY = "sync_copy"  # outbox items: copies of sent messages for the other devices


class AccountSync(ClientState):
    """Multi-device sync and conversation settings; see the module doc."""

    async def _store_sync_copy(self, peer: str, text: str, ts: int, attachments: Sequence[Pointer],
                               expire: Expiration | None = None) -> None:
        """One copy in the own swarm, which every other device of the account polls.  It goes
        through the outbox: if the own swarm does not take it now, it is retried until it does
        (the send itself succeeded, so the copy must not be lost)."""
        if self.devices is None:
            return
        copy = sync_copy(self.identity, peer, text, sent_ms=ts, attachments=attachments, expire=expire)
        now = self.clock.now_ms()
        self.db.mark_seen(hashlib.sha256(copy.data).hexdigest(), now)  # ours: not shown twice
        # A disappearing copy's TTL counts from sending, not from now (at least the nodes' minimum).
        ttl = copy.ttl_ms if expire is None else max(ts + copy.ttl_ms - now, MIN_TTL_MS)
        self.outbox.add(SYNC_COPY, self.session_id, copy.data, ttl, now)
        await self.flush_outbox()

    async def flush_outbox(self) -> int:
        """Store what the outbox holds and is due (the poll loop calls this); returns how many
        were stored.  What fails stays, retried later with backoff."""
        now = self.clock.now_ms()
        stored = await self.outbox.flush(self.router.store, now)
        for item in stored:
            if item.kind == SYNC_COPY:
                self.stats.sync_copies += 1
            elif item.kind == CONFIG_KIND and self.devices is not None:
                self.devices.stored(now)
        return len(stored)

    async def _note_contact(self, peer: str, **flags: bool) -> None:
        if self.devices is None:
            return
        self.devices.config.contacts.set(peer, **flags)
        await self.push_config()

    async def push_config(self) -> int:
        """Publish config edits (and merges of other devices' concurrent edits) to the own swarm."""
        if self.devices is None:
            return 0
        n = self.devices.push(self.outbox, self.clock.now_ms())
        self.stats.config_pushes += n
        if n:
            await self.flush_outbox()
        return n

    def set_read_mark(self, peer: str, up_to_ms: int | None = None) -> bool:
        """Move the synced read mark of the conversation with ``peer`` to ``up_to_ms`` (default:
        their newest message); other devices learn it from the conversations config at their
        next poll after :meth:`push_config` (which the poll loop does).  False if it did not
        move (single device, nothing received, or the mark was already there or later)."""
        if self.devices is None:
            return False
        peer = canonical_session_id(peer)
        if up_to_ms is None:
            incoming = [m["ts"] for m in self.history(peer) if m["dir"] == "in"]
            if not incoming:
                return False
            up_to_ms = max(incoming)
        moved = self.devices.config.conversations.mark_read(peer, up_to_ms)
        self.devices.save()
        return moved

    def _blocked(self, peer: str) -> bool:
        if self.devices is None:
            return False
        contact = self.devices.config.contacts.get(peer)
        return contact is not None and contact.blocked

    def block(self, peer: str, blocked: bool = True) -> None:
        """Hide ``peer``'s requests and messages on every device of the account (synced at the
        next :meth:`push_config`)."""
        if self.devices is None:
            raise ClientStateError("blocking is kept in the account's configs: a multi_device client only")
        self.devices.config.contacts.set(peer, blocked=blocked)
        self.devices.save()

    def mute(self, peer: str, until_ms: int | None) -> None:
        """No notifications from ``peer`` until ``until_ms`` (epoch ms; ``None`` or 0 unmutes,
        :data:`~session_core.protocol.config.MUTED_FOREVER` never ends), on every device of the
        account (synced at the next :meth:`push_config`).  Messages still arrive: their events
        carry ``muted=True``."""
        self._conversations("muting").mute(canonical_session_id(peer), until_ms or None)
        self._devices().save()

    def muted(self, peer: str) -> bool:
        """Whether the conversation with ``peer`` is muted now."""
        return self.devices is not None and self.devices.config.conversations.muted(peer, self.clock.now_ms())

    def pin(self, peer: str, pinned: bool = True) -> None:
        """Pin (or unpin) the conversation with ``peer`` on every device of the account."""
        self._conversations("pinning").set(canonical_session_id(peer), pinned=pinned)
        self._devices().save()

    def pinned(self) -> list[str]:
        """The pinned conversations (synced across devices), sorted."""
        return [] if self.devices is None else self.devices.config.conversations.pinned()

    def _conversations(self, what: str) -> Conversations:
        return self._devices(what).config.conversations

    def _devices(self, what: str = "this") -> DeviceSync:
        if self.devices is None:
            raise ClientStateError(f"{what} is kept in the account's configs: a multi_device client only")
        return self.devices

    def set_display_name(self, name: str) -> None:
        """Our display name, on every device of the account (multi-device: through the profile config)."""
        check_text("", name)
        self.messenger.display_name = name
        if self.devices is not None:
            self.devices.config.profile.name = name
            self.devices.save()
        self._save()

    def read_up_to(self, peer: str) -> int:
        """The read mark of the conversation with ``peer`` (synced across devices), 0 if none."""
        return 0 if self.devices is None else self.devices.config.conversations.read_up_to(peer)

    def disappearing(self, peer: str) -> Expiration | None:
        """The conversation's disappearing-message setting (None: messages stay)."""
        self._alive()
        return timers.setting(self.db, self.devices, canonical_session_id(peer))

    def _put_timer(self, peer: str, expire: Expiration | None) -> None:
        timers.put(self.db, self.devices, peer, expire)  # and the config, with several devices
