"""Shared test fixtures.

``pow_backend`` runs a test once per proof-of-work backend, ids ``[c]`` and ``[py]``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from session_core import pow as pow_api

DATA = Path(__file__).parent / "data"


def load_json(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def _backends() -> list[Any]:
    params = [pytest.param("python", id="py")]
    params.insert(0, pytest.param("c", id="c"))
    return params


@pytest.fixture(params=_backends())
def pow_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """Switch session_core.pow to the C or Python backend for one test.

    The C variant FAILS (does not skip) when the extension is missing, unless
    the whole run is pure Python on purpose (SESSION_CORE_NO_EXTENSIONS=1).
    """
    from session_core import _backend

    if request.param == "c" and _backend.NO_EXTENSIONS:
        pytest.skip("SESSION_CORE_NO_EXTENSIONS=1: pure-Python run requested")
    previous = pow_api._use_backend(request.param)
    try:
        yield request.param
    finally:
        pow_api._impl = previous
        pow_api._c = None if previous is pow_api._pow_py else previous
