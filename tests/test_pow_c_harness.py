"""Builds and runs the plain-C PoW kernel harness (tests/c/test_pow_kernels.c).

The harness checks every kernel this CPU supports against the scalar reference, plus the
AVX-512 kernel through SIMDe's emulation (libsimde-dev) so CPUs without AVX-512 test it too.
Cross-ISA runs (aarch64 under qemu) live in tools/test-c-kernels.sh; this file keeps to what
builds in seconds.  A random seed per run widens coverage over time; it is printed in every
failure message, and SESSION_CORE_TEST_SEED=N replays it.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CSRC = ROOT / "csrc"
HARNESS = ROOT / "tests" / "c" / "test_pow_kernels.c"
DATA = ROOT / "tests" / "data"
SOURCES = [
    CSRC / f"{name}.c"
    for name in (
        "sha512", "pow_ctx", "pow_search", "pow_dispatch", "pow_portable", "pow_avx2",
        "pow_avx512", "pow_neon", "pow_sha512ce", "pow_baselines",
    )
]
CFLAGS = ["-std=c11", "-O3", "-Wall", "-Wextra", "-Werror", f"-I{CSRC}"]
SEED = int(os.environ.get("SESSION_CORE_TEST_SEED", "0") or "0") or secrets.randbits(62)
LAST_LINE = re.compile(r"^(\d+) passed, (\d+) failed$")


def _have_simde() -> bool:
    return Path("/usr/include/simde/x86/avx512.h").exists()


def _compile(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"building the C harness failed:\n{' '.join(cmd)}\n{proc.stderr}"


@pytest.fixture(scope="module")
def binaries(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Compile the native harness and, when SIMDe is there, the emulated-AVX-512 one.

    Objects are shared between the two binaries and built two at a time (2-core machines)."""
    if os.environ.get("SESSION_CORE_NO_EXTENSIONS", "") not in ("", "0"):
        pytest.skip("SESSION_CORE_NO_EXTENSIONS=1: pure-Python run requested, no C")
    cc = os.environ.get("CC", "gcc")
    assert shutil.which(cc), f"C compiler {cc!r} not found: the C kernels cannot be tested"
    out = tmp_path_factory.mktemp("pow_c_harness")
    objs = [out / f"{src.stem}.o" for src in SOURCES]
    jobs = [[cc, *CFLAGS, "-c", str(src), "-o", str(obj)] for src, obj in zip(SOURCES, objs)]
    # The kernels at the extension's -O3; the harness itself only needs to compile fast.
    jobs.append([cc, *CFLAGS, "-O1", "-c", str(HARNESS), "-o", str(out / "harness.o")])
    simde = _have_simde()
    if simde:
        jobs.append([cc, *CFLAGS, "-O1", "-Wno-psabi", "-DSC_AVX512_EMULATED", "-c",
                     str(CSRC / "pow_avx512.c"), "-o", str(out / "avx512_emulated.o")])
        jobs.append([cc, *CFLAGS, "-O1", "-DSC_TEST_AVX512_EMULATED", "-c", str(HARNESS),
                     "-o", str(out / "harness_emu.o")])
    # Slowest first, so two workers finish together.
    jobs.sort(key=lambda cmd: not any(k in " ".join(cmd) for k in ("avx", "harness")))
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(_compile, jobs))
    bins = {"native": out / "native"}
    _compile([cc, *map(str, objs), str(out / "harness.o"), "-o", str(bins["native"]), "-lpthread"])
    if simde:
        bins["emulated"] = out / "avx512emu"
        _compile([cc, *map(str, objs), str(out / "avx512_emulated.o"), str(out / "harness_emu.o"),
                  "-o", str(bins["emulated"]), "-lpthread"])
    yield bins


