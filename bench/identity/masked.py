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
under) or reject (over), and how other evidence (the 2 or 3 nearest barred photos, the barred photos' centre, the
distance to the centre, sums of two, and the nearest barred photo set against a cohort: the same face's distances to
the barred photos of people who are neither P nor the face's own, as a stranger would meet them) ranks the person's
own before the intruders. Output of `JITTER=1 curate-bench-identity describe-hard` (each chip also mirrored and
shifted, `NAME~m`, `NAME~s4,0`, ...) is measured three times: plain, each descriptor averaged with its mirror's,
and averaged over all ten copies (the face_recognition package's `num_jitters`). Last, the faces in a band a
little nearer another celebrity's identity than P's, and what else speaks for or against them (`nearest_identity`).
Usage: python3 bench/identity/masked.py DESCRIBE_HARD_OUTPUT
"""
import collections
import functools
import math
import sys

BAND = (0.50, 0.60)
CELEBRITIES = ["ben_afflek", "elton_john", "jerry_seinfeld", "madonna", "mindy_kaling"]


def distance(a, b):
    return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b)))


copies = collections.defaultdict(lambda: collections.defaultdict(dict))   # (person, file) -> picture -> copy -> descriptor
for line in open(sys.argv[1]):
    r = line.rstrip("\n").split("\t")
    name, _, copy = r[2].partition("~")
    copies[(r[0], r[1])][name][copy] = [float(x) for x in r[4:]]
jittered = any(len(c) > 1 for pictures in copies.values() for c in pictures.values())


def person_centre(faces, p, without=None):
    """P's photos as they are, and their centre (`without` one of them: a photo measured against an identity made
    without it)."""
    own = [k for k in faces if k[0] == p and "as_is" in faces[k] and k != without]
    return own, [sum(faces[k]["as_is"][i] for k in own) / len(own) for i in range(128)]


def standard_score(d, crowd):
    """How many standard deviations `d` lies from the mean of the distances `crowd` (negative: nearer)."""
    mean = sum(crowd) / len(crowd)
    return (d - mean) / math.sqrt(sum((c - mean) ** 2 for c in crowd) / len(crowd))


def averaged(use):
    """(person, file) -> picture name -> its descriptor averaged over the copies `use` takes."""
    out = collections.defaultdict(dict)
    for k, pictures in copies.items():
        for name, c in pictures.items():
            taken = [v for copy, v in c.items() if use(copy)]
            out[k][name] = [sum(x) / len(taken) for x in zip(*taken)]
    return out


def analyse(faces):
    def barred(k, how):
        return faces[k].get("shades" if how == "shades" else how + "+bar")

    rows = collections.defaultdict(list)   # (kind, hardening) -> [(centre, clean, masked)]
    evidence = {True: [], False: []}         # faces in sunglasses in the band, own (True) or intruders: evidence by name
    for p in CELEBRITIES:
        own, centre = person_centre(faces, p)
        for k in faces:
            for how in ("as_is", "small", "soft", "shades"):
                x = faces[k].get(how)
                if x is None or not BAND[0] <= (d := distance(x, centre)) <= BAND[1]:
                    continue
                others = [j for j in own if j != k]
                clean = min(distance(x, faces[j]["as_is"]) for j in others)
                bx = barred(k, how)
                barred_others = [faces[j]["as_is+bar"] for j in others if "as_is+bar" in faces[j]] if bx else []
                near = sorted(distance(bx, o) for o in barred_others)
                masked = near[0] if near else None
                rows[("person" if k[0] == p else "intruder", how)].append((d, clean, masked))
                if how == "shades" and near:
                    barred_centre = [sum(o[i] for o in barred_others) / len(barred_others) for i in range(128)]
                    # The cohort: the barred photos of the people who are neither P nor the face's own (to P, the
                    # face's own person is a stranger, as the planting's intruders are).
                    cohort = sorted(distance(bx, faces[j]["as_is+bar"]) for j in faces
                                    if j[0] not in (p, k[0]) and "as_is+bar" in faces[j])
                    evidence[k[0] == p].append({"nearest": near[0], "nearest 2": sum(near[:2]) / 2, "nearest 3": sum(near[:3]) / 3,
                                                "barred centre": distance(bx, barred_centre), "as they are": clean,
                                                "centre": d, "nearest, cohort z": standard_score(near[0], cohort),
                                                "nearest - cohort nearest": near[0] - cohort[0],
                                                "nearest / cohort 5th": near[0] / cohort[4]})

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

    # Other evidence for the faces in sunglasses, each alone and two sums of two: how well it ranks the person's own
    # faces before the intruders (the share of (own, intruder) pairs in which the own face has the smaller value), and
    # how many intruders a threshold that keeps every own face would reject. Measured on these faces only: a sum's
    # weight chosen here is not held out.
    own, intruders = evidence[True], evidence[False]
    if own and intruders:
        print("faces in sunglasses: other evidence (ranked own before intruder; intruders over the largest own value)")
        measures = [(name, (lambda n: lambda e: e[n])(name)) for name in own[0]]
        measures += [("nearest + as they are", lambda e: e["nearest"] + e["as they are"]),
                     ("nearest + centre", lambda e: e["nearest"] + e["centre"])]
        for name, f in measures:
            a, b = [f(e) for e in own], [f(e) for e in intruders]
            ranked = sum((x < y) + 0.5 * (x == y) for x in a for y in b) / (len(a) * len(b))
            print(f"  {name:<24} {ranked:.3f}   {sum(y > max(a) for y in b):>3} of {len(b)}")


def crowd(faces):
    """Faces in sunglasses as processing's second look measures them: each chip with the bar painted at the alignment
    template's eyes (`NAME+chipbar`), its nearest among P's sure photos (within 0.50 of P's centre) so described, and
    that distance in standard deviations from the face's distances to the crowd: the first 32 photos of each other
    celebrity (not P, nor the face's own person: to P it is a stranger), so described (BandRule.cohortAgainst)."""
    rows = {True: [], False: []}
    for p in CELEBRITIES:
        own, centre = person_centre(faces, p)
        sure = [k for k in own if distance(faces[k]["as_is"], centre) <= 0.50 and "as_is+chipbar" in faces[k]]
        for k in faces:
            x, bx = faces[k].get("shades"), faces[k].get("shades+chipbar")
            if x is None or bx is None or not BAND[0] <= distance(x, centre) <= BAND[1]:
                continue
            near = min(distance(bx, faces[j]["as_is+chipbar"]) for j in sure if j != k)
            others = []
            for q in CELEBRITIES:
                if q not in (p, k[0]):
                    others += sorted(j for j in faces if j[0] == q and "as_is+chipbar" in faces[j])[:32]
            rows[k[0] == p].append((standard_score(near, [distance(bx, faces[j]["as_is+chipbar"]) for j in others]), near))
    print("faces in sunglasses as the second look measures them: nearest barred sure photo (standard score against the crowd)")
    for own in (True, False):
        r = sorted(rows[own])
        print(f"  {'person' if own else 'intruder':<9} {len(r):>3}  " + " ".join(f"{z:.2f} ({n:.3f})" for z, n in r))
        for t in (-2.5, -2.0, -1.5):
            print(f"    over {t}: {sum(z > t for z, _ in r)}, of them between maskedFor and maskedAgainst (0.44-0.54): "
                  f"{sum(z > t and 0.44 < n <= 0.54 for z, n in r)}, within maskedFor: {sum(z > t and n <= 0.44 for z, n in r)}")


def nearest_identity(faces):
    """The nearest identity as a voice: faces in P's band (P's centre without the face's own photo) that lie nearer
    another celebrity's centre (without the face's own photo either) than P's, by less than BandRule.otherMargin
    (0.04; by more, that decides already). Would "nearer another identity, and nothing speaks for the person" reject
    intruders the rule does not reject already, and none of the person's own photos? For: a sure photo of P (within
    0.50 of the centre) within neighbourFor (0.54), the distance within spreadFor (1.3) times P's median, or, in
    sunglasses, a barred sure photo within maskedFor (0.44). Against already: no sure photo within neighbourAgainst
    (0.64), in sunglasses no barred one within maskedAgainst (0.54), or a sure photo of someone whose centre is within
    0.60 nearer than any of P's (otherFaceDecides; not of the face's own photo: the same face under two people)."""
    @functools.cache
    def identity(p, without):
        """P's centre without the photo `without`, P's sure photos (within 0.50 of it) and the median distance of P's
        photos to it; each made once."""
        own, c = person_centre(faces, p, without)
        to_centre = {j: distance(faces[j]["as_is"], c) for j in own}
        return c, [j for j in own if to_centre[j] <= 0.50], sorted(to_centre.values())[len(own) // 2]
    counts = collections.Counter()
    lines = []
    for p in CELEBRITIES:
        for k in faces:
            c, sure, median = identity(p, k)
            for how in ("as_is", "small", "soft", "shades"):
                x = faces[k].get(how)
                if x is None or not BAND[0] < (d := distance(x, c)) <= BAND[1]:
                    continue
                kind = "person" if k[0] == p else "intruder"
                counts[(kind, "in a band")] += 1
                theirs = {q: identity(q, k) for q in CELEBRITIES if q != p}
                other, q = min((distance(x, theirs[q][0]), q) for q in theirs)
                if not 0 < d - other < 0.04:
                    continue
                nearest = min(distance(x, faces[j]["as_is"]) for j in sure)
                spread = d / median
                pro, con = [], []
                if how == "shades":
                    barred = min(distance(x, faces[j]["as_is+bar"]) for j in sure if "as_is+bar" in faces[j])
                    (pro if barred <= 0.44 else con if barred > 0.54 else []).append(f"barred {barred:.3f}")
                else:
                    if nearest <= 0.54 or spread <= 1.3:
                        pro.append(f"sure photo {nearest:.3f}, {spread:.2f}x the median")
                    if nearest > 0.64:
                        con.append("no sure photo within 0.64")
                for r, (rc, rsure, _) in theirs.items():
                    if distance(x, rc) <= 0.60 and (near := min(distance(x, faces[j]["as_is"]) for j in rsure)) < nearest:
                        con.append(f"{r}'s sure photo {near:.3f}")
                counts[(kind, "for" if pro else "against" if con else "the voice decides")] += 1
                lines.append(f"    {kind:<9} {k[0]}/{k[1]} {how} under {p}: {d:.3f}, {q}'s centre {d - other:.3f} nearer;"
                             f" for: {', '.join(pro) or '-'}; against: {', '.join(con) or '-'}")
    print("faces in the band nearer another celebrity's centre than the person's, by less than 0.04 (otherMargin)")
    for kind in ("person", "intruder"):
        print(f"  {kind:<9} {sum(v for (k, w), v in counts.items() if k == kind and w != 'in a band'):>3} of {counts[(kind, 'in a band')]}: something for {counts[(kind, 'for')]}, "
              f"against already {counts[(kind, 'against')]}, nothing either way (the voice would decide) {counts[(kind, 'the voice decides')]}")
    print("\n".join(lines))

if jittered:
    for title, use in [("plain descriptors", lambda copy: copy == ""),
                       ("each averaged with its mirror's", lambda copy: copy in ("", "m")),
                       ("each averaged over its ten copies", lambda copy: True)]:
        print(f"== {title}")
        analyse(averaged(use))
else:
    analyse(averaged(lambda copy: True))
if any("as_is+chipbar" in pictures for pictures in copies.values()):
    crowd(averaged(lambda copy: copy == ""))
nearest_identity(averaged(lambda copy: copy == ""))
