#!/usr/bin/env bash
# Builds and runs the libtorch bridge's own C++ check (learning, determinism, save/load, error paths), apart from
# Swift: a test, not a benchmark. Not part of `swift test` (it compiles the bridge against libtorch, minutes).
set -euo pipefail
cd "$(dirname "$0")"
root=../..
out=.build-check
mkdir -p "$out"
CXX=${CXX:-g++}
# Debian's libtorch is built with the new libstdc++ ABI (TorchConfig.cmake sets _GLIBCXX_USE_CXX11_ABI=1).
CXXFLAGS=(-O2 -std=c++17 -D_GLIBCXX_USE_CXX11_ABI=1 -I"$root/Sources/CTorchAPI/include" -I"$root/Sources/CBridgeError/include"
          -I/usr/include/torch/csrc/api/include -Wall -Wno-unused-parameter)
for src in "$root/Sources/CTorchBridge/torch_bridge.cpp" check.cpp; do
    obj="$out/$(basename "${src%.cpp}").o"
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ "$root/Sources/CTorchAPI/include/torch_bridge.h" -nt "$obj" ]; then
        $CXX "${CXXFLAGS[@]}" -c "$src" -o "$obj"
    fi
done
$CXX "$out/check.o" "$out/torch_bridge.o" -o "$out/check" -ltorch -ltorch_cpu -lc10 -lpthread
exec "$out/check" "$@"
