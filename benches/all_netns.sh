#!/usr/bin/env bash
# check --all-netns and sockets --all-netns over many network namespaces,
# each holding a few real sockets (examples/socket_load.rs): N named
# namespaces made with `ip netns add` inside a private mount namespace whose
# /run is a fresh tmpfs, so the host's /run/netns is never touched and every
# namespace vanishes with the script. Sysctls change only inside them.
#
#   bash benches/all_netns.sh            # 200 namespaces
#   NAMESPACES=50 bash benches/all_netns.sh
#
# Needs root and hyperfine. Other namespaces already on the machine are
# audited too; the script prints how many there were in all.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "install hyperfine first (apt-get install hyperfine)" >&2; exit 2; }
cargo build --release --quiet --bin tcptune --example socket_load
export TCPTUNE=$PWD/target/release/tcptune LOAD=$PWD/target/release/examples/socket_load
export NAMESPACES=${NAMESPACES:-200}
mkdir -p target/bench
unshare -m -- bash -c '
set -euo pipefail
mount --make-rprivate /
mount -t tmpfs tmpfs /run
mkdir /run/netns
# On exit, end every process in the namespaces made here (socket_load and
# the command it holds), by pid.
trap "for i in \$(seq 1 \$NAMESPACES); do kill \$(ip netns pids bench\$i) 2>/dev/null || true; done" EXIT
for i in $(seq 1 "$NAMESPACES"); do
    ip netns add "bench$i"
    ip netns exec "bench$i" ip link set lo up
    ip netns exec "bench$i" "$LOAD" --time-wait 3 --close-wait 1 --established 2 -- sleep 3600 >/dev/null 2>&1 &
done
# Ready when every namespace holds its sockets (5 ESTABLISHED-or-later each).
for _ in $(seq 1 600); do
    ready=$(for i in $(seq 1 "$NAMESPACES"); do ip netns exec "bench$i" ss -tanH state established 2>/dev/null | wc -l; done | awk "\$1>=4" | wc -l)
    [ "$ready" -ge "$NAMESPACES" ] && break
    sleep 0.5
done
echo "namespaces audited: $("$TCPTUNE" sockets --all-netns --format json | python3 -c "import json,sys; print(len(json.load(sys.stdin)[\"namespaces\"]))")"
hyperfine --warmup 1 --runs ${RUNS:-5} -N --ignore-failure --export-markdown target/bench/all_netns.md \
    "$TCPTUNE check --all-netns --format json" \
    "$TCPTUNE sockets --all-netns --format json" \
    "$TCPTUNE check --format json"
'
