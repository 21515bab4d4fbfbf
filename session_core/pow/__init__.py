"""Proof of work for Session messages (see :mod:`session_core.pow.api`).

Inside: ``api`` (the public functions), ``fields`` (checks of the store fields), ``solver``
(threads, cancellation, progress), ``_pow_c`` (the C binding) and ``_pow_py`` (the typed
pure-Python reference, also the test oracle).
"""

from session_core.pow.api import (
    CancelToken,
    SolveProgress,
    backend_info,
    decode_nonce,
    encode_nonce,
    expected_trials,
    kernels,
    message_hash,
    payload,
    solve,
    solve_async,
    target,
    verify,
)

__all__ = [
    "target",
    "payload",
    "solve",
    "solve_async",
    "verify",
    "message_hash",
    "expected_trials",
    "encode_nonce",
    "decode_nonce",
    "kernels",
    "backend_info",
    "CancelToken",
    "SolveProgress",
]
