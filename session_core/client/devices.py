"""Multi-device, the client side: config sync through the own swarm (device linking is
:mod:`session_core.client.linking`).

A :class:`DeviceSync` holds the account's :class:`~session_core.protocol.config.AccountConfig`
(sealed in the client database), takes the config messages a poll of the own swarm returns,
and stores into the own swarm whatever needs publishing.  What the configs say is applied to the
Messenger (a friend request accepted on another device is accepted here too).
"""

from __future__ import annotations

import base64
import logging

from session_core.client.db import ClientDB
from session_core.client.outbox import Outbox
from session_core.errors import ClientStateError, ConfigError, InvalidInputError
from session_core.identity import Identity
from session_core.protocol import Messenger
from session_core.protocol.config import AccountConfig, Ingested
from session_core.protocol.friend_request import MAX_DISPLAY_NAME

__all__ = ["CONFIG_KIND", "CONFIG_TTL_MS", "DeviceSync"]

log = logging.getLogger("session_core.client.devices")

#: Config messages live as long as the network keeps anything (96 h); a device republishes the
#: newest state after half of that, so a device that was off for days still finds it.
CONFIG_TTL_MS = 96 * 3600 * 1000
_DB_KEY = "account_config"
CONFIG_KIND = "config"  # outbox items that are config pushes


class DeviceSync:
    def __init__(self, identity: Identity, db: ClientDB) -> None:
        self.identity = identity
        self.db = db
        saved = db.get(_DB_KEY)
        try:
            self.config = (AccountConfig.from_bytes(identity, base64.b64decode(saved["state"]))
                           if isinstance(saved, dict) else AccountConfig(identity))
        except (ConfigError, ValueError, KeyError, TypeError) as exc:
            raise ClientStateError(f"saved account config is malformed: {exc}") from None
        # When a config was last stored in the own swarm (by us, or seen arriving from another device).
        self.fresh_ms = int(saved.get("pushed_ms", 0)) if isinstance(saved, dict) else 0
        self.ignored: list[str] = []  # reasons, newest last (bounded): what a UI or test shows

    def save(self) -> None:
        self.db.put(_DB_KEY, {"state": base64.b64encode(self.config.to_bytes()).decode(),
                              "pushed_ms": self.fresh_ms})

    def ingest(self, data: bytes, now_ms: int) -> Ingested:
        result = self.config.ingest(data)
        if not result.ignored:
            # Another device stored a config just now (we poll often): the swarm's copy is
            # fresh, no need for us to republish ours yet.
            self.fresh_ms = max(self.fresh_ms, now_ms)
        if result.ignored:
            self.ignored.append(result.ignored)
            del self.ignored[:-100]
        return result

    def apply(self, messenger: Messenger) -> int:
        """Make the Messenger agree with the configs (display name, friend-request states);
        returns how many things moved."""
        moved = 0
        name = self.config.profile.name
        if name and name != messenger.display_name and len(name) <= MAX_DISPLAY_NAME:
            messenger.display_name = name
            moved += 1
        for c in self.config.contacts.all():
            if c.session_id == self.identity.session_id:
                continue
            try:
                moved += messenger.apply_synced_contact(c.session_id, approved=c.approved, approved_me=c.approved_me)
            except InvalidInputError as exc:  # a key no Messenger can hold: leave it in the config only
                log.info("contact %s from the config not applied: %s", c.session_id[:12], exc)
        return moved

    def due(self, now_ms: int) -> bool:
        return self.config.needs_push or (
            any(s.entries for s in self.config.states.values()) and now_ms - self.fresh_ms > CONFIG_TTL_MS // 2)

    def push(self, outbox: Outbox, now_ms: int, *, force: bool = False) -> int:
        """Queue in ``outbox`` what needs publishing (all domains again when the last push is
        getting old); returns how many messages.  The outbox stores them (and retries until a
        swarm took them): an edit applied here is never lost to a failed store."""
        waiting = outbox.has(CONFIG_KIND)
        # Republishing is for an old copy in the swarm; one still waiting in the outbox is not.
        force = force or (not self.config.needs_push and not waiting and self.due(now_ms))
        blobs = self.config.pushes(force=force)
        if not blobs:
            return 0
        self.save()  # the new seqnos are ours now, stored or not: never reuse one
        for blob in blobs:
            # One slot per domain: a push holds the whole state, so it supersedes an unsent older one.
            outbox.add(CONFIG_KIND, self.identity.session_id, blob, CONFIG_TTL_MS, now_ms,
                       slot="config:" + blob[:6].hex())  # the header names the domain
        return len(blobs)

    def stored(self, now_ms: int) -> None:
        """A config of ours reached the own swarm at ``now_ms``."""
        self.fresh_ms = max(self.fresh_ms, now_ms)
        self.save()
