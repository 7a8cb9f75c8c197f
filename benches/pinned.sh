#!/usr/bin/env bash
# Parlor's pinned benchmark (BENCH_PIN=1 benches/run.sh): where the server's time goes, as
# ratios to the storage ceiling measured in the same run.
#
#   BENCH_PIN=1 benches/run.sh                         # 10k and 1M messages, 3 repetitions
#   BENCH_PIN=1 BENCH_SIZES=1000000 benches/run.sh     # 1M only
#
# The server runs on one core (taskset -c BENCH_SERVER_CPU, `workers = 1`: its HTTP worker,
# writer, checkpointer and blocking-pool threads all share that core), wrk on another
# (BENCH_WRK_CPU). For each size and repetition:
#   1. the storage ceiling (benches/ceiling.rs, on the server's core, on its own copy of the
#      seed): the SQL of a typical user's list, the big user's list and group-committed sends,
#      without HTTP;
#   2. a fresh server on a fresh copy of the seed; for each operation (lists, one list per
#      vendor face, then sends) a warm-up, then a measured wrk run with the server's CPU time
#      (utime + stime of all its threads, /proc/PID/stat) read before and after;
#   3. with each run, the server's resident memory after it (VmRSS) and its peak during it
#      (VmHWM, reset before the warm-up); once the server has stopped, the same durability and
#      unread-count checks as the unpinned mode.
# The summary (medians of the repetitions) goes to stdout and $BENCH_WORK/summary.txt.
#
# Settings (environment), besides run.sh's BENCH_SIZES, BENCH_DURATION, BENCH_WARMUP,
# BENCH_CONNECTIONS, BENCH_PORT, BENCH_WORK, BENCH_BUILD, BENCH_RESEED, BENCH_STRICT:
#   BENCH_REPS         repetitions (median reported)       3
#   BENCH_SERVER_CPU   the server's (and the ceiling's) CPU 0
#   BENCH_WRK_CPU      wrk's CPU                           1
#   BENCH_THREADS      wrk threads                         1
set -euo pipefail

source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"
THREADS=${BENCH_THREADS:-1}
# A slow list (a scan) must still finish its answers under 64 closed-loop connections.
WRK_TIMEOUT=${BENCH_TIMEOUT:-30}
REPS=${BENCH_REPS:-3}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
WRK_CPU=${BENCH_WRK_CPU:-1}
CEILING=$ROOT/target/release/examples/ceiling
CEILING_BATCH=64
# size rep op rps cpu_us requests non2xx sockerr sends-per-commit vmrss_kb vmhwm_kb
RUNS=$WORK/pinned.tsv
# size rep op ops_per_s us_per_op cpu_us_per_op
CEILS=$WORK/pinned-ceiling.tsv
# size rep load-average-1min (at the start of each repetition)
LOADS=$WORK/pinned-load.tsv
: > "$RUNS"; : > "$CEILS"; : > "$LOADS"

pin

build --bin parlor --example ceiling
[[ -x $CEILING ]] || die "$CEILING missing (cargo build --release --example ceiling)"

# The server's resident memory now and its peak since the last reset, in kB; then the peak is
# reset to now (clear_refs 5, Linux 4.0), so that each operation gets its own peak.
memory() {
    awk '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 } END { print r "\t" h }' "/proc/$SERVER_PID/status"
    echo 5 2>/dev/null >"/proc/$SERVER_PID/clear_refs" || true
}

# ---------------------------------------------------------------- operations ---------------
LIST=/parlor/v1/conversations?limit=20
OPS=(list-typical list-big face-mdlive face-pigeons face-respondent face-trillet face-tati native-full send)
FACES=(face-mdlive face-pigeons face-respondent face-trillet face-tati)
# The faces that show every message of each conversation (as their vendors do) are compared
# with the native API fetching the same data: the typical list and each of its conversations'
# messages, one request each (native-full); the other faces with the typical list.
FULL_FACES=(face-respondent face-trillet)
# The native requests of native-full, one path per line (set by the pre-flight).
NATIVE_FULL_PATHS=""

