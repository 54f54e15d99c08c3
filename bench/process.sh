#!/usr/bin/env bash
# Benchmark: the whole `curate process` pipeline side by side with a Python reference doing the same work
# (bench/reference_process.py: face_recognition over dlib built on BLAS by curate's compiler, every face of a photo of
# up to 8 described as curate does; REFERENCE_ONE=1 adds a row for it describing one-face photos only, and
# REFERENCE_BIN=1 one for the dlib-bin wheel, as before stop 36), in one run, on four sets:
#   small  the 150x150 LFW photos of faces/dlib_johns and the photos of faces/opencv_course_5celeb whose longer
#          side is at most 250 px, as they are;
#   medium the same photos as large at 1280 px on the longer side, JPEG quality 85: the size of the Commons
#          thumbnails fetch downloads by default;
#   large  every photo of group/, single_face/, nonface/ and edge/ scaled up (Lanczos, Pillow) to 3000 px on the
#          longer side and saved as JPEG quality 90: web-photo sizes (4-7 megapixels) made from real photos;
#   xlarge the same at 4800 px (camera originals, 15-23 megapixels): the size curate decodes at a DCT reduction.
# Prints images/s/core for one thread (curate and the reference pinned to one core with taskset) and for all
# cores, and where the time goes by stage; BEFORE=path/to/curate adds a row for another build (an earlier commit),
# its one-thread runs alternating with curate's round by round (the best of each by CPU seconds), so that a change
# of load on a shared machine falls on both. Usage: bench/process.sh [ROUNDS=3] (of ROUNDS runs, the one of least
# CPU is shown).
# MARGINAL=1 also prints what each further photo costs each program, their starts taken out (see below).
# SETS="small medium" picks sets; PROFILE=1 also records `perf record -g` of curate with one thread on each set and
# prints the functions and libraries the time goes to (perf must be installed).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
DATA="$(cd .. && pwd)/shared/data"
[ -f "$DATA/README.md" ] || { echo "bench: $DATA is absent; the benchmark needs the real photos of ../shared/data" >&2; exit 2; }
scripts/setup.sh
CORES=$(nproc)

# The references: face_recognition 1.3 over dlib, Pillow, imagehash; their model files from the same
# face_recognition_models 0.3.0 archive setup.sh takes curate's from:
#   python-reference     (bench/.venv) dlib 20.0.1 built from its source on this machine's BLAS (the OpenBLAS
#                        setup.sh installs), by the compiler and with the flags curate's own C++ is built with (the
#                        Swift toolchain's clang, -O3 -march=native). Of the builds tried in stop 36 the fastest at
#                        both detection and descriptors (the same build by GCC 12 detected 1.4-1.5x as slowly);
#   python-ref-dlib-bin  (bench/.venv-bin, REFERENCE_BIN=1) the prebuilt dlib-bin wheel, the only reference until
#                        stop 36: it has no BLAS, so its face descriptors take about 5 times as long (80-100 ms a
#                        face against 17), and it detects 1.05-1.2x as slowly.
#   python-ref-pip       (bench/.venv-pip, REFERENCE_PIP=1) dlib 20.0.1 as `pip install face_recognition` builds it
#                        (PyPI has no dlib wheel): from its source with the system's compiler (GCC 12) and the
#                        flags dlib's own build picks (-O3, AVX where the CPU has it), on the same BLAS.
# With more than one, each set is also compared with the fastest (by CPU an image and per further photo).
REFERENCE_BIN=${REFERENCE_BIN:-0}
REFERENCE_PIP=${REFERENCE_PIP:-0}
# A venv with dlib 20.0.1 built from its source on BLAS (the first time 8-10 minutes on 2 cores), face_recognition
# and its models. Its .curate-recipe says how it was built; one built any other way is built again.
dlib_venv() {  # dir recipe [VAR=value | -u VAR]... (the build's environment, given to env)
    local dir=$1 recipe=$2; shift 2
    [ "$(cat "$dir/.curate-recipe" 2>/dev/null)" = "$recipe" ] &&
        "$dir/bin/python" -c 'import dlib, face_recognition, imagehash; assert dlib.DLIB_USE_BLAS' 2>/dev/null && return
    echo "bench: building dlib from its source into $dir ($recipe; 8-10 minutes)" >&2
    rm -rf "$dir"
    python3 -m venv "$dir"
    env "$@" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
        "$dir/bin/pip" install --quiet --no-cache-dir --no-binary dlib dlib==20.0.1 pillow imagehash numpy
    "$dir/bin/pip" install --quiet --no-deps face_recognition "${XDG_CACHE_HOME:-$HOME/.cache}/curate/face_recognition_models-0.3.0.tar.gz"
    "$dir/bin/python" -c 'import dlib; assert dlib.DLIB_USE_BLAS, "dlib was built without a BLAS"'
    echo "$recipe" > "$dir/.curate-recipe"
}
command -v clang++ >/dev/null || { echo "bench: clang++ (the Swift toolchain's) is not on PATH" >&2; exit 2; }
VENV=bench/.venv
dlib_venv "$VENV" 'dlib==20.0.1 --no-binary dlib, clang -O3 -march=native, on BLAS' \
    CC=clang CXX=clang++ CFLAGS="-O3 -march=native" CXXFLAGS="-O3 -march=native"
