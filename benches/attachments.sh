#!/usr/bin/env bash
# Attachments (issue 16): a 20 MiB upload and download through the native API on the release
# build, pinned (the server on core 0 with one HTTP worker, curl on core 1), with the server's
# peak resident memory, and how long small sends wait while an upload is being stored.
#
#   benches/attachments.sh                    # 5 round trips of a 20 MiB file
#   BENCH_REPS=10 BENCH_MIB=25 benches/attachments.sh
#
# Uses target/release/parlor as it is (BENCH_BUILD=1 builds it first). Scratch files under
# BENCH_WORK (default /tmp/parlor-bench-attachments), removed at the end. Traffic goes only to
# 127.0.0.1. Prints one line per round trip and a summary.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$ROOT/target/release/parlor
WORK=${BENCH_WORK:-/tmp/parlor-bench-attachments}
REPS=${BENCH_REPS:-5}
MIB=${BENCH_MIB:-20}
PORT=${BENCH_PORT:-18580}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
CLIENT_CPU=${BENCH_CLIENT_CPU:-1}
AUTH="Authorization: Bearer parlor-demo-admin-token"
TENANT="X-Parlor-Tenant: 1"
BASE=http://127.0.0.1:$PORT/parlor/v1

[[ ${BENCH_BUILD:-0} == 1 ]] && (cd "$ROOT" && cargo build --release --bin parlor)
[[ -x $BIN ]] || { echo "$BIN missing: cargo build --release (or BENCH_BUILD=1)" >&2; exit 1; }
for tool in curl jq taskset sha256sum; do
    command -v $tool >/dev/null || { echo "needs $tool" >&2; exit 1; }
done

rm -rf "$WORK"; mkdir -p "$WORK"
SERVER_PID=
cleanup() {
    [[ -n $SERVER_PID ]] && kill -TERM "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

PARLOR_WORKERS=1 RUST_LOG=warn taskset -c "$SERVER_CPU" \
    "$BIN" --db "$WORK/parlor.db" serve --demo --bind "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done

head -c $((MIB * 1024 * 1024)) /dev/urandom >"$WORK/file.bin"
WANT=$(sha256sum "$WORK/file.bin" | cut -d' ' -f1)
hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$SERVER_PID/status"; }
client() { taskset -c "$CLIENT_CPU" "$@"; }

upload() {  # prints: seconds id
    client curl -s -o "$WORK/up.json" -w '%{time_total}' -H "$AUTH" -H "$TENANT" \
        -H 'Content-Type: application/octet-stream' --data-binary @"$WORK/file.bin" \
        "$BASE/conversations/2/attachments?as=4&filename=file.bin"
    echo " $(jq -r .id "$WORK/up.json")"
}
download() {  # id; prints seconds
    client curl -s -o "$WORK/down.bin" -w '%{time_total}' -H "$AUTH" -H "$TENANT" \
        "$BASE/attachments/$1/content"
}
send_times() {  # count outfile: one small send after another, each one's seconds
    for _ in $(seq "$1"); do
        client curl -s -o /dev/null -w '%{time_total}\n' -H "$AUTH" -H "$TENANT" \
            -H 'Content-Type: application/json' -d '{"as": 4, "body": "ping"}' \
            "$BASE/conversations/2/messages"
    done >"$2"
}
stats() { sort -n "$1" | awk '{ a[NR] = $1 } END { printf "median %.1f ms, p95 %.1f ms, max %.1f ms (%d)", a[int((NR + 1) / 2)] * 1000, a[int(NR * 0.95 + 0.5)] * 1000, a[NR] * 1000, NR }'; }

# Warm-up: fills SQLite's page caches (bounded) so the peak below is what a file adds.
read -r _ id < <(upload); download "$id" >/dev/null
before=$(hwm)
printf '%-4s %12s %14s %10s\n' rep upload_s download_s same
for rep in $(seq "$REPS"); do
    read -r up id < <(upload)
    down=$(download "$id")
    same=no; [[ $(sha256sum "$WORK/down.bin" | cut -d' ' -f1) == "$WANT" ]] && same=yes
    printf '%-4s %12s %14s %10s\n' "$rep" "$up" "$down" "$same"
    echo "$up" >>"$WORK/up.txt"; echo "$down" >>"$WORK/down.txt"
done
after=$(hwm)

# Small sends alone, then while uploads run (the writer takes one 1 MiB chunk at a time).
send_times 200 "$WORK/alone.txt"
( for _ in 1 2 3; do upload >/dev/null; done ) &
uploads=$!
send_times 200 "$WORK/during.txt"
wait "$uploads"

echo
echo "file: $MIB MiB; server pinned to CPU $SERVER_CPU (1 HTTP worker), curl to CPU $CLIENT_CPU"
echo "upload:   $(stats "$WORK/up.txt")"
echo "download: $(stats "$WORK/down.txt")"
echo "server peak RSS (VmHWM): ${before} kB after the warm-up, ${after} kB after $REPS round trips"
echo "small sends alone:        $(stats "$WORK/alone.txt")"
echo "small sends during uploads: $(stats "$WORK/during.txt")"
