#!/usr/bin/env bash
# The cost of open event streams, measured in one pinned run (issue 14):
#
#   benches/events.sh
#
# For each repetition, two fresh servers on fresh copies of the seed, pinned as compare.sh pins
# them (server on BENCH_SERVER_CPU with one worker; wrk and the stream clients on BENCH_WRK_CPU):
#   none: send throughput (wrk, send.lua) with no stream open;
#   sse:  the same with BENCH_SSE_CLIENTS streams open (benches/sse_clients.py), of which
#         BENCH_SSE_BIG are the big user (a provider in every conversation, so every send is an
#         event on their stream) and the rest patients who send in the run. The stream clients
#         run at a lower priority (nice BENCH_SSE_NICE, 10) than wrk, with which they share a
#         core, so that reading the streams does not starve the load generator. One more stream
#         is a probe, in its own process at normal priority: its user sends a message every
#         50 ms and times it from the acknowledgement to the message.created event on its own
#         stream, first with the server idle, then while wrk sends.
# The two alternate which goes first. The table gives the medians, the ratio sse/none (the goal
# is >= 0.9), and the probe's latency percentiles; the stream clients report streams the server
# ended early (a client cut off as too slow) as anomalies.
#
# Settings: as benches/compare.sh (BENCH_SIZES default 10000, BENCH_DURATION, BENCH_WARMUP,
# BENCH_CONNECTIONS, BENCH_REPS, BENCH_WORK, BENCH_BUILD, ...), BENCH_SSE_CLIENTS (100),
# BENCH_SSE_BIG (10), BENCH_SSE_NICE (10).
set -euo pipefail

export BENCH_SIZES=${BENCH_SIZES:-10000}
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"
THREADS=${BENCH_THREADS:-1}
WRK_TIMEOUT=${BENCH_TIMEOUT:-30}
REPS=${BENCH_REPS:-3}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
WRK_CPU=${BENCH_WRK_CPU:-1}
CLIENTS=${BENCH_SSE_CLIENTS:-100}
BIG_STREAMS=${BENCH_SSE_BIG:-10}
NICE=${BENCH_SSE_NICE:-10}
NAME=events
RUNS=$WORK/events.tsv        # size rep config rps cpu_us non2xx sockerr
PROBES=$WORK/events-probe.tsv  # size rep phase sends p50 p99 max
: > "$RUNS"
: > "$PROBES"
command -v python3 >/dev/null || die "python3 is needed for the stream clients"
(( BIG_STREAMS < CLIENTS )) || die "BENCH_SSE_BIG must be below BENCH_SSE_CLIENTS"

pin
build --bin parlor

# The streams' tokens: BIG_STREAMS times the big user, then patients who send in the run; the
# probe is one more sender, in one of its own conversations, streamed by nobody else.
# The senders' tokens, each once, in the order of send_pairs.txt.
senders() { awk '!seen[$1]++ { print $1 }' "$1/send_pairs.txt"; }

stream_tokens() {  # seed_dir out
    local big
    big=$(cat "$1/big.token")
    {
        for _ in $(seq 1 "$BIG_STREAMS"); do echo "$big"; done
        senders "$1" | sed -n "1,$(( CLIENTS - BIG_STREAMS ))p"
    } > "$2"
    PROBE=$(senders "$1" | sed -n "$(( CLIENTS - BIG_STREAMS + 1 ))p")
    PROBE_CONV=$(awk -v t="$PROBE" '$1 == t { print $2; exit }' "$1/send_pairs.txt")
}

