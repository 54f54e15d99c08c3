#!/usr/bin/env bash
# The review screen side by side in tmux: the same photos (group photos, a dog) drawn with half blocks and with
# chafa's symbols in a 120x40 pane, captured with colours (`tmux capture-pane -e -p`) into OUT/blocks.ans and
# OUT/symbols.ans (view them with `cat` in a 24-bit colour terminal of at least 120 columns).
# The photos are served from 127.0.0.1 and fetched as direct URLs, so the workspace is made by curate itself.
# Usage: bench/pictures.sh [OUT=/tmp/curate-pictures]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/tmp/curate-pictures}
DATA="$(cd .. && pwd)/shared/data"
[ -f "$DATA/README.md" ] || { echo "bench: $DATA is absent; the comparison needs the real photos of ../shared/data" >&2; exit 2; }
swift build --product curate >/dev/null
BIN=$(swift build --product curate --show-bin-path)/curate
MODELS=${CURATE_MODELS:-$PWD/dataset/models}
mkdir -p "$OUT"
WS=$(mktemp -d /tmp/curate-pictures-ws.XXXXXX)
PORT=$((20000 + RANDOM % 20000))
python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$DATA" >/dev/null 2>&1 &
SERVER=$!
SOCKET=curate-pictures-$$
trap 'kill $SERVER 2>/dev/null; tmux -L $SOCKET kill-server >/dev/null 2>&1; rm -rf "$WS"' EXIT
sleep 1
mkdir -p "$WS/q"
for f in group/opencv_course/group_2.jpg group/dlib_voc/2008_001009.jpg nonface/dlib/dog.jpg; do
    echo "http://127.0.0.1:$PORT/$f"
done > "$WS/q/someone.txt"
CURATE_MODELS="$MODELS" "$BIN" --workspace "$WS/ws" fetch --query "$WS/q" --quiet
for mode in blocks symbols; do
    tmux -L $SOCKET -f /dev/null new-session -d -x 120 -y 40 "CURATE_MODELS='$MODELS' '$BIN' --workspace '$WS/ws' review --graphics $mode; sleep 60"
    for _ in $(seq 50); do tmux -L $SOCKET capture-pane -p -t 0 | grep -q "q quit" && break; sleep 0.2; done
    sleep 0.5
    tmux -L $SOCKET capture-pane -e -p -t 0 > "$OUT/$mode.ans"
    tmux -L $SOCKET kill-server
done
echo "captured: $OUT/blocks.ans $OUT/symbols.ans"
