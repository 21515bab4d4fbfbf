"""Typed views of the four config domains: what the keys mean.

Each view reads and edits one :class:`~session_core.protocol.config.state.ConfigState`; every
field is its own key, so concurrent edits of different fields (a nickname on one device, a block
on another) both survive the merge.  The fields follow production Session's configs where it
has them (``approved``/``approved_me`` for the friend-request state, a read timestamp per
conversation), with short key names because every key travels in every message.

* profile (``UserProfile``): ``("n",)`` display name, ``("p",)`` avatar URL.
* contacts (``Contacts``): ``("c", sid, f)`` with f in ``name``, ``nickname``, ``approved``
  (we accepted or wrote to them), ``approved_me`` (they accepted or wrote to us), ``blocked``.
* conversations (``ConvoInfoVolatile``): ``("v", sid, f)`` with f in ``read`` (everything sent
  up to this ms timestamp has been read; a max-register, see :func:`is_max_register`),
  ``muted`` (no notifications until this ms timestamp), ``pinned``, ``expire`` (the
  disappearing-message setting as one string, ``after_send:30`` / ``after_read:3600`` / ``off``:
  one key, so two devices changing it concurrently end on one whole setting, never the mode of
  one and the timer of the other).
* groups (``UserGroups``): ``("g", group id, f)`` with f in ``name``, ``joined_ms``, ``admin``.
"""

from __future__ import annotations

from dataclasses import dataclass

from session_core.errors import ConfigFormatError
from session_core.identity import canonical_session_id
from session_core.protocol.config.message import Scalar
from session_core.protocol.config.state import ConfigState
from session_core.protocol.expiration import Expiration

__all__ = ["MUTED_FOREVER", "ContactSettings", "Contacts", "Conversations", "Groups", "Profile", "is_max_register",
           "request_state"]

_CONTACT_FIELDS = frozenset({"name", "nickname", "approved", "approved_me", "blocked"})
_CONVO_FIELDS = frozenset({"read", "muted", "pinned", "expire"})
_GROUP_FIELDS = frozenset({"name", "joined_ms", "admin"})
_FLAGS = frozenset({"approved", "approved_me", "blocked", "pinned", "admin"})
_TIMES = frozenset({"read", "muted"})  # ms timestamps: non-negative ints
#: ``muted`` until this: the largest config int, so no clock ever reaches it.
MUTED_FOREVER = 2**63 - 1


def is_max_register(key: tuple[str, ...]) -> bool:
    """Keys whose merge keeps the largest value rather than the last write: a conversation's
    read mark.  Two devices marking a conversation read concurrently (one up to 5, one up to
    7) must end at 7 on both, whichever edit the tie-break would pick."""
    return len(key) == 3 and key[0] == "v" and key[2] == "read"


def _check(field: str, allowed: frozenset[str], value: Scalar | None) -> Scalar | None:
    if field not in allowed:
        raise ConfigFormatError(f"unknown field {field!r}; one of {sorted(allowed)}")
    if value is None:
        return None
    if field in _FLAGS:
        if value not in (0, 1) or isinstance(value, str):
            raise ConfigFormatError(f"{field} is a flag: 0 or 1")
        return None if value == 0 else 1  # a cleared flag is a deleted key: smaller messages
    if field in _TIMES and (not isinstance(value, int) or value < 0):
        raise ConfigFormatError(f"{field} is a timestamp in ms: an int >= 0")
    if field == "expire":
        if not isinstance(value, str):
            raise ConfigFormatError("expire is a disappearing setting: after_send:SECONDS, after_read:SECONDS or off")
        try:
            Expiration.parse(value)
        except ValueError as exc:
            raise ConfigFormatError(f"expire: {exc}") from None
    return value


class Profile:
    def __init__(self, state: ConfigState) -> None:
        self.state = state

    @property
    def name(self) -> str:
        return str(self.state.get(("n",)) or "")

    @name.setter
    def name(self, value: str) -> None:
        self.state.set(("n",), value or None)

    @property
    def avatar_url(self) -> str:
        return str(self.state.get(("p",)) or "")

    @avatar_url.setter
    def avatar_url(self, value: str) -> None:
        self.state.set(("p",), value or None)


@dataclass(frozen=True)
class ContactSettings:
    session_id: str
    name: str = ""
    nickname: str = ""
    approved: bool = False
    approved_me: bool = False
    blocked: bool = False

    @property
    def request_state(self) -> str:
        return request_state(self.approved, self.approved_me)


def request_state(approved: bool, approved_me: bool) -> str:
    """The friend-request state the two flags stand for."""
    if approved and approved_me:
        return "friends"
    return "outgoing" if approved else "incoming" if approved_me else "none"


