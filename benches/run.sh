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
#   BENCH_PIN          1: the pinned mode instead (pinned.sh: server on one core, wrk on the
#                      other, server CPU per request, the storage ceiling, one row per face)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The pinned mode (server on one core, wrk on the other, the storage ceiling beside) is its own
# script: it measures other things and prints another table.
if [[ ${BENCH_PIN:-0} == 1 ]]; then exec bash "$HERE/pinned.sh" "$@"; fi

source "$HERE/common.sh"
THREADS=${BENCH_THREADS:-2}
MODERATE=${BENCH_MODERATE_CONNECTIONS:-8}
PROBE_DURATION=3
RESULTS=$WORK/results.tsv
: > "$RESULTS"

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

build

# ---------------------------------------------------------------- per size -----------------
for size in $SIZES; do
    L=$(label "$size")
    ensure_seed "$size"
    db=$WORK/run-$size.db
    fresh_copy "$size" "$db"
    seeded=$(sqlite3 "$db" "SELECT count(*) FROM messages")

    log "parlor check on the seeded database"
    check_db "$db" "$LOGS/$size-check-before.txt" \
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
    writer_tid=$(writer_tid)
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
    if ! check_db "$db" "$LOGS/$size-check-after.txt"; then
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
