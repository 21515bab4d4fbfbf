"""Shared test fixtures.

``backend`` runs a test once per backend (C, pure Python) of every core, ids ``[c]``/``[py]``.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

if sys.version_info < (3, 12):
    # CPython 3.11 keeps the AST constructor's recursion counter per interpreter, not per call
    # (python/cpython gh-106905): an ast.parse that runs while another is converting -- a thread,
    # or a garbage-collected asyncio future logging its traceback in the middle of pytest's own
    # ast.parse -- leaves the outer one with "SystemError: AST constructor recursion depth
    # mismatch", which pytest reports as an INTERNALERROR and ends the run (seen here about once
    # in 15 runs).  Python 3.11's traceback module ast.parse()s every line it prints, only to
    # place the ^^^ markers under the failing expression; without that (the whole line is
    # underlined instead) the tests' tracebacks and logs never parse code.
    traceback._extract_caret_anchors_from_line_segment = lambda segment: None  # type: ignore[attr-defined]

# Importing the cores registers them with the backend switch.
from session_core import _backend, onion, pow, swarm  # noqa: F401

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True, scope="session")
def _own_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Commands run without --home (and their subprocesses) use a session_core home of the test
    run, never the user's real one (profiles, the name resolver's header cache)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("SESSION_CORE_HOME", str(tmp_path_factory.mktemp("session-core-home")))
    yield
    mp.undo()


def load_json(name: str) -> Any:
    return json.loads((DATA / name).read_text())


@pytest.fixture(params=[pytest.param("c", id="c"), pytest.param("python", id="py")])
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run a test once on the C backends and once on the pure-Python references of every
    core (pow, onion, swarm), through the package's one switch, ``_backend.use``.

    The C variant FAILS (does not skip) when an extension is missing, unless the whole run
    is pure Python on purpose (SESSION_CORE_NO_EXTENSIONS=1).
    """
    if request.param == "c" and _backend.NO_EXTENSIONS:
        pytest.skip("SESSION_CORE_NO_EXTENSIONS=1: pure-Python run requested")
    with _backend.use(request.param):
        yield request.param