VENV_PIP=bench/.venv-pip
[ "$REFERENCE_PIP" = 0 ] || dlib_venv "$VENV_PIP" 'dlib==20.0.1 --no-binary dlib, the default compiler and flags, on BLAS' \
    -u CC -u CXX -u CFLAGS -u CXXFLAGS
VENV_BIN=bench/.venv-bin
if [ "$REFERENCE_BIN" = 1 ] && ! "$VENV_BIN/bin/python" -c 'import dlib, face_recognition, imagehash' 2>/dev/null; then
    python3 -m venv "$VENV_BIN"
    "$VENV_BIN/bin/pip" install --quiet dlib-bin pillow imagehash numpy
    "$VENV_BIN/bin/pip" install --quiet --no-deps face_recognition "${XDG_CACHE_HOME:-$HOME/.cache}/curate/face_recognition_models-0.3.0.tar.gz"
fi

# SCRATCH: the build folder (another than .build lets a release build run beside a debug one).
# PREBUILT: a folder holding curate and curate-test-server already built (nothing is built then).
SCRATCH=${SCRATCH:-.build}
if [ -z "${PREBUILT:-}" ]; then
    swift build -c release --scratch-path "$SCRATCH" --product curate >/dev/null
    swift build -c release --scratch-path "$SCRATCH" --product curate-test-server >/dev/null
fi
BIN=${PREBUILT:-$SCRATCH/release}
OUT=$(mktemp -d /tmp/curate-pbench.XXXXXX)
trap 'kill -9 $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$OUT"' EXIT

# The two sets, as files under $OUT/sets/<set>/.
SETS=${SETS:-small medium large xlarge}
mkdir -p "$OUT/sets/small" "$OUT/sets/medium" "$OUT/sets/large" "$OUT/sets/xlarge"
"$VENV/bin/python" - "$DATA" "$OUT/sets" <<'EOF'
import glob, os, shutil, sys
from PIL import Image
data, sets = sys.argv[1], sys.argv[2]
small = sorted(glob.glob(f"{data}/faces/dlib_johns/*/*.jpg"))
small += [p for p in sorted(glob.glob(f"{data}/faces/opencv_course_5celeb/*/*.jpg")) if max(Image.open(p).size) <= 250]
for i, p in enumerate(small):
    shutil.copy(p, f"{sets}/small/{i:03d}_{os.path.basename(p)}")
large = sorted(p for d in ("group", "single_face", "nonface", "edge") for p in glob.glob(f"{data}/{d}/**/*.jpg", recursive=True))
for i, p in enumerate(large):
    im = Image.open(p).convert("RGB")
    s = 3000 / max(im.size)
    im.resize((round(im.width * s), round(im.height * s)), Image.LANCZOS).save(f"{sets}/large/{i:03d}_{os.path.basename(p)}", quality=90)
    s = 1280 / max(im.size)
    im.resize((round(im.width * s), round(im.height * s)), Image.LANCZOS).save(f"{sets}/medium/{i:03d}_{os.path.basename(p)}", quality=85)
    s = 4800 / max(im.size)
    im.resize((round(im.width * s), round(im.height * s)), Image.LANCZOS).save(f"{sets}/xlarge/{i:03d}_{os.path.basename(p)}", quality=90)
EOF

