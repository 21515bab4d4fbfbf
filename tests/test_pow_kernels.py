"""Every PoW kernel this CPU runs, against hashlib, through the C binding.

(The C-level harness in tests/c/ repeats this without Python, also for the
AVX-512 kernel under emulation and the aarch64 kernels under qemu.)
"""

from __future__ import annotations

import hashlib
import os
import random

import pytest

from session_core import _backend

if _backend.NO_EXTENSIONS:
    pytest.skip("SESSION_CORE_NO_EXTENSIONS=1: no C kernels in this run", allow_module_level=True)

from session_core.pow import _pow_c  # noqa: E402  (must fail loudly when not built)

KERNELS = _pow_c.supported_kernels()


def first_hit(h1: bytes, target: int, first: int, count: int) -> int | None:
    for offset in range(count):
        nonce = (first + offset) % 2**64
        value = int.from_bytes(hashlib.sha512(nonce.to_bytes(8, "big") + h1).digest()[:8], "big")
        if value < target:
            return offset
    return None


def test_portable_kernel_always_present() -> None:
    assert "portable" in KERNELS
    assert _pow_c.best_kernel() == KERNELS[0]


@pytest.mark.parametrize("kernel", KERNELS)
def test_kernel_matches_hashlib_on_random_inputs(kernel: str) -> None:
    rnd = random.Random(f"kernel-{kernel}")
    edges = [0, 1, 2**32 - 5, 2**63 - 3, 2**64 - 1, 2**64 - 7]
    for case in range(300):
        h1 = rnd.randbytes(64)
        target = rnd.getrandbits(64) >> rnd.randrange(0, 10)  # hits from frequent to rare
        first = rnd.choice(edges) if case % 3 == 0 else rnd.getrandbits(64)
        count = rnd.randrange(1, 70)  # not a multiple of the lane count on purpose
        assert _pow_c.scan(h1, target, first, count, kernel) == first_hit(h1, target, first, count), (
            kernel, case, first, count, target)


@pytest.mark.parametrize("kernel", KERNELS)
def test_kernel_extremes(kernel: str) -> None:
    h1 = os.urandom(64)
    assert _pow_c.scan(h1, 0, 0, 100, kernel) is None  # nothing is below 0
    assert _pow_c.scan(h1, 2**64 - 1, 5, 100, kernel) == first_hit(h1, 2**64 - 1, 5, 100)
    assert _pow_c.scan(h1, 2**63, 2**64 - 2, 1, kernel) == first_hit(h1, 2**63, 2**64 - 2, 1)


@pytest.mark.parametrize("kernel", KERNELS)
def test_search_object_answers_first_hit(kernel: str) -> None:
    h1 = os.urandom(64)
    target = 2**64 // 5000
    expect = first_hit(h1, target, 99, 200_000)
    assert expect is not None
    search = _pow_c.Search(h1, target, 99, 0, 1024, kernel)
    search.work()
    assert search.result() == (1, 99 + expect)
    assert search.kernel == kernel


def test_sha512_and_trial_hash_match_hashlib() -> None:
    rnd = random.Random(7)
    for n in list(range(0, 260)) + [1000, 4096, 70_000]:
        data = rnd.randbytes(n)
        assert _pow_c.sha512(data) == hashlib.sha512(data).digest()
    h1 = rnd.randbytes(64)
    for nonce in (0, 1, 2**64 - 1, 1709610):
        assert _pow_c.trial_hash(h1, nonce) == hashlib.sha512(nonce.to_bytes(8, "big") + h1).digest()


def test_bad_lengths_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        _pow_c.scan(b"short", 1, 0, 1)
    with pytest.raises(ValueError, match="64 bytes"):
        _pow_c.Search(bytes(63), 1)


def test_verify_agrees_with_every_sha512_provider() -> None:
    """verify_fast hashes with OpenSSL (payload and trial block) when found, else our C: same answers."""
    import session_core.pow.api as pow_api
    from session_core.pow import fields as _pow_fields

    found = pow_api._find_openssl_sha512()
    rnd = random.Random(11)
    cases = []
    # lengths straddle the 2 KiB line from which verify_fast releases the GIL
    for length in [rnd.randrange(0, 700) for _ in range(36)] + [2047, 2048, 2049, 5000]:
        data = "".join(rnd.choice("ABCDEFGHIJabcdef0123+/") for _ in range(length))
        ts, ttl = rnd.getrandbits(41), rnd.randrange(0, 10**9)
        pk = "05" + rnd.randbytes(32).hex()
        nonce = pow_api.solve(ts, ttl, pk, data, 1, threads=1)
        wrong = pow_api.encode_nonce(pow_api.decode_nonce(nonce) + 1)
        cases += [(nonce, ts, ttl, pk, data, 1), (wrong, ts, ttl, pk, data, 1)]
    providers: list[tuple[int, ...]] = [(0, 0, 0)]
    if found:
        providers += [found, found[:3]]  # OpenSSL for both; OpenSSL payload hash + our trial
    # the oracle: hashlib, straight from INTEROP §1
    expected = []
    for nonce, ts, ttl, pk, data, d in cases:
        raw = f"{ts}{ttl}{pk}{data}".encode()
        value = pow_api.decode_nonce(nonce)
        h = hashlib.sha512(value.to_bytes(8, "big") + hashlib.sha512(raw).digest()).digest()
        expected.append(int(int.from_bytes(h[:8], "big") < pow_api.target(len(raw), ttl, d)))
    assert expected.count(1) >= 40  # every solved nonce verifies
    try:
        for provider in providers:
            _pow_c.use_openssl_sha512(*provider)
            uses_transform = len(provider) == 4 and provider[3] != 0
            assert _pow_c.trial_sha512_provider() == ("openssl" if uses_transform else "session_core")
            assert [_pow_c.verify_fast(*case) for case in cases] == expected, provider
            for _ in range(50):  # the trial block's exact value, not only the verdict
                h1, nonce = rnd.randbytes(64), rnd.getrandbits(64)
                h = hashlib.sha512(nonce.to_bytes(8, "big") + h1).digest()
                assert _pow_c.trial_value(h1, nonce) == int.from_bytes(h[:8], "big"), provider
            # and the slow path (no fast shape: str timestamp) must agree
            assert [int(pow_api.verify(c[0], str(c[1]), *c[2:])) for c in cases] == expected
        raw = _pow_fields.payload(cases[0][1], cases[0][2], cases[0][3], cases[0][4])
        assert _pow_c.sha512(raw) == hashlib.sha512(raw).digest()
    finally:
        _pow_c.use_openssl_sha512(*(found or (0, 0, 0)))
