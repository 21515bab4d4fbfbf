"""``session-core pow``: solve, verify and benchmark Session proofs of work."""

from __future__ import annotations

import base64
import binascii
import json
import re
import string
import sys
import time
from collections.abc import Callable
from dataclasses import asdict

import click
from click.decorators import FC

from session_core import pow
from session_core.errors import SessionCoreError

# The upstream storage-server test message (docs/interop.md §1.8), the demo's embedded default.
DEMO_PUBKEY = "054368520005786b249bcd461d28f75e560ea794014eeb17fcf6003f37d876783e"
DEMO_DATA = "CAESvgMKA1BVVBIPL2FwaS92MS9tZXNzYWdlGqIDCGUSQjA1NDM2ODUyMDAwNTc4NmIyNDliY2Q0NjFkMjhmNzVlNTYwZWE3OTQwMTRlZWIxN2ZjZjYwMDNmMzdkODc2NzgzNDgBKID00qagLULQAksmCNIm0urN9g/z2jBn0iLuaDPrrZnsLeRj9MD4eVDG0qTOD2Hg84LWswV3YAzb2Xku7LyTaitU3lhRAyDZRByjSZ2nWphSnzrkFaKhfKrHuzzDNDSGZsK9B1xM+lZJ/cR05Nn8fshfbW1CdINfNIiSK1qW2d/mfe3DI/CqShvA8D0r7LdbSq0tGH7JUIESu1OqJNePc46kLS0sMQ24YOitPtXSxUxbHrdBalydOqpYNGWGl4dtzOMr35Z0vCz/u25ROajbcj1D7hf40dyIv9RT/wwo52CiwtbrFdXc84K0yDKTnPu6QoTKoiVt+hftgKv0o/ruRN40fLSGl0KD+FqLf4Oqe5u1MaDDoUlLW1tdw6gsPSUxgQPWkJ6qda3t+IioolNQWidLcKg4WXvSwWRO6bDLNXfyDLd9UwcpHRus5UYnmc9BTjiXHQP8pWc4ciCMAQ=="


class _BadInput(click.ClickException):
    """Bad input exits with 2, so scripts can tell it from `verify` saying "invalid" (1)."""

    exit_code = 2


def _fields(timestamp_help: str, timestamp_required: bool) -> Callable[[FC], FC]:
    def decorate(f: FC) -> FC:
        f = click.option("--difficulty", "-d", type=int, default=1, show_default=True,
                         help="The network's difficulty (storage server 2020: 10 on mainnet).")(f)
        f = click.option("--data", required=True, callback=_check_data,
                         help="The message data, base64 exactly as sent.")(f)
        f = click.option("--pubkey", required=True, callback=_check_pubkey,
                         help="Recipient Session ID: 66 hex digits starting with 05.")(f)
        f = click.option("--ttl", default="86400000", show_default=True,
                         help="Time to live in milliseconds.")(f)
        # No explicit default when required: click treats default=None as a given value.
        f = click.option("--timestamp", required=timestamp_required, help=timestamp_help)(f)
        return f

    return decorate


def _check_pubkey(ctx: click.Context, param: click.Parameter, value: str) -> str:
    # The library hashes any hex string (that is what the storage server did), but a user who
    # types a short or odd key means a Session ID and should hear about the typo.
    if len(value) != 66 or not value.startswith("05") or any(c not in string.hexdigits for c in value):
        raise click.BadParameter(
            f"{value[:80]!r} is not a Session ID: expected 66 hex digits starting with 05 "
            "(see `session-core id show`)")
    return value


