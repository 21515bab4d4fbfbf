"""Swarm space: which swarm is responsible for a Session ID (whitepaper §4.2, §4.4).

- :func:`swarm_space` maps a key to its 64-bit swarm-space value (docs/swarm.md);
- :class:`SwarmMap` answers "nearest swarm" for one key or for numpy batches,
  through the C kernel when it is built (GIL released), else the numpy reference.

``SESSION_CORE_NO_EXTENSIONS=1`` forces the pure-Python/numpy implementation.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable, Iterator, Sequence
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from session_core import _backend
from session_core.swarm import _swarm_py
from session_core.errors import (
    EmptySwarmMapError,
    ExtensionUnavailableError,
    InvalidSwarmKeyError,
)
from session_core.swarm.ids import sorted_unique_ids

__all__ = ["SwarmMap", "backend_info", "spaces_of_keys", "swarm_space"]

_EXTENSION = "session_core.swarm._swarm_c"
_c: ModuleType | None = _backend.load_extension("swarm", _EXTENSION)
# The implementation a SwarmMap uses when none is asked for; tests switch it with _backend.use.
_default: ModuleType = _c if _c is not None else _swarm_py
_HEX = frozenset(string.hexdigits)
_UINT64_MAX = (1 << 64) - 1


def backend_info() -> dict[str, Any]:
    """Which implementation :class:`SwarmMap` uses by default."""
    if _c is not None:
        return {"implementation": "c", "kernel": _c.KERNEL, "gil_released": True}
    info: dict[str, Any] = {"implementation": "python", "kernel": "numpy-searchsorted"}
    error = _backend.load_error("swarm")
    if error:
        info["load_error"] = error
    return info


def _raw32(pubkey: str | bytes | bytearray | memoryview) -> bytes:
    """The 32 key bytes that take part in the mapping (the network prefix dropped)."""
    if isinstance(pubkey, str):
        if len(pubkey) != 66:
            hint = " (64 hex chars lack the network prefix, e.g. '05')" if len(pubkey) == 64 else ""
            raise InvalidSwarmKeyError(
                f"a hex public key must be 66 chars (prefix + 32 bytes), got {len(pubkey)}{hint}"
            )
        if not _HEX.issuperset(pubkey):
            raise InvalidSwarmKeyError("public key is not hexadecimal")
        return bytes.fromhex(pubkey[2:])
    if isinstance(pubkey, (bytes, bytearray, memoryview)):
        raw = bytes(pubkey)
        if len(raw) == 33:
            return raw[1:]
        if len(raw) == 32:
            return raw
        raise InvalidSwarmKeyError(f"a raw public key must be 33 or 32 bytes, got {len(raw)}")
    raise InvalidSwarmKeyError(f"public key must be str or bytes, got {type(pubkey).__name__}")


def swarm_space(pubkey: str | bytes | bytearray | memoryview) -> int:
    """The 64-bit swarm-space value of a public key (docs/interop.md §2.1).

    *pubkey* is a 66-hex-char Session ID (network prefix + 32 bytes), 33 raw
    bytes (prefix + key) or the 32 raw key bytes.  The prefix never takes part:
    ``05…`` and ``03…`` keys with the same 32 bytes land in the same place.
    """
    return _swarm_py.space_from_raw32(_raw32(pubkey))


def _space_of(key: object) -> int:
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        value = int(key)
        if not 0 <= value <= _UINT64_MAX:
            raise InvalidSwarmKeyError(f"swarm-space value {value} is outside [0, 2^64)")
        return value
    if isinstance(key, (str, bytes, bytearray, memoryview)):
        return swarm_space(key)
    raise InvalidSwarmKeyError(
        f"expected a public key (str/bytes) or a swarm-space int, got {type(key).__name__}"
    )


class SwarmMap:
    """An immutable, sorted set of swarm ids that maps keys to their swarm.

    The responsible swarm is the nearest id on the 64-bit circle (mod-2^64
    distance); an exact tie goes to the lower/left id, also across the wrap
    (docs/interop.md §2.3 (b), the storage server's rule since 2022).

    ``backend`` forces ``"c"`` or ``"python"``; by default the C kernel is used
    when it was built.  A map may be empty (no swarms known yet), but looking a
    key up in it raises :class:`EmptySwarmMapError`.
    """

    __slots__ = ("_ids", "_tuple", "_index", "_impl")

    def __init__(self, swarm_ids: Iterable[object], *, backend: str | None = None) -> None:
        impl: ModuleType
        if backend is None:
            impl = _default
        elif backend == "c":
            if _c is None:
                raise ExtensionUnavailableError(
                    "the swarm C extension is not available here"
                    + (f" ({_backend.load_error('swarm')})" if _backend.load_error("swarm") else "")
                )
            impl = _c
        elif backend == "python":
            impl = _swarm_py
        else:
            raise ValueError(f"backend must be 'c', 'python' or None, got {backend!r}")
        ids = sorted_unique_ids(swarm_ids)
        ids.setflags(write=False)
        self._ids: npt.NDArray[np.uint64] = ids
        self._tuple: tuple[int, ...] = tuple(int(v) for v in ids)
        self._impl = impl
        self._index: Any = impl.Index(ids) if ids.size else None

    @property
    def ids(self) -> tuple[int, ...]:
        """The swarm ids, ascending."""
        return self._tuple

    @property
    def ids_array(self) -> npt.NDArray[np.uint64]:
        """The swarm ids as a read-only uint64 array, ascending."""
        return self._ids

    @property
    def implementation(self) -> str:
        """``"c"`` or ``"python"``."""
        return str(self._impl.IMPLEMENTATION)

    def __len__(self) -> int:
        return len(self._tuple)

    def __iter__(self) -> Iterator[int]:
        return iter(self._tuple)

    def __contains__(self, swarm_id: object) -> bool:
        return swarm_id in self._tuple if isinstance(swarm_id, int) else False

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SwarmMap) and self._tuple == other._tuple

    def __hash__(self) -> int:
        return hash(self._tuple)

    def __repr__(self) -> str:
        shown = ", ".join(str(v) for v in self._tuple[:4])
        more = ", ..." if len(self._tuple) > 4 else ""
        return f"SwarmMap([{shown}{more}], n={len(self._tuple)}, {self.implementation})"

    def _require_index(self) -> Any:
        if self._index is None:
            raise EmptySwarmMapError("no swarms are known: cannot map a key to a swarm")
        return self._index

    def lookup(self, pubkey_or_space: str | bytes | int) -> int:
        """The swarm id responsible for a public key (see :func:`swarm_space`) or a space value."""
        space = _space_of(pubkey_or_space)
        return int(self._require_index().lookup_one(space))

    def lookup_many(
        self, keys: npt.NDArray[np.uint64] | npt.NDArray[np.uint8] | Sequence[int]
    ) -> npt.NDArray[np.uint64]:
        """Swarm ids for a batch: a 1-D uint64 array of space values, or an (n, 32)
        uint8 array of raw 32-byte keys (without network prefix).  A sequence of
        ints is accepted as space values.  Returns a new uint64 array.
        """
        index = self._require_index()
        if not isinstance(keys, np.ndarray):
            keys = np.array([_space_of(k) for k in keys], dtype=np.uint64)
        if keys.ndim == 1:
            if keys.dtype != np.uint64:
                raise InvalidSwarmKeyError(
                    f"a 1-D batch must hold uint64 swarm-space values, got dtype {keys.dtype}"
                )
            result: npt.NDArray[np.uint64] = index.lookup_spaces(np.ascontiguousarray(keys))
            return result
        if keys.ndim == 2:
            if keys.dtype != np.uint8 or keys.shape[1] != 32:
                raise InvalidSwarmKeyError(
                    f"a 2-D batch must be (n, 32) uint8 raw keys, got {keys.dtype} {keys.shape}"
                )
            result = index.lookup_keys(np.ascontiguousarray(keys))
            return result
        raise InvalidSwarmKeyError(f"batch must be 1-D spaces or (n, 32) keys, got shape {keys.shape}")


def spaces_of_keys(keys: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint64]:
    """Swarm-space values of an (n, 32) uint8 array of raw keys (numpy)."""
    if not isinstance(keys, np.ndarray) or keys.dtype != np.uint8 or keys.ndim != 2 or keys.shape[1] != 32:
        raise InvalidSwarmKeyError("keys must be an (n, 32) uint8 array of raw 32-byte keys")
    return _swarm_py.spaces_from_keys(keys)


def _select(name: str) -> Callable[[], None]:
    """Switch the default SwarmMap implementation (see :func:`session_core._backend.use`)."""
    global _default
    previous = _default
    if name == "python":
        _default = _swarm_py
    elif _c is None:
        raise ExtensionUnavailableError(f"the C extension {_EXTENSION} is not built")
    else:
        _default = _c

    def restore() -> None:
        global _default
        _default = previous

    return restore


_backend.register_selector("swarm", _select)
