#!/usr/bin/env bash
# The README's two pictures, made by curate itself from the real photos of ../shared/data: a workspace fetched from
# a local server (the five celebrities' photos, plus group photos, an animal and a broken file among them, as a web
# search brings), then `curate gallery` shot in headless Chromium, and `curate review` in a 120x40 tmux pane,
# captured with its colours and drawn by Chromium too.
# Usage: docs/pictures/make.sh [CURATE_BINARY]   (writes docs/pictures/gallery.png and review.png)
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/lib.sh
need_shared_data docs/pictures "the pictures are made from its real photos"
curate_binary debug "${1:-}"
export CURATE_MODELS=${CURATE_MODELS:-$PWD/dataset/models}
OUT=docs/pictures
WS=$(mktemp -d /tmp/curate-docs-pictures.XXXXXX)
on_exit "rm -rf '$WS'"
serve_shared_data
mkdir -p "$WS/q"
C=faces/opencv_course_5celeb
for p in madonna elton_john; do
    for f in "$DATA/$C/$p"/*.jpg; do echo "$SERVED/$C/$p/$(basename "$f")"; done > "$WS/q/$p.txt"
done
# what else a search for Madonna brings: a group photo, a dog, a broken file, another person
for f in group/opencv_course/group_2.jpg nonface/dlib/dog.jpg $C/elton_john/train_1.jpg; do
    echo "$SERVED/$f"
done >> "$WS/q/madonna.txt"
"$CURATE" --workspace "$WS/ws" fetch --query "$WS/q" --quiet
"$CURATE" --workspace "$WS/ws" gallery --out "$WS/gallery" --quiet
shoot() { # HTML file, PNG, width, height
    chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars --allow-file-access-from-files \
        --window-size="$3,$4" --screenshot="$2" "file://$1" >/dev/null 2>&1
}
page=$(grep -o 'href="[^"]*madonna[^"]*\.html"' "$WS/gallery/index.html" | head -1 | sed 's/href="//;s/"$//')
shoot "$WS/gallery/$page" "$PWD/$OUT/gallery.png" 1100 900
capture_review "$WS/ws" "$WS/review.ans" --person madonna --graphics symbols
python3 "$OUT/ansi2html.py" < "$WS/review.ans" > "$WS/review.html"
shoot "$WS/review.html" "$PWD/$OUT/review.png" 1090 740
echo "wrote $OUT/gallery.png and $OUT/review.png"
