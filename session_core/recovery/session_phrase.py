"""Session's recovery phrase: the Electrum/Monero word encoding with a CRC-32 checksum word.

Theory of operation (Session Desktop ``ts/session/crypto/mnemonic.ts``, libsession-util
``src/mnemonics/``, Monero ``electrum-words.cpp``):

* The data (16 bytes for a Session seed) is read as little-endian 32-bit values ``x``; each gives
  three words from the ``n = 1626``-word list: ``w1 = x % n``, ``w2 = (x // n + w1) % n``,
  ``w3 = (x // n**2 + w2) % n``.  Each word depends on the previous one, so the three indices are
  not just the base-1626 digits of ``x``.
* Decoding inverts that: ``x = w1 + n*((w2 - w1) % n) + n**2*((w3 - w2) % n)``.  Because
  ``n**3 > 2**32`` some triples give ``x >= 2**32``; no data encodes to them, so they are refused.
* The checksum word repeats one of the data words: ``words[crc32(prefixes) % len(words)]``, where
  ``prefixes`` is the concatenation of the first 3 letters of every data word.  It catches most
  single wrong words and any two words swapped (the CRC covers their order).
* Words are matched on their first 3 letters, so ``amazing`` reads as ``amaze``; case is ignored
  by the caller's normalisation.
"""

from __future__ import annotations

import struct
import zlib

from session_core.errors import (
    MnemonicChecksumError,
    MnemonicInvalidWordsError,
    MnemonicWordCountError,
)
from session_core.recovery.suggest import unknown_word_error
from session_core.recovery.wordlist import PREFIX_LEN, WordList, english

__all__ = ["checksum_index", "decode_words", "encode_words"]

_U32_MAX = 0xFFFFFFFF


def checksum_index(words: list[str]) -> int:
    """The position of the data word the checksum word repeats."""
    prefixes = "".join(w[:PREFIX_LEN] for w in words)
    return zlib.crc32(prefixes.encode("utf-8")) % len(words)


def encode_words(data: bytes, *, checksum: bool = True, wordlist: WordList | None = None) -> list[str]:
    """``data`` (a multiple of 4 bytes) as words, 3 per 4 bytes, plus the checksum word."""
    if len(data) == 0 or len(data) % 4:
        raise ValueError(f"the data is a non-empty multiple of 4 bytes, got {len(data)}")
    wl = wordlist or english()
    n = len(wl)
    out: list[str] = []
    for (x,) in struct.iter_unpack("<I", data):
        w1 = x % n
        w2 = (x // n + w1) % n
        w3 = (x // n // n + w2) % n
        out += (wl.words[w1], wl.words[w2], wl.words[w3])
    if checksum:
        out.append(out[checksum_index(out)])
    return out


def decode_words(words: list[str], *, wordlist: WordList | None = None) -> bytes:
    """Decode a phrase of ``3k`` words (no checksum) or ``3k + 1`` (checksum checked).

    ``words`` are already normalised (lowercase).  Raises :class:`MnemonicWordCountError`,
    :class:`~session_core.errors.MnemonicUnknownWordError` (naming the word and close matches),
    :class:`MnemonicInvalidWordsError` or :class:`MnemonicChecksumError`.
    """
    wl = wordlist or english()
    if len(words) < 3 or len(words) % 3 == 2:
        raise MnemonicWordCountError(
            f"a Session recovery phrase has 13 words (12 without the checksum word), got {len(words)}"
        )
    data_words = words[: len(words) - len(words) % 3]
    indices: list[int] = []
    for position, word in enumerate(words, start=1):
        index = wl.index(word)
        if index is None:
            raise unknown_word_error(position, word, wl.words, "Session")
        indices.append(index)
    n = len(wl)
    out = bytearray()
    for g in range(0, len(data_words), 3):
        w1, w2, w3 = indices[g : g + 3]
        x = w1 + n * ((w2 - w1) % n) + n * n * ((w3 - w2) % n)
        if x > _U32_MAX:
            raise MnemonicInvalidWordsError(
                f"words {g + 1}-{g + 3} ({' '.join(data_words[g:g + 3])}) are no valid group: "
                "one of them is wrong"
            )
        out += struct.pack("<I", x)
    if len(words) % 3 == 1:
        expected = data_words[checksum_index(data_words)]
        given = words[-1]
        if given[:PREFIX_LEN] != expected[:PREFIX_LEN]:
            raise MnemonicChecksumError(
                f"the checksum word {given!r} does not match the other words: one of them is "
                "wrong or out of order, or the last word is mistyped"
            )
    return bytes(out)
