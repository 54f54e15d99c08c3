"""A second look at faces in the band: the same bar over the eyes on both faces compared.

Reads `curate-bench-identity describe-hard` output (person, file, hardening, faces counted, 128 values; each
picture also with the sunglasses' bar over its eyes, `NAME+bar`). For each of the five celebrities P and each
picture (as it is, or made hard: a 72 px thumbnail, sunglasses, a soft upscaled copy) whose face lands in P's band
(0.50 to 0.60 from the centre of P's photos as they are), it compares two pieces of evidence:
  clean   the nearest of P's other photos as they are (what the band rule's neighbour evidence looks at today);
  masked  the face with the bar over its eyes (a face in sunglasses: as it is) against the nearest of P's other
          photos with the same bar: like compared with like, the eyes hidden on both.
The face is one of P's own photos (`person`) or another person's (`intruder`). Prints both distributions per
hardening and, for faces in sunglasses, how many of each a threshold on the masked evidence would settle (at or
under) or reject (over).
Usage: python3 bench/identity/masked.py DESCRIBE_HARD_OUTPUT
"""
import collections
import math
import sys

BAND = (0.50, 0.60)
CELEBRITIES = ["ben_afflek", "elton_john", "jerry_seinfeld", "madonna", "mindy_kaling"]


def distance(a, b):
    return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b)))


faces = collections.defaultdict(dict)   # (person, file) -> picture name -> descriptor
for line in open(sys.argv[1]):
    r = line.rstrip("\n").split("\t")
    faces[(r[0], r[1])][r[2]] = [float(x) for x in r[4:]]


def barred(k, how):
    return faces[k].get("shades" if how == "shades" else how + "+bar")


rows = collections.defaultdict(list)   # (kind, hardening) -> [(centre, clean, masked)]
for p in CELEBRITIES:
    own = [k for k in faces if k[0] == p and "as_is" in faces[k]]
    centre = [sum(faces[k]["as_is"][i] for k in own) / len(own) for i in range(128)]
    for k in faces:
        for how in ("as_is", "small", "soft", "shades"):
            x = faces[k].get(how)
            if x is None or not BAND[0] <= (d := distance(x, centre)) <= BAND[1]:
                continue
            others = [j for j in own if j != k]
            clean = min(distance(x, faces[j]["as_is"]) for j in others)
            bx = barred(k, how)
            masked = min((distance(bx, faces[j]["as_is+bar"]) for j in others if "as_is+bar" in faces[j]), default=None) if bx else None
            rows[("person" if k[0] == p else "intruder", how)].append((d, clean, masked))


def spread(v):
    v = sorted(v)
    return f"min {v[0]:.3f} median {v[len(v) // 2]:.3f} max {v[-1]:.3f}" if v else "-"


print("faces in the band: nearest of the person's other photos, as they are (clean) and with the bar on both (masked)")
for how in ("as_is", "small", "soft", "shades"):
    for kind in ("person", "intruder"):
        r = rows[(kind, how)]
        m = [x[2] for x in r if x[2] is not None]
        print(f"  {how:<7}{kind:<9} {len(r):>3}  clean {spread([x[1] for x in r])}   masked ({len(m)}) {spread(m)}")
print("faces in sunglasses, threshold t on the masked evidence: settled (masked <= t) | rejected (masked > t)")
person = [x[2] for x in rows[("person", "shades")]]
intruder = [x[2] for x in rows[("intruder", "shades")]]
for t in [0.40, 0.42, 0.44, 0.46, 0.48, 0.50, 0.52, 0.54]:
    ps, is_ = sum(v <= t for v in person), sum(v <= t for v in intruder)
    print(f"  {t:.2f}  person {ps:>3} of {len(person)}, intruders {is_:>3} of {len(intruder)}"
          f"  |  person {len(person) - ps:>3}, intruders {len(intruder) - is_:>3}")
