#!/usr/bin/env bash
# What driving your own trainer costs (README, "Your own model"; issue 18), through the built binary:
#   1. a trainer that does nothing (Benchmarks/null_trainer.py answers at once), run by
#      `sgdr-search trial` for 1 and for EPOCHS_NULL epochs, and alone (start-up only): the
#      protocol's cost per epoch (the slope) and the tool's per trial (the rest);
#   2. per trial: the PyTorch example (MLP, TRAIN_SIZE images, EPOCHS epochs, 1 thread), its
#      `cosine` trial run by `sgdr-search trial` against the same script fed the same messages from
#      a file without the tool (`python3 example.py < messages`): the difference is the tool's
#      whole cost (its start, the database read, spawning, the protocol), as a share of the trial.
# Each timing is the median of REPEATS runs, the two sides alternating. Linux only.
#
#   swift build -c release && Benchmarks/trainer-overhead.sh
#
# BIN (default .build/release/sgdr-search), PYTHON (default: a python3 that imports torch),
# DIR (default: a new temporary folder, kept), EPOCHS_NULL (2000), EPOCHS (5), TRAIN_SIZE (10000),
# REPEATS (5).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${BIN:-.build/release/sgdr-search}
DIR=${DIR:-$(mktemp -d /tmp/trainer-overhead.XXXXXX)}
EPOCHS_NULL=${EPOCHS_NULL:-2000}
EPOCHS=${EPOCHS:-5}
TRAIN_SIZE=${TRAIN_SIZE:-10000}
REPEATS=${REPEATS:-5}
[ -x "$BIN" ] || { echo "build first: swift build -c release" >&2; exit 1; }
if [ -z "${PYTHON:-}" ]; then
    for p in /usr/bin/python3 python3; do
        if "$p" -c "import torch" 2>/dev/null; then PYTHON=$p; break; fi
    done
fi
[ -n "${PYTHON:-}" ] || { echo "no python3 imports torch (apt-get install python3-torch)" >&2; exit 1; }
mkdir -p "$DIR"
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.9f\", $1 }"; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

# 1. per epoch and per trial, with a trainer that does nothing: trials of 1 and of EPOCHS_NULL
#    epochs, and the script's start-up alone (a start message and a stop, no tool).
for n in 1 "$EPOCHS_NULL"; do
    cat > "$DIR/null$n.json" <<JSON
{"name": "null$n", "strategy": "list", "configurations": [{"t0": 10}], "baselines": [], "concurrency": 1,
 "trainer": {"command": ["$PYTHON", "$ROOT/Benchmarks/null_trainer.py"], "epochs": $n}}
JSON
    "$BIN" "$DIR/null$n.json" --db "$DIR/null$n.sqlite" >/dev/null 2>&1
done
printf '%s\n' "{\"type\":\"start\",\"protocol\":1,\"sweep\":\"null\",\"trial\":\"sgdr-0000.r0\",\"number\":0,\"configuration\":\"sgdr-0000\",\"repeat\":0,\"seed\":1,\"epochs\":0,\"threads\":1,\"schedule\":{\"kind\":\"sgdr\"},\"swept\":{}}" \
    '{"type":"stop","reason":"done"}' > "$DIR/null-start.jsonl"
: > "$DIR/null1.txt"; : > "$DIR/nullN.txt"; : > "$DIR/null-startup.txt"
for _ in $(seq "$REPEATS"); do
    t=$(now); "$BIN" trial "$DIR/null1.sqlite" sgdr-0000 >/dev/null 2>&1; { calc "$(now) - $t"; echo; } >> "$DIR/null1.txt"
    t=$(now); "$BIN" trial "$DIR/null$EPOCHS_NULL.sqlite" sgdr-0000 >/dev/null 2>&1; { calc "$(now) - $t"; echo; } >> "$DIR/nullN.txt"
    t=$(now); "$PYTHON" Benchmarks/null_trainer.py < "$DIR/null-start.jsonl" >/dev/null 2>&1; { calc "$(now) - $t"; echo; } >> "$DIR/null-startup.txt"
