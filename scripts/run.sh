#!/usr/bin/env bash
# Set-up plus the main job: a release build, then `curate fetch` over the shipped queries.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build -c release --product curate
swift build -c release --product CurateTorch   # libCurateTorch.so beside curate: train and predict load it
exec .build/release/curate fetch --query "${QUERY:-queries/}" --n "${N:-300}" "$@"
