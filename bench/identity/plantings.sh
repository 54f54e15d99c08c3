#!/usr/bin/env bash
# The band rule on every planting at once: bench/identity/crossval.sh run on the four planted-band searches
# (the five celebrities as BAND_VARIANT=0, 1 and 2 plant them, and BAND_JOHNS=1's ten people), each planting's
# held-out figures and the binary's own export beside them, then the four added up: exported faces, how many were the
# person, and the intruders exported (the plantings reuse the same photos, planted differently, so the sum weighs
# how often a rule is wrong across plantings, not how many different pictures it is wrong on).
# Usage: bench/identity/plantings.sh [CURATE_BINARY]   (default: this checkout's debug build). The four crossval.sh
# outputs are kept in a folder it names.
set -euo pipefail
[ $# -eq 0 ] || set -- "$(realpath "$1")"
cd "$(dirname "$0")/../.."
LOGS=$(mktemp -d /tmp/curate-plantings.XXXXXX)
plantings=("variant 0:BAND_VARIANT=0" "BAND_VARIANT=1:BAND_VARIANT=1" "BAND_VARIANT=2:BAND_VARIANT=2" "BAND_JOHNS=1:BAND_JOHNS=1")
for p in "${plantings[@]}"; do
    setting=${p#*:}
    env "$setting" bench/identity/crossval.sh "$@" > "$LOGS/${setting//=/_}.log" 2>&1 \
        || { echo "plantings: bench/identity/crossval.sh with $setting failed; its output: $LOGS/${setting//=/_}.log" >&2; exit 1; }
done
echo "crossval.sh outputs: $LOGS"
# "precision 0.990 (100 of 101 exported), recall 0.847 (100 of 118), intruders exported 1 of 28" -> 100 101 100 118 1 28
held='s/.*precision [0-9.]* (\([0-9]*\) of \([0-9]*\) exported), recall [0-9.]* (\([0-9]*\) of \([0-9]*\)), intruders exported \([0-9]*\) of \([0-9]*\).*/\1 \2 \3 \4 \5 \6/p'
# "exported 101 faces: precision 0.990 (100 right); recall 0.847 (100 of 118 ...); intruders exported 1 of 28"
run='s/.*exported \([0-9]*\) faces: precision [0-9.]* (\([0-9]*\) right); recall [0-9.]* (\([0-9]*\) of \([0-9]*\) .*intruders exported \([0-9]*\) of \([0-9]*\).*/\2 \1 \3 \4 \5 \6/p'
{
    for p in "${plantings[@]}"; do
        name=${p%%:*} setting=${p#*:} log="$LOGS/${setting//=/_}.log"
        echo "$name|held out|$(grep '^  held out: ' "$log" | sed -n "$held")"
        echo "$name|the run's export|$(grep -A1 "^the run's export:" "$log" | sed -n "$run")"
        echo "$name|--leave-out-suspects|$(grep -A1 "^the run's export --leave-out-suspects:" "$log" | sed -n "$run")"
    done
} | awk -F'|' '
    function line(name, what, v) {
        split(v, f, " ")
        printf "%-15s %-22s %6.3f %4d of %-4d %6.3f %4d of %-4d %3d of %d\n", name, what, f[2] ? f[1] / f[2] : 1, f[1], f[2],
               f[4] ? f[3] / f[4] : 1, f[3], f[4], f[5], f[6]
    }
    BEGIN { printf "%-15s %-22s %-18s %-18s %s\n", "planting", "", "precision", "recall", "intruders exported" }
    {
        if (split($3, f, " ") != 6) { print "plantings: no figures for " $1 ", " $2 > "/dev/stderr"; exit 1 }
        line($1, $2, $3)
        for (i = 1; i <= 6; i++) sum[$2, i] += f[i]
        if (!($2 in seen)) { seen[$2] = 1; order[++n] = $2 }
    }
    END {
        for (k = 1; k <= n; k++) line("all four", order[k], sum[order[k], 1] " " sum[order[k], 2] " " sum[order[k], 3] " " sum[order[k], 4] " " sum[order[k], 5] " " sum[order[k], 6])
    }'
