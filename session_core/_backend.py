"""Choosing between the C extensions and the pure-Python references.

One switch for the whole package: ``SESSION_CORE_NO_EXTENSIONS=1`` forces pure
Python everywhere.  Otherwise each accelerated module imports its compiled twin
through :func:`load_extension`; tests and benches pick a backend with :func:`use`.
A compiled module that fails to import while extensions were wanted is reported
with a ``RuntimeWarning`` (a missing fast path must never go unnoticed), and
:func:`session_core.backend` shows it.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import warnings
from collections.abc import Callable, Iterator
from types import ModuleType

from session_core.errors import InvalidInputError

NO_EXTENSIONS: bool = os.environ.get("SESSION_CORE_NO_EXTENSIONS", "") not in ("", "0")

_load_errors: dict[str, str] = {}


def load_extension(name: str, module: str) -> ModuleType | None:
    """Import the compiled *module* of core *name* unless extensions are switched off.

    Returns None when the pure-Python reference must be used.
    """
    if NO_EXTENSIONS:
        return None
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        _load_errors[name] = str(exc)
        warnings.warn(
            f"session_core: the C extension for {name!r} is not available ({exc}); "
            "using the much slower pure-Python implementation",
            RuntimeWarning,
            stacklevel=3,
        )
        return None


def load_error(name: str) -> str | None:
    """Why the C extension for *name* could not be imported, if it could not."""
    return _load_errors.get(name)


# core name -> a function that switches the core to "c" or "python" and returns a function
# that restores the previous choice.  Each core registers itself when imported.
Selector = Callable[[str], Callable[[], None]]
_selectors: dict[str, Selector] = {}

IMPLEMENTATIONS = ("c", "python")


def register_selector(core: str, selector: Selector) -> None:
    """Called once by each accelerated core's public module."""
    _selectors[core] = selector


@contextlib.contextmanager
def use(implementation: str, *cores: str) -> Iterator[None]:
    """Run a block with the given cores (default: every registered core) on ``"c"`` or
    ``"python"``.  The one way tests and benches choose a backend; not for production.

    Raises :class:`ExtensionUnavailableError` when ``"c"`` is asked for and was not built.
    """
    if implementation not in IMPLEMENTATIONS:
        raise InvalidInputError(f"implementation must be one of {IMPLEMENTATIONS}, got {implementation!r}")
    unknown = [core for core in cores if core not in _selectors]
    if unknown:
        raise InvalidInputError(f"no accelerated core named {unknown} (known: {sorted(_selectors)})")
    restores: list[Callable[[], None]] = []
    try:
        for core in cores or tuple(_selectors):
            restores.append(_selectors[core](implementation))
        yield
    finally:
        for restore in reversed(restores):
            restore()
