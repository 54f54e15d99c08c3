# What the benchmark scripts (and docs/pictures/make.sh) share; sourced, never run. The caller has `cd`'d to the
# package root and set `set -euo pipefail`.

# Commands run when the script exits, last added first (`on_exit 'kill $PID'`): one EXIT trap for all of them.
ON_EXIT=()
on_exit() { ON_EXIT=("$1" "${ON_EXIT[@]}"); }
run_on_exit() { local c; for c in "${ON_EXIT[@]}"; do eval "$c" || true; done; }
trap run_on_exit EXIT

# DATA=../shared/data, or exit 2 naming the script and why it needs the data.
need_shared_data() { # WHO WHY
    DATA="$(cd .. && pwd)/shared/data"
    [ -f "$DATA/README.md" ] || { echo "$1: $DATA is absent; $2" >&2; exit 2; }
}

# PHOTOS=the photos given, or every JPEG of ../shared/data's faces/, group/ and single_face/ (exit 2 without the
# data): `photos_or_shared WHO [PHOTO...]`. A photo given by a relative name is found from where the script was
# started (the directory before its one `cd` to the package root).
photos_or_shared() { # WHO [PHOTO...]
    local who=$1 p
    shift
    PHOTOS=()
    if [ $# -eq 0 ]; then
        need_shared_data "$who" "no photos were given, and its photos are the default"
        mapfile -t PHOTOS < <(find "$DATA/faces" "$DATA/group" "$DATA/single_face" -name '*.jpg' | sort)
        return
    fi
    for p in "$@"; do
        case $p in /*) PHOTOS+=("$p") ;; *) PHOTOS+=("$OLDPWD/$p") ;; esac
    done
}

# CURATE=the binary given (made absolute), or this checkout's own build: `curate_binary debug|release [GIVEN]`.
curate_binary() {
    if [ -n "${2:-}" ]; then CURATE=$(realpath "$2"); return; fi
    local config=$1
    swift build -c "$config" --product curate >/dev/null
    CURATE=$(swift build -c "$config" --product curate --show-bin-path)/curate
}

# Serves ../shared/data from 127.0.0.1 on a free port for the rest of the script; SERVED=its base URL.
serve_shared_data() {
    local port
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    python3 -m http.server "$port" --bind 127.0.0.1 --directory "$DATA" >/dev/null 2>&1 &
    on_exit "kill $!"
    SERVED="http://127.0.0.1:$port"
    for _ in $(seq 100); do
        python3 -c "import urllib.request; urllib.request.urlopen('$SERVED/README.md')" 2>/dev/null && return
        sleep 0.1
    done
    echo "could not serve $DATA on $SERVED" >&2; exit 1
}

# `curate review ARGS...` of workspace WS in a 120x40 tmux pane, its first screen captured with colours into OUT:
# `capture_review WS OUT ARGS...` (CURATE and CURATE_MODELS set).
capture_review() {
    local ws=$1 out=$2; shift 2
    CAPTURES=$((${CAPTURES:-0} + 1))
    local socket="curate-capture-$$-$CAPTURES" args
    printf -v args ' %q' "$@"
    tmux -L "$socket" -f /dev/null new-session -d -x 120 -y 40 \
        "CURATE_MODELS='$CURATE_MODELS' '$CURATE' --workspace '$ws' review$args; sleep 60"
    for _ in $(seq 100); do tmux -L "$socket" capture-pane -p -t 0 | grep -q "q quit" && break; sleep 0.2; done
    sleep 1
    tmux -L "$socket" capture-pane -e -p -t 0 > "$out"
    tmux -L "$socket" kill-server 2>/dev/null || true
}

# What the planted searches of bench/identity need first: ../shared/data, their tools built (curate-bench-identity,
# the tests' server; BIN=their folder), and OUT=a fresh folder, removed on exit unless KEEP is set.
# `planted_setup NAME`
planted_setup() {
    need_shared_data "$1" "the planted search is made from its real photos"
    swift build --product curate-bench-identity >/dev/null
    swift build --product curate-test-server >/dev/null
    BIN=.build/debug
    OUT=$(mktemp -d "/tmp/curate-$1.XXXXXX")
    on_exit '[ -n "${KEEP:-}" ] || rm -rf "$OUT"'
}

# The planted searches of bench/identity (curate-bench-identity writes OUT/served/<person>/...): serves OUT/served
# with the tests' server (curate-test-server, built) for the rest of the script and writes OUT/q/<person>.txt, one
# query file per folder listing its files' URLs. `serve_planted OUT`
serve_planted() {
    local out=$1 dir person url
    "$BIN/curate-test-server" --data "$out/served" --url-file "$out/url" >/dev/null &
    on_exit "kill $! 2>/dev/null; wait $! 2>/dev/null"
    for _ in $(seq 100); do [ -s "$out/url" ] && break; sleep 0.1; done
    [ -s "$out/url" ] || { echo "the test server did not start" >&2; exit 1; }
    url=$(cat "$out/url")
    mkdir -p "$out/q"
    for dir in "$out"/served/*/; do
        person=$(basename "$dir")
        (cd "$out/served" && ls "$person" | sed "s#^#$url/files/$person/#") > "$out/q/$person.txt"
    done
}

# A planted search fetched (and processed) by CURATE into WS, every kept face in the training split, exported, and
# listed into WS/list.json: `planted_workspace CURATE WS OUT`. DETECTOR=cnn gives the photos HOG found no face in a
# second look by dlib's CNN detector (`curate process --detector cnn`) before the split.
planted_workspace() {
    local curate=$1 ws=$2 out=$3
    "$curate" fetch --query "$out/q" --n 100 --quiet --workspace "$ws"
    [ "${DETECTOR:-hog}" = hog ] || "$curate" process --detector "$DETECTOR" --quiet --workspace "$ws"
    "$curate" split --val 0 --min 1 --seed 1 --quiet --workspace "$ws"
    "$curate" export --quiet --workspace "$ws"
    "$curate" list --json --workspace "$ws" > "$ws/list.json"
}
