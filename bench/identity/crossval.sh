#!/usr/bin/env bash
# The band rule's constants measured on people they were not chosen on: bench/identity/suspects.sh's planted-band
# search (the celebrities of ../shared/data, every third photo made hard, intruders chosen in the band) fetched and
# processed once by curate; every band face's evidence read from the catalog (curate-bench-identity evidence); then,
# leaving one person out at a time, the constants chosen on the other people (no photo of theirs in the band
# rejected, then the fewest intruders exported) and the precision and recall of the exported faces measured on the
# person left out, beside distance alone and the shipped constants (curate-bench-identity crossval).
# Usage: bench/identity/crossval.sh [CURATE_BINARY]   (default: this checkout's debug build). KEEP=1 keeps the folder.
# BAND_JOHNS=1 makes dlib's five Johns people of the search too (ten folds); BAND_INTRUDERS=N plants up to N intruders in
# the band a person (4).
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA="$(cd .. && pwd)/shared/data"
[ -f "$DATA/README.md" ] || { echo "crossval: $DATA is absent" >&2; exit 2; }
swift build --product curate-bench-identity >/dev/null
swift build --product curate-test-server >/dev/null
[ $# -gt 0 ] || { swift build --product curate >/dev/null; set -- .build/debug/curate; }
curate=$1
BIN=.build/debug
OUT=$(mktemp -d /tmp/curate-crossval.XXXXXX)
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$OUT"' EXIT
export CURATE_MODELS="$PWD/dataset/models"
$BIN/curate-bench-identity planted-band "$DATA" "$OUT"
$BIN/curate-test-server --data "$OUT/served" --url-file "$OUT/url" >/dev/null &
SERVER=$!
for _ in $(seq 100); do [ -s "$OUT/url" ] && break; sleep 0.1; done
mkdir -p "$OUT/q"
for dir in "$OUT"/served/*/; do
    person=$(basename "$dir")
    (cd "$OUT/served" && ls "$person" | sed "s#^#$(cat "$OUT/url")/files/$person/#") > "$OUT/q/$person.txt"
done
ws="$OUT/ws"
"$curate" fetch --query "$OUT/q" --n 100 --quiet --workspace "$ws"
"$curate" split --val 0 --min 1 --seed 1 --quiet --workspace "$ws"
"$curate" export --quiet --workspace "$ws"
"$curate" list --json --workspace "$ws" > "$ws/list.json"
[ -z "${KEEP:-}" ] || echo "kept $OUT"
$BIN/curate-bench-identity evidence "$ws" > "$OUT/evidence.tsv"
$BIN/curate-bench-identity crossval "$OUT" "$ws/list.json" "$ws/export/manifest.csv" "$OUT/evidence.tsv"
