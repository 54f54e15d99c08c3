#!/usr/bin/env bash
# Benchmark: `curate gallery` on a large workspace. curate-bench-scale (bench/scale/main.swift) makes a synthetic
# catalog with the real schema (GALLERY_IMAGES images over GALLERY_PEOPLE people, every verdict and reason, group
# photos, duplicates, suspects); bench/gallery/place.py puts a real photo of ../shared/data behind every image and a
# real chip behind every chosen face. Then it times, with wall and CPU seconds and peak RSS: the first gallery
# (every thumbnail made), the same command again (nothing changed), and again after a review decision on one person;
# and prints the pages' count and their largest size.
# Usage: bench/gallery.sh [CURATE_BINARY]   (default: a release build of this checkout)
#        GALLERY_IMAGES=10000 GALLERY_PEOPLE=100 bench/gallery.sh for a quick run; GALLERY_KEEP=1 keeps the folder.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
IMAGES=${GALLERY_IMAGES:-100000}
PEOPLE=${GALLERY_PEOPLE:-1000}
need_shared_data bench/gallery.sh "the gallery needs its real photos"
swift build -c release --product curate-bench-scale >/dev/null
curate_binary release "${1:-}"
GEN=$PWD/.build/release/curate-bench-scale
OUT=$(mktemp -d "${TMPDIR:-/tmp}/curate-gallery.XXXXXX")
on_exit '[ -n "${GALLERY_KEEP:-}" ] && echo "kept $OUT" || rm -rf "$OUT"'

"$GEN" make "$OUT/ws" --images "$IMAGES" --people "$PEOPLE" --big 0 >/dev/null
python3 bench/gallery/place.py "$OUT/ws" "$DATA"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-40s %9s %9s %12s\n' run seconds "CPU s" "peak RSS MB"
run() {
    local name=$1; shift
    /usr/bin/time -f '%e %U %S %M' -o "$OUT/time" "$@" > "$OUT/stdout" 2> "$OUT/stderr" || { echo "$name failed:"; cat "$OUT/stderr"; exit 1; }
    read -r secs user sys kb < <(tail -n 1 "$OUT/time")
    printf '%-40s %9.2f %9.2f %12.0f\n' "$name" "$secs" "$(echo "$user + $sys" | bc)" "$((kb / 1024))"
    tail -n 3 "$OUT/stdout" | sed 's/^/    /'
}
run "gallery (first: every thumbnail)" "$CURATE" gallery --workspace "$OUT/ws" --out "$OUT/g"
run "gallery again (nothing changed)" "$CURATE" gallery --workspace "$OUT/ws" --out "$OUT/g"
id=$(sqlite3 "$OUT/ws/catalog.sqlite" "SELECT id FROM image WHERE verdict = 'rejected' AND reason = 'no_face' AND reviewed = 0 LIMIT 1")
"$CURATE" review --accept "$id" --workspace "$OUT/ws" >/dev/null
run "gallery after one review decision" "$CURATE" gallery --workspace "$OUT/ws" --out "$OUT/g"
pages=$(find "$OUT/g" -name '*.html' | wc -l)
largest=$(find "$OUT/g" -name '*.html' -printf '%s %P\n' | sort -n | tail -n 1)
thumbs=$(find "$OUT/g/thumbs" -type f | wc -l)
echo "pages: $pages; largest: ${largest% *} bytes (${largest#* }); thumbnails: $thumbs, $(du -sm "$OUT/g/thumbs" | cut -f1) MB"