op_label() {
    case $1 in
        list-typical) echo "list, typical user ($TYPICAL_CONVS conversations)" ;;
        list-big) echo "list, big user (20 of $(label "$CONVERSATIONS"))" ;;
        send) echo "send, sync FULL, $CONNS conns (msg/s)" ;;
        face-mdlive) echo "MDLIVE conversations (typical user)" ;;
        face-pigeons) echo "Pigeons chat list (typical user)" ;;
        face-respondent) echo "Respondent conversations ($TYPICAL_CONVS of the clinic)" ;;
        face-trillet) echo "Trillet conversations (workspace of $TYPICAL_CONVS)" ;;
        face-tati) echo "Tati conversations ($TYPICAL_CONVS with the assistant)" ;;
        native-full) echo "native: list + messages (per set of $(( TYPICAL_CONVS + 1 )))" ;;
    esac
}

# The path and headers ("Name: value" lines) of each list; needs the seed's faces.env, the
# tokens and, for MDLIVE, $JWT.
op_path() {
    case $1 in
        list-typical | list-big | native-full) echo "$LIST" ;;
        face-mdlive) echo "/api/v2/patients/$TYPICAL_USER/messages/conversations" ;;
        face-pigeons) echo "/api/v1/pigeons/chat/conversations" ;;
        face-respondent) echo "/v1/messaging/conversations?pageSize=$TYPICAL_CONVS" ;;
        face-trillet) echo "/v1/api/conversations" ;;
        face-tati) echo "/v0.1/patients/conversations/" ;;
    esac
}
op_headers() {
    case $1 in
        list-typical | native-full) echo "Authorization: Bearer $TYPICAL" ;;
        list-big) echo "Authorization: Bearer $BIG" ;;
        face-mdlive) echo "Authorization: Bearer $JWT" ;;
        face-pigeons) printf 'Authorization: Bearer %s\nX-PUBLIC-KEY: %s\n' "$TYPICAL" "$PUBLIC_KEY" ;;
        face-respondent) printf 'x-api-key: %s\nx-api-secret: %s\n' "$CLINIC_API_KEY" "$CLINIC_API_SECRET" ;;
        face-trillet) printf 'x-api-key: %s\nx-workspace-id: %s\n' "$WS_API_SECRET" "$WORKSPACE_ID" ;;
        face-tati) echo "Authorization: Token $WS_PATIENT_TOKEN" ;;
    esac
}
# What each list must hold, checked before measuring: the expected value, a tab, a jq filter.
op_expect() {
    case $1 in
        list-typical | native-full) printf '%s\t%s\n' "$TYPICAL_CONVS" ".data | length" ;;
        list-big) printf '%s\t%s\n' 20 "if .next_cursor == null then -1 else (.data | length) end" ;;
        face-mdlive) printf '%s\t%s\n' 1 ".conversations | length" ;;
        face-pigeons) printf '%s\t%s\n' "$TYPICAL_CONVS" ".data | length" ;;
        face-respondent) printf '%s\t%s\n' "$TYPICAL_CONVS" ".results | length" ;;
        face-trillet | face-tati) printf '%s\t%s\n' "$WS_CONVERSATIONS" "length" ;;
    esac
}

get_list() {  # op: the list's body
    local args=() line
    while IFS= read -r line; do [[ -n $line ]] && args+=(-H "$line"); done < <(op_headers "$1")
    curl -sf --max-time 10 "${args[@]}" "http://$ADDR$(op_path "$1")"
}

preflight() {  # size
    local body size=$1 op filter want n
    # MDLIVE: the typical user's token, by single sign-on with the clinic's API key.
    body=$(jq -n --arg sub "$TYPICAL_SUBSCRIBER" --arg key "$CLINIC_API_KEY" --arg secret "$CLINIC_API_SECRET" \
        '{auth: {first_name: "Pat", last_name: "Number 2", gender: "F", birthdate: "1990-01-01",
                 subscriber_id: $sub}, org: {ou: "bench"}, api: {api_key: $key, password: $secret}}')
    JWT=$(curl -sf --max-time 10 -H 'Content-Type: application/json' -d "$body" \
        "http://$ADDR/api/v1/sso_auth/auth_token" | jq -er '.jwt') || die "MDLIVE single sign-on failed"
    for op in "${OPS[@]}"; do
        [[ $op == send ]] && continue
        IFS=$'\t' read -r want filter < <(op_expect "$op")
        n=$(get_list "$op" | jq "$filter") || die "$op: the list call failed ($(op_path "$op"))"
        [[ $n == "$want" ]] || die "$op: the list holds $n, expected $want ($(op_path "$op"))"
    done
    # native-full: the typical list, then each of its conversations' messages (all of them, as
    # Respondent and Trillet show).
    NATIVE_FULL_PATHS=$(get_list list-typical | jq -r --arg list "$LIST" \
        '$list, (.data[] | "/parlor/v1/conversations/\(.id)/messages?limit=100")') \
        || die "native-full: the typical list failed"
    local first code
    first=$(head -1 "$seed_dir/send_pairs.txt")
    code=$(curl -s -o "$LOGS/$size-send-preflight.json" -w '%{http_code}' \
        -H "Authorization: Bearer ${first% *}" -H 'Content-Type: application/json' \
        -d '{"body":"pre-flight"}' "http://$ADDR/parlor/v1/conversations/${first#* }/messages")
    [[ $code == 201 ]] || die "pre-flight send answered $code: $(cat "$LOGS/$size-send-preflight.json")"
}

