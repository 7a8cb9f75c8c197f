#!/usr/bin/env bash
# Parlor performance benchmark: the release server over HTTP on loopback, wrk beside it.
#
#   benches/run.sh            # full run: 10k and 1M messages (about 2 minutes once built)
#   BENCH_SIZES=10000 BENCH_DURATION=5 benches/run.sh   # a quick look
#
# For each database size it seeds (or reuses a cached seed), proves the seed consistent with
# `parlor check`, starts `parlor serve` with synchronous=FULL and measures
#   1. list-conversations (GET /parlor/v1/conversations?limit=20) for a typical user (10
#      conversations) and for the big user (100,000 conversations): requests/s and latency;
#   2. send-message (POST /parlor/v1/conversations/{id}/messages) by 2,000 users with their own
#      tokens over 20,000 conversations: messages/s and latency;
#      and, when `perf` can count syscall tracepoints, the writer's batching (its fsyncs, one
#      per commit, during the measured run);
# then checks that every acknowledged send is stored and that the unread counts did not drift.
# Lists run before sends so that the database is the seeded size when they are measured.
# See benches/README.md for what each number means.
#
# Settings (environment):
#   BENCH_SIZES        message counts to seed             "10000 1000000"
#   BENCH_DURATION     seconds per measured wrk run        10
#   BENCH_WARMUP       seconds of warm-up before each      3
#   BENCH_THREADS      wrk threads                         2
#   BENCH_CONNECTIONS  wrk connections                     64
#   BENCH_MODERATE_CONNECTIONS  connections of the extra latency probe  8
#   BENCH_PORT         first port to try on 127.0.0.1      18480
#   BENCH_WORK         scratch directory (seeds cached)    /tmp/parlor-bench
#   BENCH_BUILD        1: cargo build --release first      1
#   BENCH_RESEED       1: ignore cached seeds              0
#   BENCH_STRICT       1: exit 1 when a target is missed   0
set -euo pipefail

T_START=$(date +%s)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
SIZES=${BENCH_SIZES:-"10000 1000000"}
DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-3}
THREADS=${BENCH_THREADS:-2}
CONNS=${BENCH_CONNECTIONS:-64}
MODERATE=${BENCH_MODERATE_CONNECTIONS:-8}
PORT=${BENCH_PORT:-18480}
WORK=${BENCH_WORK:-/tmp/parlor-bench}
BUILD=${BENCH_BUILD:-1}
RESEED=${BENCH_RESEED:-0}
PROBE_DURATION=3
STRICT=${BENCH_STRICT:-0}
# The seeded shape (seed.sh reads these too).
export CONVERSATIONS=${CONVERSATIONS:-100000} PATIENTS=${PATIENTS:-10000} SENDERS=${SENDERS:-2000}
TYPICAL_CONVS=$(( CONVERSATIONS / PATIENTS ))
BIN=$ROOT/target/release/parlor
LOGS=$WORK/logs
RESULTS=$WORK/results.tsv

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
: > "$RESULTS"
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
    "${SERVER_ENV[@]}" "$BIN" --db "$db" serve --bind "$ADDR" >"$logfile" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 300); do
        curl -sf --max-time 1 "http://$ADDR/readyz" >/dev/null 2>&1 && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || die "server exited at start: $(tail -5 "$logfile")"
        sleep 0.1
    done
    die "server not ready after 30s (see $logfile)"
}

