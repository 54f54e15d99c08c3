#!/usr/bin/env bash
# The HOG detector's separable filters, curate's (Sources/CFaceBridge/face_bridge.cpp's filter_plane) against
# dlib's own, on real photos' fHOG pyramids (bench/hog/filters.cpp): milliseconds a photo and whether every
# saliency value is dlib's bit for bit (exit 1 if one is not). Photos larger than 2,000 px are shrunk to it, as
# curate does. Needs AVX-512 (elsewhere curate's scan is dlib's own).
# Usage: bench/hog/filters.sh [PHOTO...]   (default: every photo of ../shared/data's faces/, group/ and single_face/)
set -euo pipefail
cd "$(dirname "$0")"
DATA=../../../shared/data
if [ $# -eq 0 ]; then
    [ -d "$DATA" ] || { echo "no photos given and $DATA is absent" >&2; exit 2; }
    mapfile -t photos < <(find "$DATA/faces" "$DATA/group" "$DATA/single_face" -name '*.jpg' | sort)
    set -- "${photos[@]}"
fi
BIN=$(mktemp -d)/filters
trap 'rm -rf "$(dirname "$BIN")"' EXIT
# clang, as SwiftPM builds the bridge: dlib's scalar loops compile to other roundings with g++, and the start-up
# check then (rightly) finds the scan not dlib's.
clang -O2 -c ../../Sources/CBridgeError/bridge_error.c -I../../Sources/CBridgeError/include -o "$BIN-error.o"
clang++ -O3 -march=native -DNDEBUG -std=c++17 filters.cpp "$BIN-error.o" \
    -I../../Sources/CBridgeError/include -I../../Sources/CFaceBridge/include -I/usr/include/opencv4 \
    -ldlib -lblas -llapack -lopencv_imgcodecs -lopencv_imgproc -lopencv_core -lpthread -o "$BIN"
"$BIN" "$@"
