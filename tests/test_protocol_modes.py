"""Conversation modes: a Session app (Session protocol only) and session_core peers, in memory."""

from __future__ import annotations

import pytest
from nacl.bindings import crypto_box_seal

from session_core.errors import (
    DecryptionError,
    DuplicateMessageError,
    FriendRequestError,
    InvalidInputError,
    MalformedMessageError,
)
from session_core.identity import Identity
from session_core.protocol import messages_pb2 as pb
from session_core.protocol.conversation import ContactState, Messenger
from session_core.protocol.events import (
    FriendRequestAccepted,
    FriendRequestReceived,
    MessageReceived,
    Outgoing,
    ReceiptReceived,
)
from session_core.protocol.modes import ConversationMode
from session_core.protocol.padding import pad, unpad
from session_core.protocol.session_protocol import (
    decrypt_incoming,
    encrypt_for_recipient,
    sender_session_id,
    sign_for_recipient,
)
from session_core.protocol.store_data import unwrap_store_data

SESSION = ConversationMode.SESSION
RATCHET = ConversationMode.RATCHET


def app(name: str) -> Messenger:
    """Stands for a Session app: speaks only the Session protocol."""
    return Messenger(Identity.generate(), name, modes=(SESSION,))


def core(name: str) -> Messenger:
    return Messenger(Identity.generate(), name)


def deliver(out: Outgoing, to: Messenger) -> list[object]:
    return to.receive(out.data, now_ms=out.timestamp_ms + 1)


def read_as_session_app(out: Outgoing, recipient: Identity) -> tuple[pb.Envelope, pb.Content, str]:
    """Decode our bytes the way a Session app does, with no Messenger involved."""
    envelope = pb.Envelope()
    envelope.ParseFromString(unwrap_store_data(out.data))
    message, sender_ed = decrypt_incoming(recipient, envelope.content)
    content = pb.Content()
    content.ParseFromString(unpad(message))
    return envelope, content, sender_session_id(sender_ed)


def production_message(sender: Identity, recipient: Identity, content: pb.Content, ts: int) -> bytes:
    """A message built as a Session app builds it (padded Content, signed, sealed, enveloped)."""
    content.sigTimestamp = ts
    boxed = encrypt_for_recipient(sender, recipient.x25519_public_key, pad(content.SerializeToString()))
    return pb.Envelope(type=pb.Envelope.SESSION_MESSAGE, timestamp=ts, content=boxed).SerializeToString()


def test_message_request_from_a_session_app_is_understood_and_answered_in_kind() -> None:
    phone, us = app("Phone"), core("Core")
    request = phone.send_friend_request(us.session_id, "hello from Session", now_ms=100)
    assert deliver(request, us) == [FriendRequestReceived(phone.session_id, "Phone", "hello from Session", 100)]
    assert us.contacts[phone.session_id].mode is SESSION
    assert us.contacts[phone.session_id].state is ContactState.INCOMING

    accept = us.accept(phone.session_id, now_ms=200)
    envelope, content, sender = read_as_session_app(accept, phone.identity)
    assert envelope.type == pb.Envelope.SESSION_MESSAGE and envelope.source == "" and envelope.timestamp == 200
    assert content.messageRequestResponse.isApproved and content.messageRequestResponse.profile.displayName == "Core"
    assert content.sigTimestamp == 200 and sender == us.session_id
    assert deliver(accept, phone) == [FriendRequestAccepted(us.session_id, "Core")]

    assert deliver(us.send_text(phone.session_id, "hi phone", now_ms=300), phone) == [
        MessageReceived(us.session_id, "hi phone", 300, "Core")
    ]
    assert deliver(phone.send_text(us.session_id, "hi core", now_ms=400), us) == [
        MessageReceived(phone.session_id, "hi core", 400, "Phone")
    ]
    _, text, _ = read_as_session_app(us.send_text(phone.session_id, "x", now_ms=500), phone.identity)
    assert not text.dataMessage.HasField("timestamp")  # reserved upstream: the envelope's counts


