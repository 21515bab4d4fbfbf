"""Which implementation each accelerated part of this installation uses.

This sits at the top of the package (beside the CLI) because it asks every layer,
the service node's relay engine included; the cores themselves only know about
:mod:`session_core._backend`.
"""

from __future__ import annotations

import importlib
from typing import Any

# Report name -> the module whose ``backend_info()`` describes it.
ACCELERATED_MODULES = {
    "pow": "session_core.pow",
    "swarm": "session_core.swarm",
    "onion": "session_core.onion",
    "relay": "session_core.node.fast_relay",
}


def backend() -> dict[str, dict[str, Any]]:
    """Report which implementation each accelerated module uses.

    Example: ``{"pow": {"implementation": "c", "kernel": "avx2", ...}, ...}``.
    Modules that are not part of this installation are left out.
    """
    report: dict[str, dict[str, Any]] = {}
    for name, path in ACCELERATED_MODULES.items():
        try:
            module = importlib.import_module(path)
        except ModuleNotFoundError as exc:
            if exc.name == path:
                continue
            raise
        info = getattr(module, "backend_info", None)
        if info is not None:
            report[name] = info()
    return report