done
one=$(median < "$DIR/null1.txt"); many=$(median < "$DIR/nullN.txt"); startup=$(median < "$DIR/null-startup.txt")
per_epoch=$(calc "($many - $one) / ($EPOCHS_NULL - 1)")
fixed=$(calc "$one - $startup - $per_epoch")
printf 'null trainer: a 1-epoch trial %.3f s, a %d-epoch trial %.3f s, the script alone %.3f s\n' "$one" "$EPOCHS_NULL" "$many" "$startup"
printf '  per epoch: %.3f ms (the protocol and the pipes, both sides); per trial: %.3f s (the tool starting, reading the database, spawning the script, waiting for its exit)\n' \
    "$(calc "$per_epoch * 1000")" "$fixed"

# 2. per trial, PyTorch
cat > "$DIR/torch.json" <<JSON
{"name": "torch", "strategy": "list", "configurations": [{"t0": 2}], "baselines": ["cosine"], "concurrency": 1,
 "fixed": {"lr_max": 0.05},
 "trainer": {"command": ["$PYTHON", "$ROOT/examples/pytorch_fashion_mnist.py", "--train-size", "$TRAIN_SIZE", "--val-size", "5000"],
             "epochs": $EPOCHS, "threads": 1}}
JSON
"$BIN" "$DIR/torch.json" --db "$DIR/torch.sqlite" >/dev/null 2>&1
# The cosine trial's messages, as the tool sends them (the rates do not depend on val_acc).
"$BIN" schedule --schedule cosine --lr-max 0.05 --epochs "$EPOCHS" > "$DIR/cosine.csv"
seed=$(sqlite3 "$DIR/torch.sqlite" "SELECT seed FROM trials WHERE id = 'cosine.r0'")
{
    echo "{\"type\":\"start\",\"protocol\":1,\"sweep\":\"torch\",\"trial\":\"cosine.r0\",\"number\":0,\"configuration\":\"cosine\",\"repeat\":0,\"seed\":$seed,\"epochs\":$EPOCHS,\"threads\":1,\"schedule\":{\"kind\":\"cosine\"},\"swept\":{}}"
    tail -n +2 "$DIR/cosine.csv" | while IFS=, read -r epoch lr _; do echo "{\"type\":\"epoch\",\"epoch\":$epoch,\"lr\":$lr}"; done
    echo '{"type":"stop","reason":"done"}'
} > "$DIR/cosine.jsonl"
: > "$DIR/torch-trial.txt"; : > "$DIR/torch-alone.txt"
for _ in $(seq "$REPEATS"); do
    t=$(now); "$BIN" trial "$DIR/torch.sqlite" cosine > "$DIR/trial.csv" 2>/dev/null; { calc "$(now) - $t"; echo; } >> "$DIR/torch-trial.txt"
    t=$(now); OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$PYTHON" examples/pytorch_fashion_mnist.py --train-size "$TRAIN_SIZE" --val-size 5000 \
        < "$DIR/cosine.jsonl" > "$DIR/alone.jsonl" 2>/dev/null; { calc "$(now) - $t"; echo; } >> "$DIR/torch-alone.txt"
done
trial=$(median < "$DIR/torch-trial.txt"); alone=$(median < "$DIR/torch-alone.txt")
printf 'PyTorch MLP, %d images, %d epochs, 1 thread: through sgdr-search trial %.3f s, the script alone %.3f s (difference %+.3f s, within the noise of one run)\n' \
    "$TRAIN_SIZE" "$EPOCHS" "$trial" "$alone" "$(calc "$trial - $alone")"
printf '  the protocol and process handling measured above, per trial + %d epochs: %.4f s = %.2f%% of the script alone\n' \
    "$EPOCHS" "$(calc "$fixed + $EPOCHS * $per_epoch")" "$(calc "100 * ($fixed + $EPOCHS * $per_epoch) / $alone")"
# The same run either way: the val_acc of every epoch agrees.
tail -n +2 "$DIR/trial.csv" | cut -d, -f6 > "$DIR/a.txt"
"$PYTHON" -c "import json,sys; [print(json.loads(l)['val_acc']) for l in open(sys.argv[1])]" "$DIR/alone.jsonl" > "$DIR/b.txt"
if cmp -s "$DIR/a.txt" "$DIR/b.txt"; then echo "same val_acc in every epoch both ways"; else echo "val_acc differ between the two ways"; fi
echo "files in $DIR"
