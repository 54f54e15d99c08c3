#!/usr/bin/env bash
# Benchmark: curate's commands on a catalog of a million images. curate-bench-scale (bench/scale/main.swift) makes
# a synthetic catalog with the real schema (curate's own migrator, then bulk SQL): SCALE_IMAGES images over
# SCALE_PEOPLE people, one of them with SCALE_BIG one-face photos; faces with descriptors, attempts, terms, a few
# reviewer decisions, a split. Then it times (wall seconds, peak RSS by /usr/bin/time) status before and after
# `curate process` (nothing to decode: the stages across people, which store every person's identity), status --json,
# list --json, review --list --json and its first item, the review screen's first picture (in a tmux pane), split, and the identity
# stage for the big person alone (`curate process` on a workspace holding only that person: nothing to decode,
# so copies, identity and verdicts over its SCALE_BIG faces), then `curate merge` of SCALE_SHARDS shards of
# SCALE_SHARD_IMAGES images each (made with their files and marked by `curate shard-done`; SCALE_SHARDS=0 skips it).
# Usage: bench/scale.sh [CURATE_BINARY]   (default: a release build of this checkout)
#        SCALE_IMAGES=100000 SCALE_PEOPLE=1000 SCALE_SHARD_IMAGES=10000 bench/scale.sh   for a quick run;
#        SCALE_KEEP=1 keeps the folder.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGES=${SCALE_IMAGES:-1000000}
PEOPLE=${SCALE_PEOPLE:-10000}
BIG=${SCALE_BIG:-20000}
SHARDS=${SCALE_SHARDS:-10}
SHARD_IMAGES=${SCALE_SHARD_IMAGES:-100000}
swift build -c release --product curate-bench-scale >/dev/null
if [ $# -ge 1 ]; then CURATE=$(realpath "$1"); else swift build -c release --product curate >/dev/null; CURATE=$PWD/.build/release/curate; fi
GEN=$PWD/.build/release/curate-bench-scale
OUT=$(mktemp -d "${TMPDIR:-/tmp}/curate-scale.XXXXXX")
TMUX_SOCKET="curate-scale-$$"
cleanup() { tmux -L "$TMUX_SOCKET" kill-server 2>/dev/null || true; [ -n "${SCALE_KEEP:-}" ] && echo "kept $OUT" || rm -rf "$OUT"; }
trap cleanup EXIT

t0=$(date +%s.%N)
"$GEN" make "$OUT/ws" --images "$IMAGES" --people "$PEOPLE" --big "$BIG"
"$GEN" make "$OUT/big" --images "$BIG" --people 1 --big "$BIG" >/dev/null
echo "catalog: $(du -m "$OUT/ws/catalog.sqlite" | cut -f1) MB$(command -v sqlite3 >/dev/null && sqlite3 "$OUT/ws/catalog.sqlite" \
    'SELECT "; " || (SELECT count(*) FROM image) || " images, " || (SELECT count(*) FROM face) || " faces, " || (SELECT count(*) FROM attempt) || " attempts, " || (SELECT count(*) FROM decision) || " decisions"')"

# One command, timed: wall seconds and peak RSS; stdout counted (bytes) and thrown away.
printf '%-34s %9s %12s %14s\n' command seconds "peak RSS MB" "output bytes"
run() {
    local name=$1; shift
    /usr/bin/time -f '%e %M' -o "$OUT/time" "$@" > "$OUT/stdout" 2> "$OUT/stderr" || { echo "$name failed:"; cat "$OUT/stderr"; exit 1; }
    read -r secs kb < <(tail -n 1 "$OUT/time")
    printf '%-34s %9.2f %12.0f %14d\n' "$name" "$secs" "$((kb / 1024))" "$(stat -c %s "$OUT/stdout")"
}
# The generated catalog holds no stored identities (the stages across people store them): status finds every one.
run "status, identities not stored" "$CURATE" status --workspace "$OUT/ws"
run "process: stages across people" "$CURATE" process --workspace "$OUT/ws"
run "status" "$CURATE" status --workspace "$OUT/ws"
run "status --json" "$CURATE" status --json --workspace "$OUT/ws"
run "list --json" "$CURATE" list --json --workspace "$OUT/ws"
run "list --json --person (one)" "$CURATE" list --json --person person-00002 --workspace "$OUT/ws"
run "review --list --json" "$CURATE" review --list --json --workspace "$OUT/ws"

# The queue's first item: `review --list` until its first line is read (the pipe then closes: curate ends on it).
start=$(date +%s.%N)
{ "$CURATE" review --list --workspace "$OUT/ws" 2>/dev/null || true; } | head -n 1 >/dev/null
printf '%-34s %9.2f\n' "review --list: first item" "$(echo "$(date +%s.%N) - $start" | bc)"

# The review screen: seconds from start until its first image is drawn (the key line is on screen). curate is the
# pane's own command (keys sent to a pane running `sleep` never started it).
start=$(date +%s.%N)
tmux -L "$TMUX_SOCKET" -f /dev/null new-session -d -x 120 -y 40 "$CURATE review --graphics blocks --workspace $OUT/ws; sleep 600"
until tmux -L "$TMUX_SOCKET" capture-pane -p | grep -q 'a accept'; do
    sleep 0.05
    if [ "$(echo "$(date +%s.%N) - $start > 600" | bc)" = 1 ]; then echo "the review screen did not open in 600 s"; break; fi
done
printf '%-34s %9.2f\n' "review screen: first image drawn" "$(echo "$(date +%s.%N) - $start" | bc)"
tmux -L "$TMUX_SOCKET" send-keys q
sleep 0.5

run "split" "$CURATE" split --workspace "$OUT/ws"
run "identity of $BIG faces (process)" "$CURATE" process --workspace "$OUT/big"
run "status, $BIG faces alone" "$CURATE" status --workspace "$OUT/big"
if [ "$SHARDS" -gt 0 ]; then
    "$GEN" shards "$OUT/shards" --shards "$SHARDS" --images "$SHARD_IMAGES" --people $((SHARD_IMAGES / 100 > 0 ? SHARD_IMAGES / 100 : 1)) --files >/dev/null
    for k in $(seq 0 $((SHARDS - 1))); do "$CURATE" shard-done --quiet --workspace "$OUT/shards/shard-$k"; done
    run "merge $SHARDS shards of $SHARD_IMAGES" "$CURATE" merge --workspace "$OUT/merged" $(for k in $(seq 0 $((SHARDS - 1))); do echo "$OUT/shards/shard-$k"; done)
    echo "  $(echo "$SHARDS * $SHARD_IMAGES / $secs" | bc) images/s"
fi
printf 'whole benchmark: %.0f s\n' "$(echo "$(date +%s.%N) - $t0" | bc)"
