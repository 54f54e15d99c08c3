#!/usr/bin/env bash
# Set-up plus the whole test suite: builds the `curate` binary the tests drive, then runs `swift test`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests
swift build --product curate
swift test "$@"
