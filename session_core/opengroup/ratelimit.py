"""Per-user, per-room post rate limit: at most ``count`` posts in any ``interval`` seconds
(pysogs' default is 5 in 16 s).  In memory: a restart forgets recent posts, which only ever
lets a user post a little sooner.  A refused post is not counted."""

from __future__ import annotations

from collections import deque

__all__ = ["PostRateLimit"]


class PostRateLimit:
    def __init__(self, count: int = 5, interval: float = 16.0) -> None:
        self.count = count
        self.interval = interval
        self._recent: dict[tuple[int, int], deque[float]] = {}

    def check(self, room: int, user: int, now: float) -> bool:
        """Whether a post now is allowed (does not record it: see :meth:`record`)."""
        q = self._recent.get((room, user))
        if q is None:
            return True
        while q and q[0] <= now - self.interval:
            q.popleft()
        return len(q) < self.count

    def record(self, room: int, user: int, now: float) -> None:
        self._recent.setdefault((room, user), deque()).append(now)

    def forget_idle(self, now: float) -> None:
        for key in [k for k, q in self._recent.items() if not q or q[-1] <= now - self.interval]:
            del self._recent[key]
