#!/usr/bin/env bash
# The review screen side by side in tmux: the same photos (group photos, a dog) drawn with half blocks and with
# chafa's symbols in a 120x40 pane, captured with colours (`tmux capture-pane -e -p`) into OUT/blocks.ans and
# OUT/symbols.ans (view them with `cat` in a 24-bit colour terminal of at least 120 columns).
# The photos are served from 127.0.0.1 and fetched as direct URLs, so the workspace is made by curate itself.
# Usage: bench/pictures.sh [OUT=/tmp/curate-pictures]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
OUT=${1:-/tmp/curate-pictures}
need_shared_data bench/pictures.sh "the comparison needs the real photos of ../shared/data"
curate_binary debug
export CURATE_MODELS=${CURATE_MODELS:-$PWD/dataset/models}
mkdir -p "$OUT"
WS=$(mktemp -d /tmp/curate-pictures-ws.XXXXXX)
on_exit "rm -rf '$WS'"
serve_shared_data
mkdir -p "$WS/q"
for f in group/opencv_course/group_2.jpg group/dlib_voc/2008_001009.jpg nonface/dlib/dog.jpg; do
    echo "$SERVED/$f"
done > "$WS/q/someone.txt"
"$CURATE" --workspace "$WS/ws" fetch --query "$WS/q" --quiet
for mode in blocks symbols; do
    capture_review "$WS/ws" "$OUT/$mode.ans" --graphics "$mode"
done
echo "captured: $OUT/blocks.ans $OUT/symbols.ans"
