"""The committed protobuf code: regenerating it changes nothing; field numbers match docs/interop.md §9."""

from __future__ import annotations

import filecmp
import importlib.metadata
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.descriptor import FieldDescriptor

from session_core.protocol import messages_pb2 as pb

ROOT = Path(__file__).resolve().parent.parent
GENERATED = ["messages_pb2.py", "messages_pb2.pyi"]


def _grpc_tools_pinned() -> bool:
    if importlib.util.find_spec("grpc_tools") is None:
        return False
    return importlib.metadata.version("grpcio-tools") == "1.85.1"


@pytest.mark.skipif(
    not _grpc_tools_pinned(),
    reason="grpcio-tools==1.85.1 (dev-only protobuf generator) is not installed",
)
def test_regenerating_changes_nothing(tmp_path: Path) -> None:
    subprocess.run(
        ["bash", str(ROOT / "tools" / "gen_protos.sh"), str(tmp_path)],
        check=True, capture_output=True, env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"},
    )
    for name in GENERATED:
        fresh = tmp_path / "session_core" / "protocol" / name
        committed = ROOT / "session_core" / "protocol" / name
        assert filecmp.cmp(fresh, committed, shallow=False), f"{name} is stale: run tools/gen_protos.sh"


# (message, field, number) from docs/interop.md §9 (desk-1.0.0 SignalService.proto).
INTEROP_FIELDS = [
    ("Envelope", "type", 1), ("Envelope", "source", 2), ("Envelope", "relay", 3),
    ("Envelope", "timestamp", 5), ("Envelope", "legacyMessage", 6),
    ("Envelope", "sourceDevice", 7), ("Envelope", "content", 8), ("Envelope", "serverGuid", 9),
    ("Envelope", "serverTimestamp", 10),
    ("Content", "dataMessage", 1), ("Content", "nullMessage", 4), ("Content", "receiptMessage", 5),
    ("Content", "typingMessage", 6), ("Content", "preKeyBundleMessage", 101),
    ("Content", "lokiAddressMessage", 102),
    ("PreKeyBundleMessage", "identityKey", 1), ("PreKeyBundleMessage", "deviceId", 2),
    ("PreKeyBundleMessage", "preKeyId", 3), ("PreKeyBundleMessage", "signedKeyId", 4),
    ("PreKeyBundleMessage", "preKey", 5), ("PreKeyBundleMessage", "signedKey", 6),
    ("PreKeyBundleMessage", "signature", 7),
    ("LokiAddressMessage", "p2pAddress", 1), ("LokiAddressMessage", "p2pPort", 2),
    ("LokiAddressMessage", "type", 3),
    ("DataMessage", "body", 1), ("DataMessage", "flags", 4), ("DataMessage", "expireTimer", 5),
    ("DataMessage", "profileKey", 6), ("DataMessage", "timestamp", 7),
    ("DataMessage", "profile", 101),
    ("ReceiptMessage", "type", 1), ("ReceiptMessage", "timestamp", 2),
    ("TypingMessage", "timestamp", 1), ("TypingMessage", "action", 2),
    ("TypingMessage", "groupId", 3), ("NullMessage", "padding", 1),
]


@pytest.mark.parametrize("message,field,number", INTEROP_FIELDS)
def test_field_numbers_match_interop(message: str, field: str, number: int) -> None:
    descriptor = getattr(pb, message).DESCRIPTOR
    assert descriptor.fields_by_name[field].number == number


def test_enum_values_match_interop() -> None:
    assert pb.Envelope.FRIEND_REQUEST == 101 and pb.Envelope.UNIDENTIFIED_SENDER == 6
    assert pb.Envelope.CIPHERTEXT == 1 and pb.Envelope.RECEIPT == 5
    assert pb.DataMessage.SESSION_REQUEST == 256 and pb.DataMessage.END_SESSION == 1
    assert pb.LokiAddressMessage.HOST_UNREACHABLE == 1
    assert pb.ReceiptMessage.READ == 1
    assert pb.Envelope.SESSION_MESSAGE == pb.Envelope.UNIDENTIFIED_SENDER == 6


