#!/usr/bin/env bash
# The Ansible role in contrib/ansible, run for real against this machine's
# kernel, but only inside a private network namespace (`unshare -n`) and with
# `--root` pointing at a temporary directory: every live sysctl write lands
# in the namespace, every file under the temporary root. The host's own
# sysctls and /etc are only read, before and after, to prove that.
#
#   1. the playbook passes --syntax-check;
#   2. a first run applies the webserver profile: the apply task reports
#      changed, the namespace's tcp_fin_timeout is 30, the file is written;
#   3. a second run changes nothing (apply ok, recap changed=0);
#   4. after `sysctl -w net.ipv4.tcp_fin_timeout=45` (in the namespace),
#      --check --diff predicts the change, shows the live value that would
#      change, passes, and applies nothing;
#   5. --check --diff with another profile shows the sysctl.d file's diff;
#   6. --check on a fresh host whose binary comes from the controller
#      reports "would change" and passes, installing nothing;
#   7. a custom profile from the controller is validated on the host,
#      installed and applied; an invalid one fails the play naming
#      line:column and installs nothing;
#   8. with 120 CLOSE_WAIT sockets held by a process (an application's
#      leak), the play passes and the audit reports close-wait-leak; with
#      tcptune_audit_fail_on=warning the audit alone fails naming it;
#   9. the local fact prints tcptune's check as JSON (ansible_local.tcptune);
#  10. the host's tcp_fin_timeout and /etc/sysctl.d are as they were.
#
# Needs root (for unshare -n), python3 and the network to PyPI once:
# ansible-core is installed into a virtualenv under target/. Prints
# "ansible: N passed, M failed" and exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
target_dir=${CARGO_TARGET_DIR:-$repo/target}
venv=${TCPTUNE_ANSIBLE_VENV:-$target_dir/ansible-venv}
ansible_spec='ansible-core>=2.15,<2.19'
key=net.ipv4.tcp_fin_timeout

