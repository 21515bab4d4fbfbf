"""Tests of C-only paths: skipped in a deliberate pure-Python run, failed in a C build whose
extension did not load (a missing fast path must never pass as a skip)."""

from __future__ import annotations

import pytest

from session_core import _backend


def require_c(extension: object, name: str) -> None:
    if _backend.NO_EXTENSIONS:
        pytest.skip("SESSION_CORE_NO_EXTENSIONS=1: pure-Python run requested")
    if extension is None:
        pytest.fail(f"the C extension for {name!r} is not in use: {_backend.load_error(name) or 'not built'}")