def _check_data(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise click.BadParameter(
            f"{value[:40]!r} is not base64: give the message data exactly as sent "
            "(e.g. `printf 'hi' | base64` gives aGk=)") from None
    return value


# The library names its arguments after the wire fields; the user typed the options.
_OPTION_NAMES = {"timestamp_ms": "--timestamp", "ttl_ms": "--ttl", "pubkey": "--pubkey",
                 "difficulty": "--difficulty", "data": "--data"}


def _bad_input(exc: SessionCoreError) -> _BadInput:
    text = str(exc)
    for internal, option in _OPTION_NAMES.items():
        text = re.sub(rf"\b{internal}\b", option, text)
    return _BadInput(text)


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def _progress_line(p: pow.SolveProgress) -> None:
    share = 100 * p.trials / p.expected if p.expected else 0.0
    # The search is memoryless: on average, expected trials still remain; say how long that is.
    eta = _duration(p.expected / p.rate) if p.rate else "?"
    click.echo(
        f"\r  {p.trials:>14,} trials  {p.rate / 1e6:7.2f} M/s  {share:6.1f}% of the "
        f"{p.expected:,.0f} expected (~{eta} on average)  [{p.kernel} x{p.threads}]  ",
        err=True, nl=False,
    )


def _solve(timestamp: str, ttl: str, pubkey: str, data: str, difficulty: int,
           threads: int | None, kernel: str | None, timeout: float | None, quiet: bool) -> tuple[str, float]:
    began = time.perf_counter()
    progress = None if quiet or not sys.stderr.isatty() else _progress_line
    try:
        nonce = pow.solve(timestamp, ttl, pubkey, data, difficulty, threads=threads,
                          kernel=kernel, timeout=timeout, progress=progress, progress_interval=0.2)
    finally:
        if progress is not None:
            click.echo("", err=True)
    return nonce, time.perf_counter() - began


@click.group("pow")
def pow_group() -> None:
    """Proof of work (Session storage server 2020 format)."""


@pow_group.command("solve")
@_fields("Timestamp in ms since the epoch, as the message will carry it (default: now).", False)
@click.option("--threads", "-t", type=int, default=None, help="Worker threads (default: all CPUs).")
@click.option("--kernel", default=None, help="Force a kernel (see `session-core backend`).")
@click.option("--timeout", type=float, default=None, help="Give up after this many seconds.")
@click.option("--quiet", "-q", is_flag=True, help="No progress line.")
@click.option("--json", "as_json", is_flag=True, help="Print nonce, hash and timing as JSON.")
def solve_command(timestamp: str | None, ttl: str, pubkey: str, data: str, difficulty: int,
                  threads: int | None, kernel: str | None, timeout: float | None, quiet: bool,
                  as_json: bool) -> None:
    """Find the nonce for a message; prints it (base64, as sent in `store`) and the timestamp
    it was solved for (both are needed to verify it)."""
    ts = timestamp or str(int(time.time() * 1000))
    try:
        nonce, seconds = _solve(ts, ttl, pubkey, data, difficulty, threads, kernel, timeout, quiet)
        digest = pow.message_hash(nonce, ts, ttl, pubkey, data)
    except SessionCoreError as exc:
        raise _bad_input(exc) from None
    if as_json:
        click.echo(json.dumps({"nonce": nonce, "timestamp": ts, "ttl": ttl, "hash": digest,
                               "seconds": seconds}))
    else:
        click.echo(f"nonce:     {nonce}\ntimestamp: {ts}\nttl:       {ttl}\n"
                   f"found in {seconds:.2f} s; check it with: session-core pow verify {nonce} "
                   f"--timestamp {ts} --ttl {ttl} --pubkey ... --data ... -d {difficulty}")


@pow_group.command("verify")
@click.argument("nonce")
@_fields("The timestamp (ms) the nonce was solved for, as printed by `pow solve`.", True)
def verify_command(nonce: str, timestamp: str | None, ttl: str, pubkey: str, data: str,
                   difficulty: int) -> None:
    """Check a nonce; exit status 0 when valid, 1 when not, 2 for bad input."""
    assert timestamp is not None  # required=True
    try:
        ok = pow.verify(nonce, timestamp, ttl, pubkey, data, difficulty)
    except SessionCoreError as exc:
        raise _bad_input(exc) from None
    click.echo("valid" if ok else "invalid")
    sys.exit(0 if ok else 1)


@pow_group.command("bench")
@click.option("--quick", is_flag=True, help="A few seconds instead of about half a minute.")
@click.option("--json", "as_json", is_flag=True)
def bench_command(quick: bool, as_json: bool) -> None:
    """Kernels vs hashlib / OpenSSL / libsodium loops measured in the same run."""
    from session_core.bench.pow_bench import format_report, run

    report = run(quick=quick, log=lambda m: click.echo(m, err=True))
    click.echo(json.dumps(asdict(report), indent=2) if as_json else format_report(report))


@pow_group.command("demo")
@click.option("--bench/--no-bench", default=True, help="Finish with the quick benchmark.")
def demo_command(bench: bool) -> None:
    """Solve the upstream test message at rising difficulty, verify, then benchmark."""
    info = pow.backend_info()
    click.echo(f"backend: {info['implementation']}, kernel {info['kernel']}, "
               f"{info['threads']} threads")
    ttl = 345_600_000
    ts = str(int(time.time() * 1000))
    click.echo(f"message: {len(DEMO_DATA)} base64 chars to {DEMO_PUBKEY[:12]}..., TTL {ttl // 3600000} h")
    for difficulty in (1, 10, 100, 1000):
        raw_len = len(pow.payload(ts, ttl, DEMO_PUBKEY, DEMO_DATA))
        expected = pow.expected_trials(pow.target(raw_len, ttl, difficulty))
        nonce, seconds = _solve(ts, str(ttl), DEMO_PUBKEY, DEMO_DATA, difficulty, None, None,
                                None, True)
        ok = pow.verify(nonce, ts, ttl, DEMO_PUBKEY, DEMO_DATA, difficulty)
        value = pow.decode_nonce(nonce)
        click.echo(f"  difficulty {difficulty:>6}: nonce {nonce} (#{value:,}; expected ~{expected:,.0f}) "
                   f"in {seconds * 1000:8.1f} ms, verify={'ok' if ok else 'FAILED'}")
        if not ok:
            raise click.ClickException("verification failed")
    if bench:
        click.echo("")
        from session_core.bench.pow_bench import format_report, run

        click.echo(format_report(run(quick=True)))
