"""What a room post's bytes say (session_core.rooms.post): bare text, Session's padded Content
with AttachmentPointers, and links that must name a file of the same room."""

from __future__ import annotations

import pytest

from session_core.errors import RoomInputError
from session_core.protocol import messages_pb2 as pb
from session_core.protocol.padding import pad
from session_core.rooms import RoomRef
from session_core.rooms.post import RoomFile, RoomPost, file_url, parse_post, room_file_id

REF = RoomRef("http://127.0.0.1:8080", "lobby", "ab" * 32)


def test_text_alone_is_bare_utf8_and_reads_back() -> None:
    assert RoomPost("héllo").to_bytes() == "héllo".encode()
    assert parse_post("héllo".encode()) == RoomPost("héllo")
    assert parse_post(b"\xff\xfe").text == "\ufffd\ufffd"  # not UTF-8: shown, not refused


def test_a_post_with_files_is_a_padded_content_as_session_writes() -> None:
    f = RoomFile(file_url(REF, 7), "minutes.pdf", 1234, "application/pdf")
    data = RoomPost("the minutes", [f]).to_bytes()
    assert len(data) % 160 == 159  # Session's padding buckets
    content = pb.Content.FromString(data.rstrip(b"\0")[:-1])
    ptr = content.dataMessage.attachments[0]
    assert (content.dataMessage.body, ptr.url, ptr.fileName, ptr.size, ptr.contentType) == \
        ("the minutes", "http://127.0.0.1:8080/room/lobby/file/7", "minutes.pdf", 1234, "application/pdf")
    assert not ptr.key and not ptr.digest
    assert parse_post(data) == RoomPost("the minutes", [f])


def test_padded_bytes_that_are_no_data_message_read_as_text() -> None:
    other = pb.Content()
    other.nullMessage.padding = b"x"
    assert parse_post(pad(other.SerializeToString())).files == []
    assert parse_post(pad(b"\xff\xff\xff")).files == []  # padded, not protobuf


def test_links_must_name_a_file_of_this_room() -> None:
    assert room_file_id(REF, file_url(REF, 42)) == 42
    for url in ("http://evil.example/room/lobby/file/42", "http://127.0.0.1:8080/room/dev/file/42",
                "http://127.0.0.1:8080/room/lobby/file/42/../../x", "http://127.0.0.1:8080/room/lobby/file/-1",
                "http://127.0.0.1:8080/room/lobby/file/", "http://127.0.0.1:8080/file/42", "",
                "http://127.0.0.1:8080/room/lobby/file/" + "9" * 19, "http://127.0.0.1:80800/room/lobby/file/1"):
        with pytest.raises(RoomInputError):
            room_file_id(REF, url)
