"""Choosing between the C extensions and the pure-Python references.

One switch for the whole package: ``SESSION_CORE_NO_EXTENSIONS=1`` forces pure
Python everywhere.  Otherwise each accelerated module imports its compiled twin
through :func:`load_extension`.  A compiled module that fails to import while
extensions were wanted is reported with a ``RuntimeWarning`` (a missing fast
path must never go unnoticed), and :func:`backend` shows it.
"""

from __future__ import annotations

import importlib
import os
import warnings
from types import ModuleType
from typing import Any

NO_EXTENSIONS: bool = os.environ.get("SESSION_CORE_NO_EXTENSIONS", "") not in ("", "0")

# Report name -> the module (under session_core) with a C twin; backend() asks each for its
# report.  "relay" is the service node's onion relay engine.
ACCELERATED_MODULES = {"pow": "pow", "swarm": "swarm", "onion": "onion", "relay": "node.fast_relay"}

_load_errors: dict[str, str] = {}


def load_extension(name: str) -> ModuleType | None:
    """Import ``session_core._<name>_c`` unless extensions are switched off.

    Returns None when the pure-Python reference must be used.
    """
    if NO_EXTENSIONS:
        return None
    try:
        return importlib.import_module(f"session_core._{name}_c")
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


def backend() -> dict[str, dict[str, Any]]:
    """Report which implementation each accelerated module uses.

    Example: ``{"pow": {"implementation": "c", "kernel": "avx2", ...}, ...}``.
    Modules that are not part of this installation are left out.
    """
    report: dict[str, dict[str, Any]] = {}
    for name, path in ACCELERATED_MODULES.items():
        try:
            module = importlib.import_module(f"session_core.{path}")
        except ModuleNotFoundError as exc:
            if exc.name == f"session_core.{path}":
                continue
            raise
        info = getattr(module, "backend_info", None)
        if info is not None:
            report[name] = info()
    return report
