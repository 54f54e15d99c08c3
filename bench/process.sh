#!/usr/bin/env bash
# Benchmark: `curate process` images/s per core on the real photos of ../shared/data, side by side with a Python
# reference doing the same steps with the same detector (bench/reference_process.py), in one run.
# Usage: bench/process.sh          (prints a table; the reference's virtual environment is made on first use)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="$(cd .. && pwd)/shared/data"
[ -f "$DATA/README.md" ] || { echo "bench: $DATA is absent; the benchmark needs the real photos of ../shared/data" >&2; exit 2; }
scripts/setup.sh

# The reference: face_recognition over dlib (the prebuilt dlib-bin wheel), Pillow, OpenCV, imagehash.
VENV=bench/.venv
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet dlib-bin pillow opencv-python-headless imagehash numpy
    "$VENV/bin/pip" install --quiet --no-deps face_recognition "${XDG_CACHE_HOME:-$HOME/.cache}/curate/face_recognition_models-0.3.0.tar.gz"
fi

swift build -c release --product curate >/dev/null
swift build -c release --product curate-test-server >/dev/null
BIN=.build/release
OUT=$(mktemp -d /tmp/curate-pbench.XXXXXX)
trap 'kill -9 $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$OUT"' EXIT

# Every real photo (not the deliberately broken ones).
(cd "$DATA" && find faces group single_face nonface gif edge -type f \
    \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' -o -iname '*.gif' -o -iname '*.webp' \) | sort) > "$OUT/rel"
sed "s#^#$DATA/#" "$OUT/rel" > "$OUT/paths"
N=$(wc -l < "$OUT/paths")

# Fill a workspace through the real fetch (direct URLs from a local server), without processing.
$BIN/curate-test-server --data "$DATA" --url-file "$OUT/url" >/dev/null &
SERVER=$!
for _ in $(seq 100); do [ -s "$OUT/url" ] && break; sleep 0.1; done
mkdir -p "$OUT/q"
sed "s#^#$(cat "$OUT/url")/files/#" "$OUT/rel" > "$OUT/q/all.txt"
$BIN/curate fetch --query "$OUT/q" --n "$N" --no-process --quiet --workspace "$OUT/ws"

run_curate() {  # label threads models-folder
    local start end
    start=$(date +%s.%N)
    CURATE_MODELS="$3" $BIN/curate process --all --threads "$2" --quiet --workspace "$OUT/ws"
    end=$(date +%s.%N)
    echo "$1 $2 $(echo "$end - $start" | bc -l)"
}
mkdir -p "$OUT/nomodels"
rows=()
ref=$("$VENV/bin/python" bench/reference_process.py "$OUT/paths")
rows+=("python-reference 1 $(echo "$ref" | python3 -c 'import json,sys; print(json.load(sys.stdin)["seconds"])')")
# Detection only (no model files: no landmarks, chips from the box, no descriptors): the reference's steps.
rows+=("$(run_curate curate-same-steps 1 "$OUT/nomodels")")
rows+=("$(run_curate curate-same-steps $(nproc) "$OUT/nomodels")")
# Everything: 5-point alignment, chips and 128-d descriptors for kept faces as well.
rows+=("$(run_curate curate-full 1 "$PWD/dataset/models")")
rows+=("$(run_curate curate-full $(nproc) "$PWD/dataset/models")")

echo
echo "process benchmark: $N real photos of ../shared/data, $(nproc) cores"
printf '%-22s %7s %9s %10s %16s\n' run threads seconds images/s "images/s/core"
for r in "${rows[@]}"; do
    read -r name threads secs <<< "$r"
    printf '%-22s %7d %9.2f %10.1f %16.1f\n' "$name" "$threads" "$secs" "$(echo "$N / $secs" | bc -l)" "$(echo "$N / $secs / $threads" | bc -l)"
done
echo "reference verdicts: $(echo "$ref" | python3 -c 'import json,sys; print(json.load(sys.stdin)["verdicts"])')"
