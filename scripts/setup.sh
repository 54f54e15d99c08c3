#!/usr/bin/env bash
# One-time set-up on Debian: system libraries (only those missing) and the pretrained dlib model files.
# Safe to run again: it installs nothing that is there and downloads no model it already has.
set -euo pipefail
cd "$(dirname "$0")/.."

# libblas-dev and liblapack-dev: dlib-1.pc links them, but libdlib-dev does not depend on them.
# libopenblas0-pthread: installing it makes OpenBLAS Debian's libblas.so.3 (the alternative with the higher
# priority), on which dlib's face descriptors run over 10x faster than on the reference BLAS; curate works on either,
# and `curate --version` says which one it loaded.
# libchafa0: review's symbol-mosaic pictures, loaded at run time (without it, half blocks); no headers are needed.
# libjpeg62-turbo-dev, libpng-dev, libtiff-dev, libwebp-dev: the decoders OpenCV already links, which the image
# bridge asks for an image's size before decoding (libopencv-dev pulls them in; named so the headers are certain).
PACKAGES=(pkg-config libcurl4-openssl-dev libsqlite3-dev libopencv-dev libexif-dev libgif-dev libdlib-dev libblas-dev liblapack-dev
          libopenblas0-pthread libtorch-dev libchafa0 libjpeg62-turbo-dev libpng-dev libtiff-dev libwebp-dev)
# --tests: also what the test suite drives (tmux, for the interactive review tests; headless Chromium, which opens
# the gallery's pages).
[ "${1:-}" = "--tests" ] && PACKAGES+=(tmux chromium)
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Pretrained dlib models: PyPI's face_recognition_models 0.3.0 is pure data; nothing is pip-installed.
WORKSPACE="${CURATE_WORKSPACE:-dataset}"
MODELS="$WORKSPACE/models"
NEEDED=(shape_predictor_5_face_landmarks.dat dlib_face_recognition_resnet_model_v1.dat mmod_human_face_detector.dat)
mkdir -p "$MODELS"
have_all=1
for m in "${NEEDED[@]}"; do [ -s "$MODELS/$m" ] || have_all=0; done
if [ $have_all -eq 0 ]; then
    CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/curate"
    mkdir -p "$CACHE"
    archive=$(ls "$CACHE"/face_recognition_models-0.3.0.tar.gz 2>/dev/null || true)
    if [ -z "$archive" ]; then
        PIP="pip3"; command -v pip3 >/dev/null || PIP="python3 -m pip"
        echo "setup: downloading face_recognition_models 0.3.0 (dlib model files, ~100 MB)"
        $PIP download --quiet --no-deps --no-binary :all: -d "$CACHE" face_recognition_models==0.3.0
        archive="$CACHE/face_recognition_models-0.3.0.tar.gz"
    fi
    tmp=$(mktemp -d)
    tar -xzf "$archive" -C "$tmp" --wildcards '*/models/*.dat'
    for m in "${NEEDED[@]}"; do
        src=$(find "$tmp" -name "$m" | head -n 1)
        [ -n "$src" ] || { echo "setup: $m is missing from $archive" >&2; exit 1; }
        mv "$src" "$MODELS/$m.tmp" && mv "$MODELS/$m.tmp" "$MODELS/$m"
    done
    rm -rf "$tmp"
    echo "setup: dlib models in $MODELS"
fi

# --tests: a one-node Slurm cluster for the cluster test (Tests/EndToEndTests/SlurmTests.swift), as root: it installs
# slurm-wlm and munge and starts their daemons (about two minutes the first time; nothing when already running).
# Without root the test skips, saying why (under CI=true it fails instead).
if [ "${1:-}" = "--tests" ]; then
    if [ "$(id -u)" -eq 0 ]; then
        scripts/slurm/local-cluster.sh
    else
        echo "setup: not root, so no local Slurm cluster (run scripts/slurm/local-cluster.sh as root for the cluster test)"
    fi
fi
