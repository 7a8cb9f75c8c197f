#!/usr/bin/env bash
# Message search (issue 16), measured in one pinned run:
#
#   benches/search.sh
#
# 1. The data: the usual seed (seed.sh, cached), whose messages all say the same sentence, then
#    a copy whose bodies vary (search_bodies.sql: clinic sentences in Spanish and English drawn
#    per message, a pseudo-word of Zipf-like frequency, a reference number), its index rebuilt
#    by `parlor check --rebuild-search` (timed). The sizes of the file and of the index.
# 2. Search latency, one request at a time (wrk, BENCH_SEARCH_CONNECTIONS connections, 1): for
#    each caller (the clinic's admin: the tenant's million messages; the typical patient: 10
#    conversations; the big provider: all 100,000 conversations) and each kind of query
#    (a common word, a rare word, a prefix, a phrase; several of each, cycled), p50 and p99
#    and requests per second, on one server (search.tsv).
# 3. Send throughput with and without the index, in the same run: two databases from the same
#    varied copy, "fts" as it is and "nofts" with the index's table, view and triggers
#    dropped (the server never recreates a step already applied; the table of messages noted
#    for indexing stays, empty, as the writer looks in it before each commit), each repetition on fresh
#    copies, the two alternating which goes first; sends as benches/compare.sh sends them
#    (BENCH_CONNECTIONS connections, synchronous=FULL), CPU per send from /proc. Each copy is
#    then checked (`parlor check --quick`: the index still holds exactly the live messages).
#
# Pinned as compare.sh: the server on BENCH_SERVER_CPU with one worker, wrk on BENCH_WRK_CPU.
# Settings: as benches/compare.sh (BENCH_DURATION, BENCH_WARMUP, BENCH_CONNECTIONS, BENCH_REPS,
# BENCH_WORK, BENCH_BUILD, ...); BENCH_SIZES defaults to 1000000 here.
set -euo pipefail

export BENCH_SIZES=${BENCH_SIZES:-1000000}
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"
THREADS=${BENCH_THREADS:-1}
WRK_TIMEOUT=${BENCH_TIMEOUT:-30}
REPS=${BENCH_REPS:-3}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
WRK_CPU=${BENCH_WRK_CPU:-1}
SEARCH_CONNS=${BENCH_SEARCH_CONNECTIONS:-1}
ADMIN_TOKEN=bench-search-admin-token
SEARCHES=$WORK/search.tsv   # size caller kind rps p50 p99 non2xx
SENDS=$WORK/search-sends.tsv  # size rep config rps cpu_us non2xx sockerr
: > "$SEARCHES"
: > "$SENDS"

pin
BASE_ENV=("${SERVER_ENV[@]}" PARLOR_ADMIN_TOKEN=$ADMIN_TOKEN)
SERVER_ENV=("${BASE_ENV[@]}")
build --bin parlor

# The queries of each kind, as the search box would send them (URL-encoded). Frequencies in the
# varied million: common words in 11-23% of the messages; the rare pseudo-words in 30 each;
# the prefixes and phrases in about 6% (`medic` 12%).
QUERIES_common="cita your morning blood"
QUERIES_rare="bogaca boneni cagani cakoca caluni caruca"
QUERIES_prefix="reso cardio presc medic appoint"
QUERIES_phrase="%22dolor%20de%20cabeza%22 %22blood%20pressure%22 %22insurance%20card%22 %22lab%20results%22"
KINDS=(common rare prefix phrase)
CALLERS=(admin typical big)

# The varied copy of the seed for SIZE in $WORK/search-SIZE/varied.db, and the same without the
# index (nofts.db), made once per seed and kept like the seeds.
ensure_varied() {  # size
    local size=$1 dir=$WORK/search-$1 stamp t0
    stamp=$(cat "$seed_dir/stamp" "$HERE/search_bodies.sql" | sha256sum | cut -c1-16)
    varied=$dir/varied.db nofts=$dir/nofts.db
    if [[ -f $dir/stamp && $(cat "$dir/stamp") == "$stamp" ]]; then
        log "reusing the varied copy ($dir)"
        return
    fi
    rm -rf "$dir"; mkdir -p "$dir"
    cp "$seed_dir/pristine.db" "$varied"
    log "varying the bodies of $(label "$size") messages"
    t0=$(date +%s)
    (cd "$dir" && sqlite3 -bail varied.db < "$HERE/search_bodies.sql" > bodies.log) || die "varying failed"
    # The trigger search_bodies.sql set aside, back as schema.sql made it.
    sqlite3 -bail "$varied" < "$dir/trigger.sql" || die "the trigger did not come back"
    log "bodies varied in $(( $(date +%s) - t0 ))s"
    # The rebuild's own time: the quick check it runs first, timed alone, is taken off.
    t0=$(date +%s%N)
    timeout 900 "${SERVER_ENV[@]}" "$BIN" --db "$varied" check --quick > "$dir/check-before.txt" 2>&1 || true
    local check_ns=$(( $(date +%s%N) - t0 ))
    t0=$(date +%s%N)
    timeout 1800 "${SERVER_ENV[@]}" "$BIN" --db "$varied" check --quick --rebuild-search > "$dir/rebuild.txt" 2>&1 || true
    local rebuild_ms=$(( ($(date +%s%N) - t0 - check_ns) / 1000000 ))
    echo $(( rebuild_ms > 0 ? rebuild_ms : 0 )) > "$dir/rebuild_ms"
    grep -q "Search index rebuilt" "$dir/rebuild.txt" || die "the rebuild failed: $(tail -3 "$dir/rebuild.txt")"
    check_db "$varied" "$dir/check-after.txt" || die "the varied copy is not sound: $(tail -5 "$dir/check-after.txt")"
    cp "$varied" "$nofts"
    sqlite3 -bail "$nofts" "
        DROP TRIGGER message_search_insert; DROP TRIGGER message_search_update;
        DROP TRIGGER message_search_delete; DROP TRIGGER message_search_conversation;
        DROP TRIGGER message_search_forget_conversation;
        DROP TABLE message_search; DROP VIEW message_search_source;
        VACUUM;" || die "dropping the index failed"
    echo "$stamp" > "$dir/stamp"
}

