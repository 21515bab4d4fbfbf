"""Shared test fixtures.

``backend`` runs a test once per backend (C, pure Python) of every core, ids ``[c]``/``[py]``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

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
