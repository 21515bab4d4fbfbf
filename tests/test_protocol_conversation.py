"""The Messenger state machine: two (or three) peers wired together in memory, no sockets."""

from __future__ import annotations

import pytest

from session_core.errors import (
    DecryptionError,
    DuplicateMessageError,
    FriendRequestError,
    InvalidInputError,
    MalformedMessageError,
    NoSessionError,
    UnknownPeerError,
)
from session_core.identity import Identity
from session_core.protocol import messages_pb2 as pb
from session_core.protocol.conversation import ContactState, Messenger
from session_core.protocol.events import (
    TTL_MS,
    FriendRequestAccepted,
    FriendRequestReceived,
    MessageReceived,
    OnlineStatusReceived,
    Outgoing,
    ReceiptReceived,
)
from session_core.protocol.friend_request import DOMAIN
from session_core.protocol.sealed import build_envelope, open_envelope


class Net:
    """An in-memory 'swarm': per recipient, the envelopes sent to them, in order."""

    def __init__(self, *peers: Messenger) -> None:
        self.peers = {p.session_id: p for p in peers}

    def deliver(self, out: Outgoing) -> list[object]:
        events = self.peers[out.recipient].receive(out.data, now_ms=out.timestamp_ms + 1)
        follow = [e for e in events if isinstance(e, Outgoing)]
        return [e for e in events if not isinstance(e, Outgoing)] + [
            ev for o in follow for ev in self.deliver(o)
        ]


def make(name: str) -> Messenger:
    return Messenger(Identity.generate(), name)


def befriend(a: Messenger, b: Messenger) -> Net:
    net = Net(a, b)
    net.deliver(a.send_friend_request(b.session_id, "hi", now_ms=1))
    net.deliver(b.accept(a.session_id, now_ms=2))
    return net


def test_friend_request_accept_then_chat_both_ways() -> None:
    a, b = make("Alice"), make("Bob")
    net = Net(a, b)
    request = a.send_friend_request(b.session_id, "it's Alice from the café", now_ms=10)
    assert request.kind == "friend_request" and request.ttl_ms == TTL_MS["friend_request"] == 4 * 86400000
    assert net.deliver(request) == [
        FriendRequestReceived(a.session_id, "Alice", "it's Alice from the café", 10)
    ]
    assert b.contacts[a.session_id].state is ContactState.INCOMING
    accept = b.accept(a.session_id, now_ms=11, text="hello Alice")
    assert accept.ttl_ms == TTL_MS["session_established"]
    assert net.deliver(accept) == [
        FriendRequestAccepted(b.session_id, "Bob"),
        MessageReceived(b.session_id, "hello Alice", 11, "Bob"),
    ]
    assert a.contacts[b.session_id].state is ContactState.ESTABLISHED
    assert b.contacts[a.session_id].state is ContactState.ESTABLISHED
    assert net.deliver(a.send_text(b.session_id, "hi Bob", now_ms=12)) == [
        MessageReceived(a.session_id, "hi Bob", 12, "Alice")
    ]
    assert net.deliver(b.send_text(a.session_id, "how are you?", now_ms=13)) == [
        MessageReceived(b.session_id, "how are you?", 13, "Bob")
    ]


def test_ignore_drops_request_and_replay_stays_silent() -> None:
    a, b = make("A"), make("B")
    request = a.send_friend_request(b.session_id, "hi", now_ms=1)
    assert len(b.receive(request.data)) == 1
    assert b.receive(request.data) == []  # duplicate delivery
    b.ignore(a.session_id)
    assert a.session_id not in b.contacts
    assert b.receive(request.data) == []  # replay of the ignored request
    with pytest.raises(UnknownPeerError):
        b.accept(a.session_id, now_ms=2)
    with pytest.raises(UnknownPeerError):
        b.ignore(a.session_id)


def test_new_request_after_ignore_is_shown() -> None:
    a, b = make("A"), make("B")
    b.receive(a.send_friend_request(b.session_id, "hi", now_ms=1).data)
    b.ignore(a.session_id)
    events = b.receive(a.send_friend_request(b.session_id, "please", now_ms=5).data)
    assert [e.intro for e in events if isinstance(e, FriendRequestReceived)] == ["please"]


