#!/usr/bin/env bash
# Fetches the Debian sources of the installed giflib and libexif into .build-fuzz/libsrc, so fuzz/run.sh can build
# them with coverage and ASan: linked as the system's uninstrumented libraries, the fuzzer sees nothing inside them
# (the EXIF harness reaches 13 edges instead of about 300). Uses apt-get with a private source list; the system's
# apt configuration is left alone. Needs network access once; fuzz/run.sh works without it, less well.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$PWD/.build-fuzz/libsrc
apt=$out/apt
mkdir -p "$apt/lists/partial"
. /etc/os-release
printf 'deb-src http://deb.debian.org/debian %s main\ndeb-src http://deb.debian.org/debian-security %s-security main\n' \
    "$VERSION_CODENAME" "$VERSION_CODENAME" > "$apt/sources.list"
opts=(-q -o Dir::Etc::SourceList="$apt/sources.list" -o Dir::Etc::SourceParts=/nonexistent -o Dir::State::Lists="$apt/lists")
apt-get "${opts[@]}" update
cd "$out"
for pkg in giflib:libgif7 libexif:libexif12; do
    version=$(dpkg-query -W -f '${Version}' "${pkg#*:}")
    rm -rf "${pkg%%:*}"
    apt-get "${opts[@]}" source --download-only "${pkg%%:*}=$version"
    dpkg-source -x "${pkg%%:*}_${version#*:}.dsc" "${pkg%%:*}"
done
echo "sources in $out: giflib, libexif"
