#!/usr/bin/env bash
# Builds the libFuzzer harnesses in fuzz/ and runs each for SECONDS (default 60), one after another at the lowest CPU
# priority. Usage: fuzz/run.sh [SECONDS] [HARNESS...]   (harnesses: decode header exif query providers)
# Corpora grow in .build-fuzz/corpus/NAME across runs (seeded from ../shared/data, fuzz/regressions and generated
# images); a crash, leak, timeout or out-of-memory input lands in .build-fuzz/crashes/NAME/ and the script exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(decode header exif query providers)
out=.build-fuzz
shared=../shared/data
mkdir -p "$out/obj" "$out/src"

# Swift harnesses: swiftc's -sanitize=fuzzer,address over the harness and the Swift sources it exercises, compiled as
# one module (so internal parsers are reachable without @testable builds of the SwiftPM targets). C and C++ are built
# by the Swift toolchain's own clang, so coverage and ASan instrumentation match the one runtime swiftc links (clang-14
# links libFuzzer too, but mixing its objects with the newer runtime is asking for trouble).
# giflib and libexif are built from source with the same instrumentation when fuzz/fetch-sources.sh has fetched
# them; otherwise the system libraries are linked, and the fuzzer is blind inside them. OpenCV is always the system's.
SWIFTC=${SWIFTC:-swiftc}
CLANG=${CLANG:-$(dirname "$(command -v "$SWIFTC")")/clang}
libsrc=$out/libsrc
sanitize=(-g -O1 -fsanitize=fuzzer-no-link,address)
opencv=(-lopencv_core -lopencv_imgproc -lopencv_imgcodecs -lopencv_img_hash -ljpeg -lpng16 -ltiff -lwebp -lstdc++)

quiet_link() { grep -v "Cannot export local symbol" >&2 || true; }

# The Swift files a harness needs, found by name wherever the targets keep them; imports of our own targets and of
# GRDB and swift-crypto are dropped, because everything lands in one module here with fuzz/CatalogStandIns.swift.
source_file() {
    local found
    found=$(find Sources -name "$1" | head -1)
    [ -n "$found" ] || { echo "fuzz/run.sh: no $1 under Sources" >&2; exit 2; }
    sed -E '/^import (Catalog|Crawler|Curate|GRDB|Crypto)$/d' "$found" > "$out/src/$1"
    echo "$out/src/$1"
}

