#!/usr/bin/env bash
# tools/test-c-kernels.sh: test every PoW kernel of csrc/ in plain C, on every ISA we can reach.
#
#   1. native     the harness tests/c/test_pow_kernels.c with every kernel this CPU supports
#   2. avx512-emu csrc/pow_avx512.c compiled against SIMDe (libsimde-dev), for CPUs without AVX-512
#   3. aarch64    cross-compiled with aarch64-linux-gnu-gcc, run under qemu-aarch64 twice:
#                 -cpu max        (SHA-512 instructions: sha512ce + neon + portable; picks sha512ce)
#                 -cpu cortex-a72 (no SHA-512: neon + portable; picks neon)
#
# Needs gcc, libsimde-dev, gcc-aarch64-linux-gnu and qemu-user (Debian package names).  A missing
# tool is a failure, unless SESSION_CORE_SKIP_SIMDE=1 / SESSION_CORE_SKIP_AARCH64=1 say to skip
# that part.  Exit status is non-zero when any build or run fails.  Takes ~30-60 s on 2 cores.
# Environment: CC (default gcc), AARCH64_CC (default aarch64-linux-gnu-gcc), SEED, KEEP=1 keeps
# the build folder.
set -uo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CC="${CC:-gcc}"
AARCH64_CC="${AARCH64_CC:-aarch64-linux-gnu-gcc}"
SEED="${SEED:-0x5e55101c0de5eed}"
OUT="$(mktemp -d "${TMPDIR:-/tmp}/sc-c-kernels.XXXXXX")"
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$OUT"' EXIT

SRCS=(sha512.c pow_ctx.c pow_search.c pow_dispatch.c pow_portable.c pow_avx2.c pow_avx512.c
      pow_neon.c pow_sha512ce.c pow_baselines.c)
SRCS=("${SRCS[@]/#/$ROOT/csrc/}")
HARNESS="$ROOT/tests/c/test_pow_kernels.c"
CFLAGS=(-std=c11 -O3 -Wall -Wextra -Werror -I"$ROOT/csrc")
DATA=(--data "$ROOT/tests/data" --seed "$SEED")

declare -a RESULTS=()
FAILED=0

note() { printf '\n== %s\n' "$*"; }
run() { # run NAME CMD...: echo the command, run it under a time limit, record the outcome
    local name=$1; shift
    printf '$ %s\n' "$*"
    if timeout 90 "$@" >"$OUT/$name.log" 2>&1; then
        RESULTS+=("ok    $name: $(tail -n 1 "$OUT/$name.log")")
    else
        FAILED=1
        RESULTS+=("FAIL  $name: $(tail -n 1 "$OUT/$name.log")")
    fi
    grep -E '^(kernel|dispatcher|FAIL)|passed, ' "$OUT/$name.log" | sed 's/^/    /'
}
missing() { # missing PART SKIPVAR WHAT
    if [ "${!2:-0}" = 1 ]; then
        RESULTS+=("skip  $1: $3 ($2=1)")
    else
        FAILED=1
        RESULTS+=("FAIL  $1: $3 (install it, or set $2=1 to skip)")
    fi
}

# Builds run side by side (the machine has 2 cores); each logs to $OUT.
note "building in $OUT"
printf '$ %s\n' "$CC ${CFLAGS[*]} csrc/pow_*.c csrc/sha512.c tests/c/test_pow_kernels.c -o native -lpthread"
"$CC" "${CFLAGS[@]}" "${SRCS[@]}" "$HARNESS" -o "$OUT/native" -lpthread >"$OUT/build-native.log" 2>&1 &
PID_NATIVE=$!

HAVE_SIMDE=0
if [ -d /usr/include/simde ] || echo '#include <simde/x86/avx512.h>' | "$CC" -E -x c - >/dev/null 2>&1; then
    HAVE_SIMDE=1
    printf '$ %s\n' "$CC ${CFLAGS[*]} -O1 -Wno-psabi -DSC_AVX512_EMULATED -c csrc/pow_avx512.c; then the harness with -DSC_TEST_AVX512_EMULATED"
    ( "$CC" "${CFLAGS[@]}" -O1 -Wno-psabi -DSC_AVX512_EMULATED -c "$ROOT/csrc/pow_avx512.c" \
          -o "$OUT/avx512_emulated.o" &&
      "$CC" "${CFLAGS[@]}" -DSC_TEST_AVX512_EMULATED "${SRCS[@]}" "$OUT/avx512_emulated.o" \
          "$HARNESS" -o "$OUT/avx512emu" -lpthread ) >"$OUT/build-emu.log" 2>&1 &
    PID_EMU=$!
fi

HAVE_ARM=0
if command -v "$AARCH64_CC" >/dev/null && command -v qemu-aarch64 >/dev/null; then
    HAVE_ARM=1
    printf '$ %s\n' "$AARCH64_CC ${CFLAGS[*]} csrc/pow_*.c csrc/sha512.c tests/c/test_pow_kernels.c -o aarch64 -lpthread"
    "$AARCH64_CC" "${CFLAGS[@]}" "${SRCS[@]}" "$HARNESS" -o "$OUT/aarch64" -lpthread \
        >"$OUT/build-aarch64.log" 2>&1
    ARM_BUILD=$?
fi

note "native ($(uname -m))"
if wait "$PID_NATIVE"; then
    run native "$OUT/native" "${DATA[@]}"
else
    FAILED=1; RESULTS+=("FAIL  native: build failed"); cat "$OUT/build-native.log"
fi

note "AVX-512 kernel through SIMDe"
if [ "$HAVE_SIMDE" = 1 ]; then
    if wait "$PID_EMU"; then
        run avx512-emulated "$OUT/avx512emu" "${DATA[@]}" --kernel avx512_emulated --rounds 120
    else
        FAILED=1; RESULTS+=("FAIL  avx512-emulated: build failed"); cat "$OUT/build-emu.log"
    fi
else
    missing avx512-emulated SESSION_CORE_SKIP_SIMDE "SIMDe headers not found (Debian: libsimde-dev)"
fi

note "aarch64 under qemu-user"
if [ "$HAVE_ARM" = 1 ]; then
    if [ "$ARM_BUILD" = 0 ]; then
        SYSROOT="${AARCH64_SYSROOT:-/usr/aarch64-linux-gnu}"
        run aarch64-cpu-max qemu-aarch64 -L "$SYSROOT" -cpu max "$OUT/aarch64" "${DATA[@]}" \
            --rounds 250 --expect-best sha512ce --expect-supported sha512ce,neon,portable
        run aarch64-cortex-a72 qemu-aarch64 -L "$SYSROOT" -cpu cortex-a72 "$OUT/aarch64" \
            "${DATA[@]}" --rounds 250 --expect-best neon --expect-supported neon,portable
    else
        FAILED=1; RESULTS+=("FAIL  aarch64: cross build failed"); cat "$OUT/build-aarch64.log"
    fi
else
    missing aarch64 SESSION_CORE_SKIP_AARCH64 "$AARCH64_CC or qemu-aarch64 not found (Debian: gcc-aarch64-linux-gnu qemu-user)"
fi

note "summary"
printf '%s\n' "${RESULTS[@]}"
[ "${KEEP:-0}" = 1 ] && echo "logs and binaries kept in $OUT"
exit "$FAILED"
