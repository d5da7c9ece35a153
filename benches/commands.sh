#!/usr/bin/env bash
# Whole-command timings of tcptune beside ss, inside a private network
# namespace loaded with real sockets (examples/socket_load.rs). Never touches
# the host: socket_load refuses to run outside the namespace unshare makes.
#
#   bash benches/commands.sh              # idle namespace and 20,000 TIME_WAIT
#   TIME_WAIT_COUNTS="0 20000 100000" bash benches/commands.sh
#
# Needs root (unshare -n) and hyperfine (apt-get install hyperfine).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "install hyperfine first (apt-get install hyperfine)" >&2; exit 2; }
cargo build --release --quiet --bin tcptune --example socket_load
tcptune=$PWD/target/release/tcptune
load=$PWD/target/release/examples/socket_load
mkdir -p target/bench

for tw in ${TIME_WAIT_COUNTS:-0 20000}; do
    echo "== $tw TIME_WAIT + 100 CLOSE_WAIT (2 processes) + 100 ESTABLISHED pairs"
    unshare -n -- "$load" --time-wait "$tw" --close-wait 100 --close-wait-processes 2 --established 100 -- \
        hyperfine --warmup 3 --min-runs 20 -N --ignore-failure --export-markdown "target/bench/commands-$tw.md" \
            "$tcptune check --format json" \
            "$tcptune check" \
            "$tcptune sockets --format json" \
            "ss -tan" \
            "ss -s"
done
