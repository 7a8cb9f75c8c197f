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

memory_median() {  # size col (3: VmRSS, 4: VmHWM), in MB
    awk -F'\t' -v s="$1" -v c="$2" '$1 == s { print $c / 1024 }' "$MEMORY" \
        | sort -g | awk '{ a[NR] = $1 } END { if (NR) printf "%.1f", (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'
}

calc() { awk "BEGIN { printf \"$1\", $2 }"; }
verdict() { if awk "BEGIN { exit !($1) }"; then echo PASS; else echo FAIL; fi; }

pinned_summary() {
    local L op rps cpu cell ceil ceil_us ceil_cpu ratio native sizes=() small big
    for size in $SIZES; do sizes+=("$(label "$size")"); done
    small=${sizes[0]} big=${sizes[${#sizes[@]} - 1]}
    echo
    echo "Parlor pinned benchmark: rev $REV; server on CPU $SERVER_CPU (workers = 1: its writer, checkpointer"
    echo "and blocking-pool threads share that core), wrk -t$THREADS -c$CONNS on CPU $WRK_CPU; ${DURATION}s measured"
    echo "after ${WARMUP}s warm-up; $REPS repetitions, medians (± half the spread of req/s); synchronous=FULL; loopback."
    echo "Load average (1, 5, 15 min): $LOAD_START at start, $(cut -d' ' -f1-3 /proc/loadavg) at the end. Other work"
    echo "on this machine shares the cores: it lowers req/s and ops/s, much less the CPU per request."
    for L in "${sizes[@]}"; do
        echo
        echo "$L messages"
        printf '%-44s %16s %12s %22s %11s  %s\n' operation "Parlor req/s" "CPU/request" "ceiling ops/s (µs)" "ceiling CPU" ratio
        native=$(median "$RUNS" "$L" list-typical 4)
        for op in "${OPS[@]}"; do
            rps=$(median "$RUNS" "$L" "$op" 4) cpu=$(median "$RUNS" "$L" "$op" 5)
            [[ -n $rps ]] || continue
            cell="$(calc '%.0f' "$rps") $(spread "$RUNS" "$L" "$op" 4)"
            case $op in
                face-*)
                    ceil="(vs native typical list)" ceil_cpu=""
                    ratio="$(calc '%.2f' "$rps / $native")× native" ;;
                *)
                    ceil=$(median "$CEILS" "$L" "$op" 4) ceil_us=$(median "$CEILS" "$L" "$op" 5)
                    ceil_cpu=$(median "$CEILS" "$L" "$op" 6)
                    ratio="$(calc '%.2f' "$rps / $ceil")×"
                    ceil="$(calc '%.0f' "$ceil")/s ($(calc '%.1f' "$ceil_us") µs)"
                    [[ -n $ceil_cpu ]] && ceil_cpu="$(calc '%.1f' "$ceil_cpu") µs" ;;
            esac
            printf '%-44s %16s %9s µs %22s %11s  %s\n' "$(op_label "$op")" "$cell" "$(calc '%.0f' "$cpu")" \
                "$ceil" "$ceil_cpu" "$ratio"
        done
        echo "resident memory after the runs: VmRSS $(memory_median "$L" 3) MB, VmHWM (peak) $(memory_median "$L" 4) MB"
        local batch
        batch=$(median "$RUNS" "$L" send 9)
        [[ -n $batch ]] && echo "send: the server's writer committed $batch sends per fsync (the ceiling: $CEILING_BATCH)"
    done

    if [[ $big != "$small" ]]; then
        echo
        echo "Flatness, req/s at $big / req/s at $small:"
        for op in "${OPS[@]}"; do
            local a b
            a=$(median "$RUNS" "$small" "$op" 4) b=$(median "$RUNS" "$big" "$op" 4)
            [[ -n $a && -n $b ]] && printf '  %-44s %8s×\n' "$(op_label "$op")" "$(calc '%.2f' "$b / $a")"
        done
    fi

    echo
    echo "Goals (issue 12), at $big:"
    local v c
    for op in list-typical list-big; do
        v=$(median "$RUNS" "$big" "$op" 5)
        printf '  %-60s %10s  %s\n' "$(op_label "$op"): CPU per request <= 60 µs" "$(calc '%.0f' "$v") µs" "$(verdict "$v <= 60")"
        v=$(calc '%.2f' "$(median "$RUNS" "$big" "$op" 4) / $(median "$CEILS" "$big" "$op" 4)")
        printf '  %-60s %10s  %s\n' "$(op_label "$op"): >= 0.8× the ceiling" "$v×" "$(verdict "$v >= 0.8")"
        if [[ $big != "$small" ]]; then
            v=$(calc '%.2f' "$(median "$RUNS" "$big" "$op" 4) / $(median "$RUNS" "$small" "$op" 4)")
            printf '  %-60s %10s  %s\n' "$(op_label "$op"): flat, $big / $small >= 0.95" "$v×" "$(verdict "$v >= 0.95")"
        fi
    done
    v=$(calc '%.2f' "$(median "$RUNS" "$big" send 4) / $(median "$CEILS" "$big" send 4)")
    printf '  %-60s %10s  %s\n' "send: >= 1.0× the group-commit ceiling on one core" "$v×" "$(verdict "$v >= 1.0")"
    v=$(memory_median "$big" 4)
    printf '  %-60s %10s  %s\n' "resident memory under load (VmHWM) <= 50 MB" "$v MB" "$(verdict "$v <= 50")"
    native=$(median "$RUNS" "$big" list-typical 4)
    for op in "${FACES[@]}"; do
        v=$(calc '%.2f' "$(median "$RUNS" "$big" "$op" 4) / $native")
        printf '  %-60s %10s  %s\n' "$(op_label "$op"): >= 1/1.5 of the native list" "$v×" "$(verdict "$v >= 0.667")"
    done
    c=$(awk -F'\t' '{ s += $7 + $8 } END { print s + 0 }' "$RUNS")
    printf '  %-60s %10s  %s\n' "non-2xx + socket errors, all runs" "$c" "$(verdict "$c == 0")"
    echo "  (send >= 10k msg/s with both cores is the unpinned mode's send row)"
    echo
    if (( ${#ANOMALIES[@]} )); then
        echo "Anomalies:"
        for a in "${ANOMALIES[@]}"; do echo "  - $a"; done
    else
        echo "Anomalies: none"
    fi
    echo "Wall time: $(( $(date +%s) - T_START ))s. Every repetition's numbers: $RUNS, $CEILS, $MEMORY;"
    echo "raw wrk output, ceiling and server logs: $LOGS"
}
