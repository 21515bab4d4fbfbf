"""``session-core pow``: solve, verify and benchmark Session proofs of work."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict

import click

from session_core import pow
from session_core.errors import SessionCoreError

# The upstream storage-server test message (INTEROP §1.8), the demo's embedded default.
DEMO_PUBKEY = "054368520005786b249bcd461d28f75e560ea794014eeb17fcf6003f37d876783e"
DEMO_DATA = "CAESvgMKA1BVVBIPL2FwaS92MS9tZXNzYWdlGqIDCGUSQjA1NDM2ODUyMDAwNTc4NmIyNDliY2Q0NjFkMjhmNzVlNTYwZWE3OTQwMTRlZWIxN2ZjZjYwMDNmMzdkODc2NzgzNDgBKID00qagLULQAksmCNIm0urN9g/z2jBn0iLuaDPrrZnsLeRj9MD4eVDG0qTOD2Hg84LWswV3YAzb2Xku7LyTaitU3lhRAyDZRByjSZ2nWphSnzrkFaKhfKrHuzzDNDSGZsK9B1xM+lZJ/cR05Nn8fshfbW1CdINfNIiSK1qW2d/mfe3DI/CqShvA8D0r7LdbSq0tGH7JUIESu1OqJNePc46kLS0sMQ24YOitPtXSxUxbHrdBalydOqpYNGWGl4dtzOMr35Z0vCz/u25ROajbcj1D7hf40dyIv9RT/wwo52CiwtbrFdXc84K0yDKTnPu6QoTKoiVt+hftgKv0o/ruRN40fLSGl0KD+FqLf4Oqe5u1MaDDoUlLW1tdw6gsPSUxgQPWkJ6qda3t+IioolNQWidLcKg4WXvSwWRO6bDLNXfyDLd9UwcpHRus5UYnmc9BTjiXHQP8pWc4ciCMAQ=="


class _BadInput(click.ClickException):
    """Bad input exits with 2, so scripts can tell it from `verify` saying "invalid" (1)."""

    exit_code = 2


def _fields(f: click.decorators.FC) -> click.decorators.FC:
    f = click.option("--difficulty", "-d", type=int, default=1, show_default=True)(f)
    f = click.option("--data", required=True, help="The base64 message data exactly as sent.")(f)
    f = click.option("--pubkey", required=True, help="Recipient Session ID (hex, as sent).")(f)
    f = click.option("--ttl", default="86400000", show_default=True, help="TTL in ms.")(f)
    f = click.option("--timestamp", default=None, help="Timestamp in ms (default: now).")(f)
    return f


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
@_fields
@click.option("--threads", "-t", type=int, default=None, help="Worker threads (default: all CPUs).")
@click.option("--kernel", default=None, help="Force a kernel (see `session-core backend`).")
@click.option("--timeout", type=float, default=None, help="Give up after this many seconds.")
@click.option("--quiet", "-q", is_flag=True, help="No progress line.")
@click.option("--json", "as_json", is_flag=True, help="Print nonce, hash and timing as JSON.")
def solve_command(timestamp: str | None, ttl: str, pubkey: str, data: str, difficulty: int,
                  threads: int | None, kernel: str | None, timeout: float | None, quiet: bool,
                  as_json: bool) -> None:
    """Find the nonce for a message; prints it (base64, as sent in `store`)."""
    ts = timestamp or str(int(time.time() * 1000))
    try:
        nonce, seconds = _solve(ts, ttl, pubkey, data, difficulty, threads, kernel, timeout, quiet)
        digest = pow.message_hash(nonce, ts, ttl, pubkey, data)
    except SessionCoreError as exc:
        raise _BadInput(str(exc)) from None
    if as_json:
        click.echo(json.dumps({"nonce": nonce, "timestamp": ts, "ttl": ttl, "hash": digest,
                               "seconds": seconds}))
    else:
        click.echo(nonce)


@pow_group.command("verify")
@click.argument("nonce")
@_fields
def verify_command(nonce: str, timestamp: str | None, ttl: str, pubkey: str, data: str,
                   difficulty: int) -> None:
    """Check a nonce; exit status 0 when valid, 1 when not."""
    if timestamp is None:
        raise click.UsageError("--timestamp is required to verify")
    try:
        ok = pow.verify(nonce, timestamp, ttl, pubkey, data, difficulty)
    except SessionCoreError as exc:
        raise _BadInput(str(exc)) from None
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