# The image bridge with giflib and libexif: instrumented objects, or the system libraries. Sets bridge_link.
build_bridge() {
    local includes=(-I Sources/CImageBridge/include -I Sources/CBridgeError/include -I/usr/include/opencv4)
    bridge_link=("$out/obj/image_bridge.o")
    if [ -d "$libsrc/giflib" ] && [ -d "$libsrc/libexif" ]; then
        includes=(-I "$libsrc/giflib" -I "$libsrc/libexif" "${includes[@]}")
        mkdir -p "$out/obj/gif" "$out/obj/exif"
        if [ ! -f "$out/obj/libs.done" ]; then
            echo "== building giflib and libexif with coverage" >&2
            for f in dgif_lib gif_err gifalloc gif_hash openbsd-reallocarray; do
                "$CLANG" "${sanitize[@]}" -w -c "$libsrc/giflib/$f.c" -o "$out/obj/gif/$f.o"
            done
            printf '#define GETTEXT_PACKAGE "libexif-12"\n#define LOCALEDIR "/usr/share/locale"\n' > "$out/obj/exif/config.h"
            for f in "$libsrc"/libexif/libexif/*.c "$libsrc"/libexif/libexif/*/*.c; do
                "$CLANG" "${sanitize[@]}" -w -I "$out/obj/exif" -I "$libsrc/libexif" -I "$libsrc/libexif/libexif" \
                    -c "$f" -o "$out/obj/exif/$(basename "$f" .c).o"
            done
            touch "$out/obj/libs.done"
        fi
        bridge_link+=("$out"/obj/gif/*.o "$out"/obj/exif/*.o)
    else
        echo "fuzz/run.sh: giflib and libexif are not instrumented (run fuzz/fetch-sources.sh once)" >&2
        bridge_link+=(-lgif -lexif)
    fi
    if [ ! "$out/obj/image_bridge.o" -nt Sources/CImageBridge/image_bridge.cpp ] || [ "$out/obj/libs.done" -nt "$out/obj/image_bridge.o" ]; then
        "$CLANG" -x c++ -std=c++17 "${sanitize[@]}" "${includes[@]}" -c Sources/CImageBridge/image_bridge.cpp -o "$out/obj/image_bridge.o"
    fi
    mkdir -p "$out/modules/CImageBridge"
    printf 'module CImageBridge {\n    header "%s"\n    export *\n}\n' \
        "$PWD/Sources/CImageBridge/include/image_bridge.h" > "$out/modules/CImageBridge/module.modulemap"
    mkdir -p "$out/modules/CBridgeError"
    printf 'module CBridgeError {\n    header "%s"\n    export *\n}\n' \
        "$PWD/Sources/CBridgeError/include/bridge_error.h" > "$out/modules/CBridgeError/module.modulemap"
}

swift_harness() {   # NAME SOURCE... [-- LINK ARGS]
    local name=$1; shift
    local files=() link=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do files+=("$1"); shift; done
    [ $# -gt 0 ] && { shift; link=("$@"); }
    "$SWIFTC" -sanitize=fuzzer,address -parse-as-library -O -g -module-name "Fuzz_$name" \
        -I "$out/modules/CImageBridge" -I "$out/modules/CBridgeError" -Xcc -I -Xcc Sources/CBridgeError/include "fuzz/$name.swift" "${files[@]}" "${link[@]}" -o "$out/$name" 2> >(quiet_link)
}

build() {
    case $1 in
    decode | header)
        build_bridge
        swift_harness "$1" "$(source_file DecodedImage.swift)" "$(source_file Bridge.swift)" "$(source_file JPEGLayout.swift)" \
            "$(source_file JPEGQuality.swift)" "$(source_file ImageFormat.swift)" fuzz/CatalogStandIns.swift \
            -- "${bridge_link[@]}" "${opencv[@]}" ;;
    query) swift_harness query "$(source_file QueryFile.swift)" fuzz/CatalogStandIns.swift ;;
    providers) swift_harness providers "$(source_file Providers.swift)" "$(source_file Wikimedia.swift)" "$(source_file QueryFile.swift)" \
        "$(source_file Codes.swift)" fuzz/CatalogStandIns.swift ;;
    exif)
        build_bridge
        "$CLANG" -x c++ -std=c++17 -g -O1 -fsanitize=fuzzer,address -I Sources/CImageBridge/include -I Sources/CBridgeError/include -c fuzz/exif.cpp -o "$out/obj/exif_harness.o"
        "$CLANG" -fsanitize=fuzzer,address "$out/obj/exif_harness.o" "${bridge_link[@]}" "${opencv[@]}" -o "$out/exif" 2> >(quiet_link) ;;
    *) echo "fuzz/run.sh: unknown harness $1" >&2; exit 2 ;;
    esac
}

seed() {   # NAME: puts the seeds into the corpus folder (every run, so new seeds and regressions join a grown corpus)
    local dir=$out/corpus/$1
    mkdir -p "$dir"
    case $1 in
    decode | header | exif)
        [ -x "$out/make_seeds" ] || "$CLANG" -x c++ -std=c++17 -O1 -I/usr/include/opencv4 fuzz/make_seeds.cpp \
            -lopencv_core -lopencv_imgproc -lopencv_imgcodecs -lstdc++ -o "$out/make_seeds"
        if [ -d "$shared" ]; then
            "$out/make_seeds" "$shared/single_face/opencv_course_lady.jpg" "$dir"
            find "$shared" -type f \( -name '*.jpg' -o -name '*.png' -o -name '*.gif' -o -name '*.webp' \) -size -64k \
                -exec cp {} "$dir/" \;
        else
            echo "fuzz/run.sh: $shared is absent: $1 starts from fuzz/regressions only" >&2
        fi
        cp fuzz/regressions/* "$dir/" ;;
    query)
        cp queries/*.txt "$dir/"
        printf 'https://example.org/a.jpg#frag\n# comment\nJon   Snow # note\n\xef\xbb\xbfftp://x\n' > "$dir/mixed.txt" ;;
    providers)
        # Two leading bytes pick the status (0: 200, 3: 429) and Retry-After (0: none).
        # Commons files are answers as sent; Openverse files are tapes (request and response) or the API docs'
        # examples, whose bodies are taken out.
        if [ -d "$shared" ]; then
            for f in "$shared"/api/wikimedia/*.json; do
                { printf '\000\000'; cat "$f"; } > "$dir/commons-$(basename "$f")"
            done
            python3 - "$dir" "$shared"/api/openverse/*.json <<'PY'
import json, os, sys
out = sys.argv[1]
for path in sys.argv[2:]:
    doc = json.load(open(path))
    bodies = [(doc["res"]["status"], doc["res"]["body"])] if "res" in doc else \
             [(int(k.split("_")[-2]), v) for k, v in doc.items() if k.endswith("_example")]
    for i, (status, body) in enumerate(bodies):
        with open(os.path.join(out, "openverse-%d-%s" % (i, os.path.basename(path))), "wb") as f:
            f.write(bytes([{200: 0, 429: 3, 404: 6, 400: 7}.get(status, 0), 0]) + json.dumps(body).encode())
PY
        fi
        printf '\003\000{"detail":"Request was throttled. Expected available in 3600 seconds."}' > "$dir/throttled.json" ;;
    esac
}

status=0
for name in "${harnesses[@]}"; do
    echo "== $name: building" >&2
    build "$name"
    seed "$name"
    mkdir -p "$out/crashes/$name"
    args=(-max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
          -artifact_prefix="$out/crashes/$name/")
    case $name in
    decode) args+=(-max_len=65536) ;;
    providers) args+=(-dict=fuzz/json.dict) ;;
    esac
    echo "== $name: fuzzing for $seconds s" >&2
    if ! nice -n 19 "$out/$name" "${args[@]}" "$out/corpus/$name" > "$out/$name.log" 2>&1; then
        status=1
        echo "== $name: FOUND A PROBLEM, see $out/$name.log and $out/crashes/$name/" >&2
    fi
    # Executions, coverage and when coverage last grew, for docs/fuzzing.md's table.
    awk -v name="$name" '
        /cov: [0-9]+/ { match($0, /cov: [0-9]+/); c = substr($0, RSTART + 5, RLENGTH - 5) + 0; if (c > best) { best = c; last = $1 } }
        /^#[0-9]+.*(DONE|pulse)/ || /^#[0-9]+/ { line = $0 }
        /stat::number_of_executed_units/ { runs = $2 }
        /stat::average_exec_per_sec/ { speed = $2 }
        END {
            match(line, /cov: [0-9]+/); cov = substr(line, RSTART + 5, RLENGTH - 5)
            match(line, /ft: [0-9]+/); ft = substr(line, RSTART + 4, RLENGTH - 4)
            match(line, /corp: [0-9]+/); corp = substr(line, RSTART + 6, RLENGTH - 6)
            printf "%-10s %10s execs %6s exec/s  cov %5s  ft %6s  corpus %5s  coverage last grew at %s\n", name, runs, speed, cov, ft, corp, last
        }' "$out/$name.log"
done
exit $status