# One workspace per set, filled through the real fetch (direct URLs from a local server), without processing.
$BIN/curate-test-server --data "$OUT/sets" --url-file "$OUT/url" >/dev/null &
SERVER=$!
for _ in $(seq 100); do [ -s "$OUT/url" ] && break; sleep 0.1; done
for set in $SETS; do
    (cd "$OUT/sets" && ls "$set" | sed "s#^#$set/#") > "$OUT/$set.rel"
    sed "s#^#$OUT/sets/#" "$OUT/$set.rel" > "$OUT/$set.paths"
    mkdir -p "$OUT/q-$set"
    sed "s#^#$(cat "$OUT/url")/files/#" "$OUT/$set.rel" > "$OUT/q-$set/all.txt"
    $BIN/curate fetch --query "$OUT/q-$set" --n "$(wc -l < "$OUT/$set.rel")" --no-process --quiet --workspace "$OUT/ws-$set"
    if [ "${MARGINAL:-0}" = 1 ]; then   # the set's first photo alone, for each program's cost before its photos
        head -n 1 "$OUT/$set.paths" > "$OUT/$set-one.paths"
        mkdir -p "$OUT/q-$set-one"
        head -n 1 "$OUT/q-$set/all.txt" > "$OUT/q-$set-one/all.txt"
        $BIN/curate fetch --query "$OUT/q-$set-one" --n 1 --no-process --quiet --workspace "$OUT/ws-$set-one"
    fi
done
{ kill -9 $SERVER; wait $SERVER; } 2>/dev/null || true
# BEFORE's own copy of the model files: a build that keeps another form of the network's parsed copy beside them
# would otherwise make it again each run, and so would this one.
if [ -n "${BEFORE:-}" ]; then
    mkdir -p "$OUT/models-before"
    cp -p "${CURATE_MODELS:-dataset/models}"/*.dat "$OUT/models-before/"
fi

# Each run prints one JSON line {images, seconds, stages, cpu, command} (with_cpu); of ROUNDS runs, the one of
# least CPU (the whole command's, its start included) is kept.
best() {  # command...
    local line best_line="" best_c=""
    for _ in $(seq "$ROUNDS"); do
        line=$("$@" | tail -n 1)
        c=$(echo "$line" | python3 -c 'import json,sys; print(json.load(sys.stdin)["cpu"])')
        if [ -z "$best_c" ] || [ "$(echo "$c < $best_c" | bc -l)" = 1 ]; then best_c=$c; best_line=$line; fi
    done
    echo "$best_line"
}
# A set's first photo alone (MARGINAL=1), run for each program's start, whose CPU varies from run to run (the
# reference's took 1.27-1.75 s on the small set's): at least 5 runs (each takes a second or two).
first_alone() {  # command...
    local ROUNDS=$(( ROUNDS > 5 ? ROUNDS : 5 ))
    best "$@"
}
# CPU seconds (user + system) are taken with the run: on a machine shared with other work, wall time at N
# threads also measures the neighbours, CPU time per image does not. So is the whole command's wall time
# ("command"): the "seconds" each program reports start at different points (the reference's after Python has
# imported face_recognition and loaded its models, curate's after its own start but with its models' loading),
# so the command's wall time, start to exit, is what compares them as a user waits for them.
with_cpu() {  # command... ; adds "cpu" and "command" to the JSON line the command prints
    /usr/bin/time -f '%U %S %e' -o "$OUT/cpu" "$@" > "$OUT/line"
    python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).read()); u,s,e=open(sys.argv[2]).read().split()[-3:]; r["cpu"]=float(u)+float(s); r["command"]=float(e); print(json.dumps(r))' "$OUT/line" "$OUT/cpu"
}
# The reference's OpenBLAS runs the kernels curate's runs (curate may choose better ones than OpenBLAS detects).
KERNELS=$($BIN/curate --version | sed -n 's/^kernels: \([A-Za-z0-9]*\).*/\1/p')
reference() {  # set [faces: every (curate's), or one (one-face photos only)] [venv]
    with_cpu env REFERENCE_FACES="${2:-every}" ${KERNELS:+OPENBLAS_CORETYPE=$KERNELS} \
        taskset -c 0 "${3:-$VENV}/bin/python" bench/reference_process.py "$OUT/$1.paths"
}
curate_run() {  # set threads [env...]
    local set=$1 threads=$2; shift 2
    local pin=(); [ "$threads" = 1 ] && pin=(taskset -c 0)
    with_cpu env "$@" "${pin[@]}" ${CURATE_BINARY:-$BIN/curate} process --all --threads "$threads" --json --quiet --workspace "$OUT/ws-$set"
}

