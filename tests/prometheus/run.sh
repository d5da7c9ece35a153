#!/usr/bin/env bash
# The alert rules in contrib/prometheus, checked and unit-tested with the
# real promtool (Debian's `prometheus` package ships it) against series taken
# from tcptune's own output on the fixture trees (tests/prometheus/make_tests.py).
#
#   tests/prometheus/run.sh [TCPTUNE]
#
# Reads fixture trees only; writes nothing but a temporary directory.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
tcptune=${1:-${CARGO_TARGET_DIR:-$repo/target}/debug/tcptune}
[ -x "$tcptune" ] || { echo "no tcptune binary at $tcptune (cargo build first)" >&2; exit 2; }
command -v promtool >/dev/null || { echo "promtool is missing (apt-get install prometheus)" >&2; exit 2; }

# A Python with PyYAML: the one on PATH, or Debian's (python3-yaml).
python=
for candidate in python3 /usr/bin/python3; do
    if "$candidate" -c 'import yaml' >/dev/null 2>&1; then python=$candidate; break; fi
done
[ -n "$python" ] || { echo "no python3 with PyYAML (apt-get install python3-yaml)" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
promtool check rules "$repo/contrib/prometheus/tcptune.rules.yml"
"$python" "$repo/tests/prometheus/make_tests.py" "$tcptune" "$repo" "$work/tcptune.test.yml"
promtool test rules "$work/tcptune.test.yml"
echo "prometheus: rules checked and $(grep -c '^- name:' "$work/tcptune.test.yml") test groups passed"
