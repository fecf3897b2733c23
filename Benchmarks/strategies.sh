#!/usr/bin/env bash
# Random against Sobol against TPE search (README, "Benchmarks", "Random against Sobol against
# TPE"; issue 20, point 3): for budgets of 8, 16 and 32 configurations and 20 sweep seeds, one
# random, one sobol and one tpe sweep (TPE_STARTUP random start-up configurations, default 4, then
# proposals with "parallel": CONCURRENCY, the configurations trained at once) of
# the same five-parameter space (t0, tmult, lr_max_compression, trigger_val_acc, lr_max) on a cheap
# but real objective: the built-in MLP (784-64-10) on a Fashion-MNIST slice (2,000 training and
# 1,000 validation images, 4 epochs, 1 repeat, no baselines), ranked by best_val_acc.
#   regret(method, budget, seed) = reference - best best_val_acc found by that sweep, where the
#   reference is the best best_val_acc of ALL configurations evaluated by any method, budget and
#   seed (a constant: it shifts both methods' mean regret alike and cancels in their difference).
# It prints the mean regret with a 95% interval (Student t over the seeds) per (method, budget),
# per budget the paired differences sobol - random and tpe - random of the regrets over the same
# sweep seeds (and how many seeds the method wins, ties, loses), and the "seed floor": the part of the regret that no
# search of one seed can remove (the reference - the best of all configurations of that seed).
# Pairing: a trial's training seed depends only on the sweep seed and the repeat (Sources/Sweep/
# Seeds.swift), so the random, sobol and tpe sweeps of one seed train every configuration from the
# same initial weights and batch order (common random numbers); only the configurations differ.
# (tpe's start-up configurations are random search's first ones: its first TPE_STARTUP equal random's).
# Each budget is its own sweep (trials 8, 16, 32); since every strategy grows by appending (the
# first 8 configurations of a 32-trial sweep are the 8-trial sweep's; a tpe proposal depends only on
# the configurations before it), the script also checks that
# every smaller sweep's results equal the first configurations of the largest one.
#
#   swift build -c release && Benchmarks/strategies.sh      # about 4 minutes on 2 shared cores
#
# BIN (default .build/release/sgdr-search), DIR (default: a new temporary folder, kept),
# SEEDS (default 20: sweep seeds 1..SEEDS), BUDGETS (default "8 16 32", increasing),
# CONCURRENCY (default 2), TPE_STARTUP (default 4), METHODS (default "random sobol tpe"), TRAIN_SIZE (2000), VAL_SIZE (1000), EPOCHS (4), HIDDEN (64),
# DATA_DIR (default /usr/share/datasets/fashion-mnist). Needs python3 (standard library only).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/release/sgdr-search}
DIR=${DIR:-$(mktemp -d /tmp/strategies.XXXXXX)}
SEEDS=${SEEDS:-20}
BUDGETS=${BUDGETS:-"8 16 32"}
CONCURRENCY=${CONCURRENCY:-2}
TPE_STARTUP=${TPE_STARTUP:-4}
METHODS=${METHODS:-"random sobol tpe"}
TRAIN_SIZE=${TRAIN_SIZE:-2000}
VAL_SIZE=${VAL_SIZE:-1000}
EPOCHS=${EPOCHS:-4}
HIDDEN=${HIDDEN:-64}
DATA_DIR=${DATA_DIR:-/usr/share/datasets/fashion-mnist}
[ -x "$BIN" ] || { echo "build first: swift build -c release" >&2; exit 1; }
mkdir -p "$DIR"

# space METHOD BUDGET SEED: the space file of one sweep on stdout.
space() {
    cat <<JSON
{
  "name": "strategies-$1-b$2-s$3", "strategy": "$1", "trials": $2, "seed": $3,$(
    [ "$1" = tpe ] && printf '\n  "tpe": {"startup": %s, "parallel": %s},' "$TPE_STARTUP" "$CONCURRENCY")
  "repeats": 1, "concurrency": $CONCURRENCY, "objective": "best_val_acc",
  "parameters": {
    "t0": {"min": 1, "max": 4, "int": true},
    "tmult": {"min": 1, "max": 2},
    "lr_max_compression": {"min": 1, "max": 10, "log": true},
    "trigger_val_acc": {"min": 0, "max": 0.8},
    "lr_max": {"min": 0.01, "max": 0.5, "log": true}
  },
  "fixed": {"lr_min": 0.0001},
  "training": {
    "dataset": "fashion-mnist", "data_dir": "$DATA_DIR", "train_size": $TRAIN_SIZE,
    "val_size": $VAL_SIZE, "epochs": $EPOCHS, "batch_size": 128, "hidden": [$HIDDEN],
    "optimizer": "sgd", "momentum": 0.9, "nesterov": false, "weight_decay": 0.0005
  }
}
JSON
}

echo "strategies: seeds 1..$SEEDS, budgets $BUDGETS, $METHODS (tpe startup $TPE_STARTUP), $(nproc) cores," \
     "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}, $BIN, in $DIR"
