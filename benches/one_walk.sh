#!/usr/bin/env bash
# The census after "one walk of the socket table" (issue 12), against the
# release build it replaced, a bare dump and ss, inside private network
# namespaces loaded by examples/socket_load.rs. Timings are whole-process
# medians from hyperfine, which interleaves the commands it is given; each
# case is run REPEAT times (default 3), each time in a fresh namespace.
#
#   BASE=/tmp/tcptune-base/target/release/tcptune bash benches/one_walk.sh
#   CASES="pinned-200k 1m" REPEAT=1 BASE=... bash benches/one_walk.sh
#
# BASE is the release binary to compare with: build it from the commit to
# compare against in a directory of its own, e.g.
#   git archive bf31745 | tar -x -C /tmp/tcptune-base &&
#   (cd /tmp/tcptune-base && cargo build --release --bin tcptune)
#
# Cases (all of them by default):
#   pinned-200k  200k TIME_WAIT, everything pinned to CPU 0 (taskset -c 0):
#                sockets vs BASE, the one-walk and the two-walk bare dumps, ss
#   1m           1M TIME_WAIT pinned to CPU 0, in two rounds (TIME_WAIT lasts
#                60 s from each close and making a million takes most of
#                that): (a) sockets vs BASE vs the one-walk bare dump,
#                (b) ss -tan vs sockets; plus peak RSS
#   check-100k   100k TIME_WAIT + 1,000 CLOSE_WAIT in 3 processes: check vs
#                sockets vs sockets --by-destination vs sockets --processes
#                --by-destination (the same evidence check gathers) vs BASE check
#   check-10k    10k TIME_WAIT + 1,000 CLOSE_WAIT in 3 processes, a load no
#                path can turn into port exhaustion: check (which then
#                leaves TIME_WAIT in the kernel) vs sockets --processes (the
#                same owner walk) vs sockets vs BASE check
#   descriptors  200,000 descriptors in 2,000 processes + 1,000 CLOSE_WAIT:
#                sockets --processes vs ss -tanp state close-wait vs BASE
#
# Needs root (unshare -n), hyperfine, GNU time, python3 and taskset. The
# loader refuses to run outside the namespace unshare makes.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in hyperfine /usr/bin/time python3 taskset; do
    command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install hyperfine time python3 util-linux)" >&2; exit 2; }
done
base=${BASE:?set BASE to the release binary to compare with}
cargo build --release --quiet --bin tcptune --example socket_load --example netlink_count
bin=$PWD/target/release
out=$PWD/target/bench/one_walk
mkdir -p "$out"
repeat=${REPEAT:-3}
load=(unshare -n -- "$bin/examples/socket_load")
export bin base out

# hyperfine with the settings every case shares; $1 names the JSON export.
export HF='hyperfine -N --style basic --ignore-failure'

for case in ${CASES:-pinned-200k check-100k check-10k descriptors 1m}; do
    for round in $(seq 1 "$repeat"); do
        echo "== $case, round $round; $(uptime)"
        case $case in
        pinned-200k)
            "${load[@]}" --time-wait 200000 --close-wait 1000 --close-wait-processes 3 --established 1000 -- \
                bash -c '
                    echo "sockstat: $(grep TCP: /proc/net/sockstat)"
                    taskset -c 0 $HF --warmup 2 --runs 10 --export-json "$out/pinned-200k-$1.json" \
                        "$bin/tcptune sockets --format json" \
                        "$base sockets --format json" \
                        "$bin/examples/netlink_count --one-walk" \
                        "$bin/examples/netlink_count" \
                        "ss -tan"
                ' _ "$round"
            ;;
        1m)
            for part in a b; do
                "${load[@]}" --time-wait 1000000 --close-wait 1000 --close-wait-processes 3 --established 1000 -- \
                    bash -c '
                        echo "sockstat before: $(grep TCP: /proc/net/sockstat)"
                        if [ "$2" = a ]; then
                            taskset -c 0 $HF --warmup 1 --runs 5 --export-json "$out/1m-a-$1.json" \
                                "$bin/tcptune sockets --format json" \
                                "$base sockets --format json" \
                                "$bin/examples/netlink_count --one-walk"
                            /usr/bin/time -f "%M" -o "$out/rss" taskset -c 0 "$bin/tcptune" sockets --format json >/dev/null
                            echo "peak RSS of tcptune sockets --format json: $(tail -n 1 "$out/rss") KiB"
                        else
                            taskset -c 0 $HF --runs 2 --export-json "$out/1m-b-$1.json" \
                                "$bin/tcptune sockets --format json" \
                                "ss -tan"
                        fi
                        echo "sockstat after: $(grep TCP: /proc/net/sockstat)"
                    ' _ "$round" "$part"
            done
            ;;
        check-100k)
            "${load[@]}" --time-wait 100000 --close-wait 1000 --close-wait-processes 3 --established 1000 -- \
                bash -c '
                    $HF --warmup 2 --runs 15 --export-json "$out/check-100k-$1.json" \
                        "$bin/tcptune check --format json" \
                        "$bin/tcptune sockets --format json" \
                        "$bin/tcptune sockets --by-destination --format json" \
                        "$bin/tcptune sockets --processes --by-destination --format json" \
                        "$base check --format json" \
                        "$base sockets --format json"
                ' _ "$round"
            ;;
        check-10k)
            "${load[@]}" --time-wait 10000 --close-wait 1000 --close-wait-processes 3 --established 1000 -- \
                bash -c '
                    $HF --warmup 3 --runs 30 --export-json "$out/check-10k-$1.json" \
                        "$bin/tcptune check --format json" \
                        "$bin/tcptune sockets --processes --format json" \
                        "$bin/tcptune sockets --format json" \
                        "$base check --format json"
                ' _ "$round"
            ;;
        descriptors)
            "${load[@]}" --time-wait 10000 --close-wait 1000 --close-wait-processes 3 --established 1000 \
                --idle-processes 2000 --descriptors 100 -- \
                bash -c '
                    echo "descriptors: $(ls /proc/[0-9]*/fd 2>/dev/null | grep -c .)"
                    $HF --warmup 2 --runs 10 --export-json "$out/descriptors-$1.json" \
                        "$bin/tcptune sockets --processes --format json" \
                        "ss -tanp state close-wait" \
                        "$base sockets --processes --format json"
                ' _ "$round"
            ;;
        *) echo "unknown case $case" >&2; exit 2 ;;
        esac
    done
done

# Medians over all rounds (the median of each round's median) and ratios.
python3 - "$out" <<'PY'
import glob, json, os, statistics, sys
out = sys.argv[1]
groups = {}
for path in sorted(glob.glob(os.path.join(out, "*.json"))):
    name = os.path.basename(path).rsplit("-", 1)[0]
    for result in json.load(open(path))["results"]:
        command = result["command"].replace(os.environ.get("base", "BASE"), "BASE")
        command = command.replace(os.environ.get("bin", "BIN") + "/", "")
        groups.setdefault(name, {}).setdefault(command, []).append(result["median"])
for name, commands in groups.items():
    print(f"-- {name}")
    medians = {command: statistics.median(values) for command, values in commands.items()}
    first = next(iter(medians.values()))
    for command, median in medians.items():
        rounds = ", ".join(f"{value * 1000:.1f}" for value in commands[command])
        print(f"  {median * 1000:9.1f} ms  {median / first:5.2f}x of the first  {command}  (rounds: {rounds})")
PY
