"""The test aids of a devnet node, as the wrappers ``node run`` hands its node (hidden
``--drop-stores``, ``--misbehave``, ``--observe`` options; the devnet launcher passes them)."""

from __future__ import annotations

from session_core.node.service import NodeWrappers
from session_core.node.store import MessageStore
from session_core.testing.faulty_stores import DroppingStore, TamperingStore
from session_core.testing.observer import Observer

__all__ = ["MISBEHAVIOURS", "node_wrappers"]

#: ``drop``: acknowledge every store but keep and relay nothing; ``tamper``: corrupt what
#: ``retrieve`` returns.
MISBEHAVIOURS = ("drop", "tamper")


def node_wrappers(
    *, drop_stores: bool = False, misbehave: str | None = None, observer: Observer | None = None
) -> NodeWrappers:
    """Wrappers for a node that keeps no records but still replicates them (*drop_stores*:
    it fails its storage tests), misbehaves (*misbehave*, one of :data:`MISBEHAVIOURS`) and/or
    logs what it handles (*observer*)."""
    if misbehave is not None and misbehave not in MISBEHAVIOURS:
        raise ValueError(f"unknown misbehaviour {misbehave!r}; expected one of {MISBEHAVIOURS}")

    def wrap_store(store: MessageStore) -> MessageStore:
        if misbehave == "tamper":
            store = TamperingStore(store)
        if drop_stores or misbehave == "drop":
            store = DroppingStore(store, relay=misbehave != "drop")
        return store

    faulty = drop_stores or misbehave is not None
    if observer is None:
        return NodeWrappers(store=wrap_store if faulty else None)
    return NodeWrappers(
        store=wrap_store if faulty else None, router=observer.router, http_middlewares=(observer.middleware,)
    )
