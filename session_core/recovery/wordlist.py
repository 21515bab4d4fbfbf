"""The word list of Session's recovery phrase, vendored as data and pinned by its SHA-256.

``english.txt`` holds the 1 626 words of the Electrum/Monero English list that every Session
client uses (first ``abbey``, last ``zoom``), one per line, in list order: the index of a word is
its value.  Origin: session-foundation/session-desktop ``mnemonic_languages/english.json``
(commit 1380d1eb1169c11985e354b4623505e6a7f433e7; the list itself unchanged since 2018), the same
list as libsession-util ``src/mnemonics/languages/english.txt`` and Monero's
``src/mnemonics/english.h``.  The upstream test vectors in ``tests/data/mnemonic_vectors.json``
pin it independently.

The file is checked against :data:`ENGLISH_SHA256` when first loaded: a changed or truncated list
would silently turn every phrase into a different account, so it is refused instead.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from session_core.errors import WordListIntegrityError

__all__ = ["ENGLISH_SHA256", "PREFIX_LEN", "WordList", "english"]

ENGLISH_SHA256 = "eaa6bce7dd92f4d6dd74f224264e0ef4ad21095d68ec77616b26ceb599baf4f7"
ENGLISH_WORDS = 1626
# Words are told apart by their first 3 letters (unique in the list); the rest is decoration.
PREFIX_LEN = 3


@dataclass(frozen=True)
class WordList:
    words: tuple[str, ...]
    prefix_index: dict[str, int]  # first PREFIX_LEN letters -> index
    exact: frozenset[str]  # the words as spelled in the list

    def __len__(self) -> int:
        return len(self.words)

    def index(self, word: str) -> int | None:
        """The value of ``word`` (matched on its prefix), or None if no word has that prefix."""
        return self.prefix_index.get(word[:PREFIX_LEN])


def parse(raw: bytes, expected_sha256: str = ENGLISH_SHA256) -> WordList:
    """Check ``raw`` against its pin and index it (separate from loading, so tests can feed bytes)."""
    digest = hashlib.sha256(raw).hexdigest()
    if digest != expected_sha256:
        raise WordListIntegrityError(
            f"the recovery-phrase word list is not the pinned one (sha256 {digest}, "
            f"expected {expected_sha256}): reinstall session_core"
        )
    words = tuple(raw.decode("ascii").split("\n")[:-1])
    prefixes = {w[:PREFIX_LEN]: i for i, w in enumerate(words)}
    if len(words) != ENGLISH_WORDS or len(prefixes) != ENGLISH_WORDS:
        raise WordListIntegrityError("the recovery-phrase word list is malformed")
    return WordList(words, prefixes, frozenset(words))


@lru_cache(maxsize=1)
def english() -> WordList:
    """The English list, loaded and checked once."""
    raw = resources.files("session_core.recovery").joinpath("english.txt").read_bytes()
    return parse(raw)
