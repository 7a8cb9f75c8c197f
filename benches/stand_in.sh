#!/usr/bin/env bash
# The stand-in control plane's state operations on a seeded database (issue 15): how long it
# takes to take a snapshot, restore it, reset to the start state, and open a sandbox, at 10k and
# 1M messages. Pinned like run.sh's pinned mode: the release server on one core with one worker,
# curl on the other.
#
#   benches/stand_in.sh                        # 10k and 1M messages
#   BENCH_SIZES=10000 benches/stand_in.sh      # a quick look
#
# Settings (environment), besides common.sh's BENCH_SIZES, BENCH_WORK (the seeds, made by
# seed.sh when missing), BENCH_BUILD:
#   BENCH_SERVER_CPU   the server's core                                 0
#   BENCH_WRK_CPU      curl's core                                       1
#   STAND_IN_ROUNDS    times each operation is measured                  5
#   STAND_IN_SCRATCH   the served copy and its control directory         /tmp/parlor-stand-in
#                      (removed at the end: at 1M it holds about 4 copies of the database)
#   STAND_IN_SEEDS     where to look first for seed-N/pristine.db        $BENCH_WORK
#                      (read only, copied; a seed found there is used whatever made it)
#
# Each time is curl's total for the request, from the client's side: a restore includes waiting
# for the gate (nothing else runs here) and the writer's backup and checkpoint; a sandbox's
# opening (POST /__parlor/sandboxes) includes the file copy and opening its store.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/common.sh"
SERVER_CPU=${BENCH_SERVER_CPU:-0}
WRK_CPU=${BENCH_WRK_CPU:-1}
ROUNDS=${STAND_IN_ROUNDS:-5}
SEEDS=${STAND_IN_SEEDS:-$WORK}
SCRATCH=${STAND_IN_SCRATCH:-/tmp/parlor-stand-in}
TOKEN=bench-stand-in-admin-token
pin
# The start-up check reads the whole file; it is not what is measured here.
SERVER_ENV+=(PARLOR_STAND_IN=true "PARLOR_ADMIN_TOKEN=$TOKEN" PARLOR_STARTUP_CHECK_SECONDS=0)

build
mkdir -p "$SCRATCH"
trap 'cleanup; rm -rf "$SCRATCH"' EXIT

# METHOD PATH [JSON] [SANDBOX]: curl's total seconds; a non-2xx answer stops the run.
timed() {
    local out args=(-s -o /dev/null -w '%{http_code} %{time_total}' -X "$1"
        -H "Authorization: Bearer $TOKEN")
    [[ -n ${3:-} ]] && args+=(-H 'Content-Type: application/json' -d "$3")
    [[ -n ${4:-} ]] && args+=(-H "X-Parlor-Sandbox: $4")
    out=$("${WRK_WRAP[@]}" curl "${args[@]}" "http://$ADDR$2")
    [[ ${out%% *} == 2* ]] || die "$1 $2: HTTP ${out%% *}"
    echo "${out#* }"
}

# Seconds on stdin, one a line: "median min max" in milliseconds.
summary() {
    sort -g | awk '{ v[NR] = $1 * 1000 } END {
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%.1f\t%.1f\t%.1f", m, v[1], v[NR] }'
}

RESULTS=$SCRATCH/results.tsv
: > "$RESULTS"
for size in $SIZES; do
    L=$(label "$size")
    seed=$SEEDS/seed-$size/pristine.db
    if [[ ! -f $seed ]]; then
        ensure_seed "$size"
        seed=$WORK/seed-$size/pristine.db
    fi
    db=$SCRATCH/parlor.db
    rm -f "$db" "$db-wal" "$db-shm"
    cp "$seed" "$db"
    bytes=$(stat -c %s "$db")
    log "$L: serving a copy of the seed ($(( bytes / 1048576 )) MiB) as a stand-in"
    start_server "$db" "$SCRATCH/server-$size.log"

    snapshot=(); restore=(); reset=(); sandbox=(); first=()
    for i in $(seq 1 "$ROUNDS"); do
        snapshot+=("$(timed POST /__parlor/snapshots "{\"name\": \"s$i\"}")")
        # Only the first snapshot is kept: the disk holds a few copies of a 1M database at most.
        (( i > 1 )) && timed DELETE "/__parlor/snapshots/s$i" >/dev/null
    done
    for i in $(seq 1 "$ROUNDS"); do
        restore+=("$(timed POST /__parlor/snapshots/s1/restore)")
        reset+=("$(timed POST /__parlor/reset)")
    done
    for i in $(seq 1 "$ROUNDS"); do
        sandbox+=("$(timed POST /__parlor/sandboxes "{\"name\": \"b$i\"}")")
        timed DELETE "/__parlor/sandboxes/b$i" >/dev/null
        # Opened by its first request instead: the copy, the store, and a list served from it.
        first+=("$(timed GET /parlor/v1/tenants "" "f$i")")
        timed DELETE "/__parlor/sandboxes/f$i" >/dev/null
    done
    stop_server
    for op in snapshot restore reset sandbox first; do
        eval "times=(\"\${${op}[@]}\")"
        printf '%s\t%s\t%s\n' "$L" "$op" "$(printf '%s\n' "${times[@]}" | summary)" >>"$RESULTS"
    done
    rm -rf "$db" "$db-wal" "$db-shm" "$db.stand-in"
done

printf '\nstand-in state operations (rev %s, %d rounds, server pinned to CPU %s; ms: median min max)\n' \
    "$REV" "$ROUNDS" "$SERVER_CPU"
printf 'size\toperation\tmedian\tmin\tmax\n'
cat "$RESULTS"
