# Puts a real photo behind every image row of a synthetic catalog (curate-bench-scale make), and a real face chip
# behind every chosen face's chip path, so `curate gallery` has real files to decode and link: the photos of
# ../shared/data (faces, single_face, group, nonface; 150 px to 2,000 px), taken in turn, hard-linked (copied where
# a link cannot be made). Each row keeps its own SHA-256, so each gets its own thumbnail.
# Usage: python3 place.py WORKSPACE DATA
import os, shutil, sqlite3, sys

ws, data = sys.argv[1], sys.argv[2]
photos = sorted(os.path.join(d, f) for sub in ("faces", "single_face", "group", "nonface")
                for d, _, files in os.walk(os.path.join(data, sub)) for f in files
                if f.lower().endswith((".jpg", ".jpeg", ".png")))
if not photos:
    sys.exit("place.py: no photos under " + data)
chips = [p for p in photos if "/faces/" in p]

def put(source, relative):
    target = os.path.join(ws, relative)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if os.path.exists(target):
        return
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)

db = sqlite3.connect(os.path.join(ws, "catalog.sqlite"))
n = 0
for i, (path,) in enumerate(db.execute("SELECT coalesce(normalizedPath, path) FROM image ORDER BY id")):
    put(photos[i % len(photos)], path); n += 1
c = 0
for i, (path,) in enumerate(db.execute("SELECT chipPath FROM face WHERE chipPath IS NOT NULL ORDER BY id")):
    put(chips[i % len(chips)], path); c += 1
print(f"placed {n} photos ({len(photos)} distinct real ones) and {c} chips")
