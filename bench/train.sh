#!/usr/bin/env bash
# Training and descriptor speed, side by side in one run:
#   - `curate train --model cnn` on real face crops (the five-celebrity photos, fetched from a local server and
#     processed by curate), images/s over the epochs;
#   - the same CNN on random 64x64 batches: through the bridge's C API and written directly against libtorch in a
#     minimal C++ program (bench/torch/reference.cpp), and in PyTorch where it can be installed (bench/torch/.venv);
#   - the time per face of dlib's ResNet descriptor: `curate process --all` with and without the ResNet model file.
# Usage: bench/train.sh [EPOCHS=30]   (THREADS=N to change the thread count, default all cores)
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${1:-30}
THREADS=${THREADS:-$(nproc)}
DATA=../shared/data
[ -f "$DATA/README.md" ] || { echo "bench/train.sh needs ../shared/data (the real photos)"; exit 2; }

scripts/setup.sh >/dev/null
swift build -c release --product curate >/dev/null
swift build -c release --product CurateTorch >/dev/null
swift build -c release --product curate-test-server >/dev/null
bench/torch/build.sh >/dev/null
HAVE_PYTORCH=0
if bench/torch/pytorch-venv.sh >/dev/null 2>&1; then HAVE_PYTORCH=1; fi
CURATE=.build/release/curate
export CURATE_MODELS="$PWD/dataset/models"

OUT=$(mktemp -d)
trap 'kill -9 $SERVER 2>/dev/null; rm -rf "$OUT"' EXIT
.build/release/curate-test-server --data "$DATA" --url-file "$OUT/url" >/dev/null 2>&1 &
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
$CURATE fetch --query "$OUT/queries" --n 100 --workspace "$WS" --quiet --threads "$THREADS"
$CURATE split --seed 1 --val 0.25 --workspace "$WS" --quiet
$CURATE list --json --workspace "$WS" > "$OUT/list.json"
count() { python3 -c "import json,sys; print(sum(1 for r in json.load(open('$OUT/list.json')) if $1))"; }
IMAGES=$(count "r['split'] == 'train'")
FACES=$(count "r['verdict'] == 'kept'")   # each kept photo has one chosen face with a descriptor
IMAGES_TOTAL=$(count "True")

echo "== CNN training, 64x64 crops, batch 32, $THREADS thread(s) =="
$CURATE train --model cnn --epochs "$EPOCHS" --threads "$THREADS" --json --workspace "$WS" > "$OUT/train.json"
python3 - "$OUT/train.json" "$IMAGES" "$EPOCHS" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
eps = [e["images_per_second"] for e in r["history"]][1:] or [r["images_per_second"]]
print(f"curate   train --model cnn, {sys.argv[2]} real crops x {sys.argv[3]} epochs: "
      f"{r['images_per_second']:.1f} images/s overall, {sum(eps)/len(eps):.1f} images/s after the first epoch "
      f"(validation accuracy {r['accuracy']:.3f}, {r['seconds']:.1f} s with evaluation)")
EOF
N=$(( IMAGES * EPOCHS ))
# Each side in its own process: the second would inherit the first one's warmed-up malloc state.
ONLY=bridge bench/torch/.build-torch/reference "$N" 32 "$THREADS" | grep -E "images/s"
# The bridge raises glibc malloc's mmap and trim thresholds (1.5x faster); the others get the same by tunables.
SAME_MALLOC="glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=134217728"
ONLY=direct GLIBC_TUNABLES=$SAME_MALLOC bench/torch/.build-torch/reference "$N" 32 "$THREADS" | grep -E "images/s"
if [ $HAVE_PYTORCH = 1 ]; then
    GLIBC_TUNABLES=$SAME_MALLOC bench/torch/.venv/bin/python bench/torch/reference_train.py "$N" 32 "$THREADS" | grep -E "images/s"
else
    echo "pytorch  not installable here (bench/torch/pytorch-venv.sh): the C++ lines above are the reference"
fi

echo "== dlib ResNet face descriptors, 1 thread =="
mkdir -p "$OUT/no-resnet"
cp "$CURATE_MODELS/shape_predictor_5_face_landmarks.dat" "$OUT/no-resnet/"
t0=$(date +%s.%N)
CURATE_MODELS="$OUT/no-resnet" $CURATE process --all --threads 1 --quiet --workspace "$WS"
t1=$(date +%s.%N)
$CURATE process --all --threads 1 --quiet --workspace "$WS"
t2=$(date +%s.%N)
python3 - "$t0" "$t1" "$t2" "$FACES" "$IMAGES_TOTAL" <<'EOF'
import sys
t0, t1, t2, faces, images = map(float, sys.argv[1:])
without, with_ = t1 - t0, t2 - t1
print(f"process --all of {int(images)} photos: {without:.1f} s without descriptors, {with_:.1f} s with; "
      f"{(with_ - without) / faces * 1000:.0f} ms per face descriptor ({int(faces)} faces)")
EOF
