#!/usr/bin/env bash
# The million-trial benchmark (README, "Benchmarks"): a sweep of 10^6 tiny trials (random search,
# synthetic data, 10 training images, 1 epoch), through the built binary:
#   1. a fresh run: time to its first finished trial, then Ctrl-C after RUN_SECONDS: time to exit;
#   2. resume, and Ctrl-C once 990,000 trials are done (every trial is stored by then): time to exit;
#   3. resume with all 10^6 trials stored: time to its first finished trial, then to the end;
#   4. status, best, leaderboard --top 10, leaderboard --csv FILE, report --out FILE on the result;
#      then serve: its first page, a few API calls, its peak RSS (needs curl).
# Each line gives the wall time and the peak RSS (VmHWM, polled every 20 ms). Linux only.
#
#   swift build -c release && Benchmarks/million-trials.sh        # about half an hour on 2 cores
#
# BIN (default .build/release/sgdr-search), DIR (default: a new temporary folder, kept),
# TRIALS (default 1000000), RUN_SECONDS (default 10).
#
# Only the reading commands (4.) on an existing sweep database, which is opened read-only and
# never written (their outputs go to DIR):
#   DB=/path/million.sqlite READ_ONLY=1 Benchmarks/million-trials.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/release/sgdr-search}
DIR=${DIR:-$(mktemp -d /tmp/million-trials.XXXXXX)}
TRIALS=${TRIALS:-1000000}
RUN_SECONDS=${RUN_SECONDS:-10}
STOP_AT=$((TRIALS - TRIALS / 100))
SPACE=$DIR/million.json
READ_ONLY=${READ_ONLY:-0}
DB=${DB:-$DIR/million.sqlite}
LOG=$DIR/stderr.log
[ -x "$BIN" ] || { echo "build first: swift build -c release" >&2; exit 1; }
mkdir -p "$DIR"
[ "$READ_ONLY" = 1 ] && [ ! -f "$DB" ] && { echo "READ_ONLY=1 needs DB=an existing sweep database" >&2; exit 1; }
cat > "$SPACE" <<JSON
{
  "name": "million", "strategy": "random", "trials": $TRIALS, "seed": 1, "concurrency": 2,
  "parameters": {
    "t0": {"min": 1, "max": 100}, "tmult": {"min": 1, "max": 3},
    "lr_max_compression": {"min": 1, "max": 10}, "trigger_val_acc": {"min": 0, "max": 1}
  },
  "training": {"dataset": "synthetic", "train_size": 10, "val_size": 10, "epochs": 1, "batch_size": 10, "hidden": [4]}
}
JSON

now() { date +%s%N; }
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'; }
done_count() { tail -n 50 "$LOG" 2>/dev/null | grep '^\[' | tail -n 1 | sed -n 's/^\[ *\([0-9]*\)\/.*/\1/p'; }

