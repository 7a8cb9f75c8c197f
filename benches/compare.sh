#!/usr/bin/env bash
# Two server configurations, measured in one pinned run: the cost of a setting as a ratio.
#
#   benches/compare.sh NAME 'A-SETTINGS' 'B-SETTINGS'
#   benches/compare.sh encryption '' 'PARLOR_ENCRYPTION_KEY_FILE=/tmp/parlor-bench/bench.key'
#   benches/compare.sh audit 'PARLOR_AUDIT=false' ''
#
# Each configuration is a space-separated list of VAR=value settings for the server (empty:
# the defaults). For each size and repetition, A and B each get a fresh copy of the seed and a
# fresh server, pinned as in the pinned mode (server on BENCH_SERVER_CPU with one worker, wrk on
# BENCH_WRK_CPU), and the same operations: the typical user's list, the big user's list and
# sends (sync FULL, BENCH_CONNECTIONS connections), each after a warm-up, with the server's CPU
# time read around the measured run. A and B alternate which goes first from one repetition to
# the next, so that a drift of the machine during the run weighs on both. The table gives the
# median of each number and the ratio B/A.
#
# A configuration that sets PARLOR_ENCRYPTION_KEY_FILE gets its copy of the seed encrypted
# first (`parlor encrypt`, which creates the key file if it is missing; keep it outside
# BENCH_WORK's seed directories). Both copies are checked with `parlor check` after the sends.
#
# BENCH_SETUP_A, BENCH_SETUP_B: a shell command run once the configuration's server is up
# (ADDR in its environment), e.g. to register a webhook endpoint through the native API.
#
# Settings: as benches/pinned.sh (BENCH_SIZES, BENCH_DURATION, BENCH_WARMUP, BENCH_CONNECTIONS,
# BENCH_REPS, BENCH_SERVER_CPU, BENCH_WRK_CPU, BENCH_THREADS, BENCH_WORK, BENCH_BUILD, ...).
# Default sizes here: 10000 (set BENCH_SIZES for more).
set -euo pipefail

if (( $# != 3 )); then
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
NAME=$1 CONFIG_A=$2 CONFIG_B=$3
export BENCH_SIZES=${BENCH_SIZES:-10000}

source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"
THREADS=${BENCH_THREADS:-1}
WRK_TIMEOUT=${BENCH_TIMEOUT:-30}
REPS=${BENCH_REPS:-3}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
WRK_CPU=${BENCH_WRK_CPU:-1}
# size rep config op rps cpu_us non2xx sockerr
RUNS=$WORK/compare-$NAME.tsv
: > "$RUNS"

pin
BASE_ENV=("${SERVER_ENV[@]}")

build --bin parlor

# The settings of configuration A or B as an array of VAR=value words.
config_words() {  # A|B
    local text
    if [[ $1 == A ]]; then text=$CONFIG_A; else text=$CONFIG_B; fi
    # shellcheck disable=SC2206
    WORDS=($text)
}


LIST=/parlor/v1/conversations?limit=20
OPS=(list-typical list-big send)

measure() {  # size-label rep config op
    local L=$1 rep=$2 cfg=$3 op=$4 script path r before after req cpu_us envs=()
    case $op in
        list-typical) script=list.lua path=$LIST envs=(BENCH_HEADERS="Authorization: Bearer $TYPICAL") ;;
        list-big) script=list.lua path=$LIST envs=(BENCH_HEADERS="Authorization: Bearer $BIG") ;;
        send) script=send.lua path=/ envs=(BENCH_SEND_PAIRS="$seed_dir/send_pairs.txt") ;;
    esac
    settle "the run before $op"
    wrk_run "$WARMUP" "$LOGS/$NAME-$L-$rep-$cfg-$op-warmup.txt" "$script" "$path" "${envs[@]}" >/dev/null
    settle "the warm-up of $op"
    before=$(cpu_ticks)
    r=$(wrk_run "$DURATION" "$LOGS/$NAME-$L-$rep-$cfg-$op.txt" "$script" "$path" "${envs[@]}")
    after=$(cpu_ticks)
    req=$(field requests "$r")
    cpu_us=$(awk -v t=$(( after - before )) -v hz="$CLK_TCK" -v n="$req" \
        'BEGIN { if (n > 0) printf "%.1f", t / hz * 1e6 / n }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$L" "$rep" "$cfg" "$op" "$(field rps "$r")" \
        "$cpu_us" "$(field non2xx "$r")" "$(field sock_errors "$r")" >>"$RUNS"
    log "  $cfg $op: $(field rps "$r") req/s, ${cpu_us:-?} us CPU per request"
    if [[ $(field non2xx "$r") != 0 || $(field sock_errors "$r") != 0 ]]; then
        anomaly "$L rep $rep $cfg $op: $(field non2xx "$r") non-2xx, $(field sock_errors "$r") socket errors"
    fi
}