def test_handmade_production_messages_decode_fully_wrapped_or_bare() -> None:
    phone, us = Identity.generate(), core("Core")
    first = pb.Content()
    first.dataMessage.body = "are you there?"
    first.dataMessage.profile.displayName = "Alice"
    first.dataMessage.profile.profilePicture = "http://file/1"
    first.dataMessage.profileKey = b"k" * 32
    bare = production_message(phone, us.identity, first, 1_000)
    assert us.receive(bare) == [FriendRequestReceived(phone.session_id, "Alice", "are you there?", 1_000)]
    us.accept(phone.session_id, now_ms=1_500)
    later = pb.Content()
    later.dataMessage.body = "this disappears"
    later.expirationType = pb.Content.DELETE_AFTER_SEND
    later.expirationTimer = 3600
    from session_core.protocol.store_data import wrap_envelope

    wrapped = wrap_envelope(production_message(phone, us.identity, later, 2_000))
    assert us.receive(wrapped) == [
        MessageReceived(phone.session_id, "this disappears", 2_000, "Alice", 3600, "after_send")
    ]
    with pytest.raises(DuplicateMessageError):
        us.receive(wrapped)


def test_unpadded_production_content_is_accepted() -> None:
    phone, us = Identity.generate(), core("Core")
    content = pb.Content()
    content.dataMessage.body = "no padding"
    boxed = encrypt_for_recipient(phone, us.identity.x25519_public_key, content.SerializeToString())
    data = pb.Envelope(type=pb.Envelope.SESSION_MESSAGE, timestamp=5, content=boxed).SerializeToString()
    assert us.receive(data) == [FriendRequestReceived(phone.session_id, "", "no padding", 5)]


def test_stranger_without_text_creates_no_contact() -> None:
    phone, us = Identity.generate(), core("Core")
    typing = pb.Content()
    typing.typingMessage.timestamp, typing.typingMessage.action = 1, pb.TypingMessage.STARTED
    assert us.receive(production_message(phone, us.identity, typing, 1)) == []
    assert us.contacts == {}


def test_ratchet_is_chosen_between_session_core_peers() -> None:
    a, b = core("A"), core("B")
    deliver(a.send_friend_request(b.session_id, "hi", now_ms=1), b)
    assert b.contacts[a.session_id].request.modes  # type: ignore[union-attr]
    assert deliver(b.accept(a.session_id, now_ms=2, text="yo"), a)[0] == FriendRequestAccepted(b.session_id, "B")
    for m in (a, b):
        contact = next(iter(m.contacts.values()))
        assert contact.mode is RATCHET and contact.session is not None


def test_acceptor_answers_in_the_first_common_mode() -> None:
    a, b = core("A"), app("B")  # A advertises (ratchet, session); B speaks only session
    deliver(a.send_friend_request(b.session_id, "hi", mode=RATCHET, now_ms=1), b)
    accept = b.accept(a.session_id, now_ms=2)
    assert deliver(accept, a) == [FriendRequestAccepted(b.session_id, "B")]
    assert a.contacts[b.session_id].mode is SESSION and b.contacts[a.session_id].mode is SESSION
    assert deliver(a.send_text(b.session_id, "works", now_ms=3), b) == [
        MessageReceived(a.session_id, "works", 3, "A")
    ]


def test_no_common_mode_is_a_clear_error_and_changes_nothing() -> None:
    a = Messenger(Identity.generate(), "A", modes=(RATCHET,))
    b = app("B")
    deliver(a.send_friend_request(b.session_id, "hi", now_ms=1), b)
    before = b.to_bytes()
    with pytest.raises(FriendRequestError, match="speaks only ratchet"):
        b.accept(a.session_id, now_ms=2)
    assert b.contacts[a.session_id].state is ContactState.INCOMING
    assert Messenger.from_bytes(b.identity, before).contacts.keys() == b.contacts.keys()