# ---------------------------------------------------------------- wrk ----------------------
export BENCH_LUA_DIR=$HERE
# wrk -d SECONDS -s SCRIPT URL > file; prints the RESULT line.
wrk_run() {  # seconds outfile script path [env assignments...]
    local secs=$1 out=$2 script=$3 path=$4; shift 4
    if ! env "$@" timeout $(( secs + 60 )) wrk -t"${WRK_T:-$THREADS}" -c"${WRK_C:-$CONNS}" -d"${secs}s" --timeout 10s \
            --latency -s "$HERE/$script" "http://$ADDR$path" >"$out" 2>&1; then
        die "wrk failed: $(tail -5 "$out")"
    fi
    grep -q '^RESULT' "$out" || die "wrk printed no RESULT line (see $out)"
    grep -E '^(RESULT|FIRST_ERROR)' "$out"
}
field() { sed -n "1s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<"$2"; }

record() {  # size scenario result-line [note]
    local size=$1 scenario=$2 r=$3 note=${4:-}
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$size" "$scenario" \
        "$(field rps "$r")" "$(field p50_ms "$r")" "$(field p99_ms "$r")" "$(field max_ms "$r")" \
        "$(field ok2xx "$r")" "$(field non2xx "$r")" "$(field sock_errors "$r")" "$note" >>"$RESULTS"
    local non sock first
    non=$(field non2xx "$r") sock=$(field sock_errors "$r")
    if [[ $non != 0 || $sock != 0 ]]; then
        first=$(grep '^FIRST_ERROR' <<<"$r" | head -1 || true)
        anomaly "$size $scenario: $non non-2xx, $sock socket errors. $first"
    fi
}

label() { awk -v n="$1" 'BEGIN { if (n >= 1000000) printf "%gM", n / 1000000; else if (n >= 1000) printf "%gk", n / 1000; else print n }'; }

# ---------------------------------------------------------------- build --------------------
if (( BUILD )); then
    log "cargo build --release"
    (cd "$ROOT" && timeout 1200 cargo build --release --quiet) || die "build failed"
fi
[[ -x $BIN ]] || die "$BIN missing (build with cargo build --release)"
REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$ROOT" status --porcelain -- src Cargo.toml Cargo.lock schema.sql 2>/dev/null) ]]; then
    REV="$REV+uncommitted"
fi

# ---------------------------------------------------------------- per size -----------------
for size in $SIZES; do
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
    db=$WORK/run-$size.db
    rm -f "$db" "$db-wal" "$db-shm"
    cp "$seed_dir/pristine.db" "$db"
    seeded=$(sqlite3 "$db" "SELECT count(*) FROM messages")

    log "parlor check on the seeded database"
    timeout 600 "${SERVER_ENV[@]}" "$BIN" --db "$db" check >"$LOGS/$size-check-before.txt" 2>&1 \
        || die "seed has drift: $(tail -3 "$LOGS/$size-check-before.txt")"

    start_server "$db" "$LOGS/$size-server.log"
    log "server pid $SERVER_PID on $ADDR ($L messages)"
    TYPICAL=$(cat "$seed_dir/typical.token") BIG=$(cat "$seed_dir/big.token")
    LIST=/parlor/v1/conversations?limit=20

    # Pre-flight: the lists answer what the seed says they hold.
    n=$(curl -sf -H "Authorization: Bearer $TYPICAL" "http://$ADDR$LIST" | jq '.data | length') \
        || die "typical user's list failed"
    [[ $n == "$TYPICAL_CONVS" ]] || die "typical user's list has $n conversations, expected $TYPICAL_CONVS"
    n=$(curl -sf -H "Authorization: Bearer $BIG" "http://$ADDR$LIST" \
        | jq 'if .next_cursor == null then -1 else (.data | length) end') || die "big user's list failed"
    [[ $n == 20 ]] || die "big user's first page has $n conversations (or no next_cursor), expected 20"

    for who in typical big; do
        tok=$TYPICAL; [[ $who == big ]] && tok=$BIG
        log "list, $who user: ${WARMUP}s warm-up, ${DURATION}s measured"
        wrk_run "$WARMUP" "$LOGS/$size-list-$who-warmup.txt" list.lua "$LIST" BENCH_TOKEN="$tok" >/dev/null
        r=$(wrk_run "$DURATION" "$LOGS/$size-list-$who.txt" list.lua "$LIST" BENCH_TOKEN="$tok")
        record "$L" "list-$who" "$r"
        log "  $r"
        # The same request one at a time: the service time without queueing behind 63 others.
        r=$(WRK_T=1 WRK_C=1 wrk_run "$PROBE_DURATION" "$LOGS/$size-list-$who-c1.txt" list.lua "$LIST" BENCH_TOKEN="$tok")
        record "$L" "list-$who-c1" "$r"
        log "  one connection: $r"
        # And at moderate concurrency: latency with some queueing but below saturation.
        r=$(WRK_T=2 WRK_C=$MODERATE wrk_run "$PROBE_DURATION" "$LOGS/$size-list-$who-c$MODERATE.txt" list.lua "$LIST" BENCH_TOKEN="$tok")
        record "$L" "list-$who-moderate" "$r"
        log "  $MODERATE connections: $r"
    done

    pairs=$seed_dir/send_pairs.txt
    first=$(head -1 "$pairs")
    code=$(curl -s -o "$LOGS/$size-send-preflight.json" -w '%{http_code}' \
        -H "Authorization: Bearer ${first% *}" -H 'Content-Type: application/json' \
        -d '{"body":"pre-flight"}' "http://$ADDR/parlor/v1/conversations/${first#* }/messages")
    [[ $code == 201 ]] || die "pre-flight send answered $code: $(cat "$LOGS/$size-send-preflight.json")"
    log "send: ${WARMUP}s warm-up, ${DURATION}s measured"
    w=$(wrk_run "$WARMUP" "$LOGS/$size-send-warmup.txt" send.lua / BENCH_SEND_PAIRS="$pairs")
    # Writer batching: with synchronous=FULL and automatic checkpoints off, the writer thread
    # fsyncs the WAL once per commit, so its fsync count over the run is its commit count.
    writer_tid=$(grep -l '^parlor-writer$' /proc/"$SERVER_PID"/task/*/comm 2>/dev/null | head -1 | cut -d/ -f5 || true)
    perf_out=$LOGS/$size-send-perf.txt
    rm -f "$perf_out"
    if (( PERF_OK )) && [[ -n $writer_tid ]]; then
        perf stat -x, -o "$perf_out" -e syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync \
            -t "$writer_tid" -- sleep "$DURATION" >/dev/null 2>&1 &
        PERF_PID=$!
    fi
    r=$(wrk_run "$DURATION" "$LOGS/$size-send.txt" send.lua / BENCH_SEND_PAIRS="$pairs")
    note="writer batching not measured (perf cannot count syscall tracepoints here)"
    if [[ -n $PERF_PID ]]; then
        wait "$PERF_PID" 2>/dev/null || true
        PERF_PID=""
        commits=$(awk -F, '/sys_enter_f(data)?sync/ { s += $1 } END { print s + 0 }' "$perf_out" 2>/dev/null || echo 0)
        if (( commits > 0 )); then
            note=$(awk -v s="$(field ok2xx "$r")" -v c="$commits" -v d="$DURATION" \
                'BEGIN { printf "writer: %d commits (%.0f/s), mean batch %.1f sends/commit", c, c / d, s / c }')
        fi
    fi
    record "$L" "send" "$r" "$note"
    log "  $r; $note"
    stop_server TERM

    # Every acknowledged send is in the file, and the read state did not drift under load.
    # Requests still in flight when wrk stops (at most one per connection per run) are
    # processed but not counted by wrk, so stored may exceed acked by up to 2 x connections.
    acked=$(( 1 + $(field ok2xx "$w") + $(field ok2xx "$r") ))
    stored=$(( $(sqlite3 "$db" "SELECT count(*) FROM messages") - seeded ))
    if (( stored < acked || stored > acked + 2 * CONNS )); then
        anomaly "$L: $acked sends acknowledged but $stored stored"
    fi
    if ! timeout 600 "${SERVER_ENV[@]}" "$BIN" --db "$db" check >"$LOGS/$size-check-after.txt" 2>&1; then
        anomaly "$L: unread counts drifted under load: $(tail -1 "$LOGS/$size-check-after.txt")"
    fi
    problems=$(grep -cE 'WARN|ERROR' "$LOGS/$size-server.log" || true)
    (( problems == 0 )) || anomaly "$L: $problems WARN/ERROR lines in $LOGS/$size-server.log"
    printf '%s\tdurability\t%s acknowledged, %s stored (in flight at wrk stop: %s)\t%s\n' "$L" "$acked" "$stored" "$(( stored - acked ))" "$(tail -1 "$LOGS/$size-check-after.txt")" >>"$RESULTS.notes"

    rm -f "$db" "$db-wal" "$db-shm"
done

# ---------------------------------------------------------------- summary ------------------
get() { awk -F'\t' -v s="$1" -v n="$2" -v c="$3" '$1 == s && $2 == n { print $c }' "$RESULTS"; }
verdict() { if awk "BEGIN { exit !($1) }"; then echo PASS; else echo FAIL; fi; }
{
    echo
    echo "Parlor benchmark: rev $REV, $(nproc) cores, wrk -t$THREADS -c$CONNS -d${DURATION}s (+${WARMUP}s warm-up), synchronous=FULL, loopback"
    echo "Data: $CONVERSATIONS conversations; the big user is in all of them, the typical user in $TYPICAL_CONVS; sends by $SENDERS users over $(( SENDERS * TYPICAL_CONVS )) conversations"
    echo
    printf '%-6s %-20s %11s %9s %9s %9s %8s %8s %6s  %s\n' size scenario "req/s" "p50 ms" "p99 ms" "max ms" 2xx non-2xx sockerr note
    printf '%-6s %-20s %11s %9s %9s %9s %8s %8s %6s  %s\n' ------ -------------------- ----------- --------- --------- --------- -------- -------- ------ ----
    while IFS=$'\t' read -r s n rps p50 p99 mx ok non sock note; do
        case $n in
            list-typical) n="list, typical user" ;;
            list-big) n="list, big user" ;;
            list-typical-c1) n="  same, 1 connection" ;;
            list-big-c1) n="  same, 1 connection" ;;
            list-*-moderate) n="  same, $MODERATE connections" ;;
            send) n="send (messages/s)" ;;
        esac
        printf '%-6s %-20s %11s %9s %9s %9s %8s %8s %6s  %s\n' "$s" "$n" "$rps" "$p50" "$p99" "$mx" "$ok" "$non" "$sock" "$note"
    done <"$RESULTS"
    if [[ -f $RESULTS.notes ]]; then
        echo
        while IFS=$'\t' read -r s _ acked check; do echo "$s after sends: $acked; parlor check: $check"; done <"$RESULTS.notes"
        rm -f "$RESULTS.notes"
    fi
    echo
    echo "Targets:"
    for size in $SIZES; do
        L=$(label "$size")
        v=$(get "$L" send 3)
        [[ -n $v ]] && printf '  %-55s %12s  %s\n' "send >= 5000 msg/s, synchronous=FULL ($L)" "$v" "$(verdict "$v >= 5000")"
    done
    big=$(label "$(echo "$SIZES" | tr ' ' '\n' | sort -n | tail -1)")
    small=$(label "$(echo "$SIZES" | tr ' ' '\n' | sort -n | head -1)")
    for who in typical big; do
        # Latency is judged below saturation: with 64 closed-loop connections p99 is queueing
        # (p50 ~ 64 / throughput), so that row is shown for information only.
        v=$(get "$big" "list-$who-moderate" 5) sat=$(get "$big" "list-$who" 5)
        [[ -n $v ]] && printf '  %-55s %12s  %s\n' "list p99 <= 10 ms, $who user ($big, $MODERATE conns)" "$v ms" "$(verdict "$v <= 10")"
        [[ -n $sat ]] && printf '  %-55s %12s  %s\n' "  (for information: p99 at $CONNS conns, saturated)" "$sat ms" ""
        if [[ $big != "$small" ]]; then
            a=$(get "$small" "list-$who" 3) b=$(get "$big" "list-$who" 3)
            ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", b / a }')
            printf '  %-55s %12s  %s\n' "list req/s at $big within 20% of $small, $who user" "x$ratio" "$(verdict "$ratio >= 0.8")"
        fi
    done
    tot_non=$(awk -F'\t' '{ s += $8 + $9 } END { print s + 0 }' "$RESULTS")
    printf '  %-55s %12s  %s\n' "non-2xx + socket errors, all runs" "$tot_non" "$(verdict "$tot_non == 0")"
    echo
    if (( ${#ANOMALIES[@]} )); then
        echo "Anomalies:"
        for a in "${ANOMALIES[@]}"; do echo "  - $a"; done
    else
        echo "Anomalies: none"
    fi
    echo "Wall time: $(( $(date +%s) - T_START ))s. Raw wrk output and server logs: $LOGS"
} | tee "$WORK/summary.txt"

if (( STRICT )) && { (( ${#ANOMALIES[@]} )) || grep -q ' FAIL$' "$WORK/summary.txt"; }; then exit 1; fi
exit 0