def test_lost_accept_message_second_message_still_establishes() -> None:
    a, b = make("A"), make("B")
    net = Net(a, b)
    net.deliver(a.send_friend_request(b.session_id, "hi", now_ms=1))
    b.accept(a.session_id, now_ms=2, text="lost")  # never delivered
    events = net.deliver(b.send_text(a.session_id, "second", now_ms=3))
    assert events == [FriendRequestAccepted(b.session_id, "B"),
                      MessageReceived(b.session_id, "second", 3, "B")]
    assert net.deliver(a.send_text(b.session_id, "got it", now_ms=4))[0].body == "got it"


def test_accept_message_arriving_late_after_second() -> None:
    a, b = make("A"), make("B")
    net = Net(a, b)
    net.deliver(a.send_friend_request(b.session_id, "hi", now_ms=1))
    first = b.accept(a.session_id, now_ms=2, text="first")
    second = b.send_text(a.session_id, "second", now_ms=3)
    assert [e.body for e in net.deliver(second) if isinstance(e, MessageReceived)] == ["second"]
    assert [e.body for e in net.deliver(first) if isinstance(e, MessageReceived)] == ["first"]


def test_signal_replay_is_rejected() -> None:
    a, b = make("A"), make("B")
    befriend(a, b)
    msg = a.send_text(b.session_id, "once", now_ms=5)
    assert b.receive(msg.data)[0].body == "once"  # type: ignore[attr-defined]
    with pytest.raises(DuplicateMessageError):
        b.receive(msg.data)


@pytest.mark.parametrize("low_first", [True, False], ids=["low-receives-first", "high-receives-first"])
def test_crossed_requests_make_one_session(low_first: bool) -> None:
    # Both delivery orders (decided by which Session ID is lower): exactly one session results.
    a, b = sorted([make("A"), make("B")], key=lambda m: m.session_id, reverse=low_first)
    net = Net(a, b)
    ra = a.send_friend_request(b.session_id, "from a", now_ms=1)
    rb = b.send_friend_request(a.session_id, "from b", now_ms=1)
    events = net.deliver(ra) + net.deliver(rb)
    low, high = sorted([a, b], key=lambda m: m.session_id)
    received = [e for e in events if isinstance(e, FriendRequestReceived)]
    assert [e.auto_accepted for e in received] == [True]
    assert [e for e in events if isinstance(e, FriendRequestAccepted)] == [
        FriendRequestAccepted(low.session_id, low.display_name)
    ]
    assert net.deliver(high.send_text(low.session_id, "hi", now_ms=3))[0].body == "hi"
    assert net.deliver(low.send_text(high.session_id, "yo", now_ms=4))[0].body == "yo"


def test_receipts_and_online_status() -> None:
    a, b = make("A"), make("B")
    net = befriend(a, b)
    assert net.deliver(b.send_receipt(a.session_id, [5, 6], read=True, now_ms=7)) == [
        ReceiptReceived(b.session_id, True, (5, 6))
    ]
    status = a.send_online_status(b.session_id, "10.1.2.3", 22021, reachable=True, now_ms=8)
    assert status.ttl_ms == TTL_MS["online_status"] == 60000
    assert net.deliver(status) == [OnlineStatusReceived(a.session_id, "10.1.2.3", 22021, True)]
    with pytest.raises(InvalidInputError):
        a.send_online_status(b.session_id, "x", 70000, reachable=True, now_ms=9)


def test_wrong_recipient_cannot_open() -> None:
    a, b, c = make("A"), make("B"), make("C")
    befriend(a, b)
    msg = a.send_text(b.session_id, "for B only", now_ms=5)
    with pytest.raises(DecryptionError, match="not for this identity"):
        c.receive(msg.data)
    request = a.send_friend_request(c.session_id, "hi C", now_ms=6)
    with pytest.raises(DecryptionError):
        b.receive(request.data)


def test_forged_source_in_sealed_message_fails() -> None:
    a, b, mallory = make("A"), make("B"), make("M")
    befriend(a, b)
    # Mallory copies A's ratchet bytes into a sealed message of her own: no session, rejected.
    msg = a.send_text(b.session_id, "real", now_ms=5)
    _, sealed = open_envelope(b.identity, msg.data)
    stolen_payload = sealed.payload
    b.receive(msg.data)
    forged = pb.SealedMessage(kind=pb.SealedMessage.SIGNAL, source=mallory.session_id,
                              payload=stolen_payload, timestamp=5)
    with pytest.raises(DecryptionError, match="no session"):
        b.receive(build_envelope(b.identity.x25519_public_key, forged, 5))


