#!/usr/bin/env bash
# A second look at faces in the band: each celebrity photo of ../shared/data as it is and made hard (a 72 px
# thumbnail, sunglasses, a soft upscaled copy), each also with the sunglasses' bar over its eyes
# (curate-bench-identity describe-hard), then the nearest of the person's other photos compared with the eyes of both
# visible and hidden under the same bar (bench/identity/masked.py); last, the faces in sunglasses as processing's
# second look describes them, against the crowd of the other celebrities' photos (BandRule.cohortAgainst); and the
# faces in the band a little nearer another celebrity's identity than their own, with what else speaks for or against.
# Usage: bench/identity/masked.sh. KEEP=1 keeps the descriptors; JITTER=1 also measures descriptors averaged over each
# chip's mirror image and shifted copies (as the face_recognition package's num_jitters does).
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/lib.sh
need_shared_data masked "its celebrity photos are the faces compared"
swift build --product curate-bench-identity >/dev/null
OUT=$(mktemp -d /tmp/curate-masked.XXXXXX)
on_exit '[ -n "${KEEP:-}" ] || rm -rf "$OUT"'
export CURATE_MODELS="${CURATE_MODELS:-$PWD/dataset/models}"
.build/debug/curate-bench-identity describe-hard "$DATA" > "$OUT/hard.tsv"
[ -z "${KEEP:-}" ] || echo "kept $OUT/hard.tsv"
python3 bench/identity/masked.py "$OUT/hard.tsv"
