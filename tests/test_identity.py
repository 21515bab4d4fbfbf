"""session_core.identity: derivation vectors, recovery phrase, Session ID parsing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from session_core.errors import (
    InvalidInputError,
    InvalidSeedError,
    InvalidSessionIdError,
    MnemonicChecksumError,
    MnemonicError,
    MnemonicUnknownWordError,
    MnemonicWordCountError,
)
from session_core.identity import Identity, parse_session_id, session_id_from_x25519
from session_core.recovery import PhraseFormat, encode_bip39

VECTORS = json.loads((Path(__file__).parent / "data" / "identity_vectors.json").read_text())


@pytest.mark.parametrize("vector", VECTORS["identities"], ids=lambda v: v["seed16"][:8])
def test_seed_vector_from_libsession_util(vector: dict[str, str]) -> None:
    ident = Identity.from_seed(bytes.fromhex(vector["seed16"]))
    assert ident.ed25519_public_key.hex() == vector["ed25519_pk"]
    assert ident.x25519_public_key.hex() == vector["x25519_pk"]
    assert ident.session_id == "05" + vector["x25519_pk"]
    assert ident.ed25519_seed == bytes.fromhex(vector["seed16"]) + bytes(16)


@pytest.mark.parametrize("vector", VECTORS["bip39"], ids=lambda v: v["entropy"][:4])
def test_legacy_bip39_phrases_still_restore(vector: dict[str, str]) -> None:
    assert encode_bip39(bytes.fromhex(vector["entropy"])) == vector["words"]
    ident, decoded = Identity.restore(vector["words"])
    assert ident.seed.hex() == vector["entropy"] and decoded.format is PhraseFormat.BIP39
    # The same seed now shows Session's 13-word phrase, which restores the same identity.
    assert len(ident.mnemonic.split()) == 13
    assert Identity.from_mnemonic(ident.mnemonic) == ident


def test_x25519_private_key_matches_public() -> None:
    from nacl.bindings import crypto_scalarmult_base

    ident = Identity.generate()
    assert crypto_scalarmult_base(ident.x25519_private_key) == ident.x25519_public_key


def test_generate_is_random_and_restores_from_phrase() -> None:
    a, b = Identity.generate(), Identity.generate()
    assert a.session_id != b.session_id
    restored = Identity.from_mnemonic(a.mnemonic)
    assert restored == a and restored.session_id == a.session_id


def test_phrase_is_forgiving_about_case_spacing_commas() -> None:
    ident = Identity.generate()
    messy = "  " + ident.mnemonic.upper().replace(" ", " ,  ") + "\n"
    assert Identity.from_mnemonic(messy) == ident


def test_signature_verifies_with_ed25519_key() -> None:
    from nacl.signing import VerifyKey

    ident = Identity.generate()
    sig = ident.sign(b"msg")
    VerifyKey(ident.ed25519_public_key).verify(b"msg", sig)


@pytest.mark.parametrize("seed", [b"", b"x" * 15, b"x" * 17, b"x" * 32])
def test_bad_seed_length(seed: bytes) -> None:
    with pytest.raises(InvalidSeedError, match="16 bytes"):
        Identity.from_seed(seed)


def test_bad_seed_type() -> None:
    with pytest.raises(InvalidSeedError):
        Identity.from_seed("0123456789abcdef")  # type: ignore[arg-type]
    assert issubclass(InvalidSeedError, ValueError)


def test_wrong_word_count() -> None:
    words = Identity.generate().mnemonic.split()
    with pytest.raises(MnemonicWordCountError, match="got 11"):
        Identity.from_mnemonic(" ".join(words[:11]))
    with pytest.raises(MnemonicWordCountError, match="got 14"):
        Identity.from_mnemonic(" ".join(words + ["abbey"]))
    with pytest.raises(MnemonicWordCountError, match="got 0"):
        Identity.from_mnemonic("  ")


def test_mistyped_bip39_word_names_position_and_suggests() -> None:
    words = VECTORS["bip39"][1]["words"].split()  # legal winner thank ...
    words[1] = "winnr"  # "win" is also a Session prefix (winter): it must not decode as Session
    with pytest.raises(MnemonicUnknownWordError, match=r"word 2 \('winnr'\).*BIP-39.*'winner'"):
        Identity.from_mnemonic(" ".join(words))


def test_swapped_bip39_words_fail_checksum() -> None:
    words = VECTORS["bip39"][1]["words"].split()
    words[0], words[1] = words[1], words[0]
    with pytest.raises(MnemonicChecksumError, match="checksum"):
        Identity.from_mnemonic(" ".join(words))
    assert issubclass(MnemonicError, InvalidInputError)


def test_session_id_parsing() -> None:
    ident = Identity.generate()
    assert parse_session_id(ident.session_id) == ident.x25519_public_key
    assert session_id_from_x25519(ident.x25519_public_key) == ident.session_id
    for bad, reason in [
        ("05" + "ab" * 31, "66 hex"),
        ("03" + "ab" * 32, "starts with"),
        ("05" + "zz" * 32, "hexadecimal"),
        ("05" + "ab" + " ab" * 20 + "  ", "hexadecimal"),  # bytes.fromhex would skip the spaces
        ("", "66 hex"),
    ]:
        with pytest.raises(InvalidSessionIdError, match=reason):
            parse_session_id(bad)
    with pytest.raises(InvalidSessionIdError):
        parse_session_id(None)  # type: ignore[arg-type]


def test_repr_hides_secrets() -> None:
    ident = Identity.generate()
    text = repr(ident)
    assert ident.session_id in text
    assert ident.seed.hex() not in text and ident.mnemonic not in text