send_run() {  # size-label rep config
    local L=$1 rep=$2 cfg=$3 r before after req cpu_us
    local envs=(BENCH_SEND_PAIRS="$seed_dir/send_pairs.txt")
    settle "the start of $cfg"
    wrk_run "$WARMUP" "$LOGS/$NAME-$L-$rep-$cfg-warmup.txt" send.lua / "${envs[@]}" >/dev/null
    settle "the warm-up"
    [[ $cfg == sse ]] && echo load > "$WORK/events.phase"
    before=$(cpu_ticks)
    r=$(wrk_run "$DURATION" "$LOGS/$NAME-$L-$rep-$cfg.txt" send.lua / "${envs[@]}")
    after=$(cpu_ticks)
    [[ $cfg == sse ]] && echo after > "$WORK/events.phase"
    req=$(field requests "$r")
    cpu_us=$(awk -v t=$(( after - before )) -v hz="$CLK_TCK" -v n="$req" \
        'BEGIN { if (n > 0) printf "%.1f", t / hz * 1e6 / n }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$L" "$rep" "$cfg" "$(field rps "$r")" "$cpu_us" \
        "$(field non2xx "$r")" "$(field sock_errors "$r")" >>"$RUNS"
    log "  $cfg send: $(field rps "$r") req/s, ${cpu_us:-?} us CPU per request"
    if [[ $(field non2xx "$r") != 0 || $(field sock_errors "$r") != 0 ]]; then
        anomaly "$L rep $rep $cfg: $(field non2xx "$r") non-2xx, $(field sock_errors "$r") socket errors"
    fi
}

run_config() {  # size-label rep none|sse
    local L=$1 rep=$2 cfg=$3 db=$WORK/events-$3.db clients_pid="" probe_pid="" out probe
    fresh_copy "$size" "$db"
    start_server "$db" "$LOGS/$NAME-$L-$rep-$cfg-server.log"
    log "$cfg: server pid $SERVER_PID on $ADDR, CPU $SERVER_CPU"
    if [[ $cfg == sse ]]; then
        rm -f "$WORK/events.ready" "$WORK/events.probe-ready" "$WORK/events.stop"
        echo idle > "$WORK/events.phase"
        out=$LOGS/$NAME-$L-$rep-clients.json probe=$LOGS/$NAME-$L-$rep-probe.json
        "${WRK_WRAP[@]}" nice -n "$NICE" python3 "$HERE/sse_clients.py" --addr "$ADDR" \
            --tokens "$WORK/events.tokens" --ready "$WORK/events.ready" --stop "$WORK/events.stop" \
            >"$out" 2>"$out.err" &
        clients_pid=$!
        : > "$WORK/events.none"
        "${WRK_WRAP[@]}" python3 "$HERE/sse_clients.py" --addr "$ADDR" --tokens "$WORK/events.none" \
            --probe "$PROBE" "$PROBE_CONV" --ready "$WORK/events.probe-ready" --stop "$WORK/events.stop" \
            --phase "$WORK/events.phase" >"$probe" 2>"$probe.err" &
        probe_pid=$!
        for _ in $(seq 1 300); do
            [[ -f $WORK/events.ready && -f $WORK/events.probe-ready ]] && break
            sleep 0.1
        done
        [[ -f $WORK/events.ready ]] || die "the stream clients did not connect: $(tail -3 "$out.err")"
        [[ -f $WORK/events.probe-ready ]] || die "the probe did not connect: $(tail -3 "$probe.err")"
        log "  $CLIENTS streams and the probe open; the probe alone for ${DURATION}s"
        sleep "$DURATION"
    fi
    send_run "$L" "$rep" "$cfg"
    if [[ -n $clients_pid ]]; then
        touch "$WORK/events.stop"
        wait "$clients_pid" || anomaly "$L rep $rep: the stream clients failed: $(tail -3 "$out.err")"
        wait "$probe_pid" || anomaly "$L rep $rep: the probe failed: $(tail -3 "$probe.err")"
        log "  clients: $(cat "$out")"
        log "  probe: $(cat "$probe")"
        python3 - "$probe" "$L" "$rep" >>"$PROBES" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
for phase in ("idle", "load"):
    p = s.get(phase)
    if p:
        print("\t".join(map(str, (sys.argv[2], sys.argv[3], phase, p["sends"], p["p50_ms"], p["p99_ms"], p["max_ms"]))))
PY
        ended=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ended_early"])' "$out")
        (( ended == 0 )) || anomaly "$L rep $rep: $ended stream(s) ended early"
    fi
    stop_server TERM
    check_db "$db" "$LOGS/$NAME-$L-$rep-$cfg-check.txt" \
        || anomaly "$L rep $rep $cfg: parlor check: $(tail -1 "$LOGS/$NAME-$L-$rep-$cfg-check.txt")"
    rm -f "$db" "$db-wal" "$db-shm"
}

for size in $SIZES; do
    L=$(label "$size")
    ensure_seed "$size"
    stream_tokens "$seed_dir" "$WORK/events.tokens"
    for rep in $(seq 1 "$REPS"); do
        log "$L, repetition $rep of $REPS (load average $(cut -d' ' -f1-3 /proc/loadavg))"
        if (( rep % 2 )); then order=(none sse); else order=(sse none); fi
        for cfg in "${order[@]}"; do run_config "$L" "$rep" "$cfg"; done
    done
done

median() {  # file size key keycol col
    awk -F'\t' -v s="$2" -v c="$3" -v kc="$4" -v k="$5" '$1 == s && $kc == c && $k != "" { print $k }' "$1" \
        | sort -g | awk '{ a[NR] = $1 } END { if (NR) print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'
}
ratio() { if [[ -z $1 || -z $2 ]]; then echo n/a; else awk -v a="$1" -v b="$2" 'BEGIN { if (a == 0) print "n/a"; else printf "%.3f", b / a }'; fi; }

{
    echo "events (rev $REV), pinned: server CPU $SERVER_CPU, wrk and stream clients CPU $WRK_CPU, $REPS repetition(s), ${DURATION}s each, $CONNS connections"
    echo "  sse: $CLIENTS streams ($BIG_STREAMS of the big user, $(( CLIENTS - BIG_STREAMS )) sending patients) and a probe"
    printf '%-6s %12s %12s %8s %12s %12s %8s\n' size "none req/s" "sse req/s" "sse/none" "none us CPU" "sse us CPU" "sse/none"
    for size in $SIZES; do
        L=$(label "$size")
        ra=$(median "$RUNS" "$L" none 3 4) rb=$(median "$RUNS" "$L" sse 3 4)
        ca=$(median "$RUNS" "$L" none 3 5) cb=$(median "$RUNS" "$L" sse 3 5)
        printf '%-6s %12s %12s %8s %12s %12s %8s\n' "$L" "$ra" "$rb" "$(ratio "$ra" "$rb")" "$ca" "$cb" "$(ratio "$ca" "$cb")"
    done
    echo "send acknowledged -> its event on the probe's stream (ms, median over repetitions)"
    printf '%-6s %-6s %8s %8s %8s %8s\n' size phase sends p50 p99 max
    for size in $SIZES; do
        L=$(label "$size")
        for phase in idle load; do
            printf '%-6s %-6s %8s %8s %8s %8s\n' "$L" "$phase" "$(median "$PROBES" "$L" "$phase" 3 4)" \
                "$(median "$PROBES" "$L" "$phase" 3 5)" "$(median "$PROBES" "$L" "$phase" 3 6)" \
                "$(median "$PROBES" "$L" "$phase" 3 7)"
        done
    done
    if (( ${#ANOMALIES[@]} )); then
        echo "anomalies:"
        printf '  %s\n' "${ANOMALIES[@]}"
    fi
} | tee "$WORK/events.txt"