start=$(date +%s)
for seed in $(seq 1 "$SEEDS"); do
    for budget in $BUDGETS; do
        for method in $METHODS; do
            name=$method-b$budget-s$seed
            space "$method" "$budget" "$seed" > "$DIR/$name.json"
            rm -f "$DIR/$name.sqlite" "$DIR/$name.sqlite-wal" "$DIR/$name.sqlite-shm"
            "$BIN" "$DIR/$name.json" --db "$DIR/$name.sqlite" > "$DIR/$name.out" 2> "$DIR/$name.err" ||
                { echo "sweep $name failed (exit $?); see $DIR/$name.err" >&2; exit 1; }
            "$BIN" leaderboard "$DIR/$name.sqlite" --csv "$DIR/$name.csv" 2>> "$DIR/$name.err"
        done
    done
    echo "seed $seed done, $(( $(date +%s) - start )) s"
done

python3 - "$DIR" "$SEEDS" "$METHODS" $BUDGETS <<'PY'
import csv, math, sys
folder, seeds, methods, budgets = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), [int(b) for b in sys.argv[4:]]
# Student t 0.975 quantiles for 1..30 degrees of freedom (scipy.stats.t.ppf(0.975, df), scipy 1.17);
# past 30 the value for 30 (slightly wide).
T975 = [12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
        2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
        2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423]

def read(method, budget, seed):
    """configuration id -> best_val_acc of one sweep (done rows only)."""
    rows = {}
    with open(f"{folder}/{method}-b{budget}-s{seed}.csv", newline="") as f:
        for row in csv.DictReader(f):
            if row["status"] != "done":
                raise SystemExit(f"{method} b{budget} s{seed}: {row['configuration']} is {row['status']}")
            rows[row["configuration"]] = float(row["best_val_acc"])
    if len(rows) != budget:
        raise SystemExit(f"{method} b{budget} s{seed}: {len(rows)} configurations, expected {budget}")
    return rows

res = {(m, b, s): read(m, b, s) for m in methods for b in budgets for s in range(1, seeds + 1)}

# The smaller sweeps are prefixes of the largest one: same configurations, same results.
mismatch = 0
for (m, b, s), rows in res.items():
    big = res[(m, budgets[-1], s)]
    mismatch += sum(1 for c, v in rows.items() if big.get(c) != v)
checked = sum(len(r) for (m, b, s), r in res.items() if b != budgets[-1])
print(f"prefix check: {checked} configurations of the smaller sweeps against the {budgets[-1]}-trial "
      f"sweeps of the same seed: {mismatch} differ")

ref, where = max((v, (m, s, c)) for (m, b, s), rows in res.items() for c, v in rows.items())
print(f"reference: best best_val_acc of all {sum(len(res[(m, budgets[-1], s)]) for m in methods for s in range(1, seeds + 1))} "
      f"configurations ({', '.join(methods)}, all seeds) = {ref:.4f} ({where[0]} seed {where[1]}, {where[2]})")

def interval(xs):
    n = len(xs)
    mean = sum(xs) / n
    if n < 2:
        return mean, float("nan")
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    return mean, T975[min(n - 1, 30) - 1] * sd / math.sqrt(n)

# How much of the regret is the training seed's, not the search's: per seed, the best of all the
# configurations evaluated with that seed (both methods' largest sweeps) falls short of the reference.
floor_mean, floor_hw = interval([ref - max(max(res[(m, budgets[-1], s)].values()) for m in methods)
                                 for s in range(1, seeds + 1)])
print(f"seed floor: reference - best of the {len(methods) * budgets[-1]} configurations of one seed, mean over seeds "
      f"{floor_mean:.4f} [{floor_mean - floor_hw:.4f}, {floor_mean + floor_hw:.4f}] (no sweep of one seed can do better)")

regret = {(m, b): [ref - max(res[(m, b, s)].values()) for s in range(1, seeds + 1)]
          for m in methods for b in budgets}
print()
print(f"mean regret (reference - best found), 95% interval over {seeds} seeds")
others = [m for m in methods if m != "random"]
print(f"{'budget':>6}  " + "  ".join(f"{m:>22}" for m in methods) + "".join(
    f"  {m + ' - random (paired)':>32}  {'better/tie/worse':>16}" for m in others))
for b in budgets:
    line = f"{b:>6}"
    for m in methods:
        mean, hw = interval(regret[(m, b)])
        line += f"  {mean:.4f} [{mean - hw:.4f}, {mean + hw:.4f}]"
    for m in others:
        d = [x - ra for ra, x in zip(regret[("random", b)], regret[(m, b)])]
        mean, hw = interval(d)
        better = sum(1 for x in d if x < 0); tie = sum(1 for x in d if x == 0); worse = sum(1 for x in d if x > 0)
        line += f"  {mean:+.4f} [{mean - hw:+.4f}, {mean + hw:+.4f}]  {f'{better}/{tie}/{worse}':>16}"
    print(line)
PY
echo "total $(( $(date +%s) - start )) s"
