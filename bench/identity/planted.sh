#!/usr/bin/env bash
# Precision and recall of the exported faces on a planted search, per person of ../shared/data's five celebrities:
# their photos (up to 20), 4 photos of other people (2 of another celebrity, 2 of dlib's Johns) and 3 of the person
# beside a stranger (composed from real photos). Fetched from a local server, processed, split, exported, scored.
# Usage: bench/identity/planted.sh [CURATE_BINARY...]   (default: this checkout's debug build; give an older
#        binary first to compare before and after, e.g. bench/identity/planted.sh /tmp/curate-before .build/debug/curate)
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/lib.sh
planted_setup planted
[ $# -gt 0 ] || { curate_binary debug; set -- "$CURATE"; }
$BIN/curate-bench-identity planted "$DATA" "$OUT"
serve_planted "$OUT"
export CURATE_MODELS="$PWD/dataset/models"
for curate in "$@"; do
    ws="$OUT/ws-$(echo "$curate" | md5sum | cut -c1-8)"
    planted_workspace "$curate" "$ws" "$OUT"
    [ -z "${KEEP:-}" ] || echo "kept $ws"
    echo "$curate: $($BIN/curate-bench-identity score "$OUT" "$ws/list.json" "$ws/export/manifest.csv")"
done
