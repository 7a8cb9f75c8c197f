# The pinned mode's table, from the TSV files pinned.sh wrote. Sourced by pinned.sh, which
# defines the settings, labels and files used here. See benches/README.md, "Reading the pinned
# table".

# The median of column COL over the repetitions of (size, op) in FILE; empty when none.
median() {  # file size op col
    awk -F'\t' -v s="$2" -v o="$3" -v c="$4" '$1 == s && $3 == o && $c != "" && $c != "-" { print $c }' "$1" \
        | sort -g | awk '{ a[NR] = $1 } END { if (NR) print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'
}

# Half the spread of column COL over the repetitions, in percent of the median.
spread() {  # file size op col
    local m
    m=$(median "$@")
    awk -F'\t' -v s="$2" -v o="$3" -v c="$4" -v m="$m" '
        $1 == s && $3 == o && $c != "" { if (n++ == 0 || $c < lo) lo = $c; if ($c > hi) hi = $c }
        END { if (n > 1 && m > 0) printf "±%.0f%%", (hi - lo) / 2 / m * 100 }' "$1"
}

# printf FORMAT of EXPR over the numbers given; "n/a" when one is missing or a divisor is 0.
calc() {  # format expr [numbers the expression uses...]
    local format=$1 expr=$2 n; shift 2
    for n in "$@"; do [[ -n $n ]] || { echo n/a; return; }; done
    awk "BEGIN { d = ($expr); if (d != d) print \"n/a\"; else printf \"$format\", d }" 2>/dev/null || echo n/a
}
ratio() {  # a b [decimals]: a / b, two decimals unless told
    if [[ -z $1 || -z $2 ]] || awk "BEGIN { exit !($2 == 0) }"; then echo n/a; return; fi
    calc "%.${3:-2}f" "$1 / $2" "$1" "$2"
}
verdict() {  # value condition-on-v
    [[ $1 != n/a && -n $1 ]] || { echo FAIL; return; }
    if awk -v v="$1" "BEGIN { exit !($2) }"; then echo PASS; else echo FAIL; fi
}
mb() { calc '%.0f MB' "$1 / 1024" "$1"; }
# A rate: whole numbers, one decimal below 10 (a list that scans does one or two a second).
rate() { if [[ -n $1 ]] && awk "BEGIN { exit !($1 < 10) }"; then calc '%.1f' "$1" "$1"; else calc '%.0f' "$1" "$1"; fi; }

# The native operation that reads the same data as OP: native-full for the faces that show
# every message, else the typical list.
native_of() {  # op
    local f
    for f in "${FULL_FACES[@]}"; do [[ $1 == "$f" ]] && { echo native-full; return; }; done
    echo list-typical
}

