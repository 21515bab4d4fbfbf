"""Onion requests: build, peel and answer 3-hop requests (see :mod:`session_core.onion.api`).

Inside: ``api`` (the public functions), ``types`` (value types, sizes, field checks),
``proto`` (the layer JSON shapes shared by both backends), ``_onion_c`` (the C binding on
libsodium) and ``_onion_py`` (the pure-Python reference).
"""

from session_core.onion.api import (
    MAX_BODY_SIZE,
    MAX_ONION_HOPS,
    BuildContext,
    Exit,
    Final,
    Node,
    PeelResult,
    Relay,
    Reply,
    ServerTarget,
    backend_info,
    build,
    finish_peeled,
    open_request,
    parse_hop,
    peel,
    peel_many,
)

__all__ = [
    "MAX_BODY_SIZE",
    "MAX_ONION_HOPS",
    "BuildContext",
    "Exit",
    "Final",
    "Node",
    "PeelResult",
    "Relay",
    "Reply",
    "ServerTarget",
    "backend_info",
    "build",
    "finish_peeled",
    "open_request",
    "parse_hop",
    "peel",
    "peel_many",
]
