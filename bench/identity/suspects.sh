#!/usr/bin/env bash
# Suspects settled by more evidence, on a planted search where faces land in the band (between --suspect-distance
# and --identity-distance): per celebrity of ../shared/data, their photos with every third made hard (a 72 px
# thumbnail, sunglasses, a soft upscaled copy, in turn), three plain intruders (another celebrity, a John, a
# spectator cut from a PASCAL VOC crowd photo) and up to four other people's faces chosen between 0.50 and 0.60
# from the person's identity (curate-bench-identity planted-band). Fetched from a local server, processed, split,
# exported and scored by each binary given; the figures side by side, one column per binary.
# Usage: bench/identity/suspects.sh [CURATE_BINARY...]   (default: this checkout's debug build; give the older binary
#        first to compare before and after, e.g. bench/identity/suspects.sh /tmp/curate-before .build/debug/curate)
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/lib.sh
planted_setup suspects
[ $# -gt 0 ] || { curate_binary debug; set -- "$CURATE"; }
CURATE_MODELS="$PWD/dataset/models" $BIN/curate-bench-identity planted-band "$DATA" "$OUT"
serve_planted "$OUT"
echo "planted: $(awk -F'\t' 'NR > 1 && $3 == 1' "$OUT/truth.tsv" | wc -l) photos of the people ($(grep -c '/own_.*_\(small\|shades\|soft\)\.jpg' "$OUT/truth.tsv") made hard), $(awk -F'\t' 'NR > 1 && $3 == 0' "$OUT/truth.tsv" | wc -l) intruders ($(grep -c '/intruder_\([3-9]\|1[0-9]\)_' "$OUT/truth.tsv") chosen in the band)"
export CURATE_MODELS="$PWD/dataset/models"
columns=()
for curate in "$@"; do
    ws="$OUT/ws-$(echo "$curate" | md5sum | cut -c1-8)"
    planted_workspace "$curate" "$ws" "$OUT"
    "$curate" review --suspects --list --json --workspace "$ws" > "$ws/suspects.json"
    [ -z "${KEEP:-}" ] || echo "kept $ws"
    echo "$curate:"
    SCORE_FIGURES="$ws/figures.tsv" $BIN/curate-bench-identity score "$OUT" "$ws/list.json" "$ws/export/manifest.csv" "$ws/suspects.json" | sed 's/^/  /'
    columns+=("$ws/figures.tsv")
done
echo
# The table: one row per figure, one column per binary.
awk -F'\t' -v n=${#columns[@]} '
    FNR == 1 { file++ }
    { name[FNR] = $1; value[FNR, file] = $2; rows = FNR > rows ? FNR : rows }
    END { for (r = 1; r <= rows; r++) { line = sprintf("%-40s", name[r]); for (f = 1; f <= n; f++) line = line sprintf("%-32s", value[r, f]); print line } }
' "${columns[@]}" | { printf '%-40s' "figure"; for curate in "$@"; do printf '%-32s' "$curate"; done; echo; cat; }
