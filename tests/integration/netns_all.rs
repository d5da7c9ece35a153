//! `check --all-netns` and `sockets --all-netns` against namespaces the test
//! makes: two named ones (`ip netns add`, inside a private mount namespace
//! whose /run is a fresh tmpfs, so /run/netns is the test's own) and one
//! held by a process under `unshare -n`. The host's own sysctls are never
//! written: the only write is inside the named namespace `alpha`.

use std::env;
use std::process::Command;

use serde_json::Value;

use crate::netns::REQUIRE_ENV;
use crate::schema::assert_valid;

/// Runs `script` under `unshare -m` with /run private and empty; None (the
/// test skips) where that is not permitted, unless REQUIRE_ENV says fail.
fn in_private_mounts(script: &str) -> Option<std::process::Output> {
    let probe = Command::new("unshare").args(["-m", "-n", "true"]).output();
    if !probe.is_ok_and(|output| output.status.success()) {
        assert!(
            env::var(REQUIRE_ENV).as_deref() != Ok("1"),
            "{REQUIRE_ENV}=1 but `unshare -m -n` is not permitted here"
        );
        eprintln!("skipping: `unshare -m` is not permitted (set {REQUIRE_ENV}=1 to fail)");
        return None;
    }
    let prologue = "set -e\n\
        mount --make-rprivate /\n\
        mount -t tmpfs tmpfs /run\n\
        mkdir /run/netns\n\
        ip netns add alpha\n\
        ip netns add beta\n\
        ip netns exec alpha ip link set lo up\n\
        unshare -n sleep 60 &\n\
        holder=$!\n\
        trap 'kill $holder' EXIT\n\
        while [ \"$(cat /proc/$holder/comm)\" != sleep ]; do sleep 0.05; done\n\
        echo \"holder=$holder\" >&2\n\
        set +e\n";
    Some(
        Command::new("unshare")
            .args(["-m", "--", "sh", "-c"])
            .arg(format!("{prologue}{script}"))
            .env("TCPTUNE", env!("CARGO_BIN_EXE_tcptune"))
            .output()
            .expect("run unshare -m"),
    )
}

fn section<'a>(document: &'a Value, label: &str) -> &'a Value {
    document["namespaces"]
        .as_array()
        .expect("namespaces")
        .iter()
        .find(|entry| entry["netns"]["label"] == label)
        .unwrap_or_else(|| panic!("no namespace {label} in {document:#}"))
}

#[test]
fn check_audits_every_namespace_and_exits_with_the_worst_verdict() {
    // tcp_timestamps=0 is folklore check warns about: only alpha has it.
    let Some(output) = in_private_mounts(
        "ip netns exec alpha sysctl -qw net.ipv4.tcp_timestamps=0\n\
         \"$TCPTUNE\" check --all-netns --format line >&2\n\
         \"$TCPTUNE\" check --all-netns --format json\n\
         echo \"exit=$?\" >&2\n",
    ) else {
        return;
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("exit=1"), "{stderr}");
    // node-problem-detector's one line names the worst namespace (alpha,
    // unless another namespace on this machine has worse findings).
    assert!(stderr.contains("tcptune: netns "), "{stderr}");
    let document: Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_valid("netns", &document, "check --all-netns");
    let host = &document["namespaces"][0];
    assert_eq!(host["netns"]["host"], true);
    let alpha = section(&document, "alpha");
    assert_eq!(alpha["netns"]["names"], serde_json::json!(["alpha"]));
    assert_eq!(alpha["netns"]["host"], false);
    let keys: Vec<&str> = alpha["report"]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|finding| finding["key"].as_str())
        .collect();
    assert!(keys.contains(&"net.ipv4.tcp_timestamps"), "{alpha:#}");
    let beta = section(&document, "beta");
    assert!(
        beta["report"]["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .all(|finding| finding["key"] != "net.ipv4.tcp_timestamps"),
        "{beta:#}"
    );
    // The unshare -n process's namespace, found by its process.
    let holder: u64 = stderr
        .split("holder=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|pid| pid.parse().ok())
        .expect("holder pid");
    let held = document["namespaces"]
        .as_array()
        .expect("namespaces")
        .iter()
        .find(|entry| entry["netns"]["pids"] == serde_json::json!([holder]))
        .unwrap_or_else(|| panic!("no namespace held by {holder} in {document:#}"));
    assert_eq!(held["netns"]["comm"], "sleep");
    assert_eq!(held["netns"]["process_count"], 1);
    assert_eq!(held["netns"]["names"], serde_json::json!([]));
}

#[test]
fn sockets_in_every_namespace_carry_netns_labels_in_prometheus() {
    let Some(output) = in_private_mounts(
        "\"$TCPTUNE\" sockets --all-netns --format prometheus\n\
         echo \"exit=$?\" >&2\n\
         \"$TCPTUNE\" sockets --all-netns --format human\n",
    ) else {
        return;
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("exit=0"), "{stderr}");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("tcptune_tcp_sockets{netns=\"alpha\",pod=\"\",state=\"listen\"} 0"),
        "{text}"
    );
    assert!(text.contains("netns=\"beta\""), "{text}");
    // One HELP and one TYPE per family, whatever the number of namespaces.
    assert_eq!(
        text.matches("# TYPE tcptune_tcp_sockets ").count(),
        1,
        "{text}"
    );
    assert!(text.contains("== network namespace alpha net:["), "{text}");

    let Some(output) = in_private_mounts("\"$TCPTUNE\" sockets --all-netns --format json\n") else {
        return;
    };
    let document: Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_valid("netns", &document, "sockets --all-netns");
    assert_eq!(section(&document, "beta")["report"]["total"], 0);
}

#[test]
fn all_netns_is_refused_with_netns_and_on_a_saved_proc() {
    let output = crate::tcptune()
        .args(["--netns", "/proc/self/ns/net", "check", "--all-netns"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("exclude each other"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = crate::tcptune_on("modern-defaults")
        .args(["sockets", "--all-netns"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("needs the kernel's /proc"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
