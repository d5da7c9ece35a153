#!/usr/bin/env bash
# The socket census at scale, side by side with ss, inside a private network
# namespace loaded with real sockets (examples/socket_load.rs): N TIME_WAIT
# spread over 127.0.0.1-254, 1,000 CLOSE_WAIT held by three processes and
# 1,000 ESTABLISHED pairs. Also a bare netlink dump that only counts replies
# (examples/netlink_count.rs), the physical limit, and peak memory.
#
#   bash benches/sockets.sh                       # 10k, 100k and 200k TIME_WAIT
#   TIME_WAIT_COUNTS="100000" bash benches/sockets.sh
#
# Needs root (unshare -n), hyperfine and GNU time (apt-get install hyperfine
# time). The loader refuses to run outside the namespace, and TIME_WAIT
# lasts 60 s, so each size is measured right after it is built.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in hyperfine /usr/bin/time python3; do
    command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install hyperfine time python3)" >&2; exit 2; }
done
cargo build --release --quiet --bin tcptune --example socket_load --example netlink_count
bin=$PWD/target/release
out=$PWD/target/bench
mkdir -p "$out"

for tw in ${TIME_WAIT_COUNTS:-10000 100000 200000}; do
    echo "== $tw TIME_WAIT + 1000 CLOSE_WAIT (3 processes) + 1000 ESTABLISHED pairs"
    unshare -n -- "$bin/examples/socket_load" --time-wait "$tw" --close-wait 1000 --close-wait-processes 3 --established 1000 -- \
        bash -c '
            set -euo pipefail
            bin=$1; out=$2; tw=$3
            echo "sockets: $("$bin/examples/netlink_count") (netlink count), $(ss -Htan | wc -l) (ss)"
            hyperfine --warmup 2 --min-runs 10 --max-runs 30 -N --style basic \
                --export-json "$out/census-$tw.json" \
                "$bin/tcptune sockets --format json" \
                "ss -tan" \
                "$bin/examples/netlink_count"
            hyperfine --warmup 2 --min-runs 10 --max-runs 30 -N --style basic \
                --export-json "$out/owners-$tw.json" \
                "$bin/tcptune sockets --processes --format json" \
                "ss -tanp state close-wait"
            for command in "sockets --format json" "sockets --processes --format json" "check --format json"; do
                /usr/bin/time -f "%M" -o "$out/rss" "$bin/tcptune" $command >/dev/null || true
                echo "peak RSS of tcptune $command: $(tail -n 1 "$out/rss") KiB"
            done
            /usr/bin/time -f "%M" -o "$out/rss" ss -tan >/dev/null
            echo "peak RSS of ss -tan: $(cat "$out/rss") KiB"
        ' _ "$bin" "$out" "$tw"
    python3 - "$out/census-$tw.json" "$out/owners-$tw.json" <<'PY'
import json, sys
census = {r["command"].split("/")[-1]: r["mean"] for r in json.load(open(sys.argv[1]))["results"]}
owners = {r["command"].split("/")[-1]: r["mean"] for r in json.load(open(sys.argv[2]))["results"]}
ms = lambda seconds: f"{seconds * 1000:.1f} ms"
tcptune, ss, bare = census["tcptune sockets --format json"], census["ss -tan"], census["netlink_count"]
print(f"tcptune sockets --format json {ms(tcptune)}, ss -tan {ms(ss)}, bare netlink count {ms(bare)}")
print(f"ratio tcptune/ss = {tcptune / ss:.2f}; bare/ss = {bare / ss:.2f}")
proc, ssp = owners["tcptune sockets --processes --format json"], owners["ss -tanp state close-wait"]
print(f"tcptune sockets --processes {ms(proc)}, ss -tanp state close-wait {ms(ssp)}, ratio {proc / ssp:.2f}")
PY
done
