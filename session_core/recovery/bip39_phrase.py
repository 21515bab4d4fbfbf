"""The BIP-39 phrases session_core issued before it adopted Session's own format.

12 English BIP-39 words encode exactly the 16-byte seed (128 bits + a 4-bit checksum), so they
restore the same keys; only the word encoding differs from Session's.  Kept for reading: new
phrases are always Session's (:mod:`session_core.recovery.session_phrase`).
"""

from __future__ import annotations

from mnemonic import Mnemonic

from session_core.errors import MnemonicChecksumError, MnemonicWordCountError
from session_core.recovery.suggest import unknown_word_error

__all__ = ["BIP39_WORDS", "bip39_words", "decode_bip39", "encode_bip39", "is_valid_bip39"]

BIP39_WORDS = 12
_BIP39 = Mnemonic("english")
_WORDS = frozenset(_BIP39.wordlist)


def bip39_words() -> frozenset[str]:
    return _WORDS


def encode_bip39(seed: bytes) -> str:
    """The legacy 12-word phrase of a 16-byte seed (for tests and migration tools)."""
    return str(_BIP39.to_mnemonic(seed))


def is_valid_bip39(words: list[str]) -> bool:
    return len(words) == BIP39_WORDS and _WORDS.issuperset(words) and bool(_BIP39.check(" ".join(words)))


def decode_bip39(words: list[str]) -> bytes:
    """The seed of a legacy phrase; errors name the unknown word or the failed checksum."""
    if len(words) != BIP39_WORDS:
        raise MnemonicWordCountError(f"a BIP-39 phrase has {BIP39_WORDS} words, got {len(words)}")
    for position, word in enumerate(words, start=1):
        if word not in _WORDS:
            raise unknown_word_error(position, word, _BIP39.wordlist, "BIP-39 English")
    if not _BIP39.check(" ".join(words)):
        raise MnemonicChecksumError(
            "the BIP-39 phrase's checksum does not match: a word is wrong or out of order"
        )
    return bytes(_BIP39.to_entropy(words))