# One operation: warm-up, then the measured run between two readings of the server's CPU time.
measure() {  # size-label rep op
    local L=$1 rep=$2 op=$3 script path before after r req cpu_us note="" tid perf_out commits
    local envs=()
    if [[ $op == send ]]; then
        script=send.lua path=/ envs=(BENCH_SEND_PAIRS="$seed_dir/send_pairs.txt")
    else
        script=list.lua path=$(op_path "$op") envs=(BENCH_HEADERS="$(op_headers "$op")")
    fi
    # native-full counts sets of requests: CPU and rate per set, not per request.
    local per=1
    if [[ $op == native-full ]]; then
        envs+=(BENCH_PATHS="$NATIVE_FULL_PATHS")
        per=$(grep -c . <<<"$NATIVE_FULL_PATHS")
    fi
    settle "the previous run"
    memory >/dev/null
    r=$(wrk_run "$WARMUP" "$LOGS/$L-$rep-$op-warmup.txt" "$script" "$path" "${envs[@]}")
    [[ $op == send ]] && SENT_OK=$(( SENT_OK + $(field ok2xx "$r") ))
    settle "the warm-up"
    perf_out=$LOGS/$L-$rep-$op-perf.txt
    rm -f "$perf_out"
    tid=$(writer_tid)
    if [[ $op == send ]] && (( PERF_OK )) && [[ -n $tid ]]; then
        taskset -c "$WRK_CPU" perf stat -x, -o "$perf_out" \
            -e syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync -t "$tid" -- sleep "$DURATION" >/dev/null 2>&1 &
        PERF_PID=$!
    fi
    before=$(cpu_ticks)
    r=$(wrk_run "$DURATION" "$LOGS/$L-$rep-$op.txt" "$script" "$path" "${envs[@]}")
    after=$(cpu_ticks)
    if [[ -n $PERF_PID ]]; then
        wait "$PERF_PID" 2>/dev/null || true
        PERF_PID=""
        commits=$(awk -F, '/sys_enter_f(data)?sync/ { s += $1 } END { print s + 0 }' "$perf_out" 2>/dev/null || echo 0)
        (( commits > 0 )) && note=$(awk -v s="$(field ok2xx "$r")" -v c="$commits" 'BEGIN { printf "%.1f", s / c }')
    fi
    req=$(field requests "$r")
    (( req > 0 )) || anomaly "$L rep $rep $op: no request completed in ${DURATION}s"
    cpu_us=$(awk -v t=$(( after - before )) -v hz="$CLK_TCK" -v n="$req" -v per="$per" \
        'BEGIN { if (n > 0) printf "%.1f", t / hz * 1e6 / n * per }')
    mem=$(memory)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$L" "$rep" "$op" \
        "$(awk -v r="$(field rps "$r")" -v per="$per" 'BEGIN { printf "%.2f", r / per }')" "$cpu_us" "$req" \
        "$(field non2xx "$r")" "$(field sock_errors "$r")" "$note" "$mem" >>"$RUNS"
    log "  $op: $(field rps "$r") req/s, ${cpu_us:-?} us CPU per request, VmRSS/VmHWM ${mem/$'\t'//} kB${note:+, $note sends per commit}"
    if [[ $(field non2xx "$r") != 0 || $(field sock_errors "$r") != 0 ]]; then
        anomaly "$L rep $rep $op: $(field non2xx "$r") non-2xx, $(field sock_errors "$r") socket errors. $(grep '^FIRST_ERROR' <<<"$r" | head -1 || true)"
    fi
    [[ $op == send ]] && SENT_OK=$(( SENT_OK + $(field ok2xx "$r") ))
    return 0
}

