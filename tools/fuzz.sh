#!/usr/bin/env bash
# Fuzz every parser that reads network bytes, under ASan + UBSan, for a bounded time.
#
#   tools/fuzz.sh                  the CI run: about 2.5 minutes of fuzzing in all
#   tools/fuzz.sh --minutes 60     a longer run: 60 minutes, shared evenly by the targets
#   tools/fuzz.sh --only relay     one target (name as in the table below)
#
# C targets (fuzz/c/, libFuzzer, clang -fsanitize=fuzzer,address,undefined): the onion
# routing-JSON scanner, the C batch peel, the relay engine.  Python targets (fuzz/py/,
# atheris) run against a copy of the package whose C extensions are rebuilt with
# -fsanitize=address,undefined (build/fuzz/site), with atheris's ASan runtime preloaded.
# Corpora start from fuzz/corpus/<target>/ and grow in build/fuzz/corpus/<target>/ (not
# checked in).  A crash saves its input under build/fuzz/crashes/ and makes the exit code 1;
# reproduce with the command printed for it.
#
# Needs: clang with compiler-rt (Debian: clang libclang-rt-14-dev), the dev venv (.venv, or
# PYTHON=...), atheris and Cython in it (installed here when missing), the runtime
# libsodium (Debian: libsodium23) for the C targets.
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=2.5
only=""
while [ $# -gt 0 ]; do
    case "$1" in
        --minutes) minutes="$2"; shift 2 ;;
        --only) only="$2"; shift 2 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done

C_TARGETS="onion_json onion_peel relay"
PY_TARGETS="onion wire storage_rpc protocol groups"
targets="$C_TARGETS $PY_TARGETS"
[ -n "$only" ] && targets="$only"
count=$(echo $targets | wc -w)
per_target=$(python3 -c "print(max(5, int(float('$minutes') * 60 / $count)))")

PY=${PYTHON:-.venv/bin/python}
CC=${CC:-clang}
OUT=build/fuzz
mkdir -p "$OUT/bin" "$OUT/crashes" "$OUT/logs"

"$PY" -c "import atheris, Cython" 2>/dev/null || "$PY" -m pip install -q atheris "Cython>=3.0"
ATHERIS_DIR=$("$PY" -c "import atheris; print(atheris.path())")
# The C targets bind a system libsodium (PyNaCl's copy lives in a Python extension module,
# which cannot be dlopen'ed outside Python); SC_FUZZ_SODIUM may name another.
SODIUM=${SC_FUZZ_SODIUM:-libsodium.so.23}

echo "== building C targets ($CC, ASan + UBSan + libFuzzer)"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
for t in $C_TARGETS; do
    case " $targets " in *" $t "*) ;; *) continue ;; esac
    srcs="csrc/onion.c csrc/onion_json.c csrc/sodium_loader.c"
    [ "$t" = relay ] && srcs="$srcs csrc/relay.c"
    $CC -g -O1 -std=c11 -Wall -Wextra -fsanitize=fuzzer $SAN -Icsrc -o "$OUT/bin/fuzz_$t" \
        "fuzz/c/fuzz_$t.c" $srcs -ldl
done

echo "== building the extensions with ASan + UBSan into $OUT/site"
CC="$CC" LDSHARED="$CC -shared" CFLAGS="$SAN" LDFLAGS="$SAN" SESSION_CORE_DEBUG=1 \
    "$PY" setup.py -q build --build-base "$OUT/tmp" --build-lib "$OUT/site" >"$OUT/logs/build.log" 2>&1 \
    || { tail -30 "$OUT/logs/build.log"; exit 1; }

echo "== fuzzing: $count target(s), $per_target s each"
printf '%-14s %12s %8s  %s\n' target inputs crashes log >"$OUT/summary.txt"
failed=0
for t in $targets; do
    seeds="fuzz/corpus/$t"
    work="$OUT/corpus/$t"
    mkdir -p "$work"
    log="$OUT/logs/$t.log"
    flags=(-max_total_time="$per_target" -print_final_stats=1 -timeout=10 -rss_limit_mb=4096
           -artifact_prefix="$OUT/crashes/$t-" "$work")
    [ -d "$seeds" ] && flags+=("$seeds")
    case " $C_TARGETS " in
        *" $t "*)
            cmd=(env SC_FUZZ_SODIUM="$SODIUM" UBSAN_OPTIONS=print_stacktrace=1 "$OUT/bin/fuzz_$t") ;;
        *)
            cmd=(env PYTHONPATH="$OUT/site:fuzz/py" LD_PRELOAD="$ATHERIS_DIR/asan_with_fuzzer.so"
                 ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 "$PY" "fuzz/py/fuzz_$t.py") ;;
    esac
    set +e
    "${cmd[@]}" "${flags[@]}" >"$log" 2>&1
    rc=$?
    set -e
    # libFuzzer's final stats; atheris prints "Done N in S second(s)" instead
    runs=$(grep -m1 -oP 'stat::number_of_executed_units: \K[0-9]+' "$log" \
           || grep -oP '^Done \K[0-9]+' "$log" | tail -1 || echo "?")
    crashes=0
    if [ "$rc" -ne 0 ]; then
        crashes=1
        failed=1
        artifact=$(grep -oP 'Test unit written to \K\S+' "$log" | tail -1 || true)
        echo "!! $t crashed (exit $rc): see $log"
        grep -m5 -E 'ERROR|invariant|Uncaught|Error|runtime error' "$log" | sed 's/^/   /' || true
        [ -n "$artifact" ] && echo "   reproduce: ${cmd[*]} $artifact"
    fi
    printf '%-14s %12s %8s  %s\n' "$t" "$runs" "$crashes" "$log" | tee -a "$OUT/summary.txt"
done
echo
cat "$OUT/summary.txt"
exit "$failed"
