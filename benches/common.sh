# Shared by run.sh (both modes) and pinned.sh: settings, tools, the server's life cycle, wrk
# runs and the cached seeds. Sourced, never run. See benches/README.md.

T_START=$(date +%s)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
SIZES=${BENCH_SIZES:-"10000 1000000"}
DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-3}
CONNS=${BENCH_CONNECTIONS:-64}
PORT=${BENCH_PORT:-18480}
WORK=${BENCH_WORK:-/tmp/parlor-bench}
BUILD=${BENCH_BUILD:-1}
RESEED=${BENCH_RESEED:-0}
STRICT=${BENCH_STRICT:-0}
# The seeded shape (seed.sh reads these too).
export CONVERSATIONS=${CONVERSATIONS:-100000} PATIENTS=${PATIENTS:-10000} SENDERS=${SENDERS:-2000}
TYPICAL_CONVS=$(( CONVERSATIONS / PATIENTS ))
BIN=$ROOT/target/release/parlor
LOGS=$WORK/logs
# Commands the server and wrk run under (pinned.sh puts taskset here).
SERVER_WRAP=()
WRK_WRAP=()

log() { printf '[%s +%ss] %s\n' "$(date +%H:%M:%S)" "$(( $(date +%s) - T_START ))" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------- tools --------------------
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v sqlite3 >/dev/null || need+=(sqlite3)
command -v curl >/dev/null || need+=(curl)
command -v jq >/dev/null || need+=(jq)
if (( ${#need[@]} )); then
    log "installing ${need[*]} with apt-get"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

PERF_OK=0
if command -v perf >/dev/null \
    && perf stat -x, -o /dev/null -e syscalls:sys_enter_fsync -- true >/dev/null 2>&1; then
    PERF_OK=1
fi

mkdir -p "$WORK" "$LOGS"
ANOMALIES=()
anomaly() { ANOMALIES+=("$*"); log "ANOMALY: $*"; }

# ---------------------------------------------------------------- server handling ----------
SERVER_PID=""     # the parlor process
PERF_PID=""       # perf stat counting the writer's fsyncs
stop_server() {   # [signal]
    local sig=${1:-TERM}
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "-$sig" "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    [[ -n $SERVER_PID ]] && wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}
cleanup() {
    if [[ -n $PERF_PID ]]; then kill "$PERF_PID" 2>/dev/null || true; wait "$PERF_PID" 2>/dev/null || true; fi
    stop_server KILL
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The server sees only the settings this benchmark means: no stray PARLOR_* from the caller.
SERVER_ENV=(env)
while IFS= read -r v; do SERVER_ENV+=(-u "$v"); done < <(compgen -e | grep '^PARLOR_' || true)
SERVER_ENV+=(RUST_LOG=warn NO_COLOR=1 PARLOR_SYNCHRONOUS=full)

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_server() {  # db logfile
    local db=$1 logfile=$2
    while ! port_free "$PORT"; do PORT=$(( PORT + 1 )); done
    ADDR=127.0.0.1:$PORT
    # taskset execs the server, so $! is the server's own pid either way.
    "${SERVER_ENV[@]}" "${SERVER_WRAP[@]}" "$BIN" --db "$db" serve --bind "$ADDR" >"$logfile" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 300); do
        curl -sf --max-time 1 "http://$ADDR/readyz" >/dev/null 2>&1 && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || die "server exited at start: $(tail -5 "$logfile")"
        sleep 0.1
    done
    die "server not ready after 30s (see $logfile)"
}

# The parlor-writer thread of the running server, for perf's fsync count.
writer_tid() {
    grep -l '^parlor-writer$' /proc/"$SERVER_PID"/task/*/comm 2>/dev/null | head -1 | cut -d/ -f5 || true
}

# ---------------------------------------------------------------- wrk ----------------------
export BENCH_LUA_DIR=$HERE
# wrk -d SECONDS -s SCRIPT URL > file; prints the RESULT line.
wrk_run() {  # seconds outfile script path [env assignments...]
    local secs=$1 out=$2 script=$3 path=$4; shift 4
    if ! env "$@" timeout $(( secs + 60 )) "${WRK_WRAP[@]}" wrk -t"${WRK_T:-$THREADS}" -c"${WRK_C:-$CONNS}" \
            -d"${secs}s" --timeout "${WRK_TIMEOUT:-10}s" --latency -s "$HERE/$script" "http://$ADDR$path" >"$out" 2>&1; then
        die "wrk failed: $(tail -5 "$out")"
    fi
    grep -q '^RESULT' "$out" || die "wrk printed no RESULT line (see $out)"
    grep -E '^(RESULT|FIRST_ERROR)' "$out"
}
field() { sed -n "1s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<"$2"; }

label() { awk -v n="$1" 'BEGIN { if (n >= 1000000) printf "%gM", n / 1000000; else if (n >= 1000) printf "%gk", n / 1000; else print n }'; }

# ---------------------------------------------------------------- build --------------------
build() {  # extra cargo arguments (e.g. --example ceiling)
    if (( BUILD )); then
        log "cargo build --release $*"
        (cd "$ROOT" && timeout 1800 cargo build --release --quiet "$@") || die "build failed"
    fi
    [[ -x $BIN ]] || die "$BIN missing (build with cargo build --release)"
    REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
    if [[ -n $(git -C "$ROOT" status --porcelain -- src Cargo.toml Cargo.lock schema.sql 2>/dev/null) ]]; then
        REV="$REV+uncommitted"
    fi
}

# ---------------------------------------------------------------- seeds --------------------
# Seeds SIZE messages into $WORK/seed-SIZE/ unless a seed made by the same seed.sh and schema is
# there; sets seed_dir.
ensure_seed() {  # size
    local size=$1 L stamp t0
    L=$(label "$size")
    seed_dir=$WORK/seed-$size
    stamp=$(cat "$HERE/seed.sh" "$ROOT/schema.sql" | sha256sum | cut -c1-16)-$size-$CONVERSATIONS-$PATIENTS-$SENDERS
    if (( RESEED )) || [[ ! -f $seed_dir/stamp || $(cat "$seed_dir/stamp") != "$stamp" ]]; then
        log "seeding $L messages ($CONVERSATIONS conversations, $PATIENTS patients)"
        rm -rf "$seed_dir"; mkdir -p "$seed_dir"
        t0=$(date +%s)
        timeout 1200 bash "$HERE/seed.sh" "$BIN" "$seed_dir/pristine.db" "$size" "$seed_dir" >&2 \
            || die "seeding failed"
        log "seeded $L in $(( $(date +%s) - t0 ))s"
        echo "$stamp" > "$seed_dir/stamp"
    else
        log "reusing the cached $L seed ($seed_dir)"
    fi
}

# A fresh copy of the pristine seed at DEST (without a stale WAL).
fresh_copy() {  # size dest
    rm -f "$2" "$2-wal" "$2-shm"
    cp "$WORK/seed-$1/pristine.db" "$2"
}

# Proves a database consistent: `parlor check` finds no drift in the unread counts.
check_db() {  # db outfile
    timeout 900 "${SERVER_ENV[@]}" "$BIN" --db "$1" check >"$2" 2>&1
}

# The pinned modes (pinned.sh, compare.sh): the server on SERVER_CPU with one worker, wrk on
# WRK_CPU.
pin() {
    command -v taskset >/dev/null || die "taskset (util-linux) is needed for the pinned mode"
    [[ $SERVER_CPU != "$WRK_CPU" ]] || die "BENCH_SERVER_CPU and BENCH_WRK_CPU must differ"
    local cpu
    for cpu in "$SERVER_CPU" "$WRK_CPU"; do
        taskset -c "$cpu" true 2>/dev/null || die "CPU $cpu is not available here ($(nproc) CPUs)"
    done
    SERVER_WRAP=(taskset -c "$SERVER_CPU")
    WRK_WRAP=(taskset -c "$WRK_CPU")
    SERVER_ENV+=(PARLOR_WORKERS=1)
    CLK_TCK=$(getconf CLK_TCK)
}

# utime + stime of every thread of the server, dead ones included, in clock ticks.
cpu_ticks() { sed 's/^.*) //' "/proc/$SERVER_PID/stat" | awk '{ print $12 + $13 }'; }

# Waits (at most 3 minutes) until the server is idle: requests wrk gave up on or left in flight
# are still served after it stops, and a slow list leaves seconds of them; they must not be
# counted against the next run. Idle is a whole second in which none of the server's threads
# was runnable or in uninterruptible sleep and it gained no CPU time: on a loaded machine a busy
# server can go half a second without being scheduled, so CPU time alone is not enough.
busy_threads() {
    cat /proc/"$SERVER_PID"/task/*/stat 2>/dev/null | sed 's/^.*) //' | awk '$1 != "S" && $1 != "I" { n++ } END { print n + 0 }'
}
settle() {  # what
    local a b quiet=0 waited=0
    a=$(cpu_ticks)
    while (( quiet < 4 )); do
        sleep 0.25
        b=$(cpu_ticks) waited=$(( waited + 1 ))
        if (( b - a <= 1 )) && (( $(busy_threads) == 0 )); then quiet=$(( quiet + 1 )); else quiet=0; fi
        a=$b
        if (( waited >= 720 )); then anomaly "the server was still busy 3 minutes after $1"; break; fi
    done
    (( waited > 8 )) && log "  (the server took $(( waited / 4 ))s to finish the requests left by $1)"
    return 0
}
