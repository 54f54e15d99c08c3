#!/usr/bin/env bash
# What a HOG scan that is not dlib's to the bit could save (bench/hog/cascade.cpp): each of the frontal face
# detector's five filters scored first with its K separable parts of largest norm, and fully only where that partial
# score comes within a margin of the threshold. It prints, for several K, the largest shortfall of the partial score
# at any position whose full score reaches the threshold (the margin could not be smaller without losing a
# detection on these photos; nothing bounds it on others), and for margins of 1, 1.5 and 2 times it, the share of
# positions and of 8 x 16 tiles that would go on to the full score and the filters' work left. Photos larger than
# 2,000 px are shrunk to it, as curate does; none is upsampled.
# Usage: bench/hog/cascade.sh [PHOTO...]   (default: every photo of ../shared/data's faces/, group/ and single_face/)
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/lib.sh
photos_or_shared cascade "$@"
BUILT=$(mktemp -d)
on_exit 'rm -rf "$BUILT"'
BIN=$BUILT/cascade
g++ -O2 -march=native -std=c++17 bench/hog/cascade.cpp -I/usr/include/opencv4 -ldlib -lblas -llapack \
    -lopencv_imgcodecs -lopencv_imgproc -lopencv_core -lpthread -o "$BIN"
"$BIN" "${PHOTOS[@]}"
