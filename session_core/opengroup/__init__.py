"""The open group (room) server, whitepaper 5.1: session-pysogs' API over SQLite, reached
directly and through onion requests.  ``app`` (the sans-IO core), ``server`` (aiohttp),
``auth`` (X-SOGS-* checks, nonces), ``rooms``/``users``/``posts``/``bans``/``inbox``/
``ratelimit`` (the state), ``handlers``/``moderation`` (endpoints), ``db`` (schema)."""

from session_core.opengroup.app import RoomServerApp
from session_core.opengroup.config import OpenGroupConfig, RoomSpec
from session_core.opengroup.http import Refused, Response
from session_core.opengroup.server import RoomServer, run

__all__ = ["OpenGroupConfig", "Refused", "Response", "RoomServer", "RoomServerApp", "RoomSpec", "run"]
