"""Test aids: an in-memory network of real node logic (``memnet``), misbehaving message
stores (``faulty_stores``) and an observation log (``observer``), handed to a node as
wrappers by whoever starts it (``node_aids``).  Production code never imports this package."""

from session_core.testing.faulty_stores import DroppingStore, TamperingStore
from session_core.testing.memnet import MemNetwork, MemNode, MemTransport
from session_core.testing.node_aids import MISBEHAVIOURS, node_wrappers
from session_core.testing.observer import Observer, read_observations

__all__ = [
    "MISBEHAVIOURS",
    "DroppingStore",
    "MemNetwork",
    "MemNode",
    "MemTransport",
    "Observer",
    "TamperingStore",
    "node_wrappers",
    "read_observations",
]