# Of the current set's rows (`rows`, "name threads json"): the JSON of the first of that name.
row() {  # name (curate's first row is its one-thread run)
    local r name json
    for r in "${rows[@]}"; do read -r name _ json <<< "$r"; [ "$name" = "$1" ] && { echo "$json"; return; }; done
}
# The references each set is compared with, for "the faster reference".
refs=(python-reference); [ "$REFERENCE_BIN" = 0 ] || refs+=(python-ref-dlib-bin); [ "$REFERENCE_PIP" = 0 ] || refs+=(python-ref-pip)
# MARGINAL=1: a reference's further photo against curate's (of the current set; curate's first photo alone in
# cur_one), appended to OUT/further-SET for all but the one-face row.
further() {  # name faces venv: the reference's further photo against curate's
    python3 -c '
import json, sys
name = sys.argv[1]
ra, ro, ca, co = (json.loads(x) for x in sys.argv[2:6])
n = ra.get("images", ra.get("processed"))
ref = (ra["cpu"] - ro["cpu"]) / (n - 1); cur = (ca["cpu"] - co["cpu"]) / (n - 1)
first_ref, first_cur = ro["cpu"], co["cpu"]
print(f"each further photo, CPU s: {name} {ref:.3f}, curate {cur:.3f}: {ref / cur:.2f}x "
      f"(a first photo alone: {name} {first_ref:.2f} s, curate {first_cur:.2f} s)")
with open(sys.argv[6], "a") as f:
    if name != "python-ref-one-face": print(name, ref / cur, file=f)
' "$1" "$(row "$1")" "$(first_alone reference "$set-one" "$2" "$3")" "$(row curate)" "$cur_one" "$OUT/further-$set"
}

echo
echo "process benchmark: $CORES cores, least CPU of $ROUNDS runs; $($BIN/curate --version | tail -n 1)"
for set in $SETS; do
    n=$(wc -l < "$OUT/$set.paths")
    echo
    echo "$set set: $n photos (load average before: $(cut -d' ' -f1-3 /proc/loadavg))"
    rows=()
    rows+=("python-reference 1 $(best reference "$set")")
    if [ -z "${BEFORE:-}" ]; then
        rows+=("curate 1 $(best curate_run "$set" 1)")
    else
        # BEFORE=path/to/curate: another build (an earlier commit's) on the same workspace, one thread, for
        # before/after: the two alternate, and the best of each by CPU seconds is kept. BEFORE reads its own copy
        # of the model files (made once, below the workspaces).
        for _ in $(seq "$ROUNDS"); do
            curate_run "$set" 1 | tail -n 1 >> "$OUT/ab-after-$set"
            CURATE_BINARY=$BEFORE curate_run "$set" 1 CURATE_MODELS="$OUT/models-before" | tail -n 1 >> "$OUT/ab-before-$set"
        done
        least_cpu() { python3 -c 'import json,sys; print(json.dumps(min((json.loads(l) for l in open(sys.argv[1])), key=lambda r: r["cpu"])))' "$1"; }
        rows+=("curate 1 $(least_cpu "$OUT/ab-after-$set")")
    fi
    rows+=("curate $CORES $(best curate_run "$set" "$CORES")")
    [ -z "${BEFORE:-}" ] || rows+=("curate-before 1 $(least_cpu "$OUT/ab-before-$set")")
    # The same binary on OpenBLAS's oldest x86 kernels (SSE3), which OpenBLAS 0.3.21 falls back to on CPU models
    # it does not know (curate then restarts on better ones; OPENBLAS_CORETYPE set by hand stops it), one run; and
    # on Debian's reference BLAS (what a machine without OpenBLAS gets), one run.
    # (EXTRAS=0 leaves these two rows out.)
    if [ "${EXTRAS:-1}" = 1 ]; then
        ROUNDS_SAVED=$ROUNDS; ROUNDS=1
        rows+=("curate-Prescott-kernels 1 $(best curate_run "$set" 1 OPENBLAS_CORETYPE=Prescott)")
        rows+=("curate-reference-BLAS 1 $(best curate_run "$set" 1 LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/blas:/usr/lib/x86_64-linux-gnu/lapack)")
        ROUNDS=$ROUNDS_SAVED
    fi
    [ "$REFERENCE_BIN" = 0 ] || rows+=("python-ref-dlib-bin 1 $(best reference "$set" every "$VENV_BIN")")
    [ "$REFERENCE_PIP" = 0 ] || rows+=("python-ref-pip 1 $(best reference "$set" every "$VENV_PIP")")
    # REFERENCE_ONE=1: the reference describing only the faces of one-face photos, as both did before stop 36.
    [ "${REFERENCE_ONE:-0}" = 0 ] || rows+=("python-ref-one-face 1 $(best reference "$set" one)")
    echo "(load average after: $(cut -d' ' -f1-3 /proc/loadavg))"
    printf '%-24s %7s %9s %14s %10s %9s %10s %11s %10s   %s\n' run threads seconds "images/s/core" "vs ref" command "cmd vs ref" "CPU s/image" "CPU vs ref" "seconds by stage (summed over threads)"
    ref_rate=""; ref_cpu=""; ref_cmd=""
    for r in "${rows[@]}"; do
        read -r name threads json <<< "$r"
        echo "$json" | python3 -c '
