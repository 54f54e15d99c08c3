#!/usr/bin/env bash
# What OpenBLAS's fallback kernels cost, and what curate's choice of kernels wins back, in one run on this machine:
#   fallback  OPENBLAS_CORETYPE=Prescott: the SSE3 kernels OpenBLAS 0.3.21 falls back to on CPU models it does not
#             know (a 2023 Xeon, family 6 model 207, among them);
#   curate    the same start, but curate treats it as OpenBLAS's own detection (CURATE_TEST_BLAS_FALLBACK=1) and
#             restarts on the best kernels this CPU's instructions allow, as it does on such a CPU;
#   detected  OpenBLAS's own detection on this CPU.
# Each runs `curate process --all --threads 1` over the five-celebrity photos (descriptors are most of the time)
# and a 3-epoch `curate train --model cnn --threads 1`; printed: wall and CPU seconds, and `--version`'s kernels line.
# Usage: bench/blas.sh [ROUNDS=3] (the best of ROUNDS by CPU time).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
DATA=../shared/data
[ -f "$DATA/README.md" ] || { echo "bench/blas.sh needs ../shared/data (the real photos)" >&2; exit 2; }
scripts/setup.sh >/dev/null
# SCRATCH: the build folder (another than .build lets a release build run beside a debug one).
# PREBUILT: a folder holding curate, libCurateTorch.so and curate-test-server already built (nothing is built then).
SCRATCH=${SCRATCH:-.build}
if [ -z "${PREBUILT:-}" ]; then
    swift build -c release --scratch-path "$SCRATCH" --product curate >/dev/null
    swift build -c release --scratch-path "$SCRATCH" --product CurateTorch >/dev/null
    swift build -c release --scratch-path "$SCRATCH" --product curate-test-server >/dev/null
fi
BIN=${PREBUILT:-$SCRATCH/release}
CURATE=$BIN/curate
export CURATE_MODELS="$PWD/dataset/models"

OUT=$(mktemp -d)
trap 'kill -9 $SERVER 2>/dev/null; rm -rf "$OUT"' EXIT
$BIN/curate-test-server --data "$DATA" --url-file "$OUT/url" >/dev/null 2>&1 &
SERVER=$!
disown $SERVER
for _ in $(seq 50); do [ -s "$OUT/url" ] && break; sleep 0.1; done
URL=$(cat "$OUT/url")
mkdir -p "$OUT/queries"
for dir in "$DATA"/faces/opencv_course_5celeb/*/; do
    person=$(basename "$dir")
    ls "$dir" | grep -iE '\.(jpe?g|png)$' | sed "s|^|$URL/files/faces/opencv_course_5celeb/$person/|" > "$OUT/queries/$person.txt"
done
WS="$OUT/ws"
$CURATE fetch --query "$OUT/queries" --n 100 --workspace "$WS" --quiet --no-process
kill -9 $SERVER 2>/dev/null || true
$CURATE process --workspace "$WS" --quiet
$CURATE split --seed 1 --val 0.25 --workspace "$WS" --quiet
IMAGES=$($CURATE list --json --workspace "$WS" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')

measure() {  # name env... ; prints "name wall cpu" for the best of ROUNDS by CPU
    local name=$1; shift
    local best=""
    for _ in $(seq "$ROUNDS"); do
        /usr/bin/time -f '%e %U %S' -o "$OUT/t" env "$@" > /dev/null
        line=$(awk '{printf "%.2f %.2f", $1, $2 + $3}' "$OUT/t")
        if [ -z "$best" ] || [ "$(echo "${line#* } < ${best#* }" | bc -l)" = 1 ]; then best=$line; fi
    done
    echo "$name $best"
}
echo "OpenBLAS kernels: $IMAGES photos processed with one thread; CNN training 3 epochs, one thread; best of $ROUNDS by CPU (load $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-10s %-60s %14s %14s %14s %14s\n' kernels "as --version says" "process wall" "process CPU" "train wall" "train CPU"
for setting in "fallback:OPENBLAS_CORETYPE=Prescott" "curate:OPENBLAS_CORETYPE=Prescott CURATE_TEST_BLAS_FALLBACK=1" "detected:"; do
    name=${setting%%:*}
    read -r -a vars <<< "${setting#*:}"
    kernels=$(env "${vars[@]}" $CURATE --version | grep '^kernels' | cut -c1-60)
    p=$(measure "$name" "${vars[@]}" $CURATE process --all --threads 1 --quiet --workspace "$WS")
    t=$(measure "$name" "${vars[@]}" $CURATE train --model cnn --epochs 3 --threads 1 --quiet --workspace "$WS")
    read -r _ pw pc <<< "$p"
    read -r _ tw tc <<< "$t"
    printf '%-10s %-60s %14s %14s %14s %14s\n' "$name" "$kernels" "$pw" "$pc" "$tw" "$tc"
done
echo "(load average after: $(cut -d' ' -f1-3 /proc/loadavg))"

# Which kernels libtorch runs for the CNN: it links oneDNN (libdnnl, which picks its own instructions at run time
# from cpuid, whatever OPENBLAS_CORETYPE says) and the system's libblas.so.3 (OpenBLAS here). oneDNN names every
# primitive it runs (DNNL_VERBOSE=1: kind and implementation); perf says where a training run's time goes by library.
echo
echo "oneDNN primitives run by one epoch of curate train --model cnn (count, kind, implementation):"
DNNL_VERBOSE=1 ONEDNN_VERBOSE=1 $CURATE train --model cnn --epochs 1 --threads 1 --quiet --workspace "$WS" 2>/dev/null \
    | { grep "^dnnl_verbose,exec" || echo "  (none: oneDNN ran nothing)"; } | cut -d, -f4,6 | sort | uniq -c | sort -rn | head -n 12
if command -v perf >/dev/null; then
    for setting in "fallback:OPENBLAS_CORETYPE=Prescott" "detected:"; do
        read -r -a vars <<< "${setting#*:}"
        echo
        echo "${setting%%:*} kernels: curate train --model cnn --epochs 3 --threads 1 under perf, by library (load $(cut -d' ' -f1-3 /proc/loadavg)):"
        env "${vars[@]}" perf record -q -o "$OUT/perf.data" $CURATE train --model cnn --epochs 3 --threads 1 --quiet --workspace "$WS" >/dev/null 2>&1
        perf report -q -i "$OUT/perf.data" --sort dso --percent-limit 1 2>/dev/null | sed 's/^/  /'
    done
fi
