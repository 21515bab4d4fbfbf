"""The asyncio messaging client (whitepaper §4.5-4.6): node list, onion paths, async and sync
routing, encrypted client state. ``Client`` is the entry point; see docs/client.md."""

from session_core.client.client import Client, ClientConfig, ClientEvent, SendReport
from session_core.client.nodelist import NodeList, Snapshot
from session_core.client.onion_client import OnionClient, RpcResult
from session_core.client.paths import Path, PathPool
from session_core.client.snode import Snode

__all__ = ["Client", "ClientConfig", "ClientEvent", "NodeList", "OnionClient", "Path", "PathPool", "RpcResult",
           "SendReport", "Snapshot", "Snode"]
