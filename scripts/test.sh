#!/usr/bin/env bash
# Set-up plus the whole test suite: builds the `curate` binary the tests drive and the torch bridge library beside
# it, then runs `swift test`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests
swift build --product curate
swift build --product CurateTorch   # the torch bridge, loaded by curate (and the tests) on first use
# One test at a time: on 2 cores, CPU-bound tests (dlib, libtorch) running beside the fetch tests hold Swift's
# cooperative pool that the in-process HTTP servers on 127.0.0.1 need, and requests time out (seen under load).
swift test --no-parallel "$@"
