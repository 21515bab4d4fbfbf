"""The client's view of one service node, parsed from the three shapes nodes are described in:
the chain's ``get_n_service_nodes``, a node's ``oxend_request``/``get_service_nodes`` (same
fields) and a swarm list (``get_snodes_for_pubkey`` or a 421 body, docs/interop.md §4.2)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from session_core import onion
from session_core.chain.service_nodes import SnodeInfo
from session_core.errors import NodeListError, ServiceNodeEntryError
from session_core.swarm.ids import UNASSIGNED_SWARM_ID

__all__ = ["Snode", "subnet24"]


@dataclass(frozen=True, slots=True)
class Snode:
    ed25519: str
    x25519: str
    ip: str
    port: int
    swarm_id: int = UNASSIGNED_SWARM_ID

    @property
    def url(self) -> str:
        return f"http://{self.ip}:{self.port}"

    @property
    def onion_node(self) -> onion.Node:
        return onion.Node(self.x25519, self.ed25519, f"{self.ip}:{self.port}")

    def short(self) -> str:
        return f"{self.ed25519[:8]}@{self.port}"

    def to_json(self) -> dict[str, Any]:
        """This node as a service-node list entry (for the client's cached list)."""
        return SnodeInfo(self.ed25519, self.x25519, self.ip, self.port, 0, self.swarm_id).to_chain_json()

    @classmethod
    def from_chain_json(cls, obj: Mapping[str, Any]) -> Snode:
        try:
            return cls.from_info(SnodeInfo.from_chain_json(obj, partial=True))
        except ServiceNodeEntryError as exc:
            raise NodeListError(f"malformed service node entry: {exc}") from None

    @classmethod
    def from_info(cls, info: SnodeInfo) -> Snode:
        """The client's view of a parsed service-node list entry."""
        return cls(info.ed25519, info.x25519, info.ip, info.http_port, info.swarm_id)

    @classmethod
    def from_swarm_json(cls, obj: Mapping[str, Any], swarm_id: int = UNASSIGNED_SWARM_ID) -> Snode:
        try:
            node = cls(str(obj["pubkey_ed25519"]), str(obj["pubkey_x25519"]), str(obj["ip"]),
                       int(obj["port"]), swarm_id)
        except (KeyError, TypeError, ValueError) as exc:
            raise NodeListError(f"malformed swarm entry: {exc!r}") from None
        node._check()
        return node

    def _check(self) -> None:
        for name, key in (("ed25519", self.ed25519), ("x25519", self.x25519)):
            try:
                ok = len(bytes.fromhex(key)) == 32
            except ValueError:
                ok = False
            if not ok:
                raise NodeListError(f"service node {name} key is not 64 hex characters: {key[:70]!r}")
        if not 0 < self.port < 65536:
            raise NodeListError(f"service node port out of range: {self.port}")
        try:
            ipaddress.ip_address(self.ip)
        except ValueError:
            raise NodeListError(f"service node address is not an IP: {self.ip!r}") from None


def subnet24(ip: str) -> str:
    """The /24 an IPv4 address is in (IPv6: the /48), the unit of path diversity."""
    addr = ipaddress.ip_address(ip)
    prefix = 24 if addr.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))
