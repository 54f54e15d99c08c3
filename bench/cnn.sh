#!/usr/bin/env bash
# What `--detector cnn` recovers, and at what cost: every photo of ../shared/data (named people, single faces, group
# photos, the painting, non-face photos) fetched from a local server, processed with HOG alone, then given the CNN's
# second look. Prints, per image HOG found no face in, what the CNN found and the verdict it got, and CPU seconds per
# image for each pass (one worker thread, so CPU time is the cost per core).
# Usage: bench/cnn.sh [CURATE_BINARY]   (default: this checkout's release build)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="$(cd .. && pwd)/shared/data"
[ -f "$DATA/README.md" ] || { echo "bench/cnn.sh: $DATA is absent" >&2; exit 2; }
[ -s dataset/models/mmod_human_face_detector.dat ] || { echo "bench/cnn.sh: run scripts/setup.sh first" >&2; exit 2; }
swift build -c release --product curate-test-server >/dev/null
if [ $# -gt 0 ]; then CURATE=$1; else swift build -c release --product curate >/dev/null; CURATE=.build/release/curate; fi
OUT=$(mktemp -d /tmp/curate-cnn.XXXXXX)
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$OUT"' EXIT
.build/release/curate-test-server --data "$DATA" --url-file "$OUT/url" >/dev/null &
SERVER=$!
for _ in $(seq 100); do [ -s "$OUT/url" ] && break; sleep 0.1; done
mkdir -p "$OUT/q"
# One person per folder of photos; the non-face, group and edge photos under people of their own.
for dir in "$DATA"/faces/*/*/ "$DATA"/single_face/ "$DATA"/group/*/ "$DATA"/edge/ "$DATA"/nonface/*/; do
    rel=${dir#"$DATA"/}; rel=${rel%/}
    (cd "$DATA" && ls "$rel" | grep -Ei '\.(jpe?g|png)$' | sed "s#^#$(cat "$OUT/url")/files/$rel/#") > "$OUT/q/$(echo "$rel" | tr '/' '_').txt"
done
export CURATE_MODELS="$PWD/dataset/models"
WS="$OUT/ws"
"$CURATE" fetch --query "$OUT/q" --n 100 --no-process --quiet --workspace "$WS"
cpu() {   # runs curate, prints its JSON summary with the CPU seconds it used added
    /usr/bin/time -f '%U %S' -o "$OUT/cpu" "$CURATE" "$@" --threads 1 --json --quiet --workspace "$WS" > "$OUT/summary.json"
    python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); u,t=open(sys.argv[2]).read().split()[-2:]; s["cpu"]=float(u)+float(t); print(json.dumps(s))' "$OUT/summary.json" "$OUT/cpu"
}
hog=$(cpu process)
"$CURATE" list --json --workspace "$WS" > "$OUT/hog.json"
cnn=$(cpu process --detector cnn)
"$CURATE" list --json --workspace "$WS" > "$OUT/cnn.json"
python3 - "$OUT/hog.json" "$OUT/cnn.json" "$hog" "$cnn" <<'PY'
import json, sys
hog = {r["id"]: r for r in json.load(open(sys.argv[1]))}
cnn = {r["id"]: r for r in json.load(open(sys.argv[2]))}
h, c = json.loads(sys.argv[3]), json.loads(sys.argv[4])
looked = [i for i, r in cnn.items() if r["detector"] == "cnn"]
print(f"{'image HOG found no face in':44} {'folder':28} after the CNN's look")
found = 0
for i in looked:
    r = cnn[i]
    name = "/".join(r["source_url"].split("/")[-2:])
    if r["faces"]: found += 1
    print(f"{name:44} {r['label'][:28]:28} faces={r['faces']} {r['verdict']} {r['reason'] or ''}")
nonface = [i for i in looked if cnn[i]["label"].startswith("nonface")]
false = [i for i in nonface if cnn[i]["faces"]]
print()
print(f"images: {len(cnn)}; HOG found no face in {len(looked)}; the CNN found faces in {found} of them"
      f" ({len(nonface)} non-face photos among them, {len(false)} with a face found)")
print(f"HOG pass:  {h['processed']} images, {h['cpu']:.2f} s CPU, {h['cpu'] / max(1, h['processed']):.3f} s an image (detect {h['stages']['detect']:.2f} s)")
print(f"CNN pass:  {c['processed']} images, {c['cpu']:.2f} s CPU, {c['cpu'] / max(1, c['processed']):.2f} s an image (cnn {c['stages']['cnn']:.2f} s)")
PY
