"""The Python reference for bench/process.sh: the work of `curate process`, done with face_recognition over dlib.

For each image, one process (one core), timed by stage:
  read        the file's bytes
  decode      Pillow (as face_recognition.load_image_file), EXIF orientation applied
  hash        SHA-256 of the pixels and imagehash's pHash
  files       the normalised copy (JPEG q92) and each described face's 150x150 chip (JPEG q95)
  detect      face_recognition.face_locations (dlib HOG) with curate's policy: shrunk to 2000 px at most, one
              upsample when the longer side is under 1000 px
  landmarks   face_recognition's 5-point shape predictor, for each described face
  descriptor  dlib.get_face_chips + face_recognition's ResNet encoder (face_encodings' model), the image's described
              faces in one batch
  catalog     one SQLite row per image, committed every 16 images
The faces described are curate's (Processor): every face of an image with at most 8 found, so that identity can
choose the person's among them; in a larger crowd only a lone counted face (a face counts when its area is at least a
quarter of the largest's). The verdict counts the counted faces. REFERENCE_FACES=one describes only the face of an
image with exactly one found and counts every face, as this reference did before curate described group photos' faces
(its figures before stop 36 were measured so).
Prints one JSON line: images, seconds, verdict counts, seconds per stage.
"""
import hashlib
import io
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time

import dlib
import face_recognition
import face_recognition.api as fr
import imagehash
import numpy as np
from PIL import Image, ImageOps

MAX_SIDE = 2000
UPSAMPLE_BELOW = 1000
MAX_GROUP_FACES = 8
SMALL_FACE_RATIO = 0.25
EVERY_FACE = os.environ.get("REFERENCE_FACES", "every") != "one"


def main(paths):
    out = tempfile.mkdtemp(prefix="curate-ref-")
    db = sqlite3.connect(os.path.join(out, "catalog.sqlite"))
    db.execute("create table image (path text, width int, height int, sha text, phash text, verdict text, descriptor blob)")
    stages = dict.fromkeys(["read", "decode", "hash", "files", "detect", "landmarks", "descriptor", "catalog"], 0.0)
    verdicts = {}
    pending = 0

    def timed(stage, started):
        now = time.perf_counter()
        stages[stage] += now - started
        return now

    start = time.perf_counter()
    for n, path in enumerate(paths):
        t = time.perf_counter()
        data = open(path, "rb").read()
        t = timed("read", t)
        try:
            pil = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
            rgb = np.asarray(pil)
        except Exception:
            verdicts["corrupt"] = verdicts.get("corrupt", 0) + 1
            continue
        t = timed("decode", t)
        sha = hashlib.sha256(f"{rgb.shape[1]}x{rgb.shape[0]}:".encode() + rgb.tobytes()).hexdigest()
        phash = str(imagehash.phash(pil))
        t = timed("hash", t)
        pil.save(os.path.join(out, f"{n}.jpg"), quality=92)
        t = timed("files", t)
        longer = max(rgb.shape[:2])
        work, scale = rgb, 1.0
        if longer > MAX_SIDE:
            scale = MAX_SIDE / longer
            work = np.asarray(pil.resize((max(1, int(rgb.shape[1] * scale)), max(1, int(rgb.shape[0] * scale))), Image.BILINEAR))
        upsample = 1 if longer * scale < UPSAMPLE_BELOW else 0
        faces = face_recognition.face_locations(work, number_of_times_to_upsample=upsample, model="hog")
        t = timed("detect", t)
        areas = [(right - left) * (bottom - top) for top, right, bottom, left in faces]
        counted = [a >= SMALL_FACE_RATIO * max(areas) for a in areas] if areas else []
        if EVERY_FACE:
            described = [i for i in range(len(faces)) if len(faces) <= MAX_GROUP_FACES or (sum(counted) == 1 and counted[i])]
            key = "no_face" if not any(counted) else ("kept" if sum(counted) == 1 else "multi_face")
        else:
            described = [0] if len(faces) == 1 else []
            key = "no_face" if not faces else ("kept" if len(faces) == 1 else "multi_face")
        descriptor = None
        if described:
            shapes = dlib.full_object_detections()
            for i in described:
                top, right, bottom, left = faces[i]
                box = dlib.rectangle(int(left / scale), int(top / scale), int(right / scale), int(bottom / scale))
                shapes.append(fr.pose_predictor_5_point(rgb, box))
            t = timed("landmarks", t)
            chips = dlib.get_face_chips(rgb, shapes, size=150, padding=0.25)
            descriptors = [np.array(d, dtype=np.float32) for d in fr.face_encoder.compute_face_descriptor(chips)]
            t = timed("descriptor", t)
            for i, chip in zip(described, chips):
                Image.fromarray(chip).save(os.path.join(out, f"{n}_{i}.jpg"), quality=95)
            t = timed("files", t)
            if key == "kept":
                descriptor = descriptors[described.index(counted.index(True))]
        verdicts[key] = verdicts.get(key, 0) + 1
        db.execute("insert into image values (?, ?, ?, ?, ?, ?, ?)",
                   (path, rgb.shape[1], rgb.shape[0], sha, phash, key, descriptor.tobytes() if descriptor is not None else None))
        pending += 1
        if pending == 16:
            db.commit()
            pending = 0
        timed("catalog", t)
    t = time.perf_counter()
    db.commit()
    timed("catalog", t)
    seconds = time.perf_counter() - start
    db.close()
    shutil.rmtree(out)
    print(json.dumps({"images": len(paths), "seconds": seconds, "verdicts": verdicts, "stages": stages}))


if __name__ == "__main__":
    main([line.strip() for line in open(sys.argv[1]) if line.strip()])
