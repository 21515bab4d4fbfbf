"""Config sync between the devices of one account (whitepaper 5.2, production's config messages).

Modules: ``bencode`` (canonical encoding), ``sealing`` (padding + encryption, libsession-util's
scheme), ``message`` (one signed config message, its entries and stamps), ``state`` (one domain
on one device: edits, pushes, the order-independent merge), ``views`` (what the keys mean:
profile, contacts, conversations, groups), ``wire`` (the stored form), ``account`` (the four
domains together, what a client drives).  See docs/devices.md.
"""

from session_core.protocol.config.account import AccountConfig, Ingested
from session_core.protocol.config.message import ConfigMessage, Entry
from session_core.protocol.config.state import ConfigState
from session_core.protocol.config.views import (
    MUTED_FOREVER, ContactSettings, Contacts, Conversations, Groups, Profile, is_max_register, request_state,
)
from session_core.protocol.config.wire import DOMAINS, MAX_CONFIG_BYTES, is_config, open_config, seal_config

__all__ = [
    "DOMAINS",
    "MAX_CONFIG_BYTES",
    "MUTED_FOREVER",
    "AccountConfig",
    "ConfigMessage",
    "ConfigState",
    "ContactSettings",
    "Contacts",
    "Conversations",
    "Groups",
    "Profile",
    "Entry",
    "Ingested",
    "is_config",
    "is_max_register",
    "open_config",
    "request_state",
    "seal_config",
]
