"""Reading a recovery phrase in whichever format it was written, and saying which.

Formats accepted for a 16-byte seed:

* ``SESSION`` -- 13 words, Session's own format with its checksum word (what Session apps show
  and what :func:`encode_phrase` writes);
* ``SESSION_NO_CHECKSUM`` -- the same without the 13th word.  Nothing then detects a wrong word
  (except the rare invalid group), so the caller should show the Session ID for the user to check;
* ``BIP39`` -- the 12-word BIP-39 phrases session_core issued before.

12 words can be either of the last two.  The phrase is read in the format most of its words are
spelled in exactly (the Session list and the BIP-39 list share 425 words, so a real phrase of one
format has few exact words of the other); a tie at 12 goes to BIP-39 only when its checksum holds.
A mistyped BIP-39 phrase therefore gets a BIP-39 error instead of silently decoding, through
Session's prefix matching, into some other account.
"""

from __future__ import annotations

import enum
import unicodedata
from dataclasses import dataclass

from session_core.errors import InvalidSeedError, MnemonicWordCountError
from session_core.recovery.bip39_phrase import BIP39_WORDS, bip39_words, decode_bip39, is_valid_bip39
from session_core.recovery.session_phrase import decode_words, encode_words
from session_core.recovery.wordlist import english

__all__ = ["PhraseFormat", "DecodedPhrase", "decode_phrase", "encode_phrase", "normalize_phrase"]

SEED_BYTES = 16
SESSION_WORDS = 13


class PhraseFormat(enum.Enum):
    SESSION = "Session 13-word phrase"
    SESSION_NO_CHECKSUM = "Session phrase without its checksum word (12 words, unverified)"
    BIP39 = "legacy session_core BIP-39 phrase (12 words)"


@dataclass(frozen=True)
class DecodedPhrase:
    seed: bytes
    format: PhraseFormat


def normalize_phrase(text: str) -> list[str]:
    """Words in lowercase; users paste with capitals, commas, newlines or several spaces."""
    return unicodedata.normalize("NFKD", text).lower().replace(",", " ").split()


def encode_phrase(seed: bytes) -> str:
    """The Session 13-word phrase of a 16-byte seed."""
    if len(seed) != SEED_BYTES:
        raise InvalidSeedError(f"the seed is {SEED_BYTES} bytes, got {len(seed)}")
    return " ".join(encode_words(seed))


def decode_phrase(text: str) -> DecodedPhrase:
    """The 16-byte seed of a phrase, and the format it was recognised as.

    Raises a :class:`~session_core.errors.MnemonicError` subclass naming what is wrong.
    """
    if not isinstance(text, str):
        raise MnemonicWordCountError("the recovery phrase is a str of 13 words")
    words = normalize_phrase(text)
    if len(words) == SESSION_WORDS:
        return DecodedPhrase(decode_words(words), PhraseFormat.SESSION)
    if len(words) != BIP39_WORDS:
        raise MnemonicWordCountError(
            f"the recovery phrase has {SESSION_WORDS} words (12 without the checksum word), "
            f"got {len(words)}"
        )
    session_exact = sum(w in english().exact for w in words)
    bip39_exact = sum(w in bip39_words() for w in words)
    if bip39_exact > session_exact or (bip39_exact == BIP39_WORDS and is_valid_bip39(words)):
        return DecodedPhrase(decode_bip39(words), PhraseFormat.BIP39)
    return DecodedPhrase(decode_words(words), PhraseFormat.SESSION_NO_CHECKSUM)
