"""Message padding (docs/interop.md §6.2)."""

from __future__ import annotations

import pytest

from session_core.errors import MalformedMessageError, PaddingError
from session_core.protocol.padding import BLOCK, pad, padded_size, unpad


@pytest.mark.parametrize(
    "length,expected",
    [(0, 159), (1, 159), (157, 159), (158, 159), (159, 319), (317, 319), (318, 319), (319, 479)],
)
def test_padded_sizes_follow_the_2020_formula(length: int, expected: int) -> None:
    # ceil((len + 2) / 160) * 160 - 1, spelled out independently of the module.
    assert padded_size(length) == expected == ((length + 2 + BLOCK - 1) // BLOCK) * BLOCK - 1
    assert len(pad(b"a" * length)) == expected


def test_layout_terminator_then_zeros() -> None:
    padded = pad(b"hi")
    assert padded[:3] == b"hi\x80" and set(padded[3:]) == {0}


def test_roundtrip_keeps_trailing_zero_and_0x80_in_message() -> None:
    for message in (b"", b"\x00", b"\x80", b"x\x80\x00\x00", bytes(200)):
        assert unpad(pad(message)) == message


@pytest.mark.parametrize("bad", [b"", bytes(159), b"abc", b"abc\x81\x00\x00"])
def test_missing_terminator(bad: bytes) -> None:
    with pytest.raises(PaddingError, match="0x80"):
        unpad(bad)
    assert issubclass(PaddingError, MalformedMessageError)


def test_negative_length_rejected() -> None:
    with pytest.raises(ValueError):
        padded_size(-1)
