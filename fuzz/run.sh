#!/usr/bin/env bash
# Builds every fuzz target and runs each for SECONDS (default 60).
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# Targets are built optimised and with debug assertions (-O -a), so an
# arithmetic overflow is a finding too. Works on the stable toolchain:
# cargo-fuzz needs nightly-only flags
# (-Zsanitizer), which RUSTC_BOOTSTRAP=1 unlocks on stable. Install the
# runner once with `cargo install cargo-fuzz`. JOBS (default 1) targets run
# at once; each uses one core. Seeds are read from corpus/TARGET (kept in
# git); what the fuzzer finds goes to work/TARGET and crashes to
# artifacts/TARGET (both ignored by git). Exits non-zero if any target
# found a crash, a timeout or a leak.
set -euo pipefail
cd "$(dirname "$0")"

seconds="${1:-60}"
shift || true
all=(profile_parse conf_parse tcp_table netlink_datagram journal_entry lint rules)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
jobs="${JOBS:-1}"

command -v cargo-fuzz >/dev/null 2>&1 || {
    echo "cargo-fuzz is missing: cargo install cargo-fuzz" >&2
    exit 2
}
export RUSTC_BOOTSTRAP=1

dict() {
    case "$1" in
        profile_parse) echo "-dict=dicts/profile.dict" ;;
        conf_parse | lint) echo "-dict=dicts/conf.dict" ;;
        tcp_table) echo "-dict=dicts/tcp.dict" ;;
    esac
}

for target in "${targets[@]}"; do
    cargo fuzz build -O -a "$target"
done

mkdir -p logs
run() {
    local target="$1"
    mkdir -p "work/$target" "artifacts/$target"
    # -timeout: one input taking longer than 10 s is a finding (a hang);
    # -rss_limit_mb: so is one that needs more than 2 GiB.
    cargo fuzz run -O -a "$target" "work/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -max_len=65536 -print_final_stats=1 $(dict "$target") \
        >"logs/$target.log" 2>&1
}

failed=()
pids=()
names=()
for target in "${targets[@]}"; do
    run "$target" &
    pids+=($!)
    names+=("$target")
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
        wait -n || true
    done
done
for index in "${!pids[@]}"; do
    wait "${pids[$index]}" || failed+=("${names[$index]}")
done

for target in "${targets[@]}"; do
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "logs/$target.log" | grep -o '[0-9]*$' || echo "?")
    printf '%-18s %12s executions  %s\n' "$target" "$runs" \
        "$(ls "artifacts/$target" 2>/dev/null | wc -l) artifacts"
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "findings in: ${failed[*]} (see fuzz/logs and fuzz/artifacts)" >&2
    exit 1
fi