run_config() {  # size-label rep A|B
    local L=$1 rep=$2 cfg=$3 db=$WORK/compare-$3.db w
    config_words "$cfg"
    SERVER_ENV=("${BASE_ENV[@]}" "${WORDS[@]}")
    fresh_copy "$size" "$db"
    for w in "${WORDS[@]}"; do
        if [[ $w == PARLOR_ENCRYPTION_KEY_FILE=* ]]; then
            "${SERVER_ENV[@]}" "$BIN" --db "$db" encrypt >"$LOGS/$NAME-$L-$rep-$cfg-encrypt.txt" 2>&1 \
                || die "parlor encrypt failed: $(tail -3 "$LOGS/$NAME-$L-$rep-$cfg-encrypt.txt")"
        fi
    done
    start_server "$db" "$LOGS/$NAME-$L-$rep-$cfg-server.log"
    log "$cfg (${WORDS[*]:-defaults}): server pid $SERVER_PID on $ADDR, CPU $SERVER_CPU"
    local setup_var=BENCH_SETUP_$cfg
    if [[ -n ${!setup_var:-} ]]; then
        ADDR=$ADDR bash -c "${!setup_var}" >"$LOGS/$NAME-$L-$rep-$cfg-setup.txt" 2>&1 \
            || die "$setup_var failed: $(tail -3 "$LOGS/$NAME-$L-$rep-$cfg-setup.txt")"
    fi
    for op in "${OPS[@]}"; do measure "$L" "$rep" "$cfg" "$op"; done
    stop_server TERM
    check_db "$db" "$LOGS/$NAME-$L-$rep-$cfg-check.txt" \
        || anomaly "$L rep $rep $cfg: parlor check: $(tail -1 "$LOGS/$NAME-$L-$rep-$cfg-check.txt")"
    rm -f "$db" "$db-wal" "$db-shm"
    SERVER_ENV=("${BASE_ENV[@]}")
}

for size in $SIZES; do
    L=$(label "$size")
    ensure_seed "$size"
    TYPICAL=$(cat "$seed_dir/typical.token") BIG=$(cat "$seed_dir/big.token")
    for rep in $(seq 1 "$REPS"); do
        log "$L, repetition $rep of $REPS (load average $(cut -d' ' -f1-3 /proc/loadavg))"
        if (( rep % 2 )); then order=(A B); else order=(B A); fi
        for cfg in "${order[@]}"; do run_config "$L" "$rep" "$cfg"; done
    done
done

# The median of column COL for (size, config, op).
median() {  # size config op col
    awk -F'\t' -v s="$1" -v c="$2" -v o="$3" -v k="$4" '$1 == s && $3 == c && $4 == o && $k != "" { print $k }' "$RUNS" \
        | sort -g | awk '{ a[NR] = $1 } END { if (NR) print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'
}
ratio() { if [[ -z $1 || -z $2 ]]; then echo n/a; else awk -v a="$1" -v b="$2" 'BEGIN { if (a == 0) print "n/a"; else printf "%.3f", b / a }'; fi; }

{
    echo "compare $NAME (rev $REV), pinned: server CPU $SERVER_CPU, wrk CPU $WRK_CPU, $REPS repetition(s), ${DURATION}s each, $CONNS connections"
    echo "  A: ${CONFIG_A:-(defaults)}"
    echo "  B: ${CONFIG_B:-(defaults)}"
    printf '%-6s %-13s %12s %12s %8s %12s %12s %8s\n' size operation "A req/s" "B req/s" "B/A" "A us CPU" "B us CPU" "B/A"
    for size in $SIZES; do
        L=$(label "$size")
        for op in "${OPS[@]}"; do
            ra=$(median "$L" A "$op" 5) rb=$(median "$L" B "$op" 5)
            ca=$(median "$L" A "$op" 6) cb=$(median "$L" B "$op" 6)
            printf '%-6s %-13s %12s %12s %8s %12s %12s %8s\n' "$L" "$op" "$ra" "$rb" "$(ratio "$ra" "$rb")" \
                "$ca" "$cb" "$(ratio "$ca" "$cb")"
        done
    done
    if (( ${#ANOMALIES[@]} )); then
        echo "anomalies:"
        printf '  %s\n' "${ANOMALIES[@]}"
    fi
} | tee "$WORK/compare-$NAME.txt"
