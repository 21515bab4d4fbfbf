"""One generation of a group as a member holds it: its keys, its signed member list, our send
chain and every other sender's receive chain; and a generation whose key came before its list.

Persisted in two parts (:meth:`Generation.to_json` with ``chains=False`` plus one
:meth:`Generation.chain_json` per chain) so a driver writes one small row per message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from session_core.errors import StateDecryptionError
from session_core.protocol.groups.key_message import GenerationSecrets
from session_core.protocol.groups.roster import Roster, RosterChange
from session_core.protocol.groups.sender_keys import ReceiveChain, SendChain, chain_start

__all__ = ["Generation", "Pending"]


@dataclass
class Generation:
    secrets: GenerationSecrets
    roster: Roster
    send: SendChain | None  # ours, when we are a member
    recv: dict[int, ReceiveChain]  # sender index -> chain
    checked_ed: dict[int, bytes] = field(default_factory=dict)  # sender index -> Ed25519 key seen to match
    my_index: int = -1
    store_cert: bytes = b""  # the admin's certificate of this generation's store key

    @property
    def number(self) -> int:
        return self.roster.generation

    @classmethod
    def start(cls, secrets_: GenerationSecrets, roster: Roster, me: bytes, store_cert: bytes) -> Generation:
        seed = secrets_.chain_seed
        recv = {i: ReceiveChain(chain_start(seed, m)) for i, m in enumerate(roster.members) if m != me}
        send = SendChain(chain_start(seed, me)) if me in roster else None
        # The seed is dropped: from here on only forward-moving chains remain (forward secrecy).
        return cls(secrets_.without_chain_seed(), roster, send, recv, {},
                   roster.members.index(me) if me in roster else -1, store_cert)

    def chain_keys(self) -> list[int]:
        """Indices of the chains this generation holds (ours, the send chain, at ``my_index``)."""
        return sorted(self.recv) + ([self.my_index] if self.send is not None else [])

    def chain_json(self, index: int) -> dict[str, Any]:
        if index == self.my_index and self.send is not None:
            return self.send.to_json()
        return self.recv[index].to_json()

    def to_json(self, chains: bool) -> dict[str, Any]:
        d: dict[str, Any] = {"header_key": self.secrets.header_key.hex(), "roster_key": self.secrets.roster_key.hex(),
                             "store_seed": self.secrets.store_seed.hex(), "store_cert": self.store_cert.hex(),
                             "roster": self.roster.encode().hex(), "my_index": self.my_index,
                             "recv_indices": sorted(self.recv), "has_send": self.send is not None}
        if chains:
            d["chains"] = {str(i): self.chain_json(i) for i in self.chain_keys()}
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any], chain: Callable[[int], dict[str, Any] | None]) -> Generation:
        roster = Roster.decode(bytes.fromhex(d["roster"]))
        sec = GenerationSecrets(roster.generation, bytes.fromhex(d["header_key"]), bytes.fromhex(d["roster_key"]), b"",
                                bytes.fromhex(d["store_seed"]))
        me = int(d["my_index"])
        recv = {}
        for i in d["recv_indices"]:
            c = chain(int(i))
            if c is None:
                raise StateDecryptionError(f"saved group state lacks the chain of sender {i}")
            recv[int(i)] = ReceiveChain.from_json(c)
        send = None
        if d["has_send"]:
            c = chain(me)
            if c is None:
                raise StateDecryptionError("saved group state lacks our own send chain")
            send = SendChain.from_json(c)
        return cls(sec, roster, send, recv, {}, me, bytes.fromhex(d["store_cert"]))


@dataclass
class Pending:
    """A generation whose key we hold but whose member list we cannot build yet: its change
    follows a generation we have not seen, or it is our first (we wait for the full roster)."""

    secrets: GenerationSecrets
    change: RosterChange
    record: bytes  # the key message itself (replays compare against it)
    store_cert: bytes
