//! `--netns`: tcptune run on the host audits and tunes another network
//! namespace, named (`ip netns add`) or a process's (`/proc/PID/ns/net`),
//! and the host's own values never move.
//!
//! These tests stay in the test's own namespace and point tcptune at
//! namespaces they create; the only sysctl writes go through
//! `ip netns exec` / `nsenter` into those namespaces, and each test checks
//! afterwards that the host's values are what they were.

use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::netns::{REQUIRE_ENV, netns_available, run};

/// Skips (or fails with TCPTUNE_REQUIRE_NETNS=1) where namespaces cannot be made.
fn namespaces_usable(test: &str) -> bool {
    match netns_available() {
        Ok(()) => true,
        Err(reason) => {
            assert!(
                std::env::var(REQUIRE_ENV).as_deref() != Ok("1"),
                "{REQUIRE_ENV}=1 but {reason}"
            );
            eprintln!("skipping {test}: {reason}");
            false
        }
    }
}

/// A named namespace, deleted when dropped.
struct Named(String);

impl Named {
    fn new(tag: &str) -> Named {
        let name = format!("tcptune-test-{tag}-{}", std::process::id());
        run(Command::new("ip").args(["netns", "add", &name]));
        run(Command::new("ip").args(["-n", &name, "link", "set", "lo", "up"]));
        Named(name)
    }

    fn sysctl(&self, args: &[&str]) -> String {
        let output = run(Command::new("ip")
            .args(["netns", "exec", &self.0, "sysctl"])
            .args(args));
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }
}

