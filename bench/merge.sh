#!/usr/bin/env bash
# Benchmark: `curate merge`. curate-bench-merge (bench/merge/main.swift) makes finished shards of synthetic rows with
# the real schema (curate's migrator, then bulk SQL: people, a term each, one attempt, one processed image and one
# face with a 128-float descriptor per URL), marked finished as `curate shard-done` marks them. Then `curate merge`
# of all of them into a new workspace is timed: the union (files and rows, one transaction per shard) and the stages
# across people after it (copies, identity, best copy), with the CPU seconds (user and system) of the whole command and
# its peak RSS.
#   1. rows: MERGE_SHARDS shards of MERGE_PEOPLE people x MERGE_PER_PERSON images (default 10 x 1,000 x 100: a
#      million images over 10,000 people); their files are absent (merge counts them missing), so this is the catalog.
#      Each shard is judged first by `curate process` (as `fetch --shard` and `process` leave a real shard: the
#      stages across people over its own catalog; their CPU is printed, spent on each shard's node), so the merge
#      trusts each shard's judgement of its own people; MERGE_JUDGED=0 leaves them unjudged, and the first merge
#      judges everything (what every first merge did before shards brought their judgement).
#      Merged, merged again (nothing to do), then one more shard of new people into the merged catalog (the stages
#      across people judge only what it changed), and a shard of MERGE_PER_PERSON more images of one person already
#      there (they judge that person: what the rest costs them is reading every image's hashes).
#   2. files, linked: 10 shards of 100 people x MERGE_FILES_PER_PERSON images with their 3 files each (original,
#      normalised copy, chip), hard-linked into the merged workspace on the same file system.
#   3. files, copied: the same shards in /dev/shm (another file system): every file copied, read back, checked.
#   MERGE_UNION_ONLY=1: only the union of case 1's shards into a new workspace (`curate-bench-merge --union`, which
#      calls what `curate merge` calls before judging), with its wall and CPU seconds (user and system, the process's
#      own: its threads included) and of those the CPU after the last shard (building the indices).
# Usage: bench/merge.sh [CURATE_BINARY]   (default: a release build of this checkout; MERGE_FILES=0 skips 2 and 3)
set -euo pipefail
cd "$(dirname "$0")/.."
SHARDS=${MERGE_SHARDS:-10}
PEOPLE=${MERGE_PEOPLE:-1000}
PER=${MERGE_PER_PERSON:-100}
FILES_PER=${MERGE_FILES_PER_PERSON:-20}
JUDGED=${MERGE_JUDGED:-1}
swift build -c release --product curate-bench-merge >/dev/null
if [ $# -ge 1 ]; then CURATE=$(realpath "$1"); elif [ -z "${MERGE_UNION_ONLY:-}" ]; then swift build -c release --product curate >/dev/null; CURATE=$PWD/.build/release/curate; fi
GEN=$PWD/.build/release/curate-bench-merge
OUT=$(mktemp -d "${TMPDIR:-/tmp}/curate-merge.XXXXXX")
SHM=""
cleanup() { rm -rf "$OUT" ${SHM:+"$SHM"}; }
trap cleanup EXIT

measure() {
    local name=$1 ws=$2; shift 2
    /usr/bin/time -f '%e %M %U %S' -o "$OUT/time" "$CURATE" merge --json --workspace "$ws" "$@" > "$OUT/merge.json" 2> "$OUT/stderr" \
        || { echo "$name failed:"; cat "$OUT/stderr"; exit 1; }
    read -r _ kb user sys < <(tail -n 1 "$OUT/time")
    python3 - "$name" "$kb" "$OUT/merge.json" "$user" "$sys" <<'PY'
import json, sys
name, kb, path, cpu = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4]) + float(sys.argv[5])
m = json.load(open(path))
files = {k: sum(s["files"][k] for s in m["shards"]) for k in ("linked", "copied", "present", "missing")}
print(f'{name:<28} {m["images"]:>9} {m["unionSeconds"]:>9.2f} {m["imagesPerSecond"]:>11.0f} {m["judgeSeconds"]:>9.2f} {cpu:>6.1f} {kb / 1024:>12.0f}'
      f'   files: {files["linked"]} linked, {files["copied"]} copied, {files["missing"]} missing;'
      f' judged {m.get("judgedPeople", 0)} people{" (whole)" if m.get("judgedWhole") else ""}, {m.get("regroupedImages", 0)} images regrouped')
PY
}

if [ -n "${MERGE_UNION_ONLY:-}" ]; then
    "$GEN" "$OUT/rows" "$SHARDS" "$PEOPLE" "$PER" > "$OUT/gen.log"
    printf '%-28s %9s %9s %11s %9s %12s %12s\n' case images "union s" "images/s" "CPU s" "indices CPU s" "images/CPU-s"
    read -r images wall cpu indices rate cpurate < <("$GEN" --union "$OUT/union" "$OUT"/rows/shard-*)
    printf '%-28s %9s %9s %11s %9s %12s %12s\n' "union only ($SHARDS shards)" "$images" "$wall" "$rate" "$cpu" "$indices" "$cpurate"
    exit 0
fi
printf '%-28s %9s %9s %11s %9s %6s %12s\n' case images "union s" "images/s" "judge s" "CPU s" "peak RSS MB"

# Each shard's own judgement (`process` over its catalog, on its own node), as a real shard brings it.
judge() {
    [ "$JUDGED" = 1 ] || return 0
    local cpu=0 shard
    for shard in "$@"; do
        /usr/bin/time -f '%U %S' -o "$OUT/time" "$CURATE" process --workspace "$shard" --quiet > /dev/null 2> "$OUT/stderr" \
            || { echo "process of $shard failed:"; cat "$OUT/stderr"; exit 1; }
        cpu=$(python3 -c "import sys; u, s = open('$OUT/time').read().split()[-2:]; print($cpu + float(u) + float(s))")
    done
    printf '(%d shard(s) judged by process on their own: %.1f CPU s)\n' "$#" "$cpu"
}

"$GEN" "$OUT/rows" "$((SHARDS + 1))" "$PEOPLE" "$PER" > "$OUT/gen.log"
judge "$OUT"/rows/shard-*
ROWS=("$OUT"/rows/shard-*)
MORE=${ROWS[-1]}
unset 'ROWS[-1]'
measure "rows ($SHARDS shards)" "$OUT/rows-merged" "${ROWS[@]}"
measure "rows, merged again" "$OUT/rows-merged" "${ROWS[@]}"
measure "rows, one more shard" "$OUT/rows-merged" "$MORE"
# A shard of one person already there (shard 0's first), with MERGE_PER_PERSON more images.
"$GEN" "$OUT/one" 1 1 "$PER" > "$OUT/gen.log"
judge "$OUT"/one/shard-*
measure "rows, one person more" "$OUT/rows-merged" "$OUT"/one/shard-*
rm -rf "$OUT/rows" "$OUT/rows-merged" "$OUT/one"

[ "${MERGE_FILES:-1}" = 1 ] || exit 0   # MERGE_FILES=0: the rows cases alone
"$GEN" "$OUT/files" 10 100 "$FILES_PER" --files > "$OUT/gen.log"
measure "files, hard-linked" "$OUT/linked" "$OUT"/files/shard-*
SHM=$(mktemp -d /dev/shm/curate-merge.XXXXXX)
mv "$OUT/files" "$SHM/files"
measure "files, copied (from tmpfs)" "$OUT/copied" "$SHM"/files/shard-*
