"""Session's 13-word recovery phrase against libsession-util's vectors, and format recognition."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from session_core.errors import (
    InvalidInputError,
    MnemonicChecksumError,
    MnemonicInvalidWordsError,
    MnemonicUnknownWordError,
    MnemonicWordCountError,
    WordListIntegrityError,
)
from session_core.identity import Identity
from session_core.recovery import (
    PhraseFormat,
    decode_phrase,
    decode_words,
    encode_bip39,
    encode_words,
)
from session_core.recovery import wordlist
from session_core.recovery.session_phrase import checksum_index

VECTORS = json.loads((Path(__file__).parent / "data" / "mnemonic_vectors.json").read_text())
IDENTITY = json.loads((Path(__file__).parent / "data" / "identity_vectors.json").read_text())
ERRORS = {
    "checksum": MnemonicChecksumError,
    "unknown_word": MnemonicUnknownWordError,
    "invalid_group": MnemonicInvalidWordsError,
}


def test_word_list_is_the_pinned_one() -> None:
    words = wordlist.english()
    assert len(words) == 1626 and words.words[0] == "abbey" and words.words[-1] == "zoom"
    raw = (Path(wordlist.__file__).parent / "english.txt").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == wordlist.ENGLISH_SHA256


def test_a_changed_word_list_is_refused() -> None:
    raw = (Path(wordlist.__file__).parent / "english.txt").read_bytes()
    with pytest.raises(WordListIntegrityError, match="not the pinned one"):
        wordlist.parse(raw.replace(b"zoom\n", b"zoon\n"))
    with pytest.raises(WordListIntegrityError, match="not the pinned one"):
        wordlist.parse(raw[:-5])
    assert issubclass(WordListIntegrityError, RuntimeError)


@pytest.mark.parametrize("vector", VECTORS["with_checksum"], ids=lambda v: v["data"][:6] + str(len(v["data"])))
def test_upstream_vectors_with_checksum(vector: dict[str, str]) -> None:
    data = bytes.fromhex(vector["data"])
    assert " ".join(encode_words(data)) == vector["words"]
    assert decode_words(vector["words"].split()) == data


def test_upstream_word_list_vector_without_checksum() -> None:
    vector = VECTORS["no_checksum"][0]
    data = bytes.fromhex(vector["data"])
    assert data == hashlib.sha512(b"libsession-util mnemonic test vector").digest()
    assert " ".join(encode_words(data, checksum=False)) == vector["words"]
    assert decode_words(vector["words"].split()) == data


@pytest.mark.parametrize("hexdata", VECTORS["round_trip"])
def test_round_trip_with_and_without_checksum(hexdata: str) -> None:
    data = bytes.fromhex(hexdata)
    assert decode_words(encode_words(data)) == data
    assert decode_words(encode_words(data, checksum=False)) == data


def test_checksum_word_repeats_the_crc_selected_word() -> None:
    words = encode_words(bytes(range(16)))
    assert words[-1] == words[checksum_index(words[:12])] == words[11]


@pytest.mark.parametrize("phrase", VECTORS["accepted_spellings"]["phrases"])
def test_only_the_three_letter_prefix_matters(phrase: str) -> None:
    seed = bytes.fromhex(VECTORS["accepted_spellings"]["data"])
    decoded = decode_phrase(phrase.upper())
    assert decoded.seed == seed and decoded.format is PhraseFormat.SESSION


@pytest.mark.parametrize("vector", VECTORS["rejected"], ids=lambda v: v["error"])
def test_upstream_rejected_phrases(vector: dict[str, str]) -> None:
    with pytest.raises(ERRORS[vector["error"]]):
        decode_words(vector["words"].split())
    assert issubclass(ERRORS[vector["error"]], InvalidInputError)


def test_wrong_checksum_word_error_says_so() -> None:
    words = VECTORS["with_checksum"][0]["words"].split()
    words[-1] = "amaze"
    with pytest.raises(MnemonicChecksumError, match="checksum word 'amaze'"):
        Identity.from_mnemonic(" ".join(words))


def test_unknown_word_names_it_and_suggests() -> None:
    words = VECTORS["with_checksum"][0]["words"].split()
    words[4] = "xymptoms"
    with pytest.raises(MnemonicUnknownWordError, match=r"word 5 \('xymptoms'\).*Session.*'symptoms'"):
        Identity.from_mnemonic(" ".join(words))


def test_invalid_group_is_rejected_not_wrapped() -> None:
    # abbey abbey zoom encodes 1625 * 1626**2 > 2**32 - 1: no seed gives it.
    words = ["abbey", "abbey", "zoom"] + ["abbey"] * 9
    with pytest.raises(MnemonicInvalidWordsError, match="words 1-3"):
        decode_phrase(" ".join(words))


def test_identity_phrase_is_session_format_and_restores() -> None:
    vector = IDENTITY["identities"][0]
    ident = Identity.from_seed(bytes.fromhex(vector["seed16"]))
    words = ident.mnemonic.split()
    assert len(words) == 13 and all(w in wordlist.english().exact for w in words)
    restored, decoded = Identity.restore(ident.mnemonic)
    assert restored.session_id == "05" + vector["x25519_pk"] and decoded.format is PhraseFormat.SESSION
    without, decoded12 = Identity.restore(" ".join(words[:12]))
    assert without == ident and decoded12.format is PhraseFormat.SESSION_NO_CHECKSUM


def test_twelve_words_recognised_by_their_list() -> None:
    for _ in range(50):
        ident = Identity.generate()
        session12 = " ".join(ident.mnemonic.split()[:12])
        assert decode_phrase(session12).format is PhraseFormat.SESSION_NO_CHECKSUM
        legacy = decode_phrase(encode_bip39(ident.seed))
        assert legacy.format is PhraseFormat.BIP39 and legacy.seed == ident.seed


@pytest.mark.parametrize("count", [1, 2, 11, 14, 24, 25])
def test_other_word_counts_are_refused(count: int) -> None:
    with pytest.raises(MnemonicWordCountError):
        decode_phrase(" ".join(["abbey"] * count))


def test_phrase_must_be_text() -> None:
    with pytest.raises(MnemonicWordCountError):
        decode_phrase(b"abbey" * 13)  # type: ignore[arg-type]