pinned_summary() {
    local L op rps cpu cell ceil ceil_us ceil_cpu r rc native native_cpu sizes=() small big peak
    for size in $SIZES; do sizes+=("$(label "$size")"); done
    small=${sizes[0]} big=${sizes[${#sizes[@]} - 1]}
    echo
    echo "Parlor pinned benchmark: rev $REV; server on CPU $SERVER_CPU (workers = 1: its writer, checkpointer"
    echo "and blocking-pool threads share that core), wrk -t$THREADS -c$CONNS on CPU $WRK_CPU; ${DURATION}s measured"
    echo "after ${WARMUP}s warm-up; $REPS repetitions, medians (± half the spread of req/s); synchronous=FULL; loopback."
    echo "Load average (1 min) at the start of each repetition: $(cut -f3 "$LOADS" | tr '\n' ' ')(at the end: $(cut -d' ' -f1 /proc/loadavg))."
    echo "Other work on the machine shares the cores: it lowers req/s and ops/s (the single-threaded ceiling"
    echo "more than the server), not CPU per request; above ~1 per core, read the CPU ratio, not the ratio."
    for L in "${sizes[@]}"; do
        echo
        echo "$L messages"
        printf '%-42s %14s %12s %21s %11s %12s %10s %9s\n' operation "Parlor req/s" "CPU/request" "ceiling ops/s (µs)" \
            "ceiling CPU" ratio "CPU ratio" "peak RSS"
        for op in "${OPS[@]}"; do
            rps=$(median "$RUNS" "$L" "$op" 4) cpu=$(median "$RUNS" "$L" "$op" 5)
            [[ -n $rps ]] || continue
            cell="$(rate "$rps") $(spread "$RUNS" "$L" "$op" 4)"
            native=$(median "$RUNS" "$L" "$(native_of "$op")" 4) native_cpu=$(median "$RUNS" "$L" "$(native_of "$op")" 5)
            case $op in
                face-*)
                    ceil="-" ceil_cpu="" r="$(ratio "$rps" "$native")× nat." rc="$(ratio "$native_cpu" "$cpu")× nat." ;;
                native-full)
                    ceil="-" ceil_cpu="" r="-" rc="-" ;;
                *)
                    ceil=$(median "$CEILS" "$L" "$op" 4) ceil_us=$(median "$CEILS" "$L" "$op" 5)
                    ceil_cpu=$(median "$CEILS" "$L" "$op" 6)
                    r="$(ratio "$rps" "$ceil")×" rc="$(ratio "$ceil_cpu" "$cpu")×"
                    ceil="$(rate "$ceil")/s ($(calc '%.1f' "$ceil_us" "$ceil_us") µs)"
                    ceil_cpu="$(calc '%.1f µs' "$ceil_cpu" "$ceil_cpu")" ;;
            esac
            peak=$(median "$RUNS" "$L" "$op" 11)
            printf '%-42s %14s %9s µs %21s %11s %12s %10s %9s\n' "$(op_label "$op")" "$cell" "$(calc '%.0f' "$cpu" "$cpu")" \
                "$ceil" "$ceil_cpu" "$r" "$rc" "$(mb "$peak")"
        done
        echo "resident memory after the runs: VmRSS $(mb "$(median "$RUNS" "$L" send 10)"); peak (VmHWM) over the native" \
            "lists and sends: $(mb "$(native_peak "$L")"), over every run: $(mb "$(all_peak "$L")")"
        local batch
        batch=$(median "$RUNS" "$L" send 9)
        [[ -n $batch ]] && echo "send: the server's writer committed $batch sends per fsync (the ceiling: $CEILING_BATCH)"
    done

    if [[ $big != "$small" ]]; then
        echo
        echo "Flatness, $big / $small: req/s at $big / req/s at $small, and the same by CPU per request:"
        for op in "${OPS[@]}"; do
            printf '  %-42s %8s×   CPU %8s×\n' "$(op_label "$op")" \
                "$(ratio "$(median "$RUNS" "$big" "$op" 4)" "$(median "$RUNS" "$small" "$op" 4)")" \
                "$(ratio "$(median "$RUNS" "$small" "$op" 5)" "$(median "$RUNS" "$big" "$op" 5)")"
        done
    fi

    echo
    echo "Goals (issue 12), at $big:"
    local v c goal='  %-80s %9s  %s\n'
    for op in list-typical list-big; do
        v=$(calc '%.0f' "$(median "$RUNS" "$big" "$op" 5)" "$(median "$RUNS" "$big" "$op" 5)")
        printf "$goal" "$(op_label "$op"): CPU per request <= 60 µs" "$v µs" "$(verdict "$v" 'v <= 60')"
        v=$(ratio "$(median "$CEILS" "$big" "$op" 6)" "$(median "$RUNS" "$big" "$op" 5)" 3)
        printf "$goal" "$(op_label "$op"): >= 0.8× the ceiling (CPU ratio)" "$v×" "$(verdict "$v" 'v >= 0.8')"
        if [[ $big != "$small" ]]; then
            v=$(ratio "$(median "$RUNS" "$small" "$op" 5)" "$(median "$RUNS" "$big" "$op" 5)" 3)
            printf "$goal" "$(op_label "$op"): flat, $big / $small >= 0.95 (by CPU)" "$v×" "$(verdict "$v" 'v >= 0.95')"
        fi
    done
    v=$(ratio "$(median "$RUNS" "$big" send 4)" "$(median "$CEILS" "$big" send 4)" 3)
    printf "$goal" "send: >= 1.0× the group-commit ceiling on one core" "$v×" "$(verdict "$v" 'v >= 1.0')"
    v=$(native_peak "$big")
    printf "$goal" "peak resident memory under the native list and send load <= 50 MB" "$(mb "$v")" \
        "$(verdict "$v" 'v <= 50 * 1024')"
    for op in "${FACES[@]}"; do
        native_cpu=$(median "$RUNS" "$big" "$(native_of "$op")" 5)
        v=$(ratio "$native_cpu" "$(median "$RUNS" "$big" "$op" 5)" 3)
        printf "$goal" "$(op_label "$op"): >= 1/1.5 of native, same data (CPU)" "$v×" "$(verdict "$v" 'v >= 1 / 1.5')"
    done
    c=$(awk -F'\t' '{ s += $7 + $8 } END { print s + 0 }' "$RUNS")
    printf "$goal" "non-2xx + socket errors, all runs" "$c" "$(verdict "$c" 'v == 0')"
    echo "  (send >= 10k msg/s with both cores is the unpinned mode's send row)"
    echo
    if (( ${#ANOMALIES[@]} )); then
        echo "Anomalies:"
        for a in "${ANOMALIES[@]}"; do echo "  - $a"; done
    else
        echo "Anomalies: none"
    fi
    echo "Wall time: $(( $(date +%s) - T_START ))s. Every repetition's numbers: $RUNS, $CEILS;"
    echo "raw wrk output, ceiling and server logs: $LOGS"
}

# The largest of the median peaks (VmHWM, kB) of the native lists and sends, and of every run.
native_peak() {
    local op v m=""
    for op in list-typical list-big send; do
        v=$(median "$RUNS" "$1" "$op" 11)
        [[ -n $v ]] && m=$(awk -v a="${m:-0}" -v b="$v" 'BEGIN { print (b > a ? b : a) }')
    done
    echo "$m"
}
all_peak() {
    local op v m=""
    for op in "${OPS[@]}"; do
        v=$(median "$RUNS" "$1" "$op" 11)
        [[ -n $v ]] && m=$(awk -v a="${m:-0}" -v b="$v" 'BEGIN { print (b > a ? b : a) }')
    done
    echo "$m"
}
