"""The signed member list of one generation, and the change from one generation to the next.

Members are named by their 32-byte X25519 keys (a Session ID without its ``05``), kept sorted;
a member's *index* in that order names them inside encrypted message headers.  The admin is a
member too.  :meth:`Roster.digest` (keyed BLAKE2b over generation, admin and members) is what a
key message commits to, so a member who applies a :class:`RosterChange` to the list it holds
can check it reached exactly the list the admin signed.

Sizes: a full roster is 32 bytes per member (32 KB at 1 000); a change names only who came and
went, which is what keeps a kick's single key message under production's ~52 KB (docs/groups.md).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Set
from dataclasses import dataclass, field

from session_core.errors import GroupFormatError, GroupOperationError, GroupTooLargeError, NotGroupMemberError

__all__ = ["MAX_MEMBERS", "NO_GENERATION", "Roster", "RosterChange"]

#: The largest group (the issue's target; production Session caps at 100).
MAX_MEMBERS = 1000
#: ``prev_generation`` of the first change (creation): there is no list before it.
NO_GENERATION = 0xFFFFFFFF
_KEY = 32
_PERSON = b"sc-grp-roster"


def _check_keys(keys: tuple[bytes, ...], what: str) -> None:
    for k in keys:
        if not isinstance(k, bytes) or len(k) != _KEY:
            raise GroupFormatError(f"{what}: a member key is 32 bytes")
    if len(set(keys)) != len(keys):
        raise GroupFormatError(f"{what}: a member is listed twice")


@dataclass(frozen=True)
class Roster:
    generation: int
    admin: bytes
    members: tuple[bytes, ...]  # sorted, admin included
    _set: frozenset[bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.members) > MAX_MEMBERS:
            raise GroupTooLargeError(f"{len(self.members)} members: a group holds at most {MAX_MEMBERS}")
        _check_keys(self.members, "roster")  # (also refuses duplicates, which the set would hide)
        if list(self.members) != sorted(self.members):
            raise GroupFormatError("roster members are not sorted")
        if self.admin not in self.members:
            raise GroupFormatError("the admin is not a member of the roster")
        if not 0 <= self.generation < NO_GENERATION:
            raise GroupFormatError(f"generation {self.generation} is out of range")
        object.__setattr__(self, "_set", frozenset(self.members))  # O(1) membership tests

    @classmethod
    def of(cls, generation: int, admin: bytes, members: Set[bytes]) -> Roster:
        return cls(generation, admin, tuple(sorted(members)))

    def index_of(self, member: bytes) -> int:
        # Sorted tuple: bisect would do, but 1 000 compares happen once per generation.
        try:
            return self.members.index(member)
        except ValueError:
            raise NotGroupMemberError("not a member of this generation") from None

    def __contains__(self, member: object) -> bool:
        return member in self._set

    def digest(self) -> bytes:
        h = hashlib.blake2b(digest_size=32, person=_PERSON)
        h.update(struct.pack("<IH", self.generation, len(self.members)))
        h.update(self.admin)
        for m in self.members:
            h.update(m)
        return h.digest()

    def encode(self) -> bytes:
        return struct.pack("<IH", self.generation, len(self.members)) + self.admin + b"".join(self.members)

    @classmethod
    def decode(cls, data: bytes) -> Roster:
        if len(data) < 6 + _KEY:
            raise GroupFormatError("roster truncated")
        gen, n = struct.unpack_from("<IH", data)
        if n > MAX_MEMBERS:
            raise GroupTooLargeError(f"{n} members: a group holds at most {MAX_MEMBERS}")
        if len(data) != 6 + _KEY + n * _KEY:
            raise GroupFormatError("roster length does not match its member count")
        admin = data[6:6 + _KEY]
        members = tuple(data[6 + _KEY + i * _KEY: 6 + _KEY + (i + 1) * _KEY] for i in range(n))
        return cls(gen, admin, members)

    def changed(self, generation: int, *, add: Set[bytes] = frozenset(), remove: Set[bytes] = frozenset()) -> Roster:
        """The roster of ``generation`` with ``add`` joined and ``remove`` gone (checked)."""
        if self.admin in remove:
            raise GroupOperationError("the admin cannot be removed from the group")
        now = set(self.members)
        missing = set(remove) - now
        if missing:
            raise GroupOperationError(f"{len(missing)} of those to remove are not members")
        if set(add) & now:
            raise GroupOperationError("a member to add is already in the group")
        after = (now - set(remove)) | set(add)
        if len(after) > MAX_MEMBERS:
            raise GroupTooLargeError(f"{len(after)} members: a group holds at most {MAX_MEMBERS}")
        return Roster.of(generation, self.admin, after)


@dataclass(frozen=True)
class RosterChange:
    """How the roster of ``generation`` follows from that of ``prev_generation``."""

    prev_generation: int
    generation: int
    removed: tuple[bytes, ...]
    added: tuple[bytes, ...]
    digest: bytes  # Roster.digest() of the result

    @classmethod
    def between(cls, before: Roster | None, after: Roster) -> RosterChange:
        old = set(before.members) if before else set()
        prev = before.generation if before else NO_GENERATION
        return cls(prev, after.generation, tuple(sorted(old - set(after.members))),
                   tuple(sorted(set(after.members) - old)), after.digest())

    def apply(self, before: Roster) -> Roster:
        """The roster this change leads to from ``before``; GroupFormatError if it does not match."""
        if before.generation != self.prev_generation:
            raise GroupFormatError("roster change is not relative to the roster we hold")
        try:
            after = before.changed(self.generation, add=set(self.added), remove=set(self.removed))
        except GroupOperationError as exc:
            raise GroupFormatError(f"roster change does not apply: {exc}") from None
        if after.digest() != self.digest:
            raise GroupFormatError("roster change does not lead to the list the admin signed")
        return after

    def encode(self) -> bytes:
        return (struct.pack("<IIHH", self.prev_generation, self.generation, len(self.removed), len(self.added))
                + self.digest + b"".join(self.removed) + b"".join(self.added))

    @classmethod
    def decode(cls, data: bytes) -> RosterChange:
        if len(data) < 12 + 32:
            raise GroupFormatError("roster change truncated")
        prev, gen, nr, na = struct.unpack_from("<IIHH", data)
        if nr > MAX_MEMBERS or na > MAX_MEMBERS:
            raise GroupTooLargeError(f"roster change names {nr + na} members: at most {MAX_MEMBERS} each way")
        if len(data) != 12 + 32 + (nr + na) * _KEY:
            raise GroupFormatError("roster change length does not match its counts")
        digest = data[12:44]
        keys = [data[44 + i * _KEY: 44 + (i + 1) * _KEY] for i in range(nr + na)]
        removed, added = tuple(keys[:nr]), tuple(keys[nr:])
        _check_keys(removed + added, "roster change")
        return cls(prev, gen, removed, added, digest)
