"""What the Python fuzz targets share: running one under atheris, a fixed test key, and a
layer wrapper so fuzzer bytes can sit behind a real decryption.

A target's ``test_one(data)`` may raise only :class:`SessionCoreError` subclasses on bad
input (it catches those itself); any other exception escapes to atheris, which reports it
as a crash and saves the input.  Run one with ``tools/fuzz.sh`` (it builds the sanitizer
build of the extensions these run against) or directly:
``python fuzz/py/fuzz_wire.py -max_total_time=60 fuzz/corpus/wire``.
"""

from __future__ import annotations

import contextlib
import json
import struct
import sys
from collections.abc import Callable
from types import SimpleNamespace

try:
    import atheris
except ImportError:  # the test suite replays the seed corpora through the targets without it
    atheris = SimpleNamespace(instrument_imports=contextlib.nullcontext)

SECRET = bytes((7 * i + 1) & 0xFF for i in range(32))


def wrap(plaintext: bytes, enc: int, seed: int) -> bytes:
    """``[N][blob][JSON]`` of a layer for SECRET holding *plaintext*, as a client builds it."""
    import nacl.bindings as sodium

    from session_core.onion import _onion_py

    public = sodium.crypto_scalarmult_base(SECRET)
    eph_sk = bytes((seed + 3 * i + 5) & 0xFF for i in range(32))
    eph_pk = sodium.crypto_scalarmult_base(eph_sk)
    key = _onion_py.derive_key(enc, sodium.crypto_scalarmult(eph_sk, public), eph_pk, public)
    blob = _onion_py.encrypt(key, enc, plaintext)
    outer = {"ephemeral_key": eph_pk.hex(), "enc_type": "xchacha20" if enc else "aes-gcm"}
    return struct.pack("<I", len(blob)) + blob + json.dumps(outer).encode()


def main(test_one: Callable[[bytes], None]) -> None:
    atheris.Setup(sys.argv, test_one)
    atheris.Fuzz()
