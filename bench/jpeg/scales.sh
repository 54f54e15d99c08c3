#!/usr/bin/env bash
# libjpeg's DCT scaling against the whole decode, on real photos made 3,000 and 4,800 px (bench/jpeg/scales.cpp):
# why curate decodes a 4,800 px JPEG at 1/2 and a 3,000 px one whole. Usage: bench/jpeg/scales.sh [PHOTO...]
set -euo pipefail
cd "$(dirname "$0")"
DATA=../../../shared/data
[ $# -gt 0 ] || set -- "$DATA/single_face/opencv_course_lady.jpg" "$DATA/group/dlib_voc/2008_001009.jpg"
BIN=$(mktemp -d)/scales
trap 'rm -rf "$(dirname "$BIN")"' EXIT
g++ -O2 -std=c++17 scales.cpp -I/usr/include/opencv4 -lopencv_core -lopencv_imgproc -lopencv_imgcodecs -ljpeg -o "$BIN"
for photo in "$@"; do
    for side in 3000 4800; do
        echo "$(basename "$photo") at $side px, one core (load $(cut -d' ' -f1-3 /proc/loadavg)):"
        taskset -c 0 "$BIN" "$photo" "$side"
    done
done
