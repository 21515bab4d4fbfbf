"""The client side of open groups: a :class:`RoomClient` talks to one room server as one user.

Theory of operation
-------------------
The user's key is blinded for the server (:mod:`session_core.blinding`), so the server sees
"15…" and never the Session ID.  Every request is signed (:func:`session_core.rooms.sign_request`)
and carried by a :class:`~session_core.client.server_link.ServerLink`: an onion path in normal
use (``OnionLink``), plain HTTP for operators and tests (``DirectLink``).  Posts are the raw
bytes of the message, signed by the blinded key; what the bytes mean (Session puts a padded
protobuf there) is the caller's business.  Polling several rooms is one ``/batch``.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.parse
from collections.abc import Callable, Sequence
from typing import Any

from session_core.blinding import BlindedKeyPair, blind15_key_pair
from session_core.client.server_link import ServerLink
from session_core.errors import RoomInputError, RoomServerError
from session_core.rooms.auth import sign_request
from session_core.rooms.dm import decrypt_from_blinded, encrypt_for_blinded
from session_core.rooms.url import check_token

__all__ = ["RoomClient", "decode_post"]


def decode_post(message: dict[str, Any]) -> bytes | None:
    """The bytes of a post as the server returned it (``None`` for a deleted one)."""
    data = message.get("data")
    return None if data is None else base64.b64decode(data)


class RoomClient:
    def __init__(self, ed25519_seed: bytes, server_pk: bytes, link: ServerLink, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.keys: BlindedKeyPair = blind15_key_pair(ed25519_seed, server_pk)
        self._seed = ed25519_seed
        self.server_pk = server_pk
        self.link = link
        self.clock = clock

    @property
    def blinded_id(self) -> str:
        return self.keys.blinded_id

    # -- requests ------------------------------------------------------------------------------

    async def call(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        headers = sign_request(self.keys, self.server_pk, method, _signed_form(path), body, timestamp=int(self.clock()))
        if body is not None:
            headers["Content-Type"] = "application/json"
        return await self.link.call(method, path, body, headers)

    async def request(self, method: str, path: str, obj: Any = None, *, raw: bytes | None = None) -> Any:
        """Call and decode the JSON answer; an error status raises :class:`RoomServerError`."""
        body = raw if raw is not None else (None if obj is None else json.dumps(obj).encode())
        code, answer = await self.call(method, path, body)
        if code >= 400:
            raise RoomServerError(code, f"{method} {path}: {code} {answer[:300].decode('utf-8', 'replace')}")
        try:
            return json.loads(answer)
        except ValueError:
            raise RoomServerError(502, f"{method} {path}: the answer is not JSON") from None

    # -- rooms and messages --------------------------------------------------------------------

    async def capabilities(self) -> list[str]:
        return list((await self.request("GET", "/capabilities"))["capabilities"])

    async def rooms(self) -> list[dict[str, Any]]:
        return list(await self.request("GET", "/rooms"))

    async def room(self, token: str) -> dict[str, Any]:
        return dict(await self.request("GET", f"/room/{check_token(token)}"))

    async def post(self, token: str, data: bytes, *, files: Sequence[int] = (), whisper_to: str | None = None,
                   whisper_mods: bool = False) -> dict[str, Any]:
        """Post *data*; *files* are ids of this user's uploads to the room (:meth:`upload`) the
        post links, which the server then keeps as long as posts' files.

        Moderators may whisper: *whisper_to* (a blinded 15… ID, or a Session ID 05… of someone
        the server has seen) makes the post visible to that user only, *whisper_mods* to the
        room's moderators; both together, to the user and the moderators."""
        body: dict[str, Any] = {"data": base64.b64encode(data).decode(),
                                "signature": base64.b64encode(self.keys.sign(data)).decode()}
        if files:
            body["files"] = [int(f) for f in files]
        if whisper_to is not None:
            body["whisper_to"] = _user(whisper_to)
        if whisper_mods:
            body["whisper_mods"] = True
        return dict(await self.request("POST", f"/room/{check_token(token)}/message", body))

    async def edit(self, token: str, msg_id: int, data: bytes) -> None:
        body = {"data": base64.b64encode(data).decode(), "signature": base64.b64encode(self.keys.sign(data)).decode()}
        await self.request("PUT", f"/room/{check_token(token)}/message/{int(msg_id)}", body)

    async def delete(self, token: str, msg_id: int) -> None:
        await self.request("DELETE", f"/room/{check_token(token)}/message/{int(msg_id)}")

    async def delete_all(self, token: str, user: str) -> int:
        return int((await self.request("DELETE", f"/room/{check_token(token)}/all/{_user(user)}"))["deleted"])

    async def since(self, token: str, seqno: int, limit: int = 100, *, reactions: bool = False) -> list[dict[str, Any]]:
        """Changes after *seqno*; with *reactions*, also messages whose reactions alone changed
        (as ``{id, seqno, reactions}``)."""
        flags = "&t=r" if reactions else ""
        return list(await self.request(
            "GET", f"/room/{check_token(token)}/messages/since/{int(seqno)}?limit={limit}{flags}"))

    async def message(self, token: str, msg_id: int) -> dict[str, Any]:
        """One message (404 when deleted, unknown, or a whisper not meant for this user)."""
        return dict(await self.request("GET", f"/room/{check_token(token)}/message/{_msg_id(msg_id)}"))

    async def react(self, token: str, msg_id: int, reaction: str, *, remove: bool = False) -> dict[str, Any]:
        """Add (or remove) this user's *reaction* (1-12 characters, e.g. an emoji) to a message:
        ``{"added"|"removed": bool, "seqno": int}``."""
        if not isinstance(reaction, str) or not 1 <= len(reaction) <= 12:
            raise RoomInputError("a reaction is 1 to 12 characters (an emoji, or a short word)")
        path = f"/room/{check_token(token)}/reaction/{int(msg_id)}/{urllib.parse.quote(reaction, safe='')}"
        return dict(await self.request("DELETE" if remove else "PUT", path, None if remove else {}))

    async def poll(self, seqnos: dict[str, int], limit: int = 100) -> dict[str, list[dict[str, Any]]]:
        """New, edited and deleted messages of several rooms in one ``/batch``."""
        subs = [{"method": "GET", "path": f"/room/{check_token(t)}/messages/since/{int(s)}?limit={limit}"}
                for t, s in seqnos.items()]
        answers = await self.request("POST", "/batch", subs)
        out = {}
        for token, ans in zip(seqnos, answers):
            if ans["code"] != 200:
                raise RoomServerError(ans["code"], f"polling {token}: {ans['body']}")
            out[token] = list(ans["body"])
        return out

    async def upload(self, token: str, data: bytes) -> int:
        return int((await self.request("POST", f"/room/{check_token(token)}/file", raw=data))["id"])

    async def download(self, token: str, file_id: int) -> bytes:
        code, body = await self.call("GET", f"/room/{check_token(token)}/file/{int(file_id)}")
        if code != 200:
            raise RoomServerError(code, f"download {file_id}: {body[:200].decode('utf-8', 'replace')}")
        return body

    # -- pins (room admins) --------------------------------------------------------------------

    async def pin(self, token: str, msg_id: int) -> int:
        """Pin a message (again: move it to the end of the pins); the room's new ``info_updates``."""
        return int((await self.request("POST", f"/room/{check_token(token)}/pin/{_msg_id(msg_id)}", {}))["info_updates"])

    async def unpin(self, token: str, msg_id: int) -> bool:
        """Unpin a message; False if it was not pinned."""
        return bool((await self.request("POST", f"/room/{check_token(token)}/unpin/{_msg_id(msg_id)}", {}))["unpinned"])

    async def unpin_all(self, token: str) -> int:
        """Unpin every message of the room; how many were pinned."""
        return int((await self.request("POST", f"/room/{check_token(token)}/unpin/all", {}))["unpinned"])

    async def pinned(self, token: str) -> list[dict[str, Any]]:
        """The room's pins, oldest first: ``[{id, pinned_at, pinned_by}]``."""
        return list((await self.room(token)).get("pinned_messages", []))

    # -- moderation ----------------------------------------------------------------------------

    async def ban(self, user: str, *, rooms: Sequence[str] = (), is_global: bool = False,
                  timeout: float | None = None) -> None:
        await self.request("POST", f"/user/{_user(user)}/ban", {**_scope(rooms, is_global), "timeout": timeout})

    async def unban(self, user: str, *, rooms: Sequence[str] = (), is_global: bool = False) -> None:
        await self.request("POST", f"/user/{_user(user)}/unban", _scope(rooms, is_global))

    async def set_moderator(self, user: str, *, rooms: Sequence[str] = (), is_global: bool = False,
                            moderator: bool | None = None, admin: bool | None = None,
                            visible: bool | None = None) -> None:
        body = {**_scope(rooms, is_global), "moderator": moderator, "admin": admin, "visible": visible}
        await self.request("POST", f"/user/{_user(user)}/moderator", body)

    async def allow(self, user: str, rooms: Sequence[str], allow: bool = True) -> None:
        await self.request("POST", f"/user/{_user(user)}/allow", {**_scope(rooms, False), "allow": allow})

    async def bans(self) -> list[dict[str, Any]]:
        return list(await self.request("GET", "/bans"))

    # -- blinded DMs ---------------------------------------------------------------------------

    async def send_dm(self, blinded_id: str, body: bytes) -> dict[str, Any]:
        if not blinded_id.startswith("15"):
            raise RoomInputError("DMs on a room server go to a blinded (15…) ID")
        return dict(await self.request("POST", f"/inbox/{_user(blinded_id)}",
                                       {"message": base64.b64encode(body).decode()}))

    async def send_private(self, blinded_id: str, text: bytes) -> dict[str, Any]:
        """A DM only *blinded_id* can read (:func:`session_core.rooms.dm.encrypt_for_blinded`)."""
        return await self.send_dm(blinded_id, encrypt_for_blinded(self._seed, self.server_pk, blinded_id, text))

    async def read_private(self, since_id: int = 0) -> list[tuple[int, str, bytes]]:
        """``(id, sender's Session ID, text)`` of the DMs received; ones that do not open are skipped."""
        out = []
        for m in await self.inbox(since_id):
            try:
                text, sender = decrypt_from_blinded(self._seed, self.server_pk, m["sender"],
                                                    base64.b64decode(m["message"]))
            except (RoomInputError, ValueError, KeyError):
                continue
            out.append((int(m["id"]), sender, text))
        return out

    async def inbox(self, since_id: int = 0) -> list[dict[str, Any]]:
        return list(await self.request("GET", f"/inbox/since/{int(since_id)}" if since_id else "/inbox"))

    async def outbox(self, since_id: int = 0) -> list[dict[str, Any]]:
        return list(await self.request("GET", f"/outbox/since/{int(since_id)}" if since_id else "/outbox"))


def _signed_form(path: str) -> str:
    """What X-SOGS-Signature covers: the path with its percent-escapes decoded (pysogs' rule)."""
    route, sep, query = path.partition("?")
    return urllib.parse.unquote(route) + sep + query


def _user(user: str) -> str:
    if not isinstance(user, str) or len(user) != 66 or user[:2] not in ("05", "15") \
            or any(c not in "0123456789abcdefABCDEF" for c in user):
        raise RoomInputError("a user is named by a 66-hex-digit blinded (15…) or Session (05…) ID")
    return user.lower()


def _msg_id(msg_id: int) -> int:
    if isinstance(msg_id, bool) or not isinstance(msg_id, int) or not 0 < msg_id < 10**18:
        raise RoomInputError(f"a message ID is a positive whole number, not {str(msg_id)[:40]!r}")
    return msg_id


def _scope(rooms: Sequence[str], is_global: bool) -> dict[str, Any]:
    if bool(rooms) == is_global:
        raise RoomInputError("give rooms or global, not both or neither")
    return {"global": True} if is_global else {"rooms": [check_token(t) for t in rooms]}
