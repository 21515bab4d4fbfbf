"""Helpful errors for a word that is in no list: which word, and what it probably was."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from session_core.errors import MnemonicUnknownWordError

__all__ = ["unknown_word_error"]


def unknown_word_error(
    position: int, word: str, wordlist: Sequence[str], list_name: str
) -> MnemonicUnknownWordError:
    close = difflib.get_close_matches(word, wordlist, n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return MnemonicUnknownWordError(
        f"word {position} ({word!r}) is not in the {list_name} word list{hint}"
    )
