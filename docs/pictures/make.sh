#!/usr/bin/env bash
# The README's two pictures, made by curate itself from the real photos of ../shared/data: a workspace fetched from
# a local server (the five celebrities' photos, plus group photos, an animal and a broken file among them, as a web
# search brings), then `curate gallery` shot in headless Chromium, and `curate review` in a 120x40 tmux pane,
# captured with its colours and drawn by Chromium too.
# Usage: docs/pictures/make.sh [CURATE_BINARY]   (writes docs/pictures/gallery.png and review.png)
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA="$(cd .. && pwd)/shared/data"
[ -f "$DATA/README.md" ] || { echo "docs/pictures: $DATA is absent; the pictures are made from its real photos" >&2; exit 2; }
if [ $# -ge 1 ]; then BIN=$1; else swift build --product curate >/dev/null; BIN=$(swift build --product curate --show-bin-path)/curate; fi
MODELS=${CURATE_MODELS:-$PWD/dataset/models}
OUT=docs/pictures
WS=$(mktemp -d /tmp/curate-docs-pictures.XXXXXX)
PORT=$((20000 + RANDOM % 20000))
python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$DATA" >/dev/null 2>&1 &
SERVER=$!
SOCKET=curate-docs-$$
trap 'kill $SERVER 2>/dev/null; tmux -L $SOCKET kill-server >/dev/null 2>&1; rm -rf "$WS"' EXIT
sleep 1
mkdir -p "$WS/q"
C=faces/opencv_course_5celeb
for p in madonna elton_john; do
    for f in "$DATA/$C/$p"/*.jpg; do echo "http://127.0.0.1:$PORT/$C/$p/$(basename "$f")"; done > "$WS/q/$p.txt"
done
# what else a search for Madonna brings: a group photo, a dog, a broken file, another person
for f in group/opencv_course/group_2.jpg nonface/dlib/dog.jpg $C/elton_john/train_1.jpg; do
    echo "http://127.0.0.1:$PORT/$f"
done >> "$WS/q/madonna.txt"
CURATE_MODELS="$MODELS" "$BIN" --workspace "$WS/ws" fetch --query "$WS/q" --quiet
CURATE_MODELS="$MODELS" "$BIN" --workspace "$WS/ws" gallery --out "$WS/gallery" --quiet
shoot() { # HTML file, PNG, width, height
    chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars --allow-file-access-from-files \
        --window-size="$3,$4" --screenshot="$2" "file://$1" >/dev/null 2>&1
}
page=$(grep -o 'href="[^"]*madonna[^"]*\.html"' "$WS/gallery/index.html" | head -1 | sed 's/href="//;s/"$//')
shoot "$WS/gallery/$page" "$PWD/$OUT/gallery.png" 1100 900
tmux -L $SOCKET -f /dev/null new-session -d -x 120 -y 40 \
    "CURATE_MODELS='$MODELS' '$BIN' --workspace '$WS/ws' review --person madonna --graphics symbols; sleep 60"
for _ in $(seq 100); do tmux -L $SOCKET capture-pane -p -t 0 | grep -q "q quit" && break; sleep 0.2; done
sleep 1
tmux -L $SOCKET capture-pane -e -p -t 0 > "$WS/review.ans"
python3 "$OUT/ansi2html.py" < "$WS/review.ans" > "$WS/review.html"
shoot "$WS/review.html" "$PWD/$OUT/review.png" 1090 740
echo "wrote $OUT/gallery.png and $OUT/review.png"
