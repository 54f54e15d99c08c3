"""The Python reference for bench/process.sh: the same steps as `curate process` with the same detector.

Pillow verify, OpenCV decode, dlib HOG with one upsample (face_recognition.face_locations), imagehash pHash,
one process (one core). Prints one JSON line: images, seconds, faces found per verdict.
"""
import io
import json
import sys
import time

import cv2
import face_recognition
import imagehash
import numpy as np
from PIL import Image


def main(paths):
    verdicts = {}
    start = time.perf_counter()
    for path in paths:
        data = open(path, "rb").read()
        try:
            Image.open(io.BytesIO(data)).verify()
            pil = Image.open(io.BytesIO(data)).convert("RGB")
        except Exception:
            verdicts["corrupt"] = verdicts.get("corrupt", 0) + 1
            continue
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) if bgr is not None else np.asarray(pil)
        faces = face_recognition.face_locations(rgb, number_of_times_to_upsample=1, model="hog")
        imagehash.phash(pil)
        key = "no_face" if not faces else ("kept" if len(faces) == 1 else "multi_face")
        verdicts[key] = verdicts.get(key, 0) + 1
    print(json.dumps({"images": len(paths), "seconds": time.perf_counter() - start, "verdicts": verdicts}))


if __name__ == "__main__":
    main([line.strip() for line in open(sys.argv[1]) if line.strip()])