# --- inside the namespace ---------------------------------------------------
# Runs as `unshare -n -- bash run.sh --inside WORK OUTER_NETNS`; writes one
# PASS/FAIL line per check to WORK/results.
inside() {
    local work=$1 outer_ns=$2
    local results=$work/results
    ok() { echo "ok    $1"; echo "PASS $1" >>"$results"; }
    bad() { echo "FAIL  $1"; echo "FAIL $1" >>"$results"; }

    # Refuse to write anything unless this really is a new namespace.
    if [ "$(readlink /proc/self/ns/net)" = "$outer_ns" ]; then
        bad "running in a private network namespace"
        return 1
    fi
    ok "running in a private network namespace"
    ip link set lo up

    local py=$venv/bin/python
    local recap=("$venv/bin/python" "$repo/tests/ansible/recap.py")
    # The default stdout callback (ansible-core has no JSON one), plain, with
    # results as one-line JSON: tests/ansible/recap.py reads it.
    export ANSIBLE_STDOUT_CALLBACK=default ANSIBLE_NOCOLOR=1 ANSIBLE_CALLBACK_RESULT_FORMAT=json
    export ANSIBLE_DISPLAY_SKIPPED_HOSTS=1 ANSIBLE_DISPLAY_OK_HOSTS=1 ANSIBLE_RETRY_FILES_ENABLED=0
    export ANSIBLE_HOME=$work/ansible-home ANSIBLE_LOCAL_TEMP=$work/ansible-tmp
    export ANSIBLE_REMOTE_TEMP=$work/ansible-tmp ANSIBLE_LOCALHOST_WARNING=0
    mkdir -p "$work/root" "$work/bin"
    # Extra vars as JSON, so paths need no quoting. The binary is copied by
    # the role itself (tcptune_binary_src), which is part of what is tested.
    cat >"$work/vars.json" <<EOF
{
  "ansible_connection": "local",
  "ansible_python_interpreter": "$py",
  "tcptune_binary_src": "$target_dir/debug/tcptune",
  "tcptune_binary": "$work/bin/tcptune",
  "tcptune_root": "$work/root",
  "tcptune_live": true,
  "tcptune_fact_dir": "$work/facts.d",
  "tcptune_profile": "webserver"
}
EOF
    play() {
        local name=$1
        shift
        local code=0
        "$venv/bin/ansible-playbook" -i localhost, -e "@$work/vars.json" \
            "$repo/contrib/ansible/playbook.yml" "$@" \
            >"$work/$name.out" 2>"$work/$name.err" || code=$?
        echo "$code" >"$work/$name.rc"
    }
    rc() { cat "$work/$1.rc"; }
    field() { "${recap[@]}" "$work/$1.out" "${@:2}"; }
    live() { tr -s ' \t' ' ' <"/proc/sys/${key//.//}" | tr -d '\n'; }
    dump() { # show what ansible said when a check failed
        echo "---- $1: exit $(rc "$1")"
        tail -c 3000 "$work/$1.err" || true
        tail -c 3000 "$work/$1.out" || true
        echo "----"
    }

    local before
    before=$(live)
    echo "namespace: $key=$before (kernel default)"

    local syntax=0
    "$venv/bin/ansible-playbook" -i localhost, -e "@$work/vars.json" --syntax-check \
        "$repo/contrib/ansible/playbook.yml" >"$work/syntax.out" 2>&1 || syntax=$?
    if [ "$syntax" = 0 ]; then ok "playbook passes --syntax-check"; else
        bad "playbook passes --syntax-check"
        cat "$work/syntax.out"
    fi

    play first
    if [ "$(rc first)" = 0 ] &&
        [ "$(field first task 'Apply tcptune profile')" = changed ]; then
        ok "first run: apply task changed"
    else
        bad "first run: apply task changed"
        dump first
    fi
    if [ "$(live)" = 30 ] && [ -f "$work/root/etc/sysctl.d/99-zz-tcptune.conf" ] &&
        grep -qx "$key = 30" "$work/root/etc/sysctl.d/99-zz-tcptune.conf"; then
        ok "first run: $key is 30 live and in <root>/etc/sysctl.d/99-zz-tcptune.conf"
    else
        bad "first run: $key is 30 live and in the file (live: $(live))"
    fi

    play second
    if [ "$(rc second)" = 0 ] &&
        [ "$(field second task 'Apply tcptune profile')" = ok ] &&
        [ "$(field second stats changed)" = 0 ]; then
        ok "second run: apply ok, not changed; recap changed=0"
    else
        bad "second run: apply ok, not changed; recap changed=$(field second stats changed)"
        dump second
    fi

    sysctl -q -w "$key=45"
    play predict --check --diff
    if [ "$(rc predict)" = 0 ] &&
        [ "$(field predict task 'Apply tcptune profile')" = changed ] &&
        grep -q "$key: 45 -> 30" "$work/predict.out" &&
        [ "$(live)" = 45 ]; then
        ok "--check --diff after drift: predicts and shows the change, passes, applies nothing"
    else
        bad "--check --diff after drift: predicts and shows the change, passes (live: $(live))"
        dump predict
    fi

    play other --check --diff -e tcptune_profile=loadbalancer
    if [ "$(rc other)" = 0 ] &&
        grep -q '^+net.ipv4.ip_local_port_range = ' "$work/other.out" &&
        [ "$(field other task 'Apply tcptune profile')" = changed ] &&
        ! grep -q 'ip_local_port_range' "$work/root/etc/sysctl.d/99-zz-tcptune.conf"; then
        ok "--check --diff with another profile: shows the sysctl.d file's diff, changes nothing"
    else
        bad "--check --diff with another profile: shows the file diff"
        dump other
    fi

    play fresh --check -e "tcptune_binary=$work/fresh/bin/tcptune" -e "tcptune_root=$work/fresh/root"
    if [ "$(rc fresh)" = 0 ] &&
        [ "$(field fresh task 'Note that tcptune is installed by this run')" = changed ] &&
        [ ! -e "$work/fresh/bin/tcptune" ]; then
        ok "--check on a fresh host: would install tcptune, passes, installs nothing"
    else
        bad "--check on a fresh host passes"
        dump fresh
    fi

    "$py" -c 'import json, sys
key = sys.argv[1]
good = {"tcptune_profile": "custom-fin", "tcptune_profile_content":
        "description: shorter orphaned FIN_WAIT2\nextends: default\nsettings:\n  %s:\n"
        "    value: 40\n    why: our load balancer drops idle connections after 40 s\n" % key}
bad = {"tcptune_profile": "broken", "tcptune_profile_content":
       "description: broken\nsettings:\n  %s:\n    value: 40\n    colour: blue\n" % key}
json.dump(good, open(sys.argv[2], "w"))
json.dump(bad, open(sys.argv[3], "w"))' "$key" "$work/custom.json" "$work/broken.json"
    play custom -e "@$work/custom.json"
    if [ "$(rc custom)" = 0 ] && [ "$(live)" = 40 ] &&
        [ -f "$work/root/etc/tcptune/profiles/custom-fin.yaml" ] &&
        [ "$(field custom task 'Validate the custom profile with tcptune')" = ok ]; then
        ok "custom profile from the controller: validated, installed, applied ($key=40)"
    else
        bad "custom profile from the controller applied (live: $(live))"
        dump custom
    fi
    play broken -e "@$work/broken.json"
    if [ "$(rc broken)" != 0 ] &&
        [ "$(field broken task 'Validate the custom profile with tcptune')" = failed ] &&
        grep -q ':5:5: ' "$work/broken.out" &&
        [ ! -e "$work/root/etc/tcptune/profiles/broken.yaml" ] && [ "$(live)" = 40 ]; then
        ok "an invalid custom profile fails the play at line:column and installs nothing"
    else
        bad "an invalid custom profile fails the play and installs nothing"
        dump broken
    fi

    # An application that never closes: 120 CLOSE_WAIT sockets, held by a
    # process of their own while the plays run.
    "$py" -c 'import socket, sys, time
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen(200)
held, clients = [], []
for _ in range(120):
    client = socket.create_connection(server.getsockname())
    conn, _ = server.accept()
    held.append(conn)
    clients.append(client)
for client in clients:
    client.close()
open(sys.argv[1], "w").close()
time.sleep(120)' "$work/leak.ready" &
    local leak=$!
    for _ in $(seq 100); do [ -e "$work/leak.ready" ] && break; sleep 0.1; done
    sleep 0.5
    play leak -e tcptune_profile=custom-fin
    if [ "$(rc leak)" = 0 ] && grep -q 'close-wait-leak' "$work/leak.out"; then
        ok "CLOSE_WAIT leak present: the play passes, the audit reports close-wait-leak"
    else
        bad "CLOSE_WAIT leak present: the play passes and the audit reports it"
        dump leak
    fi
    play leakgate --tags tcptune_audit -e tcptune_profile=custom-fin -e tcptune_audit_fail_on=warning
    local message
    message=$(field leakgate msg 'Fail on findings')
    if [ "$(rc leakgate)" != 0 ] && [[ $message == *"close-wait-leak"* ]]; then
        ok "audit with tcptune_audit_fail_on=warning fails naming the leak"
        echo "      $message"
    else
        bad "audit with tcptune_audit_fail_on=warning fails naming the leak (msg: $message)"
        dump leakgate
    fi
    kill "$leak" 2>/dev/null || true
    wait "$leak" 2>/dev/null || true

    local facts=0
    "$venv/bin/ansible" localhost -i localhost, -c local -e "ansible_python_interpreter=$py" \
        -m ansible.builtin.setup -a "fact_path=$work/facts.d filter=ansible_local" \
        >"$work/fact.out" 2>&1 || facts=$?
    if [ "$facts" = 0 ] && grep -q '"summary"' "$work/fact.out" &&
        grep -q '"tcptune"' "$work/fact.out"; then
        ok "local fact: ansible_local.tcptune holds tcptune's check"
    else
        bad "local fact: ansible_local.tcptune holds tcptune's check"
        tail -c 2000 "$work/fact.out"
    fi
}

