"""The committed protobuf code: regenerating it changes nothing; field numbers match docs/interop.md §9."""

from __future__ import annotations

import filecmp
import importlib.metadata
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

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
