#!/usr/bin/env bash
# Precision and recall of the exported faces on a planted search, per person of ../shared/data's five celebrities:
# their photos (up to 20), 4 photos of other people (2 of another celebrity, 2 of dlib's Johns) and 3 of the person
# beside a stranger (composed from real photos). Fetched from a local server, processed, split, exported, scored.
# Usage: bench/identity/planted.sh [CURATE_BINARY...]   (default: this checkout's debug build; give an older
#        binary first to compare before and after, e.g. bench/identity/planted.sh /tmp/curate-before .build/debug/curate)
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA="$(cd .. && pwd)/shared/data"
[ -f "$DATA/README.md" ] || { echo "planted: $DATA is absent" >&2; exit 2; }
swift build --product curate-bench-identity >/dev/null
swift build --product curate-test-server >/dev/null
[ $# -gt 0 ] || { swift build --product curate >/dev/null; set -- .build/debug/curate; }
BIN=.build/debug
OUT=$(mktemp -d /tmp/curate-planted.XXXXXX)
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$OUT"' EXIT
$BIN/curate-bench-identity planted "$DATA" "$OUT"
$BIN/curate-test-server --data "$OUT/served" --url-file "$OUT/url" >/dev/null &
SERVER=$!
for _ in $(seq 100); do [ -s "$OUT/url" ] && break; sleep 0.1; done
mkdir -p "$OUT/q"
for dir in "$OUT"/served/*/; do
    person=$(basename "$dir")
    (cd "$OUT/served" && ls "$person" | sed "s#^#$(cat "$OUT/url")/files/$person/#") > "$OUT/q/$person.txt"
done
export CURATE_MODELS="$PWD/dataset/models"
for curate in "$@"; do
    ws="$OUT/ws-$(echo "$curate" | md5sum | cut -c1-8)"
    "$curate" fetch --query "$OUT/q" --n 100 --quiet --workspace "$ws"
    "$curate" split --val 0 --min 1 --seed 1 --quiet --workspace "$ws"
    "$curate" export --quiet --workspace "$ws"
    "$curate" list --json --workspace "$ws" > "$ws/list.json"
    [ -z "${KEEP:-}" ] || echo "kept $ws"
    echo "$curate: $($BIN/curate-bench-identity score "$OUT" "$ws/list.json" "$ws/export/manifest.csv")"
done
