#!/usr/bin/env bash
# Regenerate the committed protobuf modules of session_core.protocol.
#
#   tools/gen_protos.sh            write session_core/protocol/*_pb2.py and .pyi in place
#   tools/gen_protos.sh OUTDIR     write them under OUTDIR instead (the test diffs the two)
#
# The generator is pinned: grpcio-tools==1.85.1 bundles protoc 35.1 (protobuf 7.35.1), which is
# not newer than the protobuf>=7.35.1 runtime we require (newer generated code raises VersionError
# at import).  It is a dev-only tool: `pip install grpcio-tools==1.85.1`.
set -euo pipefail

PINNED="1.85.1"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root}"
python="${PYTHON:-python}"

have="$("$python" -c 'import importlib.metadata as m; print(m.version("grpcio-tools"))' 2>/dev/null || true)"
if [[ "$have" != "$PINNED" ]]; then
    echo "gen_protos.sh: need grpcio-tools==$PINNED (found: ${have:-none}); pip install grpcio-tools==$PINNED" >&2
    exit 2
fi

mkdir -p "$out"
cd "$root"
# Paths relative to the repository root, so the descriptor is registered as
# "session_core/protocol/messages.proto" and cannot clash with another package's messages.proto.
"$python" -m grpc_tools.protoc -I . \
    --python_out="$out" --pyi_out="$out" \
    session_core/protocol/messages.proto
# protoc's .pyi is not `mypy --strict` clean (bare Mapping, and protobuf ships no stubs unless
# types-protobuf is installed).  Its types are still used; only errors *inside* it are silenced.
pyi="$out/session_core/protocol/messages_pb2.pyi"
{ echo "# mypy: ignore-errors"; cat "$pyi"; } > "$pyi.tmp" && mv "$pyi.tmp" "$pyi"
echo "gen_protos.sh: generated into $out/session_core/protocol/"
