"""All the configs of one account on one device: what a client drives.

:meth:`AccountConfig.ingest` takes a stored message from the own swarm and merges it, or
ignores it with a reason (unsigned, undecryptable, oversize, malformed, a replay) that it logs
and returns -- an ignored message changes nothing.  :meth:`AccountConfig.pushes` gives the
store data of every domain that has something to publish (local edits, or a merge of
concurrent pushes).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from session_core.errors import ConfigError
from session_core.identity import Identity
from session_core.protocol.config import bencode
from session_core.protocol.config.state import ConfigState
from session_core.protocol.config.views import Contacts, Conversations, Groups, Profile, is_max_register
from session_core.protocol.config.wire import DOMAINS, open_config, seal_config

__all__ = ["AccountConfig", "Ingested"]

log = logging.getLogger("session_core.protocol.config")


@dataclass(frozen=True)
class Ingested:
    domain: str  # "" when the message could not be read far enough to know
    changed: bool
    ignored: str = ""  # why it was ignored ("" = merged)


class AccountConfig:
    def __init__(self, identity: Identity, states: dict[bytes, ConfigState] | None = None) -> None:
        self.identity = identity
        self.states = states or {d: _new_state(d) for d in DOMAINS}
        self.profile = Profile(self.states[b"UserProfile"])
        self.contacts = Contacts(self.states[b"Contacts"])
        self.conversations = Conversations(self.states[b"ConvoInfoVolatile"])
        self.groups = Groups(self.states[b"UserGroups"])

    def ingest(self, data: bytes) -> Ingested:
        try:
            message = open_config(self.identity, data)
            changed = self.states[message.domain].merge(message)
        except ConfigError as exc:
            log.info("ignored a config message: %s: %s", type(exc).__name__, exc)
            return Ingested("", False, f"{type(exc).__name__}: {exc}")
        return Ingested(message.domain.decode(), changed)

    @property
    def needs_push(self) -> bool:
        return any(s.needs_push for s in self.states.values())

    def pushes(self, *, force: bool = False) -> list[bytes]:
        """Store data for each domain with something to publish (``force``: every non-empty
        domain, to republish before the swarm's copies expire)."""
        return [seal_config(self.identity, s.push(self.identity)) for s in self.states.values()
                if s.needs_push or (force and s.entries)]

    def view(self) -> dict[str, dict[tuple[str, ...], int | str]]:
        return {d.decode(): s.view() for d, s in self.states.items()}

    def to_bytes(self) -> bytes:
        """Every domain's state, unsealed: seal it before it touches the disk."""
        return bencode.encode({d: s.to_bytes() for d, s in self.states.items()})

    @classmethod
    def from_bytes(cls, identity: Identity, blob: bytes) -> AccountConfig:
        doc = bencode.decode(blob)
        states = {d: _new_state(d) for d in DOMAINS}
        if isinstance(doc, dict):
            for d in DOMAINS:
                raw = doc.get(d)
                if isinstance(raw, bytes):
                    states[d] = ConfigState.from_bytes(d, raw, is_max_register)
        return cls(identity, states)


def _new_state(domain: bytes) -> ConfigState:
    # Only conversations have max-registers (read marks); the rule looks at the key alone.
    return ConfigState(domain, is_max_register)
