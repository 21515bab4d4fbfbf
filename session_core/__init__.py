"""session_core: a toolkit for the Session messaging protocol.

Submodules are imported on demand (``import session_core.pow``); this module
only re-exports the few names every user needs.
"""

from session_core.backends import backend
from session_core.errors import InvalidInputError, SessionCoreError

__all__ = ["backend", "SessionCoreError", "InvalidInputError", "__version__"]
__version__ = "0.1.0"
