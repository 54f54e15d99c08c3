#!/usr/bin/env bash
# The band rule's constants measured on people they were not chosen on: bench/identity/suspects.sh's planted-band
# search (the celebrities of ../shared/data, every third photo made hard, intruders chosen in the band) fetched and
# processed once by curate; every band face's evidence read from the catalog (curate-bench-identity evidence); then,
# leaving one person out at a time, the constants chosen on the other people (no photo of theirs in the band
# rejected, then the fewest intruders exported) and the precision and recall of the exported faces measured on the
# person left out, beside distance alone and the shipped constants (curate-bench-identity crossval); last, the run's
# own export and its `export --leave-out-suspects` scored by the planting's truth (curate-bench-identity score).
# Usage: bench/identity/crossval.sh [CURATE_BINARY]   (default: this checkout's debug build). KEEP=1 keeps the folder.
# BAND_JOHNS=1 makes dlib's five Johns people of the search too (ten folds); BAND_INTRUDERS=N plants up to N intruders in
# the band a person (4); BAND_VARIANT=1 or 2 plants another set from the same photos (other photos made hard, other
# intruders from the band). DETECTOR=cnn processes the photos HOG found no face in again with dlib's CNN detector.
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/lib.sh
planted_setup crossval
[ $# -gt 0 ] || { curate_binary debug; set -- "$CURATE"; }
curate=$1
export CURATE_MODELS="$PWD/dataset/models"
$BIN/curate-bench-identity planted-band "$DATA" "$OUT"
serve_planted "$OUT"
ws="$OUT/ws"
planted_workspace "$curate" "$ws" "$OUT"
[ -z "${KEEP:-}" ] || echo "kept $OUT"
$BIN/curate-bench-identity evidence "$ws" > "$OUT/evidence.tsv"
$BIN/curate-bench-identity crossval "$OUT" "$ws/list.json" "$ws/export/manifest.csv" "$OUT/evidence.tsv"
# The binary's own exports scored by the planting's truth: as exported, and with the suspects left out.
"$curate" export --leave-out-suspects --out "$ws/sure" --quiet --workspace "$ws"
echo
echo "the run's export:"
$BIN/curate-bench-identity score "$OUT" "$ws/list.json" "$ws/export/manifest.csv" | sed 's/^/  /'
echo "the run's export --leave-out-suspects:"
$BIN/curate-bench-identity score "$OUT" "$ws/list.json" "$ws/sure/manifest.csv" | sed 's/^/  /'