impl Drop for Named {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// A process in a namespace of its own, killed when dropped.
struct Isolated(Child);

impl Drop for Isolated {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn host_value(key: &str) -> String {
    std::fs::read_to_string(format!("/proc/sys/{}", key.replace('.', "/")))
        .expect("read host value")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn tcptune_json(args: &[&str]) -> (Value, Option<i32>) {
    let output = Command::new(env!("CARGO_BIN_EXE_tcptune"))
        .args(args)
        .args(["--format", "json"])
        .output()
        .expect("run tcptune");
    let document = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "not JSON ({error}): {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (document, output.status.code())
}

fn finding<'a>(document: &'a Value, code: &str, key: &str) -> Option<&'a Value> {
    document["findings"]
        .as_array()?
        .iter()
        .find(|finding| finding["code"] == code && finding["key"] == key)
}

#[test]
fn a_named_namespace_is_audited_and_tuned_from_the_host() {
    if !namespaces_usable("a_named_namespace_is_audited_and_tuned_from_the_host") {
        return;
    }
    let host_fin = host_value("net.ipv4.tcp_fin_timeout");
    let host_reuse = host_value("net.ipv4.tcp_tw_reuse");
    let named = Named::new("named");
    named.sysctl(&["-qw", "net.ipv4.tcp_fin_timeout=45"]);

    let (document, code) = tcptune_json(&["--netns", &named.0, "check", "--profile", "webserver"]);
    assert_eq!(code, Some(1));
    let drift = finding(&document, "drift", "net.ipv4.tcp_fin_timeout").expect("drift finding");
    assert_eq!(drift["current"], "45");
    assert_eq!(named.sysctl(&["-n", "net.ipv4.tcp_fin_timeout"]), "45");

    // A global key, seen from the child namespace, is reported as such.
    let root = tempfile::tempdir().expect("tempdir");
    let profile = root.path().join("backlog.yaml");
    std::fs::write(&profile, "settings:\n  net.core.netdev_max_backlog:\n    at_least: 1000\n    why: global, lives on the host\n").expect("profile");
    let (document, _) = tcptune_json(&[
        "--netns",
        &named.0,
        "check",
        "--profile",
        profile.to_str().expect("utf-8 path"),
    ]);
    let global = finding(&document, "unavailable-key", "net.core.netdev_max_backlog")
        .expect("unavailable-key");
    assert!(
        global["message"]
            .as_str()
            .unwrap_or_default()
            .contains("global"),
        "{global:#}"
    );

    let state = tempfile::tempdir().expect("tempdir");
    let (outcome, code) = tcptune_json(&[
        "--netns",
        &named.0,
        "--root",
        state.path().to_str().expect("utf-8"),
        "apply",
        "--live",
        "--profile",
        "webserver",
        "--yes",
    ]);
    assert_eq!(code, Some(0), "{outcome:#}");
    assert_eq!(named.sysctl(&["-n", "net.ipv4.tcp_fin_timeout"]), "30");
    assert_eq!(named.sysctl(&["-n", "net.ipv4.tcp_tw_reuse"]), "1");
    let (rolled, code) = tcptune_json(&[
        "--netns",
        &named.0,
        "--root",
        state.path().to_str().expect("utf-8"),
        "rollback",
        "--live",
        "--yes",
    ]);
    assert_eq!(code, Some(0), "{rolled:#}");
    assert_eq!(named.sysctl(&["-n", "net.ipv4.tcp_fin_timeout"]), "45");

    assert_eq!(
        host_value("net.ipv4.tcp_fin_timeout"),
        host_fin,
        "the host must not move"
    );
    assert_eq!(
        host_value("net.ipv4.tcp_tw_reuse"),
        host_reuse,
        "the host must not move"
    );
}

#[test]
fn a_processs_namespace_is_counted_like_ss_counts_it() {
    if !namespaces_usable("a_processs_namespace_is_counted_like_ss_counts_it") {
        return;
    }
    let host_reuse = host_value("net.ipv4.tcp_tw_reuse");
    // The socket loader refuses to run outside a namespace of its own; it
    // holds 7 TIME_WAIT and 3 CLOSE_WAIT sockets (in a holder process) while
    // `sleep` runs.
    let loader = std::env::current_exe()
        .expect("test binary")
        .parent()
        .and_then(|deps| deps.parent())
        .map(|debug| debug.join("examples/socket_load"))
        .expect("examples dir");
    assert!(
        loader.exists(),
        "{} is built by cargo test",
        loader.display()
    );
    let child = Command::new("unshare")
        .args(["-n", "--"])
        .arg(&loader)
        .args(["--time-wait", "7", "--close-wait", "3", "--", "sleep", "30"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the loader");
    let mut isolated = Isolated(child);
    let path = format!("/proc/{}/ns/net", isolated.0.id());
    // The loader says "holding" once every socket exists; a /proc/net/tcp
    // read is no snapshot, so counting while sockets appear could miss one.
    let stderr = isolated.0.stderr.take().expect("loader stderr");
    let mut ready = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stderr), &mut ready)
        .expect("loader reports");
    assert!(ready.contains("holding"), "loader: {ready}");

    // The last closes may still be finishing their handshake on a busy
    // machine: wait (briefly) until the namespace holds what the loader made.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let (document, code) = loop {
        let (document, code) = tcptune_json(&["--netns", &path, "sockets", "--processes"]);
        if document["states"]["time_wait"] == 7 || std::time::Instant::now() > deadline {
            break (document, code);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(code, Some(0));
    assert_eq!(document["states"]["time_wait"], 7);
    assert_eq!(document["states"]["close_wait"], 3);
    let ss = run(Command::new("nsenter")
        .arg(format!("--net={path}"))
        .args(["ss", "-Htan"]));
    let ss = String::from_utf8_lossy(&ss.stdout);
    let count = |state: &str| {
        ss.lines()
            .filter(|line| line.split_whitespace().next() == Some(state))
            .count() as u64
    };
    assert_eq!(document["states"]["time_wait"], count("TIME-WAIT"));
    assert_eq!(document["states"]["close_wait"], count("CLOSE-WAIT"));
    assert_eq!(document["states"]["listen"], count("LISTEN"));
    assert_eq!(document["states"]["established"], count("ESTAB"));
    assert_eq!(
        document["close_wait_owners"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(document["close_wait_owners"][0]["count"], 3);

    // The drift check reads that namespace's values, not the host's.
    run(Command::new("nsenter").arg(format!("--net={path}")).args([
        "sysctl",
        "-qw",
        "net.ipv4.tcp_tw_reuse=0",
    ]));
    let (document, _) = tcptune_json(&["--netns", &path, "check", "--profile", "webserver"]);
    assert_eq!(
        finding(&document, "drift", "net.ipv4.tcp_tw_reuse").expect("drift")["current"],
        "0"
    );
    assert_eq!(
        host_value("net.ipv4.tcp_tw_reuse"),
        host_reuse,
        "the host must not move"
    );
}

#[test]
fn an_unknown_namespace_is_invalid_input() {
    let output = Command::new(env!("CARGO_BIN_EXE_tcptune"))
        .args(["--netns", "no-such-namespace-here", "check"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("/run/netns/no-such-namespace-here"));
}
