"""Recovery phrases: Session's 13-word format (written and read) and legacy BIP-39 (read)."""

from session_core.recovery.bip39_phrase import encode_bip39
from session_core.recovery.phrase import (
    DecodedPhrase,
    PhraseFormat,
    decode_phrase,
    encode_phrase,
    normalize_phrase,
)
from session_core.recovery.session_phrase import decode_words, encode_words

__all__ = [
    "DecodedPhrase",
    "PhraseFormat",
    "decode_phrase",
    "decode_words",
    "encode_bip39",
    "encode_phrase",
    "encode_words",
    "normalize_phrase",
]