# Bytes of the file, and of the index's tables (dbstat).
sizes() {  # db
    local file index
    file=$(stat -c %s "$1")
    index=$(sqlite3 "$1" "SELECT COALESCE(sum(pgsize), 0) FROM dbstat WHERE name LIKE 'message_search_%'")
    echo "$file $index"
}

caller_headers() {  # caller
    case $1 in
        admin) printf 'Authorization: Bearer %s\nX-Parlor-Tenant: 1' "$ADMIN_TOKEN" ;;
        typical) printf 'Authorization: Bearer %s' "$(cat "$seed_dir/typical.token")" ;;
        big) printf 'Authorization: Bearer %s' "$(cat "$seed_dir/big.token")" ;;
    esac
}

measure_searches() {  # size-label
    local L=$1 caller kind q var paths r headers
    for caller in "${CALLERS[@]}"; do
        headers=$(caller_headers "$caller")
        for kind in "${KINDS[@]}"; do
            var=QUERIES_$kind
            paths=""
            for q in ${!var}; do paths+="/parlor/v1/search?limit=20&q=$q"$'\n'; done
            settle "the run before $caller $kind"
            WRK_C=$SEARCH_CONNS WRK_T=1 wrk_run "$WARMUP" "$LOGS/search-$L-$caller-$kind-warmup.txt" list.lua / \
                BENCH_HEADERS="$headers" BENCH_PATHS="$paths" >/dev/null
            r=$(WRK_C=$SEARCH_CONNS WRK_T=1 wrk_run "$DURATION" "$LOGS/search-$L-$caller-$kind.txt" list.lua / \
                BENCH_HEADERS="$headers" BENCH_PATHS="$paths")
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$L" "$caller" "$kind" "$(field rps "$r")" \
                "$(field p50_ms "$r")" "$(field p99_ms "$r")" "$(field non2xx "$r")" >>"$SEARCHES"
            log "  $caller $kind: p50 $(field p50_ms "$r") ms, p99 $(field p99_ms "$r") ms, $(field rps "$r") req/s"
            if [[ $(field non2xx "$r") != 0 ]]; then
                anomaly "$L $caller $kind: $(field non2xx "$r") non-2xx ($(grep FIRST_ERROR <<<"$r" || true))"
            fi
        done
    done
}