class Contacts:
    def __init__(self, state: ConfigState) -> None:
        self.state = state

    def set(self, session_id: str, **fields: Scalar | bool | None) -> None:
        sid = canonical_session_id(session_id)
        checked = {f: _check(f, _CONTACT_FIELDS, int(v) if isinstance(v, bool) else v) for f, v in fields.items()}
        for f, v in checked.items():
            self.state.set(("c", sid, f), v)

    def get(self, session_id: str) -> ContactSettings | None:
        sid = canonical_session_id(session_id)
        fields = {k[2]: v for k, v in self.state.items(("c", sid))}
        if not fields:
            return None
        return ContactSettings(
            sid, str(fields.get("name", "")), str(fields.get("nickname", "")),
            bool(fields.get("approved")), bool(fields.get("approved_me")), bool(fields.get("blocked")))

    def all(self) -> list[ContactSettings]:
        """Every contact with a live field (keys naming no valid Session ID are skipped: another
        device may run a newer version with other uses of the domain)."""
        out = []
        for sid in sorted({k[1] for k, _ in self.state.items(("c",)) if len(k) == 3}):
            try:
                contact = self.get(sid)
            except ValueError:
                continue
            if contact is not None and contact.session_id == sid:
                out.append(contact)
        return out

    def remove(self, session_id: str) -> None:
        sid = canonical_session_id(session_id)
        for key, _ in list(self.state.items(("c", sid))):
            self.state.delete(key)


class Conversations:
    def __init__(self, state: ConfigState) -> None:
        self.state = state

    def set(self, session_id: str, **fields: Scalar | bool | None) -> None:
        sid = canonical_session_id(session_id)
        checked = {f: _check(f, _CONVO_FIELDS, int(v) if isinstance(v, bool) else v) for f, v in fields.items()}
        for f, v in checked.items():
            self.state.set(("v", sid, f), v)

    def read_up_to(self, session_id: str) -> int:
        value = self.state.get(("v", canonical_session_id(session_id), "read"))
        return value if isinstance(value, int) else 0

    def mark_read(self, session_id: str, timestamp_ms: int) -> bool:
        """Everything up to ``timestamp_ms`` is read; never moves the mark back (the merge keeps
        the largest mark any device set). True if moved."""
        if timestamp_ms <= self.read_up_to(session_id):
            return False
        self.set(session_id, read=timestamp_ms)
        return True

    def mute(self, session_id: str, until_ms: int | None) -> None:
        """No notifications until ``until_ms`` (``None``: unmuted; :data:`MUTED_FOREVER`)."""
        self.set(session_id, muted=until_ms)

    def muted_until(self, session_id: str) -> int:
        value = self.state.get(("v", canonical_session_id(session_id), "muted"))
        return value if isinstance(value, int) else 0

    def muted(self, session_id: str, now_ms: int) -> bool:
        return self.muted_until(session_id) > now_ms

    def expiration(self, session_id: str) -> tuple[bool, Expiration | None]:
        """(set, setting): whether any device synced a disappearing setting for the conversation,
        and which (None: off).  A value this version cannot read counts as not set."""
        value = self.state.get(("v", canonical_session_id(session_id), "expire"))
        if not isinstance(value, str):
            return False, None
        try:
            return True, Expiration.parse(value)
        except ValueError:
            return False, None

    def set_expiration(self, session_id: str, setting: Expiration | None) -> None:
        self.set(session_id, expire=str(setting) if setting is not None else "off")

    def pinned(self) -> list[str]:
        """Pinned conversations, sorted by Session ID."""
        return sorted(k[1] for k, v in self.state.items(("v",)) if len(k) == 3 and k[2] == "pinned" and v)


class Groups:
    def __init__(self, state: ConfigState) -> None:
        self.state = state

    def join(self, group_id: str, name: str, *, joined_ms: int, admin: bool = False) -> None:
        _check_group(group_id)
        self.state.set(("g", group_id, "name"), name or None)
        self.state.set(("g", group_id, "joined_ms"), joined_ms)
        self.state.set(("g", group_id, "admin"), 1 if admin else None)

    def leave(self, group_id: str) -> None:
        for key, _ in list(self.state.items(("g", _check_group(group_id)))):
            self.state.delete(key)

    def all(self) -> dict[str, dict[str, Scalar]]:
        out: dict[str, dict[str, Scalar]] = {}
        for key, value in self.state.items(("g",)):
            out.setdefault(key[1], {})[key[2]] = value
        return out


def _check_group(group_id: str) -> str:
    if not isinstance(group_id, str) or not 1 <= len(group_id) <= 128:
        raise ConfigFormatError("a group id is a string of 1 to 128 characters")
    return group_id
