#!/usr/bin/env bash
# Builds the libtorch bridge's benchmark program into bench/torch/.build-torch/, one compile at a time.
# (The bridge's C++ check is a test: Tests/TorchBridgeCheck/run.sh.)
set -euo pipefail
cd "$(dirname "$0")"
root=../..
out=.build-torch
mkdir -p "$out"
CXX=${CXX:-g++}
# Debian's libtorch is built with the new libstdc++ ABI (TorchConfig.cmake sets _GLIBCXX_USE_CXX11_ABI=1).
CXXFLAGS=(-O2 -std=c++17 -D_GLIBCXX_USE_CXX11_ABI=1 -I"$root/Sources/CTorchAPI/include" -I"$root/Sources/CBridgeError/include"
          -I/usr/include/torch/csrc/api/include -Wall -Wno-unused-parameter)
LIBS=(-ltorch -ltorch_cpu -lc10 -lpthread)

# Recompiles only objects older than their source (or the bridge header).
compile() {
    local src=$1 obj=$2
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ "$root/Sources/CTorchAPI/include/torch_bridge.h" -nt "$obj" ]; then
        echo "compiling $src"
        local t=$(date +%s)
        $CXX "${CXXFLAGS[@]}" -c "$src" -o "$obj"
        echo "  $(( $(date +%s) - t )) s"
    fi
}
compile "$root/Sources/CTorchBridge/torch_bridge.cpp" "$out/torch_bridge.o"
compile reference.cpp "$out/reference.o"
$CXX "$out/reference.o" "$out/torch_bridge.o" -o "$out/reference" "${LIBS[@]}"
echo "built $out/reference"
