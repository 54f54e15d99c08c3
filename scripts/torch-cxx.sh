# Sourced by the C++ programs built against the torch bridge outside SwiftPM (Tests/TorchBridgeCheck/run.sh,
# bench/torch/build.sh), with `root` set to the repository: the compiler, its flags, the libraries, and one compile
# step that rebuilds an object only when it is older than its source or either bridge header.
CXX=${CXX:-g++}
# Debian's libtorch is built with the new libstdc++ ABI (TorchConfig.cmake sets _GLIBCXX_USE_CXX11_ABI=1).
CXXFLAGS=(-O2 -std=c++17 -D_GLIBCXX_USE_CXX11_ABI=1 -I"$root/Sources/CTorchAPI/include" -I"$root/Sources/CBridgeError/include"
          -I/usr/include/torch/csrc/api/include -Wall -Wno-unused-parameter)
LIBS=(-ltorch -ltorch_cpu -lc10 -lpthread)

compile() {   # SOURCE OBJECT
    local src=$1 obj=$2
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ "$root/Sources/CTorchAPI/include/torch_bridge.h" -nt "$obj" ] \
        || [ "$root/Sources/CBridgeError/include/bridge_error.h" -nt "$obj" ]; then
        echo "compiling $src"
        local t=$(date +%s)
        $CXX "${CXXFLAGS[@]}" -c "$src" -o "$obj"
        echo "  $(( $(date +%s) - t )) s"
    fi
}