if [ "${1:-}" = "--inside" ]; then
    inside "$2" "$3"
    exit 0
fi

# --- outside: tools, ansible, tcptune ----------------------------------------
started=$(date +%s)
if [ "$(id -u)" != 0 ]; then
    echo "tests/ansible/run.sh: needs root for unshare -n" >&2
    echo "ansible: 0 passed, 1 failed"
    exit 1
fi
apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "$@"
}
missing=()
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v sysctl >/dev/null 2>&1 || missing+=(procps)
command -v unshare >/dev/null 2>&1 || missing+=(util-linux)
command -v python3 >/dev/null 2>&1 || missing+=(python3 python3-venv python3-pip)
if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi

# ansible-core in a virtualenv of its own (Debian's python refuses global pip
# installs), reused while it still answers.
if ! "$venv/bin/ansible-playbook" --version >/dev/null 2>&1; then
    rm -rf "$venv"
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
        apt_install python3-venv python3-pip
        rm -rf "$venv"
        python3 -m venv "$venv"
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$ansible_spec"
fi

cargo build --quiet --locked --bin tcptune

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
touch "$work/results"

# The host, read only: compared after the run.
host_value=$(sysctl -n "$key")
host_files=$(ls -la /etc/sysctl.d 2>/dev/null || true)
outer_ns=$(readlink /proc/self/ns/net)

echo "== ansible role test ($("$venv/bin/ansible-playbook" --version 2>/dev/null | sed -n 1p), $("$venv/bin/python" --version), $("$target_dir/debug/tcptune" --version))"
unshare -n -- bash "$repo/tests/ansible/run.sh" --inside "$work" "$outer_ns" ||
    echo "FAIL the namespace run itself (exit $?)" >>"$work/results"

if [ "$(sysctl -n "$key")" = "$host_value" ] &&
    [ "$(ls -la /etc/sysctl.d 2>/dev/null || true)" = "$host_files" ]; then
    echo "ok    host $key ($host_value) and /etc/sysctl.d untouched"
    echo "PASS host untouched" >>"$work/results"
else
    echo "FAIL  host $key or /etc/sysctl.d changed"
    echo "FAIL host untouched" >>"$work/results"
fi

passed=$(grep -c '^PASS' "$work/results" || true)
failed=$(grep -c '^FAIL' "$work/results" || true)
echo "($(($(date +%s) - started)) s)"
echo "ansible: $passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -ge 13 ]
