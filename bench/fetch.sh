#!/usr/bin/env bash
# Benchmark: `curate fetch` against `curl --parallel --parallel-max 16` on the same URL list, in one run.
# A local server (127.0.0.1 only) serves the real photos of ../shared/data with 50 ms added per request;
# each URL gets distinct bytes (/unique/<n>/...) so every download is a new image to store.
# Usage: bench/fetch.sh [IMAGES=2000]   (prints a table: images/s, MB/s, peak memory)
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-2000}"
LATENCY_MS="${LATENCY_MS:-50}"
DATA="$(cd .. && pwd)/shared/data"
[ -f "$DATA/README.md" ] || { echo "bench: $DATA is absent; the benchmark needs the real photos of ../shared/data" >&2; exit 2; }
command -v /usr/bin/time >/dev/null || { echo "bench: needs GNU time (apt-get install time)" >&2; exit 2; }

swift build -c release --product curate >/dev/null
swift build -c release --product curate-test-server >/dev/null
BIN=.build/release
OUT=$(mktemp -d /tmp/curate-bench.XXXXXX)
trap 'kill -9 $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$OUT"' EXIT

$BIN/curate-test-server --data "$DATA" --latency-ms "$LATENCY_MS" --url-file "$OUT/url" >/dev/null &
SERVER=$!
for _ in $(seq 100); do [ -s "$OUT/url" ] && break; sleep 0.1; done
BASE=$(cat "$OUT/url")

# The same N URLs for both, spread over 8 people of N/8 for curate.
mapfile -t FILES < <(cd "$DATA" && find faces group single_face nonface gif -type f \
    \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' -o -iname '*.gif' -o -iname '*.webp' \) | sort)
mkdir -p "$OUT/q" "$OUT/curl"
: > "$OUT/curl.cfg"
PEOPLE=8
for i in $(seq 0 $((N - 1))); do
    url="$BASE/unique/$i/${FILES[$((i % ${#FILES[@]}))]}"
    echo "$url" >> "$OUT/q/person_$((i % PEOPLE)).txt"
    printf 'url = "%s"\noutput = "%s/curl/%d"\n' "$url" "$OUT" "$i" >> "$OUT/curl.cfg"
done
PER_PERSON=$(( (N + PEOPLE - 1) / PEOPLE ))

measure() {  # name, command...: prints "name seconds peakKB userCPU sysCPU"
    local name=$1; shift
    local start end
    start=$(date +%s.%N)
    /usr/bin/time -f "%M %U %S" -o "$OUT/$name.mem" "$@" > "$OUT/$name.out" 2> "$OUT/$name.err" || { echo "bench: $name failed" >&2; cat "$OUT/$name.err" >&2; exit 1; }
    end=$(date +%s.%N)
    echo "$name $(echo "$end - $start" | bc -l) $(tail -n 1 "$OUT/$name.mem")"
}

results=()
results+=("$(measure curl curl --parallel --parallel-max 16 --silent --show-error --fail -K "$OUT/curl.cfg")")
BYTES=$(du -sb "$OUT/curl" | cut -f1)
COUNT=$(ls "$OUT/curl" | wc -l)
[ "$COUNT" -eq "$N" ] || { echo "bench: curl fetched $COUNT of $N" >&2; exit 1; }
results+=("$(measure curate $BIN/curate fetch --query "$OUT/q" --n "$PER_PERSON" --concurrency 16 --per-host 16 \
            --workspace "$OUT/ws" --quiet --json)")
STORED=$(python3 -c "import json,sys; print(json.load(open('$OUT/curate.out'))['stored'])")
[ "$STORED" -eq "$N" ] || { echo "bench: curate stored $STORED of $N" >&2; exit 1; }
# Memory must not grow with the number of images: the same fetch of a quarter of the images.
SMALL=$((N / 4)); rm -rf "$OUT/q4"; mkdir -p "$OUT/q4"
for f in "$OUT"/q/*.txt; do head -n $((PER_PERSON / 4)) "$f" > "$OUT/q4/$(basename "$f")"; done
results+=("$(measure curate_quarter $BIN/curate fetch --query "$OUT/q4" --n $((PER_PERSON / 4)) --concurrency 16 \
            --per-host 16 --workspace "$OUT/ws4" --quiet --json)")

echo
echo "fetch benchmark: $N real images ($(echo "$BYTES / 1048576" | bc -l | xargs printf '%.1f') MB), ${LATENCY_MS} ms latency per request, 16 in flight, $(nproc) cores"
printf '%-26s %8s %9s %8s %12s %8s\n' tool seconds images/s MB/s "peak RSS MB" "CPU s"
for r in "${results[@]}"; do
    read -r name secs kb usr sys <<< "$r"
    n=$N; [ "$name" = curate_quarter ] && n=$((PER_PERSON / 4 * PEOPLE))
    b=$(echo "$BYTES * $n / $N" | bc -l)
    label=$name; [ "$name" = curl ] && label="curl --parallel-max 16"; [ "$name" = curate_quarter ] && label="curate ($n images)"
    printf '%-26s %8.2f %9.1f %8.2f %12.1f %8.2f\n' "$label" "$secs" "$(echo "$n / $secs" | bc -l)" \
        "$(echo "$b / 1048576 / $secs" | bc -l)" "$(echo "$kb / 1024" | bc -l)" "$(echo "$usr + $sys" | bc -l)"
done
read -r _ curl_s _ <<< "${results[0]}"; read -r _ cur_s _ <<< "${results[1]}"
printf 'curate throughput / curl throughput: %.2f (target >= 0.90)\n' "$(echo "$curl_s / $cur_s" | bc -l)"