def _resealed_request(a: Messenger, b: Messenger, mutate: object) -> bytes:
    out = a.send_friend_request(b.session_id, "hi", now_ms=1)
    _, sealed = open_envelope(b.identity, out.data)
    mutate(sealed)  # type: ignore[operator]
    return build_envelope(b.identity.x25519_public_key, sealed, 1)


@pytest.mark.parametrize(
    "mutate,error,match",
    [
        (lambda s: setattr(s, "timestamp", s.timestamp + 1), FriendRequestError, "signature"),
        (lambda s: setattr(s, "payload", s.payload[:-1] + b"\x01"), FriendRequestError, "signature"),
        (lambda s: setattr(s, "source", "05" + "11" * 32), FriendRequestError, "does not belong"),
        (lambda s: setattr(s, "signature", b"\x00" * 64), FriendRequestError, "signature"),
        (lambda s: setattr(s, "signature", b"\x00" * 10), MalformedMessageError, "size"),
        (lambda s: setattr(s, "source", "not a session id"), MalformedMessageError, "source"),
        (lambda s: setattr(s, "kind", 0), MalformedMessageError, "kind"),
    ],
    ids=["timestamp", "payload", "source", "zero-sig", "short-sig", "bad-source", "kind"],
)
def test_tampered_friend_requests(mutate: object, error: type[Exception], match: str) -> None:
    a, b = make("A"), make("B")
    data = _resealed_request(a, b, mutate)
    with pytest.raises(error, match=match):
        b.receive(data)
    assert b.contacts == {}


def test_request_signed_for_another_recipient_is_rejected() -> None:
    a, b, c = make("A"), make("B"), make("C")
    out = a.send_friend_request(c.session_id, "hi C", now_ms=1)
    _, sealed = open_envelope(c.identity, out.data)  # C forwards A's request to B
    with pytest.raises(FriendRequestError, match="signature"):
        b.receive(build_envelope(b.identity.x25519_public_key, sealed, 1))
    assert DOMAIN.startswith(b"session_core friend request")


@pytest.mark.parametrize("data", [b"", b"\x00garbage", pb.Envelope(type=1).SerializeToString(),
                                  b"\x08" * 200000])
def test_garbage_envelopes(data: bytes) -> None:
    b = make("B")
    with pytest.raises((MalformedMessageError, DecryptionError)):
        b.receive(data)
    assert b.contacts == {}


def test_bad_commands() -> None:
    a, b = make("A"), make("B")
    with pytest.raises(NoSessionError):
        a.send_text(b.session_id, "too early", now_ms=1)
    with pytest.raises(InvalidInputError, match="own"):
        a.send_friend_request(a.session_id, "me", now_ms=1)
    with pytest.raises(InvalidInputError):
        a.send_friend_request(b.session_id, "x" * 5000, now_ms=1)
    with pytest.raises(InvalidInputError):
        a.send_friend_request("05abc", "hi", now_ms=1)
    befriend(a, b)
    with pytest.raises(FriendRequestError, match="already"):
        a.send_friend_request(b.session_id, "again", now_ms=3)
    with pytest.raises(InvalidInputError, match="kind"):
        a.send_content(b.session_id, pb.Content(), kind="nope", now_ms=3)


def test_state_survives_save_and_load_mid_handshake_and_after() -> None:
    a, b = make("A"), make("B")
    request = a.send_friend_request(b.session_id, "hi", now_ms=1)
    a = Messenger.from_bytes(a.identity, a.to_bytes())  # A restarts while waiting
    b.receive(request.data)
    b = Messenger.from_bytes(b.identity, b.to_bytes())  # B restarts with the request pending
    accept = b.accept(a.session_id, now_ms=2, text="ok")
    assert isinstance(a.receive(accept.data)[0], FriendRequestAccepted)
    a = Messenger.from_bytes(a.identity, a.to_bytes())
    b = Messenger.from_bytes(b.identity, b.to_bytes())
    net = Net(a, b)
    assert net.deliver(a.send_text(b.session_id, "after restart", now_ms=3))[0].body == "after restart"
    assert net.deliver(b.send_text(a.session_id, "same here", now_ms=4))[0].body == "same here"
    assert a.display_name == "A" and a.contacts[b.session_id].display_name == "B"


def test_saved_state_belongs_to_its_identity() -> None:
    from session_core.errors import StateDecryptionError

    a = make("A")
    blob = a.to_bytes()
    with pytest.raises(StateDecryptionError):
        Messenger.from_bytes(Identity.generate(), blob)
    with pytest.raises(StateDecryptionError):
        Messenger.from_bytes(a.identity, blob[:40])