import json, sys
name, threads, ref, ref_cpu, ref_cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
r = json.load(sys.stdin)
r["images"] = r.get("images", r.get("processed"))
rate = r["images"] / r["seconds"] / threads
vs = f"{rate / float(ref):.2f}x" if ref else "1.00x"
cmd_rate = r["images"] / r["command"] / threads
cmd_vs = f"{cmd_rate / float(ref_cmd):.2f}x" if ref_cmd else "1.00x"
stages = " ".join(f"{k} {v:.2f}" for k, v in r["stages"].items() if v >= 0.005)
secs = r["seconds"]
command = r["command"]
cpu = r["cpu"] / r["images"]
cvs = f"{float(ref_cpu) / cpu:.2f}x" if ref_cpu else "1.00x"
print(f"{name:<24} {threads:>7} {secs:>9.2f} {rate:>14.1f} {vs:>10} {command:>9.2f} {cmd_vs:>10} {cpu:>11.3f} {cvs:>10}   {stages}")
' "$name" "$threads" "$ref_rate" "$ref_cpu" "$ref_cmd"
        [ -n "$ref_rate" ] || ref_rate=$(echo "$json" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["images"]/r["seconds"])')
        [ -n "$ref_cpu" ] || ref_cpu=$(echo "$json" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["cpu"]/r["images"])')
        [ -n "$ref_cmd" ] || ref_cmd=$(echo "$json" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["images"]/r["command"])')
    done
    # Against the faster of the two references, by CPU an image and by the whole command.
    for name in "${refs[@]}"; do echo "$name $(row "$name")"; done | python3 -c '
import json, sys
cur = json.loads(sys.argv[1])
refs = [(l.split(" ", 1)[0], json.loads(l.split(" ", 1)[1])) for l in sys.stdin if l.strip()]
per = lambda r, k: r[k] / r.get("images", r.get("processed"))
name, ref = min(refs, key=lambda nr: per(nr[1], "cpu"))
by_cpu, by_command = per(ref, "cpu") / per(cur, "cpu"), per(ref, "command") / per(cur, "command")
print(f"against the faster reference by CPU ({name}): CPU {by_cpu:.2f}x, whole command {by_command:.2f}x")
' "$(row curate)"
    # MARGINAL=1: what each further photo costs, with each program's start (Python's imports, the models, the
    # catalog) taken out: (CPU of the whole set - CPU of its first photo alone) / (photos - 1), one thread each.
    # This is the ratio a run of thousands of such photos sees.
    if [ "${MARGINAL:-0}" = 1 ]; then
        cur_one=$(first_alone curate_run "$set-one" 1)
        : > "$OUT/further-$set"
        further python-reference every "$VENV"
        [ "$REFERENCE_BIN" = 0 ] || further python-ref-dlib-bin every "$VENV_BIN"
        [ "$REFERENCE_PIP" = 0 ] || further python-ref-pip every "$VENV_PIP"
        [ "${REFERENCE_ONE:-0}" = 0 ] || further python-ref-one-face one "$VENV"
        sort -k2 -g "$OUT/further-$set" | head -n 1 | { read -r name ratio; printf 'each further photo against the faster reference (%s): %.2fx\n' "$name" "$ratio"; }
    fi
done

# Where the time goes, by function and by library: curate with one thread on each set under `perf record -g`.
if [ "${PROFILE:-0}" = 1 ]; then
    for set in $SETS; do
        echo
        echo "$set set: perf record -g, curate process --all --threads 1 (load $(cut -d' ' -f1-3 /proc/loadavg))"
        perf record -q -g -o "$OUT/perf-$set.data" taskset -c 0 $BIN/curate process --all --threads 1 --quiet --workspace "$OUT/ws-$set" >/dev/null 2>&1
        perf report -q -i "$OUT/perf-$set.data" --no-children --sort dso --percent-limit 2 2>/dev/null | sed 's/^/  /'
        perf report -q -i "$OUT/perf-$set.data" --no-children --sort symbol -g none --percent-limit 1.5 2>/dev/null | cut -c1-110 | sed 's/^/  /'
    done
fi
