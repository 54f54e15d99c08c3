#!/usr/bin/env bash
# Builds the libtorch bridge's benchmark program into bench/torch/.build-torch/, one compile at a time.
# (The bridge's C++ check is a test: Tests/TorchBridgeCheck/run.sh.)
set -euo pipefail
cd "$(dirname "$0")"
root=../..
out=.build-torch
mkdir -p "$out"
source "$root/scripts/torch-cxx.sh"
compile "$root/Sources/CTorchBridge/torch_bridge.cpp" "$out/torch_bridge.o"
compile reference.cpp "$out/reference.o"
$CXX "$out/reference.o" "$out/torch_bridge.o" -o "$out/reference" "${LIBS[@]}"
echo "built $out/reference"
