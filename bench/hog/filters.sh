#!/usr/bin/env bash
# The HOG detector's separable filters, curate's (Sources/CFaceBridge/face_bridge.cpp's filter_plane) against
# dlib's own, on real photos' fHOG pyramids (bench/hog/filters.cpp): milliseconds a photo and whether every
# saliency value is dlib's bit for bit (exit 1 if one is not). Photos larger than 2,000 px are shrunk to it, as
# curate does. Needs AVX-512 (elsewhere curate's scan is dlib's own).
# Usage: bench/hog/filters.sh [PHOTO...]   (default: every photo of ../shared/data's faces/, group/ and single_face/)
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/lib.sh
photos_or_shared filters "$@"
BUILT=$(mktemp -d)
on_exit 'rm -rf "$BUILT"'
BIN=$BUILT/filters
# clang, as SwiftPM builds the bridge: dlib's scalar loops compile to other roundings with g++, and the start-up
# check then (rightly) finds the scan not dlib's.
clang -O2 -c Sources/CBridgeError/bridge_error.c -ISources/CBridgeError/include -o "$BIN-error.o"
clang++ -O3 -march=native -DNDEBUG -std=c++17 bench/hog/filters.cpp "$BIN-error.o" \
    -ISources/CBridgeError/include -ISources/CFaceBridge/include -I/usr/include/opencv4 \
    -ldlib -lblas -llapack -lopencv_imgcodecs -lopencv_imgproc -lopencv_core -lpthread -o "$BIN"
"$BIN" "${PHOTOS[@]}"