def _run(binary: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    proc = subprocess.run(
        [str(binary), "--data", str(DATA), "--seed", str(SEED), *args],
        capture_output=True, text=True, timeout=60, env=env,
    )
    return proc.returncode, proc.stdout + proc.stderr


def _assert_clean(rc: int, output: str) -> int:
    last = output.strip().splitlines()[-1]
    m = LAST_LINE.match(last)
    assert m, f"seed {SEED}: unexpected last line {last!r}\n{output}"
    assert rc == 0 and m.group(2) == "0", f"seed {SEED}: harness failed\n{output}"
    assert int(m.group(1)) > 0
    return int(m.group(1))


def test_native_kernels_match_reference(binaries: dict[str, Path]) -> None:
    rc, output = _run(binaries["native"], "--rounds", "300")
    _assert_clean(rc, output)
    # The dispatcher's choice is among the kernels the harness tested.
    best = re.search(r"^dispatcher picks: (\S+)$", output, re.M)
    assert best and re.search(rf"^kernel {best.group(1)} +\d+ checks, 0 failed$", output, re.M)


def _in_ci() -> bool:
    """CI sets CI=true (GitHub Actions, .ci/run): there the optional tools are installed on
    purpose, so a missing one is a failure instead of a skip."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _native_avx512(binary: Path) -> bool:
    rc, output = _run(binary, "--rounds", "1", "--kernel", "portable")
    return bool(re.search(r"^kernel avx512 +lanes +\d+ +supported$", output, re.M))


def test_avx512_kernel_through_simde(binaries: dict[str, Path]) -> None:
    """The AVX-512 kernel against the reference: through SIMDe when its headers are installed
    (any x86-64 CPU), else natively when this CPU has AVX-512.  With neither, the test is
    skipped on a developer's machine (libsimde-dev is optional, see README) and fails in CI."""
    if "emulated" in binaries:
        rc, output = _run(binaries["emulated"], "--kernel", "avx512_emulated", "--rounds", "40")
        _assert_clean(rc, output)
        assert re.search(r"^kernel avx512_emulated +\d+ checks, 0 failed$", output, re.M)
        return
    if _native_avx512(binaries["native"]):
        rc, output = _run(binaries["native"], "--kernel", "avx512", "--rounds", "40")
        _assert_clean(rc, output)
        assert re.search(r"^kernel avx512 +\d+ checks, 0 failed$", output, re.M)
        return
    reason = ("this CPU has no AVX-512 and the SIMDe headers (/usr/include/simde, Debian package "
              "libsimde-dev) are not installed, so the AVX-512 kernel cannot run here")
    if _in_ci():
        pytest.fail(f"{reason}; CI=true requires it")
    pytest.skip(f"{reason}: optional, install libsimde-dev to test it")


def test_forced_kernel_by_environment(binaries: dict[str, Path]) -> None:
    env = dict(os.environ, SC_POW_KERNEL="portable")
    rc, output = _run(binaries["native"], "--rounds", "20", env=env)
    _assert_clean(rc, output)
    tested = re.findall(r"^kernel (\S+) +\d+ checks", output, re.M)
    assert tested == ["portable"]


def test_harness_fails_on_unavailable_kernel(binaries: dict[str, Path]) -> None:
    # The harness must be able to fail: a forced kernel that does not exist is a failure.
    rc, output = _run(binaries["native"], "--rounds", "5", "--kernel", "no-such-kernel")
    m = LAST_LINE.match(output.strip().splitlines()[-1])
    assert rc != 0 and m and int(m.group(2)) >= 1, output


def test_sha512_padding_boundaries_match_hashlib(binaries: dict[str, Path]) -> None:
    proc = subprocess.run(
        [str(binaries["native"]), "--sha512-lengths"], capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 0, proc.stderr
    msg = bytes((7 * i + 3) & 0xFF for i in range(1200))
    lines = proc.stdout.split("\n")[:-1]
    assert len(lines) > 300
    for line in lines:
        length, digest = line.split()
        assert digest == hashlib.sha512(msg[: int(length)]).hexdigest(), f"length {length}"
