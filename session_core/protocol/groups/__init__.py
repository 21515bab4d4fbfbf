"""Closed groups (whitepaper 5.1), sans-IO: see :mod:`.state` for the theory of operation.

Modules: ``group_key`` (the group's Ed25519 identity, ``03…`` IDs), ``wire`` (record kinds and
the admin signature, also checked by swarm nodes), ``roster`` (the signed member list),
``key_agreement`` (the one replaceable O(N) key wrap), ``key_message`` (the admin's key message
and roster snapshot), ``sender_keys`` (per-sender hash ratchets), ``messages`` (member
messages), ``generation`` (one generation's keys, list and chains), ``events`` and ``state``
(the machine).
"""

from session_core.protocol.groups.events import (
    GroupLeaveRequested,
    GroupMembersChanged,
    GroupMessageReceived,
    GroupOutgoing,
    GroupRemoved,
)
from session_core.protocol.groups.group_key import GroupSigner, group_id_of, parse_group_id
from session_core.protocol.groups.key_agreement import KeyAgreement, PerMemberWrap
from session_core.protocol.groups.roster import MAX_MEMBERS, Roster
from session_core.protocol.groups.state import KEYS_TTL_MS, MESSAGE_TTL_MS, REFRESH_MS, Group

__all__ = [
    "KEYS_TTL_MS",
    "MAX_MEMBERS",
    "MESSAGE_TTL_MS",
    "REFRESH_MS",
    "Group",
    "GroupLeaveRequested",
    "GroupMembersChanged",
    "GroupMessageReceived",
    "GroupOutgoing",
    "GroupRemoved",
    "GroupSigner",
    "KeyAgreement",
    "PerMemberWrap",
    "Roster",
    "group_id_of",
    "parse_group_id",
]
