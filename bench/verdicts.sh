#!/usr/bin/env bash
# Check: two builds of curate give every photo of ../shared/data the same verdict, reason and face count.
# For a change to detection or descriptors (see docs/benchmarks.md): every photo (faces/ under each person's name,
# group/, single_face/, nonface/, edge/, gif/, broken/) is fetched once from a local server into a workspace, which
# is copied; each build processes its copy (`process --all`), and the two catalogs are compared image by image:
# verdict and reason (and the verdict and reason the image earned on its own, before dedupe) must be the same, and
# the number of faces the same or closer to the number known to be there (the README's counts of the group photos,
# one in single_face/, none in nonface/); it also prints how many face boxes moved and how far apart the
# descriptors of the faces found both times are.
# With bench/.venv (made by bench/process.sh), bench/process.sh's medium, large and xlarge sets (group/,
# single_face/, nonface/ and edge/ at 1,280, 3,000 and 4,800 px) are checked the same way, each in a workspace of
# its own (they are copies of one another). Exits 1 when a verdict or reason differs, or a face count differs and
# is not closer to the known one.
# Usage: bench/verdicts.sh BEFORE_CURATE AFTER_CURATE
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
BEFORE=$(realpath "$1"); AFTER=$(realpath "$2")
need_shared_data verdicts "the check needs the real photos of ../shared/data"
OUT=$(mktemp -d /tmp/curate-verdicts.XXXXXX)
on_exit 'rm -rf "$OUT"'

# What is served: ../shared/data, and the scaled sets beside it.
mkdir -p "$OUT/data"
for f in "$DATA"/*; do ln -s "$f" "$OUT/data/"; done
SETS=(shared)
if [ -x bench/.venv/bin/python ]; then
    SETS+=(medium large xlarge)
    bench/.venv/bin/python - "$DATA" "$OUT/data" <<'PY'
import glob, os, sys
from PIL import Image
data, out = sys.argv[1], sys.argv[2]
photos = sorted(p for d in ("group", "single_face", "nonface", "edge") for p in glob.glob(f"{data}/{d}/**/*.jpg", recursive=True))
for name, size, quality in (("medium", 1280, 85), ("large", 3000, 90), ("xlarge", 4800, 90)):
    os.makedirs(f"{out}/{name}")
    for i, p in enumerate(photos):
        im = Image.open(p).convert("RGB")
        s = size / max(im.size)
        im.resize((round(im.width * s), round(im.height * s)), Image.LANCZOS).save(f"{out}/{name}/{i:03d}_{os.path.basename(p)}", quality=quality)
PY
fi
DATA=$OUT/data
serve_shared_data
URL=$SERVED
# One query folder a set, one query file a person: each named person's photos under the name, the rest by folder.
mkdir -p "$OUT/q-shared" "$OUT/q-medium" "$OUT/q-large" "$OUT/q-xlarge"
(cd "$OUT/data" && for d in faces/*/*/; do
    find -L "$d" -type f | sort | sed "s#^#$URL/#" > "$OUT/q-shared/$(basename "$d").txt"
done
for d in group single_face nonface edge gif broken; do
    find -L "$d" -type f ! -name '*.xml' | sort | sed "s#^#$URL/#" > "$OUT/q-shared/$d.txt"
done
for d in "${SETS[@]:1}"; do find -L "$d" -type f | sort | sed "s#^#$URL/#" > "$OUT/q-$d/$d.txt"; done)
for set in "${SETS[@]}"; do
    n=$(cat "$OUT/q-$set"/*.txt | wc -l)
    "$AFTER" fetch --query "$OUT/q-$set" --n "$n" --no-process --quiet --workspace "$OUT/ws-$set" >/dev/null
done

status=0
for set in "${SETS[@]}"; do
    cp -a "$OUT/ws-$set" "$OUT/before-$set"; mv "$OUT/ws-$set" "$OUT/after-$set"
    "$BEFORE" process --all --quiet --workspace "$OUT/before-$set" >/dev/null
    "$AFTER" process --all --quiet --workspace "$OUT/after-$set" >/dev/null
    echo "$set:"
    python3 - "$OUT/before-$set/catalog.sqlite" "$OUT/after-$set/catalog.sqlite" <<'PY' || status=1
import math, os, sqlite3, struct, sys
def load(path):
    db = sqlite3.connect(path)
    images = {row[0]: row[1:] for row in db.execute(
        "SELECT a.url, i.verdict, i.reason, i.ownVerdict, i.ownReason, i.faces FROM image i JOIN attempt a ON a.id = i.attemptId")}
    faces = {}
    for url, l, t, r, b, d in db.execute(
            "SELECT a.url, f.left, f.top, f.right, f.bottom, f.descriptor FROM face f "
            "JOIN image i ON i.id = f.imageId JOIN attempt a ON a.id = i.attemptId"):
        faces.setdefault(url, []).append(((l, t, r, b), struct.unpack("<128f", d) if d else None))
    return images, faces
bi, bf = load(sys.argv[1]); ai, af = load(sys.argv[2])
name = lambda url: url.split("/", 3)[-1]
# Faces known to be in a photo (../shared/data/README.md; group_1's crowd has about 28), for a face count that changes.
known = {"2007_007763": 7, "2008_001009": 2, "2008_001322": 3, "2008_002079": 6, "group_2": 5, "group_1": 28}
def known_count(url):
    base = os.path.splitext(os.path.basename(url))[0]
    for k, n in known.items():
        if base.endswith(k): return n
    return 1 if "single_face/" in url else 0 if "nonface/" in url else None
failed = 0
for u in sorted(set(bi) | set(ai)):
    b, a = bi.get(u), ai.get(u)
    if b == a: continue
    n = known_count(u)
    closer = (b is not None and a is not None and b[:4] == a[:4] and None not in (b[4], a[4], n)
              and abs(a[4] - n) < abs(b[4] - n))
    failed += not closer
    print(f"  {'faces closer to the known ' + str(n) if closer else 'DIFFERENT'} {name(u)}: before {b}, after {a}")
# Each face after matched with the before face its box overlaps most.
def iou(p, q):
    w = min(p[2], q[2]) - max(p[0], q[0]); h = min(p[3], q[3]) - max(p[1], q[1])
    inter = max(w, 0) * max(h, 0)
    return inter / ((p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - inter)
moved, new, dist = 0, 0, []
for u, faces in af.items():
    for box, d in faces:
        overlap, match = max(((iou(box, fb), (fb, fd)) for fb, fd in bf.get(u, [])), default=(0, None), key=lambda x: x[0])
        if overlap < 0.5: new += 1; continue
        moved += match[0] != box
        if d and match[1]: dist.append((math.dist(d, match[1]), name(u)))
dist.sort()
nb, na = sum(map(len, bf.values())), sum(map(len, af.values()))
print(f"  {len(bi)} images: {len(bi) - failed} with the same verdict and reason and the same faces or closer to the known count, {failed} different")
print(f"  {nb} faces before, {na} after; of those after, {new} not found before (box overlap under 0.5), {moved} found with a box moved")
if dist:
    print(f"  descriptors of {len(dist)} faces found both times: {sum(d < 1e-4 for d, _ in dist)} within 1e-4, median distance "
          f"{dist[len(dist) // 2][0]:.2g}, largest {dist[-1][0]:.3f} ({dist[-1][1]})")
sys.exit(1 if failed else 0)
PY
done
exit $status
