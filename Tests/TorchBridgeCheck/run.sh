#!/usr/bin/env bash
# Builds and runs the libtorch bridge's own C++ check (learning, determinism, save/load, error paths), apart from
# Swift: a test, not a benchmark. Not part of `swift test` (it compiles the bridge against libtorch, minutes).
set -euo pipefail
cd "$(dirname "$0")"
root=../..
out=.build-check
mkdir -p "$out"
source "$root/scripts/torch-cxx.sh"
compile "$root/Sources/CTorchBridge/torch_bridge.cpp" "$out/torch_bridge.o"
compile check.cpp "$out/check.o"
$CXX "$out/check.o" "$out/torch_bridge.o" -o "$out/check" "${LIBS[@]}"
exec "$out/check" "$@"