def test_envelope_bytes_decode_with_generic_wire_reader() -> None:
    # Decode field by field without the schema, so the wire layout itself is checked.
    from google.protobuf.internal.decoder import _DecodeVarint  # type: ignore[import-untyped]

    data = pb.Envelope(type=pb.Envelope.FRIEND_REQUEST, timestamp=1554859211264,
                       content=b"\x01\x02").SerializeToString()
    fields = {}
    pos = 0
    while pos < len(data):
        key, pos = _DecodeVarint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _DecodeVarint(data, pos)
        else:
            length, pos = _DecodeVarint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        fields[number] = value
    assert fields == {1: 101, 5: 1554859211264, 8: b"\x01\x02"}


# ---- current clients (tests/data/signalservice_fields.json, extracted from upstream's .proto) --

UPSTREAM = json.loads((ROOT / "tests" / "data" / "signalservice_fields.json").read_text())
_WIRE_TYPE = {"message": FieldDescriptor.TYPE_MESSAGE, "enum": FieldDescriptor.TYPE_ENUM,
              "string": FieldDescriptor.TYPE_STRING, "bytes": FieldDescriptor.TYPE_BYTES,
              "uint64": FieldDescriptor.TYPE_UINT64, "uint32": FieldDescriptor.TYPE_UINT32,
              "bool": FieldDescriptor.TYPE_BOOL, "fixed64": FieldDescriptor.TYPE_FIXED64}


def _ours(name: str) -> Any:
    obj: Any = pb
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


@pytest.mark.parametrize("message", sorted(UPSTREAM["messages"]))
def test_every_upstream_field_has_its_number_and_type(message: str) -> None:
    ours = _ours(message).DESCRIPTOR.fields_by_number
    for name, (number, kind) in UPSTREAM["messages"][message].items():
        if f"{message}.{name}" in UPSTREAM["not_declared"]:
            assert number not in ours
            continue
        assert number in ours, f"{message}.{name} = {number} is missing"
        field = ours[number]
        assert field.type == _WIRE_TYPE[kind.split(":")[0]], f"{message}.{name}: type differs"
        if ":" in kind:
            target = field.message_type or field.enum_type
            assert target.full_name == "signalservice." + kind.split(":")[1]


@pytest.mark.parametrize("enum", sorted(UPSTREAM["enums"]))
def test_every_upstream_enum_value_matches(enum: str) -> None:
    ours = _ours(enum)
    for name, number in UPSTREAM["enums"][enum].items():
        assert ours.Value(name) == number, f"{enum}.{name}"


def _encode_all_fields(message: str, depth: int = 0) -> bytes:
    """Bytes that set every upstream field of ``message``, built from the table alone."""
    from google.protobuf.internal.encoder import _VarintBytes  # type: ignore[import-untyped]

    out = b""
    for name, (number, kind) in UPSTREAM["messages"][message].items():
        if f"{message}.{name}" in UPSTREAM["not_declared"]:
            continue
        base = kind.split(":")[0]
        if base in ("uint64", "uint32", "bool", "enum"):
            value = 1 if base != "enum" else min(UPSTREAM["enums"][kind.split(":")[1]].values())
            out += _VarintBytes(number << 3) + _VarintBytes(value)
        elif base == "fixed64":
            out += _VarintBytes(number << 3 | 1) + (7).to_bytes(8, "little")
        else:
            if base == "message":
                body = _encode_all_fields(kind.split(":")[1], depth + 1) if depth < 3 else b""
            else:
                body = b"x"
            out += _VarintBytes(number << 3 | 2) + _VarintBytes(len(body)) + body
    return out


def _unknown_anywhere(message: Any) -> list[str]:
    from google.protobuf.unknown_fields import UnknownFieldSet

    found = [message.DESCRIPTOR.full_name] if len(UnknownFieldSet(message)) else []
    for field, value in message.ListFields():
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            values = value if field.is_repeated else [value]
            for sub in values:
                found += _unknown_anywhere(sub)
    return found


@pytest.mark.parametrize("message", ["Envelope", "Content", "WebSocketMessage"])
def test_a_message_with_every_upstream_field_decodes_fully(message: str) -> None:
    parsed = _ours(message)()
    parsed.ParseFromString(_encode_all_fields(message))
    assert _unknown_anywhere(parsed) == []
    assert len(parsed.ListFields()) == len(
        [n for n in UPSTREAM["messages"][message] if f"{message}.{n}" not in UPSTREAM["not_declared"]]
    )