def test_peer_moving_to_a_session_app_is_answered_in_the_session_protocol() -> None:
    a, b = core("A"), core("B")
    deliver(a.send_friend_request(b.session_id, "hi", now_ms=1), b)
    deliver(b.accept(a.session_id, now_ms=2, text="ok"), a)
    deliver(b.send_text(a.session_id, "ratchet", now_ms=3), a)
    # B restores its account in a Session app: same identity, no ratchet state.
    b_app = Messenger(b.identity, "B", modes=(SESSION,))
    old = b_app.send_friend_request(a.session_id, "old", now_ms=2)  # stamped before B's ratchet msg
    assert deliver(old, a) == [MessageReceived(b.session_id, "old", 2, "B")]
    assert a.contacts[b.session_id].mode is RATCHET  # an older message does not switch
    new = b_app.send_friend_request(a.session_id, "I moved", now_ms=10)
    assert deliver(new, a) == [MessageReceived(b.session_id, "I moved", 10, "B")]
    assert a.contacts[b.session_id].mode is SESSION
    reply = a.send_text(b.session_id, "got it", now_ms=11)
    assert deliver(reply, b_app) == [FriendRequestAccepted(a.session_id, "A"),
                                     MessageReceived(a.session_id, "got it", 11, "A")]


def test_session_mode_refuses_what_a_session_app_cannot_use() -> None:
    phone, us = app("Phone"), core("Core")
    deliver(phone.send_friend_request(us.session_id, "hi", now_ms=1), us)
    deliver(us.accept(phone.session_id, now_ms=2), phone)
    with pytest.raises(InvalidInputError, match="session_core-only"):
        us.send_online_status(phone.session_id, "127.0.0.1", 1, reachable=True, now_ms=3)
    with pytest.raises(InvalidInputError, match="read receipts only"):
        us.send_receipt(phone.session_id, [1], read=False, now_ms=3)
    receipt = us.send_receipt(phone.session_id, [1], read=True, now_ms=3)
    assert deliver(receipt, phone) == [ReceiptReceived(us.session_id, True, (1,))]
    # listening is told to ratchet peers only: the text goes out without it
    _, content, _ = read_as_session_app(
        us.send_text(phone.session_id, "t", now_ms=4, listening=("127.0.0.1", 9)), phone.identity)
    assert not content.HasField("lokiAddressMessage")


def test_a_ratchet_only_messenger_refuses_session_protocol() -> None:
    phone = Identity.generate()
    us = Messenger(Identity.generate(), "Core", modes=(RATCHET,))
    content = pb.Content()
    content.dataMessage.body = "hi"
    with pytest.raises(DecryptionError, match="does not speak"):
        us.receive(production_message(phone, us.identity, content, 1))
    assert us.contacts == {}


def test_signature_for_someone_else_is_not_taken_as_session_protocol() -> None:
    phone, us, other = Identity.generate(), core("Core"), Identity.generate()
    content = pb.Content()
    content.dataMessage.body = "hi"
    signed = sign_for_recipient(phone, other.x25519_public_key, pad(content.SerializeToString()))
    boxed = bytes(crypto_box_seal(signed, us.identity.x25519_public_key))
    data = pb.Envelope(type=pb.Envelope.SESSION_MESSAGE, timestamp=1, content=boxed).SerializeToString()
    with pytest.raises((MalformedMessageError, DecryptionError)):
        us.receive(data)
    assert us.contacts == {}


def test_modes_survive_saving() -> None:
    phone, us = app("Phone"), core("Core")
    deliver(phone.send_friend_request(us.session_id, "hi", now_ms=1), us)
    restored = Messenger.from_bytes(us.identity, us.to_bytes())
    assert restored.contacts[phone.session_id].mode is SESSION
    assert restored.modes == us.modes
    app_restored = Messenger.from_bytes(phone.identity, phone.to_bytes())
    assert app_restored.modes == (SESSION,)


def test_typing_in_both_modes() -> None:
    phone, us = app("Phone"), core("Core")
    deliver(phone.send_friend_request(us.session_id, "hi", now_ms=1), us)
    deliver(us.accept(phone.session_id, now_ms=2), phone)
    events = deliver(us.send_typing(phone.session_id, started=True, now_ms=3), phone)
    assert [type(e).__name__ for e in events] == ["TypingReceived"]
