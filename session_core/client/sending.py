"""The client's sending layer: friend requests, texts and files, by synchronous routing to a
peer's listening node when they advertised one (acked, else the same envelope goes to their
swarm) or through the peer's swarm (PoW); receipts and our own route back to peers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

from session_core.attachments import FileServerRef, Pointer
from session_core.client.account import AccountSync
from session_core.client.state import PeerState, SendReport, history_line
from session_core.client.sync import PeerRoute, deliver
from session_core.errors import ClientError
from session_core.identity import canonical_session_id
from session_core.protocol import ContactState, ConversationMode, Outgoing
from session_core.protocol.expiration import AFTER_SEND, Expiration
from session_core.protocol.groups import GroupSigner
from session_core.protocol.groups.invite import sign_invite

__all__ = ["Sender"]


class Sender(AccountSync):
    """Everything that leaves the device as a message; see the module doc."""

    async def send_friend_request(self, peer: str, intro: str) -> SendReport:
        self._alive()
        peer = canonical_session_id(peer)
        async with self._lock:
            out = self.messenger.send_friend_request(peer, intro, now_ms=self.clock.now_ms())
            self._save()
        rep = await self._send_async(out, "friend request")
        await self._note_contact(peer, approved=True)
        return rep

    async def accept(self, peer: str, text: str = "") -> SendReport:
        self._alive()
        peer = canonical_session_id(peer)
        async with self._lock:
            out = self.messenger.accept(peer, now_ms=self.clock.now_ms(), text=text)
            self._save()
            if text:
                self._record(peer, "out", text, out.timestamp_ms, "swarm")
        rep = await self._send_async(out, "accept")
        await self._note_contact(peer, approved=True, approved_me=True)
        if text:
            await self._store_sync_copy(peer, text, out.timestamp_ms, ())
        return rep

    def pending_requests(self) -> list[str]:
        return [c.session_id for c in self.messenger.contacts.values() if c.state is ContactState.INCOMING]

    async def send_file(self, peer: str, path: Path, text: str = "", *, server: str | None = None) -> SendReport:
        """Upload ``path`` (padded, encrypted, chunked when large) to the file server through an
        onion path, then send its pointer (with ``text``) like a text message.  An interrupted
        upload of a large file resumes on the next call for the same unchanged file."""
        where = server or self.cfg.file_server
        if not where:
            raise ClientError("no file server configured (ClientConfig.file_server, or --file-server)")
        peer = canonical_session_id(peer)
        pointer = await self.files.upload_file(Path(path), FileServerRef.parse(where),
                                               state_dir=self.cfg.home / "uploads")
        return await self.send_text(peer, text, attachments=(pointer,))

    async def send_text(self, peer: str, text: str, *, attachments: Sequence[Pointer] = ()) -> SendReport:
        self._alive()
        peer = canonical_session_id(peer)
        st = self.peers.setdefault(peer, PeerState())
        expire = self.disappearing(peer)
        async with self._lock:
            ts = self.clock.now_ms()
            listening = None
            if (self.listener is not None and st.route is None
                    and self.messenger.mode_of(peer) is ConversationMode.RATCHET):
                listening = (self.listener.address, self.listener.node.port)  # where we listen (§4.6.2)
            out = self.messenger.send_text(peer, text, now_ms=ts, listening=listening, attachments=attachments,
                                           expire=expire)
            if listening is not None:
                st.advertised = listening[0]
            self._save(sending=False)
        await self.disk.flush()  # the ratchet step is on disk before the envelope leaves
        # The swarm copy of an after-send message dies with every other copy.
        dies_at = ts + expire.ms if expire is not None and expire.mode == AFTER_SEND else None
        rep = await self._deliver_text(peer, st, out, dies_at)
        line = history_line(text, attachments)
        msg_id = self._record(peer, "out", line, ts, rep.route)
        if expire is not None:  # our own copy: we have read it, so both modes count from now
            self.db.set_expiry(msg_id, ts + expire.ms, expire.ms)
        # With the pointers: files show on every device; with the timer: it dies there too.
        await self._store_sync_copy(peer, text, ts, attachments, expire)
        return rep

    async def set_disappearing(self, peer: str, expire: Expiration | None) -> SendReport:
        """Set the conversation's timer (None: off) and tell the peer, as Session does."""
        self._alive()
        peer = canonical_session_id(peer)
        async with self._lock:
            out = self.messenger.send_expiration_timer(peer, expire, now_ms=self.clock.now_ms())
            self._put_timer(peer, expire)
            self._save()
        rep = await self._send_async(out, "timer")
        await self.push_config()  # the account's other devices follow
        return rep

    async def send_group_invite(self, peer: str, signer: GroupSigner, name: str = "") -> SendReport:
        """Invite ``peer`` (an established contact) into the group whose key ``signer`` is,
        through our 1:1 conversation; the group key's signature binds it to ``peer`` and this
        message (:mod:`session_core.protocol.groups.invite`)."""
        self._alive()
        peer = canonical_session_id(peer)
        st = self.peers.setdefault(peer, PeerState())
        async with self._lock:
            out = self.messenger.send_group_invite(peer, sign_invite(signer, peer, name, self.clock.now_ms()))
            self._save()
        rep = await self._deliver_text(peer, st, out)
        rep.kind = "group invite"
        return rep

    async def _deliver_text(self, peer: str, st: PeerState, out: Outgoing, dies_at: int | None = None) -> SendReport:
        ts = out.timestamp_ms
        if st.route is not None and self.cfg.sync:
            t0 = time.perf_counter()
            acked = await self._send_sync(peer, st.route, out)
            if acked:
                return SendReport(peer, "text", "sync", f"listening node {st.route.node_ed25519[:8]} (acked)",
                                  time.perf_counter() - t0, ts)
            st.route = None
            self.stats.fallbacks += 1
            rep = await self._send_async(out, "text", started=t0, dies_at=dies_at)
            rep.route = "sync->async"
            return rep
        return await self._send_async(out, "text", dies_at=dies_at)

    async def _send_async(self, out: Outgoing, kind: str, started: float | None = None,
                          dies_at: int | None = None) -> SendReport:
        t0 = started or time.perf_counter()
        rep = await self.router.store(out.recipient, out.data, out.ttl_ms, expires_at_ms=dies_at)
        self.stats.async_sent += 1
        return SendReport(out.recipient, kind, "async", rep.describe(), time.perf_counter() - t0, out.timestamp_ms, rep)

    async def _send_sync(self, peer: str, route: PeerRoute, out: Outgoing) -> bool:
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._acks[out.timestamp_ms] = fut
        try:
            if not await self._deliver_sync(peer, route, out.data):
                return False
            self.stats.sync_sent += 1
            return await asyncio.wait_for(fut, self.cfg.ack_timeout)
        except asyncio.TimeoutError:
            return False
        finally:
            self._acks.pop(out.timestamp_ms, None)

    async def _deliver_sync(self, peer: str, route: PeerRoute, data: bytes) -> bool:
        node = self._node(route.node_ed25519)
        if node is None:
            return False
        try:
            r = await deliver(self.oc, node, route, data)
        except ClientError:
            return False
        return r.status == 200

    async def _advertise(self, peer: str, route: PeerRoute) -> None:
        """Answer a peer's online status with ours, straight to their listening node."""
        assert self.listener is not None
        async with self._lock:
            out = self.messenger.send_online_status(peer, self.listener.address, self.listener.node.port,
                                                    reachable=True, now_ms=self.clock.now_ms())
            self._save(sending=False)
        await self.disk.flush()  # on disk before it leaves
        self.peers[peer].advertised = self.listener.address + "@" + route.mailbox
        await self._deliver_sync(peer, route, out.data)

    async def _ack(self, peer: str, ts: int) -> None:
        st = self.peers.get(peer)
        if st is None or st.route is None:
            return
        async with self._lock:
            out = self.messenger.send_receipt(peer, [ts], read=False, now_ms=self.clock.now_ms())
            self._save(sending=False)
        await self.disk.flush()  # on disk before the receipt leaves
        await self._deliver_sync(peer, st.route, out.data)