# run_sweep LABEL STOP ARGS...: runs the sweep with stderr to $LOG; STOP: "first" (Ctrl-C
# RUN_SECONDS after the start), a done count (Ctrl-C once reached) or "end" (no Ctrl-C).
run_sweep() {
    local label=$1 stop=$2; shift 2
    : > "$LOG"
    local start first="" sent="" hwm=0 k
    start=$(now)
    "$BIN" "$@" > "$DIR/stdout.txt" 2> "$LOG" &
    local pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        k=$(awk '/VmHWM/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
        [ -n "$k" ] && [ "$k" -gt "$hwm" ] && hwm=$k
        if [ -z "$first" ] && grep -q -m 1 '^\[' "$LOG"; then first=$(now); fi
        if [ -z "$sent" ]; then
            if { [ "$stop" = first ] && [ $(( $(now) - start )) -ge $((RUN_SECONDS * 1000000000)) ]; } ||
               { [ "$stop" != first ] && [ "$stop" != end ] && [ "$(done_count)" -ge "$stop" ] 2>/dev/null; }; then
                sent=$(now)
                kill -INT "$pid"
            fi
        fi
        sleep 0.02
    done
    wait "$pid" && status=0 || status=$?
    local end; end=$(now)
    printf '%-44s exit %3d  first trial after %6s s  ' "$label" "$status" "$([ -n "$first" ] && seconds "$start" "$first" || echo -)"
    if [ -n "$sent" ]; then printf 'stopped %5s s after Ctrl-C  ' "$(seconds "$sent" "$end")"; else printf 'ended after %8s s  ' "$(seconds "$start" "$end")"; fi
    printf 'done %7s  peak RSS %4d MB\n' "$(done_count)" $((hwm / 1024))
}

# measure LABEL ARGS...: one reading command, its wall time and peak RSS.
measure() {
    local label=$1; shift
    local start hwm=0 k
    start=$(now)
    "$BIN" "$@" > "$DIR/out.txt" 2> "$DIR/err.txt" &
    local pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        k=$(awk '/VmHWM/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
        [ -n "$k" ] && [ "$k" -gt "$hwm" ] && hwm=$k
        sleep 0.02
    done
    wait "$pid" && status=0 || status=$?
    printf '%-44s exit %3d  %6s s  peak RSS %4d MB\n' "$label" "$status" "$(seconds "$start" "$(now)")" $((hwm / 1024))
}

if [ "$READ_ONLY" = 1 ]; then
    echo "million-trials, reading commands only: $DB, $(nproc) cores, $BIN, outputs in $DIR"
else
    echo "million-trials: $TRIALS trials, $(nproc) cores, $BIN, in $DIR"
    run_sweep "run, Ctrl-C after ${RUN_SECONDS} s" first "$SPACE" --db "$DB"
    run_sweep "resume, Ctrl-C at $STOP_AT done" "$STOP_AT" resume "$DB"
    run_sweep "resume with all trials stored, to the end" end resume "$DB"
fi
# The goals (issue #19) after each reading command's figures.
measure "status" status "$DB"; echo "    goal: a few s, <= 300 MB"
measure "best" best "$DB"; echo "    goal: a few s, <= 300 MB"
measure "leaderboard --top 10" leaderboard "$DB" --top 10; echo "    goal: a few s, <= 300 MB"
measure "leaderboard --csv FILE" leaderboard "$DB" --csv "$DIR/leaderboard.csv"; echo "    goal: <= 3 s, <= 300 MB"
measure "report --out FILE" report "$DB" --out "$DIR/report.html"; echo "    goal: <= 5 s, <= 300 MB"

# serve: the first page after the server's start (the goal; the first page is answered within
# 0.8 s, with the sections or a "Reading the sweep…" shell the page fills in), then a few API
# calls once the first render is done, and the server's peak RSS. Needs curl.
measure_serve() {
    command -v curl > /dev/null || { echo "serve: skipped (needs curl)"; return; }
    local log=$DIR/serve.log url="" start
    : > "$log"
    "$BIN" serve "$DB" --port 0 2> "$log" &
    local pid=$!
    start=$(now)
    for _ in $(seq 1 1500); do
        url=$(grep -o 'http://[^ ]*/' "$log" | head -n 1 || true)
        [ -n "$url" ] && break
        sleep 0.02
    done
    [ -n "$url" ] || { echo "serve: did not start: $(cat "$log")"; kill "$pid" 2>/dev/null; return; }
    local page_start; page_start=$(now)
    curl -s -o "$DIR/page.html" "$url"
    printf '%-44s %6s s after listening (%s s after the start)\n' "serve: first page" \
        "$(seconds "$page_start" "$(now)")" "$(seconds "$start" "$(now)")"
    echo "    goal: <= 1 s"
    # The sections rendered (a bounded wait), then the API.
    for _ in $(seq 1 600); do
        curl -s "${url}api/sections" | grep -q '"sections"' && break
        sleep 0.1
    done
    local q t0
    for q in "api/version" "api/leaderboard?limit=1000" "api/leaderboard?offset=500000&limit=1000" "api/trials/running" "api/sections" ""; do
        t0=$(now)
        curl -s -o /dev/null "$url$q"
        printf '%-44s %6s s\n' "serve: /$q" "$(seconds "$t0" "$(now)")"
    done
    printf '%-44s peak RSS %4d MB\n' "serve" $(( $(awk '/VmHWM/ { print $2 }' "/proc/$pid/status") / 1024 ))
    kill -TERM "$pid"
    wait "$pid" || true
}
measure_serve

echo "files left beside the database: $(ls "$(dirname "$DB")" | grep -c -E 'sqlite-(wal|shm)$' || true) -wal/-shm; report $(du -h "$DIR/report.html" | cut -f1), CSV $(wc -l < "$DIR/leaderboard.csv") lines"