ceiling() {  # size-label rep db op ceiling-arguments...
    local L=$1 rep=$2 db=$3 op=$4 out line; shift 4
    out=$(timeout 900 taskset -c "$SERVER_CPU" "$CEILING" --db "$db" --reps 1 "$@" 2>>"$LOGS/$L-$rep-ceiling.txt") \
        || die "ceiling $op failed: $(tail -3 "$LOGS/$L-$rep-ceiling.txt")"
    line=$(grep '^CEILING' <<<"$out") || die "ceiling $op printed no CEILING line"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$L" "$rep" "$op" "$(field ops_per_s "$line")" \
        "$(field us_per_op "$line")" "$(field cpu_us_per_op "$line")" >>"$CEILS"
    log "  ceiling $op: $line"
    case $op in
        list-typical) [[ $(field page "$line") == "$TYPICAL_CONVS" ]] || die "ceiling: the typical page holds $(field page "$line")" ;;
        list-big) [[ $(field page "$line") == 20 ]] || die "ceiling: the big user's page holds $(field page "$line")" ;;
    esac
}

# ---------------------------------------------------------------- per size and repetition --
for size in $SIZES; do
    L=$(label "$size")
    ensure_seed "$size"
    # shellcheck source=/dev/null
    source "$seed_dir/faces.env"
    TYPICAL=$(cat "$seed_dir/typical.token") BIG=$(cat "$seed_dir/big.token")
    db=$WORK/run-$size.db cdb=$WORK/ceiling-$size.db
    fresh_copy "$size" "$db"
    log "parlor check on the seeded database"
    check_db "$db" "$LOGS/$L-check-before.txt" || die "seed has drift: $(tail -3 "$LOGS/$L-check-before.txt")"

    for rep in $(seq 1 "$REPS"); do
        log "$L, repetition $rep of $REPS (load average $(cut -d' ' -f1-3 /proc/loadavg))"
        printf '%s\t%s\t%s\n' "$L" "$rep" "$(cut -d' ' -f1 /proc/loadavg)" >>"$LOADS"
        fresh_copy "$size" "$cdb"
        ceiling "$L" "$rep" "$cdb" list-typical list --token "$TYPICAL"
        ceiling "$L" "$rep" "$cdb" list-big list --token "$BIG"
        ceiling "$L" "$rep" "$cdb" send send --batch "$CEILING_BATCH" --senders "$SENDERS"
        rm -f "$cdb" "$cdb-wal" "$cdb-shm"

        fresh_copy "$size" "$db"
        seeded=$(sqlite3 "$db" "SELECT count(*) FROM messages")
        start_server "$db" "$LOGS/$L-$rep-server.log"
        log "server pid $SERVER_PID on $ADDR, CPU $SERVER_CPU, 1 worker"
        preflight "$L"
        SENT_OK=1     # the pre-flight send
        for op in "${OPS[@]}"; do measure "$L" "$rep" "$op"; done
        stop_server TERM

        # Every acknowledged send is stored (requests in flight when wrk stops are served but
        # not counted: up to one per connection per wrk run), and the unread counts did not
        # drift.
        stored=$(( $(sqlite3 "$db" "SELECT count(*) FROM messages") - seeded ))
        if (( stored < SENT_OK || stored > SENT_OK + 2 * CONNS )); then
            anomaly "$L rep $rep: $SENT_OK sends acknowledged but $stored stored"
        fi
        check_db "$db" "$LOGS/$L-$rep-check-after.txt" \
            || anomaly "$L rep $rep: unread counts drifted under load: $(tail -1 "$LOGS/$L-$rep-check-after.txt")"
        problems=$(grep -cE 'WARN|ERROR' "$LOGS/$L-$rep-server.log" || true)
        (( problems == 0 )) || anomaly "$L rep $rep: $problems WARN/ERROR lines in $LOGS/$L-$rep-server.log"
    done
    rm -f "$db" "$db-wal" "$db-shm"
done

source "$HERE/pinned-summary.sh"
pinned_summary | tee "$WORK/summary.txt"

if (( STRICT )) && { (( ${#ANOMALIES[@]} )) || grep -q ' FAIL$' "$WORK/summary.txt"; }; then exit 1; fi
exit 0
