#!/usr/bin/env bash
# Submits a curate run to Slurm: the shard array, then the merge once every shard has finished. Prints the job ids.
#
#   scripts/slurm/submit.sh QUERY_DIR N SHARDS OUT [sbatch options for the shards...]
#   scripts/slurm/submit.sh --shard K QUERY_DIR N SHARDS OUT [...]   # shard K again (it resumes), and a new merge
#
# QUERY_DIR: the query files (one per person); N: photos per person; SHARDS: how many shards (array tasks); OUT: a
# folder on the shared file system (shards/, partial/, logs/, merged/ go there). curate is found as CURATE_BIN, else
# on PATH; the dlib models as CURATE_MODELS. Extra sbatch options go to the shard jobs (e.g. --cpus-per-task=4
# --time=12:00:00 --partition=cpu). Training is its own job afterwards, on a GPU node:
#   sbatch --gres=gpu:1 --wrap "curate split --workspace OUT/merged && curate train --workspace OUT/merged"
set -euo pipefail
only=""
if [ "${1:-}" = "--shard" ]; then only=$2; shift 2; fi
if [ $# -lt 4 ]; then
    sed -n '2,14p' "$0" >&2
    exit 2
fi
query=$(realpath "$1") n=$2 shards=$3 out=$(realpath -m "$4")
shift 4
here=$(cd "$(dirname "$0")" && pwd)
[ -d "$query" ] || [ -f "$query" ] || { echo "submit: no query folder $query" >&2; exit 2; }
[[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "submit: N must be a whole number of photos per person (got $n)" >&2; exit 2; }
[[ "$shards" =~ ^[1-9][0-9]*$ ]] || { echo "submit: SHARDS must be at least 1 (got $shards)" >&2; exit 2; }
if [ -n "$only" ] && { ! [[ "$only" =~ ^[0-9]+$ ]] || [ "$only" -ge "$shards" ]; }; then
    echo "submit: --shard $only must be between 0 and $((shards - 1))" >&2; exit 2
fi
curate=${CURATE_BIN:-$(command -v curate || true)}
[ -n "$curate" ] || { echo "submit: curate is not on PATH; set CURATE_BIN to the binary" >&2; exit 2; }
mkdir -p "$out/logs"
export CURATE_QUERY=$query CURATE_N=$n CURATE_SHARDS=$shards CURATE_OUT=$out CURATE_BIN=$curate
array=$(sbatch --parsable --array="${only:-0-$((shards - 1))}" --export=ALL --chdir="$out" \
    --output="$out/logs/shard-%a.out" "$@" "$here/shard.sbatch")
array=${array%%;*}
merge=$(sbatch --parsable --dependency="afterok:$array" --export=ALL --chdir="$out" \
    --output="$out/logs/merge-%j.out" "$here/merge.sbatch")
merge=${merge%%;*}
echo "shards: $array"
echo "merge: $merge"
