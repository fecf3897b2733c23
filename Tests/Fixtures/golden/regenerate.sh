#!/bin/sh
# Writes the golden outputs of the reading commands on the fixture sweeps of this folder
# (race.sqlite: a finished race with three baselines; partial.sqlite: an interrupted sweep with
# done, partial, pending and diverged configurations, objective final_val_acc). Run it ONLY when
# an output is meant to change, and commit the diff with the change that caused it:
# GoldenOutputCLITests compares the binary's output with these files byte for byte.
#
#   swift build && Tests/Fixtures/golden/regenerate.sh [path/to/sgdr-search]
#
# The databases themselves were made once (commit of this script) with the binary of that time:
#   sgdr-search race.json --db race.sqlite
#   sgdr-search partial.json --db partial.sqlite --concurrency 1   # Ctrl-C once "[13/16]" was printed
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../../../.build/debug/sgdr-search}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for name in race partial; do
    cp "$here/$name.sqlite" "$work/$name.sqlite"
    # Relative paths, from the copy's folder: the outputs name the database as given.
    (
        cd "$work"
        "$bin" leaderboard "$name.sqlite" --csv - > "$here/$name.leaderboard.csv"
        "$bin" leaderboard "$name.sqlite" > "$here/$name.leaderboard.txt"
        "$bin" best "$name.sqlite" --json > "$here/$name.best.json"
        "$bin" best "$name.sqlite" > "$here/$name.best.txt"
        "$bin" status "$name.sqlite" > "$here/$name.status.txt"
        "$bin" report "$name.sqlite" --out "$here/$name.report.html"
    )
done