measure_sends() {  # size-label rep config db
    local L=$1 rep=$2 cfg=$3 src=$4 db=$WORK/search-send-$3.db r before after req cpu_us
    rm -f "$db" "$db-wal" "$db-shm"
    cp "$src" "$db"
    start_server "$db" "$LOGS/search-$L-$rep-$cfg-server.log"
    settle "the start of $cfg"
    wrk_run "$WARMUP" "$LOGS/search-$L-$rep-$cfg-send-warmup.txt" send.lua / \
        BENCH_SEND_PAIRS="$seed_dir/send_pairs.txt" >/dev/null
    settle "the warm-up of $cfg sends"
    before=$(cpu_ticks)
    r=$(wrk_run "$DURATION" "$LOGS/search-$L-$rep-$cfg-send.txt" send.lua / \
        BENCH_SEND_PAIRS="$seed_dir/send_pairs.txt")
    after=$(cpu_ticks)
    req=$(field requests "$r")
    cpu_us=$(awk -v t=$(( after - before )) -v hz="$CLK_TCK" -v n="$req" \
        'BEGIN { if (n > 0) printf "%.1f", t / hz * 1e6 / n }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$L" "$rep" "$cfg" "$(field rps "$r")" "$cpu_us" \
        "$(field non2xx "$r")" "$(field sock_errors "$r")" >>"$SENDS"
    log "  $cfg sends: $(field rps "$r") msg/s, ${cpu_us:-?} us CPU per send"
    if [[ $(field non2xx "$r") != 0 || $(field sock_errors "$r") != 0 ]]; then
        anomaly "$L rep $rep $cfg: $(field non2xx "$r") non-2xx, $(field sock_errors "$r") socket errors"
    fi
    stop_server TERM
    timeout 900 "${SERVER_ENV[@]}" "$BIN" --db "$db" check --quick > "$LOGS/search-$L-$rep-$cfg-check.txt" 2>&1 \
        || anomaly "$L rep $rep $cfg: parlor check: $(tail -2 "$LOGS/search-$L-$rep-$cfg-check.txt")"
    rm -f "$db" "$db-wal" "$db-shm"
}

for size in $SIZES; do
    L=$(label "$size")
    ensure_seed "$size"
    ensure_varied "$size"
    read -r file_bytes index_bytes < <(sizes "$varied")
    read -r nofts_bytes _ < <(sizes "$nofts")
    echo "$L $file_bytes $index_bytes $nofts_bytes $(cat "$WORK/search-$size/rebuild_ms")" > "$WORK/search-sizes-$L.txt"

    log "$L: searches, $SEARCH_CONNS connection(s)"
    db=$WORK/search-read.db
    rm -f "$db" "$db-wal" "$db-shm"
    cp "$varied" "$db"
    start_server "$db" "$LOGS/search-$L-read-server.log"
    measure_searches "$L"
    stop_server TERM
    rm -f "$db" "$db-wal" "$db-shm"

    for rep in $(seq 1 "$REPS"); do
        log "$L sends, repetition $rep of $REPS (load average $(cut -d' ' -f1-3 /proc/loadavg))"
        if (( rep % 2 )); then order=(fts nofts); else order=(nofts fts); fi
        for cfg in "${order[@]}"; do
            if [[ $cfg == fts ]]; then src=$varied; else src=$nofts; fi
            measure_sends "$L" "$rep" "$cfg" "$src"
        done
    done
done

# The median of column COL of the sends of SIZE-LABEL and CONFIG.
send_median() {  # size-label config col
    awk -F'\t' -v l="$1" -v c="$2" -v k="$3" '$1 == l && $3 == c && $k != "" { print $k }' "$SENDS" \
        | sort -g | awk '{ a[NR] = $1 } END { if (NR) print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'
}
mb() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1048576 }'; }

{
    echo "search (rev $REV), pinned: server CPU $SERVER_CPU, wrk CPU $WRK_CPU, ${DURATION}s runs"
    for size in $SIZES; do
        L=$(label "$size")
        read -r _ file_bytes index_bytes nofts_bytes rebuild_ms < "$WORK/search-sizes-$L.txt"
        echo "$L: file $(mb "$file_bytes") MB with the index, $(mb "$nofts_bytes") MB without (vacuumed);" \
            "the index $(mb "$index_bytes") MB; rebuilding it took $(awk -v m="$rebuild_ms" 'BEGIN { printf "%.1f", m / 1000 }') s"
        echo "searches, $SEARCH_CONNS connection (latency of one request at a time), limit=20:"
        printf '  %-8s %-7s %9s %9s %9s\n' caller kind "p50 ms" "p99 ms" "req/s"
        awk -F'\t' -v l="$L" '$1 == l { printf "  %-8s %-7s %9s %9s %9s\n", $2, $3, $5, $6, $4 }' "$SEARCHES"
        fts=$(send_median "$L" fts 4) nofts=$(send_median "$L" nofts 4)
        cfts=$(send_median "$L" fts 5) cnofts=$(send_median "$L" nofts 5)
        echo "sends, $CONNS connections, synchronous=FULL, median of $REPS:"
        printf '  %-28s %10s %12s\n' "" "msg/s" "us CPU/send"
        printf '  %-28s %10s %12s\n' "without the index (nofts)" "$nofts" "$cnofts"
        printf '  %-28s %10s %12s\n' "with the index (fts)" "$fts" "$cfts"
        printf '  %-28s %10s %12s\n' "with / without" \
            "$(awk -v a="$nofts" -v b="$fts" 'BEGIN { if (a) printf "%.3f", b / a }')" \
            "$(awk -v a="$cnofts" -v b="$cfts" 'BEGIN { if (a) printf "%.3f", b / a }')"
        echo "  each repetition: $(awk -F'\t' -v l="$L" '$1 == l { printf "%s %s %s msg/s; ", $2, $3, $4 }' "$SENDS")"
    done
    if (( ${#ANOMALIES[@]} )); then
        echo "anomalies:"
        printf '  %s\n' "${ANOMALIES[@]}"
    fi
} | tee "$WORK/search.txt"
