"""The room server's settings (``session-core opengroup run`` options)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["OpenGroupConfig", "RoomSpec"]


@dataclass(frozen=True)
class RoomSpec:
    token: str
    name: str
    description: str = ""
    whitelist: bool = False


@dataclass
class OpenGroupConfig:
    data_dir: Path
    ip: str = "127.0.0.1"
    port: int = 0
    #: Rooms to create (or update) at start, and blinded/Session IDs made global admins.
    rooms: list[RoomSpec] = field(default_factory=list)
    admins: list[str] = field(default_factory=list)
    #: Requests signed more than this far from the server's clock are refused (425); nonces are
    #: remembered this long.  pysogs allows 24 h; shorter keeps the nonce table small.
    auth_window: float = 3600.0
    max_post_bytes: int = 64 * 1024
    max_dm_bytes: int = 64 * 1024
    max_file_bytes: int = 6 * 1024 * 1024
    file_ttl: float = 15 * 86400.0
    dm_ttl: float = 15 * 86400.0
    post_rate_count: int = 5
    post_rate_interval: float = 16.0
    #: Reactions added or removed per user and room (ours; pysogs does not limit them).
    reaction_rate_count: int = 20
    reaction_rate_interval: float = 16.0
    #: How long an upload no post names in ``files`` is kept (pysogs: an hour); attached files
    #: are kept ``file_ttl`` from the post.
    unattached_file_ttl: float = 3600.0
    #: Files one post may attach.
    max_post_files: int = 16
    max_batch: int = 64
    purge_interval: float = 60.0
    #: Keep answers of messages/since until the room changes (off: for benchmarks and debugging).
    answer_cache: bool = True
    ready_file: Path | None = None
