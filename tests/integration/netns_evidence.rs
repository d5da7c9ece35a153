//! The evidence findings against the real kernel, with real traffic, each
//! scenario in a private network namespace of its own (the plumbing of
//! `netns`: this test binary re-executed under `unshare -n`, the child
//! proving it moved before it creates a socket or writes a sysctl). With
//! `TCPTUNE_REQUIRE_NETNS=1` a missing namespace fails instead of skipping.

use std::env;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::netns::{
    CHILD_ENV, CHILD_TIMEOUT, DONE_MARKER, PARENT_NETNS_ENV, REQUIRE_ENV, assert_private_netns,
    current_netns, netns_available, output_within, run,
};
use crate::tcptune;

/// Runs `scenario` in a fresh network namespace (see `netns::in_netns`).
fn in_netns(test: &str, scenario: impl FnOnce()) {
    if env::var_os(CHILD_ENV).is_some() {
        assert_private_netns();
        run(Command::new("ip").args(["link", "set", "lo", "up"]));
        scenario();
        println!("{DONE_MARKER} {test}");
        return;
    }
    if let Err(reason) = netns_available() {
        assert!(
            env::var(REQUIRE_ENV).as_deref() != Ok("1"),
            "{REQUIRE_ENV}=1 but a private network namespace cannot be created: {reason}"
        );
        eprintln!(
            "skipping netns_evidence::{test}: {reason} (set {REQUIRE_ENV}=1 to make this a failure)"
        );
        return;
    }
    let mut command = Command::new("unshare");
    command
        .args(["-n", "--"])
        .arg(env::current_exe().expect("path of the test binary"))
        .args([
            "--exact",
            &format!("netns_evidence::{test}"),
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .env(PARENT_NETNS_ENV, current_netns());
    let output = output_within(&mut command, CHILD_TIMEOUT);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains(&format!("{DONE_MARKER} {test}")),
        "netns_evidence::{test} failed inside its namespace ({})\n--- child stdout ---\n{stdout}\n--- child stderr ---\n{stderr}",
        output.status
    );
}

/// Writes a sysctl of this (private) namespace.
pub(crate) fn sysctl_write(key: &str, value: &str) {
    assert_private_netns();
    run(Command::new("sysctl").args(["-qw", &format!("{key}={value}")]));
}

/// A listener on `address` with exactly `backlog` asked of listen(2). std
/// listens with its own backlog; calling listen() again on a listening
/// socket sets the new one (as a server must after somaxconn is raised).
pub(crate) fn listener_with_backlog(address: &str, backlog: i32) -> TcpListener {
    use nix::sys::socket::{Backlog, listen};
    let listener = TcpListener::bind(address).expect("bind");
    listen(&listener, Backlog::new(backlog).expect("backlog")).expect("listen again");
    listener
}

/// Connects `count` times without anyone accepting; connections the full
/// queue refuses time out quickly and are dropped (their SYNs counted by
/// the kernel as ListenOverflows).
pub(crate) fn connect_many(to: SocketAddr, count: usize) -> Vec<TcpStream> {
    (0..count)
        .filter_map(|_| TcpStream::connect_timeout(&to, Duration::from_millis(100)).ok())
        .collect()
}

/// `tcptune ARGS --format json` in this namespace, parsed, with its exit code.
pub(crate) fn tcptune_json(args: &[&str]) -> (Value, Option<i32>) {
    let output = tcptune()
        .args(args)
        .args(["--format", "json"])
        .output()
        .expect("run tcptune");
    let document = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "not JSON ({error}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (document, output.status.code())
}

pub(crate) fn finding<'a>(document: &'a Value, code: &str) -> Option<&'a Value> {
    document["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|finding| finding["code"] == code)
}

fn check(state: &Path) -> (Value, Option<i32>) {
    tcptune_json(&["check", "--state-dir", state.to_str().expect("utf-8 path")])
}

/// `ss -Hltn` for one port: (Recv-Q, Send-Q), the accept queue and backlog.
fn ss_listener(port: u16) -> (u64, u64) {
    let output = run(Command::new("ss").args(["-Hltn", &format!("sport = :{port}")]));
    let text = String::from_utf8_lossy(&output.stdout);
    let fields: Vec<&str> = text.split_whitespace().collect();
    (
        fields[1].parse().expect("Recv-Q"),
        fields[2].parse().expect("Send-Q"),
    )
}

#[test]
fn an_overflowing_listener_is_named_and_judged_since_the_last_check() {
    in_netns(
        "an_overflowing_listener_is_named_and_judged_since_the_last_check",
        || {
            let state = tempfile::tempdir().expect("tempdir");
            sysctl_write("net.core.somaxconn", "8");
            // Keep the port range away from the listeners of this scenario.
            sysctl_write("net.ipv4.ip_local_port_range", "50000 50999");

            // Before any traffic: the first reading is kept, nothing to say.
            let (first, _) = check(state.path());
            assert_eq!(first["counter_window"]["basis"], "lifetime");
            assert!(finding(&first, "listen-overflow").is_none(), "{first:#}");

            // A server that never accepts, with a backlog of 2 (a queue of
            // 3), and a server asking for 1000 that somaxconn cuts to 8.
            let stuck = listener_with_backlog("127.0.0.1:0", 2);
            let stuck_address = stuck.local_addr().expect("address");
            let clamped = listener_with_backlog("127.0.0.1:0", 1000);
            let clamped_port = clamped.local_addr().expect("address").port();
            let _held = connect_many(stuck_address, 12);

            // tcptune's listeners agree with ss.
            let (sockets, _) = tcptune_json(&["sockets"]);
            let listeners = sockets["listeners"].as_array().expect("listeners");
            let row = |port: u16| {
                listeners
                    .iter()
                    .find(|row| row["local"] == format!("127.0.0.1:{port}"))
                    .unwrap_or_else(|| panic!("no listener on {port}: {sockets:#}"))
            };
            let (queue, backlog) = ss_listener(stuck_address.port());
            assert_eq!(row(stuck_address.port())["accept_queue"], queue);
            assert_eq!(row(stuck_address.port())["backlog"], backlog);
            assert_eq!(backlog, 2);
            assert!(queue >= 2, "the stuck listener's queue filled: {queue}");
            assert_eq!(row(clamped_port)["backlog"], 8);
            let metrics = tcptune()
                .args(["sockets", "--format", "prometheus"])
                .output()
                .expect("run tcptune");
            let metrics = String::from_utf8_lossy(&metrics.stdout);
            assert!(
                metrics.contains(&format!(
                    "tcptune_listener_backlog{{listener=\"{stuck_address}\"}} 2"
                )),
                "{metrics}"
            );

            // Second check: overflows since the first, a warning naming the
            // listener and the process that holds it (this test).
            let (second, code) = check(state.path());
            assert_eq!(code, Some(1), "{second:#}");
            assert_eq!(second["counter_window"]["basis"], "previous_run");
            let overflow = finding(&second, "listen-overflow").expect("listen-overflow");
            assert_eq!(overflow["severity"], "warning");
            assert!(
                overflow["evidence"]["ListenOverflows"]
                    .as_i64()
                    .unwrap_or(0)
                    >= 1,
                "{overflow:#}"
            );
            let named = overflow["evidence"]["listener"]
                .as_str()
                .unwrap_or_default();
            assert!(
                named.starts_with(&format!("{stuck_address} ("))
                    && named.ends_with(&format!("pid {})", std::process::id())),
                "{overflow:#}"
            );
            assert!(
                overflow["message"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(&stuck_address.to_string())
            );

            // The clamped listener, with what to do about it.
            let clamp = finding(&second, "listen-backlog-clamped").expect("clamped");
            let names: Vec<&str> = clamp["evidence"]["listeners"]
                .as_array()
                .expect("listeners")
                .iter()
                .filter_map(|listener| listener["local"].as_str())
                .collect();
            assert_eq!(names, vec![format!("127.0.0.1:{clamped_port}")]);
            assert!(
                clamp["fix"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("listen() again")
            );

            // A third check with no new connects: the overflows are old news.
            let (third, _) = check(state.path());
            let quiet = finding(&third, "listen-overflow");
            assert!(
                quiet.is_none_or(|finding| finding["evidence"]["ListenOverflows"] == 0),
                "{third:#}"
            );
            drop(clamped);
        },
    );
}

#[test]
fn a_listener_inside_the_port_range_is_flagged_until_reserved() {
    in_netns(
        "a_listener_inside_the_port_range_is_flagged_until_reserved",
        || {
            sysctl_write("net.ipv4.ip_local_port_range", "40000 40100");
            let inside = TcpListener::bind("127.0.0.1:40050").expect("bind inside the range");
            let _outside = TcpListener::bind("127.0.0.1:8080").expect("bind outside");
            let (document, _) = tcptune_json(&["check"]);
            let flagged =
                finding(&document, "listener-in-ephemeral-range").expect("in-range finding");
            assert_eq!(flagged["evidence"]["ports"], serde_json::json!([40050]));
            assert!(
                flagged["fix"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("ip_local_reserved_ports = 40050")
            );
            sysctl_write("net.ipv4.ip_local_reserved_ports", "40050");
            let (document, _) = tcptune_json(&["check"]);
            assert!(
                finding(&document, "listener-in-ephemeral-range").is_none(),
                "{document:#}"
            );
            drop(inside);
        },
    );
}

#[test]
fn a_pool_of_established_connections_exhausts_ports() {
    in_netns("a_pool_of_established_connections_exhausts_ports", || {
        // 100 usable ports; the pool holds 90 of them open, no TIME_WAIT.
        sysctl_write("net.ipv4.ip_local_port_range", "40000 40099");
        let upstream = TcpListener::bind("127.0.0.1:9000").expect("bind upstream");
        let mut pool = Vec::new();
        let mut accepted = Vec::new();
        for _ in 0..90 {
            pool.push(TcpStream::connect("127.0.0.1:9000").expect("connect"));
            accepted.push(upstream.accept().expect("accept").0);
        }
        let (document, code) = tcptune_json(&["check"]);
        assert_eq!(code, Some(1));
        let exhaustion = finding(&document, "port-exhaustion").expect("port-exhaustion");
        assert_eq!(exhaustion["evidence"]["destination"], "127.0.0.1:9000");
        assert_eq!(exhaustion["evidence"]["source"], "127.0.0.1");
        assert_eq!(exhaustion["evidence"]["sockets"], 90);
        assert_eq!(exhaustion["evidence"]["time_wait"], 0);
        assert_eq!(exhaustion["evidence"]["states"]["established"], 90);
        assert_eq!(exhaustion["severity"], "error");
        assert!(
            exhaustion["message"]
                .as_str()
                .unwrap_or_default()
                .contains("(90 ESTABLISHED)"),
            "{exhaustion:#}"
        );
        // The accepted side (local port 9000, outside the range) holds no
        // ephemeral port: no finding toward the clients.
        assert_eq!(
            document["findings"]
                .as_array()
                .expect("findings")
                .iter()
                .filter(|finding| finding["code"] == "port-exhaustion")
                .count(),
            1
        );
        drop((pool, accepted));
    });
}

/// Whether `nft` can run here; without it the packet-dropping scenarios
/// skip, unless `TCPTUNE_REQUIRE_NETNS=1` (CI installs nftables).
pub(crate) fn nft_available(test: &str) -> bool {
    let found = Command::new("nft")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    if !found {
        assert!(
            env::var(REQUIRE_ENV).as_deref() != Ok("1"),
            "{REQUIRE_ENV}=1 but nft (nftables) is not installed"
        );
        eprintln!("skipping netns_evidence::{test}: nft is not installed");
    }
    found
}

/// Loads an nftables ruleset in this (private) namespace.
pub(crate) fn nft_load(ruleset: &str) {
    use std::io::Write;
    assert_private_netns();
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("run nft");
    child
        .stdin
        .take()
        .expect("nft stdin")
        .write_all(ruleset.as_bytes())
        .expect("write the ruleset");
    assert!(
        child.wait().expect("wait for nft").success(),
        "nft refused: {ruleset}"
    );
}

#[test]
fn a_syn_queue_full_of_unfinished_handshakes_is_a_flood() {
    if env::var_os(CHILD_ENV).is_none()
        && !nft_available("a_syn_queue_full_of_unfinished_handshakes_is_a_flood")
    {
        return;
    }
    in_netns(
        "a_syn_queue_full_of_unfinished_handshakes_is_a_flood",
        || {
            let state = tempfile::tempdir().expect("tempdir");
            sysctl_write("net.ipv4.tcp_syncookies", "1");
            // The server never sees the handshake's last ACK: every connection
            // stays half-open (SYN_RECV), and once the listener holds as many
            // as its backlog the kernel answers with cookies that never return.
            let listener = listener_with_backlog("127.0.0.1:7000", 4);
            nft_load(
                "table inet evidence {\n chain input {\n  type filter hook input priority 0;\n  \
             tcp dport 7000 tcp flags & (syn | ack) == ack drop\n }\n}\n",
            );
            let (first, _) = check(state.path());
            assert!(finding(&first, "syn-queue-full").is_none(), "{first:#}");
            // The clients see their SYN-ACK and believe they are connected.
            let clients = connect_many("127.0.0.1:7000".parse().expect("address"), 20);
            assert!(!clients.is_empty());

            let (second, code) = check(state.path());
            assert_eq!(code, Some(1), "{second:#}");
            let full = finding(&second, "syn-queue-full").expect("syn-queue-full");
            assert_eq!(full["severity"], "warning");
            assert_eq!(full["evidence"]["diagnosis"], "flood", "{full:#}");
            assert!(full["evidence"]["SyncookiesSent"].as_i64().unwrap_or(0) >= 1);
            assert_eq!(full["evidence"]["SyncookiesRecv"], 0);
            let named = full["evidence"]["listener"].as_str().unwrap_or_default();
            assert!(named.starts_with("127.0.0.1:7000"), "{full:#}");
            // SYN_RECV per listener, as ss counts them.
            let listeners = second["sockets"]["listeners"]
                .as_array()
                .expect("listeners");
            let row = listeners
                .iter()
                .find(|row| row["local"] == "127.0.0.1:7000")
                .expect("listener row");
            let ss =
                run(Command::new("ss").args(["-Htn", "state", "syn-recv", "sport", "= :7000"]));
            let ss_count = String::from_utf8_lossy(&ss.stdout).lines().count() as u64;
            assert!(ss_count >= 1);
            assert_eq!(row["syn_recv"], ss_count, "{row:#}");
            drop((listener, clients));
        },
    );
}

/// The per-CPU rows of /proc/net/stat/nf_conntrack summed, for one column.
fn conntrack_stat_column(name: &str) -> i64 {
    let text = std::fs::read_to_string("/proc/net/stat/nf_conntrack").expect("conntrack stat");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split_whitespace().collect();
    let column = header
        .iter()
        .position(|known| *known == name)
        .expect("column");
    lines
        .filter_map(|line| line.split_whitespace().nth(column))
        .map(|value| i64::from_str_radix(value, 16).expect("hex"))
        .sum()
}

/// nf_conntrack is built into this kernel (`modprobe` is not available
/// here): a rule that needs it makes this namespace track connections.
#[test]
fn connection_tracking_is_counted_per_namespace() {
    if env::var_os(CHILD_ENV).is_none() {
        if !Path::new("/proc/sys/net/netfilter/nf_conntrack_max").exists() {
            assert!(
                env::var(REQUIRE_ENV).as_deref() != Ok("1"),
                "nf_conntrack is neither built in nor loaded"
            );
            eprintln!("skipping: nf_conntrack is not loaded");
            return;
        }
        if !nft_available("connection_tracking_is_counted_per_namespace") {
            return;
        }
    }
    in_netns("connection_tracking_is_counted_per_namespace", || {
        let host_max = std::fs::read_to_string("/proc/sys/net/netfilter/nf_conntrack_max")
            .expect("max")
            .trim()
            .to_owned();
        nft_load(
            "table inet evidence {\n chain input {\n  type filter hook input priority 0;\n  \
             ct state established,related accept\n }\n}\n",
        );
        let listener = TcpListener::bind("127.0.0.1:7100").expect("bind");
        let mut held = Vec::new();
        for _ in 0..25 {
            let client = TcpStream::connect("127.0.0.1:7100").expect("connect");
            held.push((client, listener.accept().expect("accept").0));
        }
        let (document, _) = tcptune_json(&["check"]);
        let conntrack = &document["conntrack"];
        let count = std::fs::read_to_string("/proc/sys/net/netfilter/nf_conntrack_count")
            .expect("count")
            .trim()
            .parse::<i64>()
            .expect("number");
        assert!(count >= 25, "{count}");
        // Entries only expire here, never appear on their own: the count
        // tcptune read is between 25 and the count read after it.
        let seen = conntrack["count"].as_i64().expect("count");
        assert!((25..=count).contains(&seen), "{conntrack:#}");
        assert_eq!(conntrack["max"].to_string(), host_max);
        // The summed per-CPU statistics match an independent sum (they
        // stay 0 without pressure: drops are proven on a tree in
        // counters.rs, since a child cannot lower the machine's limit).
        for column in ["drop", "early_drop", "insert_failed", "invalid"] {
            assert_eq!(
                conntrack["stat"][column].as_i64(),
                Some(conntrack_stat_column(column)),
                "{column}: {conntrack:#}"
            );
        }
        assert!(conntrack["stat"].get("entries").is_none());
        // The limit is the machine's: read-only here.
        let mode = std::fs::metadata("/proc/sys/net/netfilter/nf_conntrack_max").expect("metadata");
        assert!(
            std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o222 == 0,
            "nf_conntrack_max is writable in a child namespace"
        );
        // Twenty-five of 262144 is no finding.
        assert!(finding(&document, "conntrack-table-full").is_none());
        drop((listener, held));
    });
}

#[test]
fn packet_loss_shows_as_retransmits_over_the_window() {
    if env::var_os(CHILD_ENV).is_none()
        && !nft_available("packet_loss_shows_as_retransmits_over_the_window")
    {
        return;
    }
    in_netns("packet_loss_shows_as_retransmits_over_the_window", || {
        use std::io::{Read, Write};
        let state = tempfile::tempdir().expect("tempdir");
        // Ethernet-sized segments, so a transfer is thousands of them.
        run(Command::new("ip").args(["link", "set", "lo", "mtu", "1500"]));
        let (first, _) = check(state.path());
        assert!(finding(&first, "retransmits").is_none(), "{first:#}");
        // One data packet in five toward the receiver is lost on its way in
        // (a drop on output is a local error TCP retries as new data, not a
        // loss it retransmits).
        nft_load(
            "table inet evidence {\n chain input {\n  type filter hook input priority 0;\n  \
             tcp dport 7200 tcp flags & (syn | fin | rst) == 0 meta length > 200 numgen random mod 5 == 0 drop\n }\n}\n",
        );
        let listener = TcpListener::bind("127.0.0.1:7200").expect("bind");
        // Both ends stay open: the peer is named from the open connection's
        // own tcp_info.
        let receiver = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().expect("accept");
            let mut received = vec![0u8; 8 << 20];
            stream.read_exact(&mut received).expect("read");
            stream
        });
        let mut sender = TcpStream::connect("127.0.0.1:7200").expect("connect");
        let block = vec![7u8; 1 << 20];
        for _ in 0..8 {
            sender.write_all(&block).expect("send");
        }
        let _receiving = receiver.join().expect("receiver");

        let (second, _) = check(state.path());
        let lossy = finding(&second, "retransmits")
            .unwrap_or_else(|| panic!("no retransmits: {:#}", second["counter_window"]));
        assert_eq!(lossy["evidence"]["counter_window"]["basis"], "previous_run");
        let retransmitted = lossy["evidence"]["RetransSegs"].as_i64().unwrap_or(0);
        let sent = lossy["evidence"]["OutSegs"].as_i64().unwrap_or(0);
        assert!(sent >= 2000 && retransmitted >= 50, "{lossy:#}");
        // Loss of a fifth is far past the warning line.
        assert_eq!(lossy["severity"], "warning", "{lossy:#}");
        assert_eq!(lossy["evidence"]["peer"], "127.0.0.1:7200", "{lossy:#}");
        let peer = &lossy["evidence"]["peers_of_open_connections"][0];
        assert!(peer["segments"].as_i64().unwrap_or(0) >= 1, "{lossy:#}");
        drop(sender);
    });
}

/// A profile file in `dir` extending `default` with an idle timeout; its path.
fn idle_timeout_profile(dir: &Path, seconds: u64) -> String {
    let profile = dir.join(format!("idle-{seconds}.yaml"));
    std::fs::write(
        &profile,
        format!("extends: default\nthresholds:\n  idle_timeout_seconds: {seconds}\n"),
    )
    .expect("write profile");
    profile.to_str().expect("utf-8 path").to_owned()
}

#[test]
fn keepalive_later_than_the_named_idle_timeout_is_a_setting_finding() {
    in_netns(
        "keepalive_later_than_the_named_idle_timeout_is_a_setting_finding",
        || {
            let dir = tempfile::tempdir().expect("tempdir");
            let profile = idle_timeout_profile(dir.path(), 350);
            let profile = profile.as_str();
            // A new namespace starts with the kernel's 7200 s.
            sysctl_write("net.ipv4.tcp_keepalive_time", "7200");
            let (late, _) = tcptune_json(&["check", "--profile", profile]);
            crate::schema::assert_valid("check", &late, "check with an idle timeout");
            let found = finding(&late, "keepalive-after-idle-timeout")
                .unwrap_or_else(|| panic!("no keepalive-after-idle-timeout: {late:#}"));
            assert_eq!(found["kind"], "setting", "{found:#}");
            assert_eq!(found["key"], "net.ipv4.tcp_keepalive_time", "{found:#}");
            assert_eq!(found["evidence"]["tcp_keepalive_time"], 7200, "{found:#}");
            assert_eq!(found["evidence"]["idle_timeout_seconds"], 350, "{found:#}");

            sysctl_write("net.ipv4.tcp_keepalive_time", "300");
            let (early, _) = tcptune_json(&["check", "--profile", profile]);
            assert!(
                finding(&early, "keepalive-after-idle-timeout").is_none(),
                "{early:#}"
            );
            // Without a named timeout there is nothing to judge against.
            sysctl_write("net.ipv4.tcp_keepalive_time", "7200");
            let (unnamed, _) = tcptune_json(&["check"]);
            assert!(
                finding(&unnamed, "keepalive-after-idle-timeout").is_none(),
                "{unnamed:#}"
            );
        },
    );
}

/// `ss -Htino state established`: per socket, whether its keepalive timer
/// is pending and how long it has been idle (the smallest of lastsnd,
/// lastrcv and lastack, which ss leaves out when 0).
fn ss_established_idle() -> Vec<(bool, u64)> {
    let output = run(Command::new("ss").args(["-Htino", "state", "established"]));
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut sockets = Vec::new();
    let mut keepalive = None;
    for line in text.lines() {
        if !line.starts_with(char::is_whitespace) {
            keepalive = Some(line.contains("timer:(keepalive"));
            continue;
        }
        let Some(keepalive) = keepalive.take() else {
            continue;
        };
        let field = |name: &str| {
            line.split_whitespace()
                .find_map(|word| word.strip_prefix(name))
                .and_then(|value| value.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let idle = ["lastsnd:", "lastrcv:", "lastack:"]
            .iter()
            .map(|name| field(name))
            .min()
            .unwrap_or(0);
        sockets.push((keepalive, idle));
    }
    sockets
}

#[test]
fn idle_connections_without_keepalive_past_the_timeout_are_counted() {
    in_netns(
        "idle_connections_without_keepalive_past_the_timeout_are_counted",
        || {
            use nix::sys::socket::{setsockopt, sockopt::KeepAlive};
            use std::io::{Read, Write};
            let dir = tempfile::tempdir().expect("tempdir");
            let profile = idle_timeout_profile(dir.path(), 1);
            let profile = profile.as_str();
            let listener = TcpListener::bind("127.0.0.1:7400").expect("bind");
            // One exchange each, so both ends have sent and received data.
            let pair = |keepalive: bool| {
                let mut client = TcpStream::connect("127.0.0.1:7400").expect("connect");
                let (mut server, _) = listener.accept().expect("accept");
                if keepalive {
                    setsockopt(&client, KeepAlive, &true).expect("SO_KEEPALIVE");
                    setsockopt(&server, KeepAlive, &true).expect("SO_KEEPALIVE");
                }
                client.write_all(b"ping").expect("write");
                let mut buffer = [0u8; 4];
                server.read_exact(&mut buffer).expect("read");
                server.write_all(b"pong").expect("write");
                client.read_exact(&mut buffer).expect("read");
                (client, server)
            };
            let plain = pair(false);
            let kept = pair(true);
            std::thread::sleep(Duration::from_millis(2500));
            // Fresh: idle for less than the timeout.
            let fresh = pair(false);

            let (document, _) = tcptune_json(&["check", "--profile", profile]);
            crate::schema::assert_valid("check", &document, "check with idle connections");
            let found = finding(&document, "idle-past-timeout")
                .unwrap_or_else(|| panic!("no idle-past-timeout: {document:#}"));
            assert_eq!(found["kind"], "workload", "{found:#}");
            // Both ends of the plain pair; the kept pair has its timer.
            assert_eq!(found["evidence"]["idle_without_keepalive"], 2, "{found:#}");
            assert_eq!(found["evidence"]["idle_with_keepalive"], 2, "{found:#}");
            let peers: Vec<&str> = found["evidence"]["peers"]
                .as_array()
                .expect("peers")
                .iter()
                .filter_map(|peer| peer["peer"].as_str())
                .collect();
            assert!(peers.contains(&"127.0.0.1:7400"), "{found:#}");
            // Both ends of the plain pair are this process's.
            let process = &found["evidence"]["processes"][0];
            assert_eq!(process["pid"], std::process::id(), "{found:#}");
            assert_eq!(process["connections"], 2, "{found:#}");
            let idle = &document["sockets"]["idle"];
            assert_eq!(idle["after_seconds"], 1, "{idle:#}");
            assert_eq!(idle["without_keepalive"], 2, "{idle:#}");
            // The same count from ss's timers and last-activity times.
            let from_ss = ss_established_idle();
            assert_eq!(from_ss.len(), 6, "{from_ss:?}");
            let idle_plain = from_ss
                .iter()
                .filter(|(keepalive, idle)| !keepalive && *idle >= 1000)
                .count();
            let idle_kept = from_ss
                .iter()
                .filter(|(keepalive, idle)| *keepalive && *idle >= 1000)
                .count();
            assert_eq!((idle_plain, idle_kept), (2, 2), "{from_ss:?}");
            let metrics = crate::prometheus::checked_by_promtool(&["check", "--profile", profile]);
            assert!(
                metrics.contains("\ntcptune_idle_connections{keepalive=\"no\"} 2\n")
                    && metrics.contains("\ntcptune_idle_timeout_seconds 1\n"),
                "{metrics}"
            );
            // Without a named timeout nothing is counted.
            let (unnamed, _) = tcptune_json(&["check"]);
            assert!(
                finding(&unnamed, "idle-past-timeout").is_none(),
                "{unnamed:#}"
            );
            assert!(unnamed["sockets"].get("idle").is_none(), "{unnamed:#}");
            drop((plain, kept, fresh));
        },
    );
}

/// A second network namespace, held by a process of its own, reached by a
/// veth pair: 10.9.0.1 here, 10.9.0.2 there. Dropped, it ends the process.
struct Peer {
    holder: std::process::Child,
    pid: String,
}

impl Peer {
    fn new() -> Peer {
        assert_private_netns();
        let holder = Command::new("unshare")
            .args(["-n", "sleep", "300"])
            .spawn()
            .expect("unshare a second namespace");
        let pid = holder.id().to_string();
        let ours = std::fs::read_link("/proc/self/ns/net").expect("our namespace");
        let link = format!("/proc/{pid}/ns/net");
        for _ in 0..100 {
            if std::fs::read_link(&link).is_ok_and(|theirs| theirs != ours) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let peer = Peer { holder, pid };
        run(Command::new("ip").args([
            "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", &peer.pid,
        ]));
        run(Command::new("ip").args(["addr", "add", "10.9.0.1/24", "dev", "va"]));
        run(Command::new("ip").args(["link", "set", "va", "up"]));
        peer.run(&["ip", "link", "set", "lo", "up"]);
        peer.run(&["ip", "addr", "add", "10.9.0.2/24", "dev", "vb"]);
        peer.run(&["ip", "link", "set", "vb", "up"]);
        peer
    }

    /// Runs a command inside the peer's namespace.
    fn run(&self, args: &[&str]) {
        run(Command::new("nsenter")
            .args(["-t", &self.pid, "-n", "--"])
            .args(args));
    }

    /// Starts a thread inside the peer's namespace (setns moves only the
    /// calling thread; sockets keep the namespace they were made in).
    fn spawn<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> std::thread::JoinHandle<T> {
        let namespace =
            std::fs::File::open(format!("/proc/{}/ns/net", self.pid)).expect("peer namespace");
        std::thread::spawn(move || {
            nix::sched::setns(&namespace, nix::sched::CloneFlags::CLONE_NEWNET)
                .expect("enter the peer namespace");
            work()
        })
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// `ss -tin` for the connection from `local_port`: (busy, rwnd_limited) in ms.
fn ss_busy_times(local_port: u16) -> (u64, u64) {
    let output = run(Command::new("ss").args(["-Htin", &format!("sport = :{local_port}")]));
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let field = |name: &str| {
        text.split_whitespace()
            .find_map(|word| word.strip_prefix(name))
            .and_then(|value| value.split("ms").next())
            .and_then(|value| value.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (field("busy:"), field("rwnd_limited:"))
}

/// Sends for `seconds` from here to the peer's receiver with CUBIC (this
/// machine may default to a congestion control that paces), then waits
/// until everything is acknowledged and returns the open connection.
fn bulk_transfer(seconds: u64) -> TcpStream {
    use nix::sys::socket::{setsockopt, sockopt::TcpCongestion};
    use std::io::Write;
    let mut sender = TcpStream::connect("10.9.0.2:7300").expect("connect to the peer");
    setsockopt(&sender, TcpCongestion, &std::ffi::OsString::from("cubic")).expect("cubic");
    let block = vec![7u8; 1 << 20];
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(seconds) {
        sender.write_all(&block).expect("send");
    }
    // Let the last of the buffer drain: the busy times stop with it.
    std::thread::sleep(Duration::from_millis(2000));
    sender
}

#[test]
fn a_receive_window_below_the_path_is_buffer_limited_and_a_big_one_is_not() {
    in_netns(
        "a_receive_window_below_the_path_is_buffer_limited_and_a_big_one_is_not",
        || {
            use std::sync::Arc;
            use std::sync::atomic::{AtomicBool, Ordering};
            let peer = Peer::new();
            // The path: 200 Mbit/s out of here, and on the way back a
            // 50 Mbit/s link kept full by the peer's UDP traffic, so every
            // ACK waits in a standing queue of about 10-40 ms (a netem-free
            // delay line: tbf is built into this kernel, netem is not).
            run(Command::new("tc").args([
                "qdisc", "add", "dev", "va", "root", "tbf", "rate", "200mbit", "burst", "32kb",
                "latency", "50ms",
            ]));
            peer.run(&[
                "tc", "qdisc", "add", "dev", "vb", "root", "tbf", "rate", "50mbit", "burst",
                "16kb", "latency", "40ms",
            ]);
            let stop = Arc::new(AtomicBool::new(false));
            let filling = Arc::clone(&stop);
            let filler = peer.spawn(move || {
                let socket = std::net::UdpSocket::bind("10.9.0.2:0").expect("udp");
                let payload = [0u8; 1400];
                // 62 Mbit/s: more than the link carries, so it stays full.
                let per_second = 62_000_000.0 / 8.0 / 1400.0;
                let started = std::time::Instant::now();
                let mut sent = 0u64;
                while !filling.load(Ordering::Relaxed) {
                    let due = (started.elapsed().as_secs_f64() * per_second) as u64;
                    while sent < due {
                        let _ = socket.send_to(&payload, "10.9.0.1:9");
                        sent += 1;
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
            });
            let (ready, listening) = std::sync::mpsc::channel();
            let _receiver = peer.spawn(move || {
                use std::io::Read;
                let listener = TcpListener::bind("10.9.0.2:7300").expect("bind in the peer");
                ready.send(()).expect("ready");
                for stream in listener.incoming() {
                    let Ok(mut stream) = stream else { break };
                    std::thread::spawn(move || {
                        let mut buffer = vec![0u8; 1 << 20];
                        while stream.read(&mut buffer).is_ok_and(|read| read > 0) {}
                    });
                }
            });
            listening.recv().expect("the peer listens");
            std::thread::sleep(Duration::from_millis(1000));

            // A receive buffer of at most 64 KiB at the peer.
            peer.run(&["sysctl", "-qw", "net.ipv4.tcp_rmem=4096 65536 65536"]);
            let small = bulk_transfer(3);
            let port = small.local_addr().expect("local").port();
            let (document, _) = tcptune_json(&["check"]);
            crate::schema::assert_valid(
                "check",
                &document,
                "check with a window-limited connection",
            );
            let found = finding(&document, "buffer-limited")
                .unwrap_or_else(|| panic!("no buffer-limited: {:#}", document["sockets"]));
            assert_eq!(found["evidence"]["limit"], "receive_window", "{found:#}");
            assert_eq!(
                found["severity"], "info",
                "the window is the peer's: {found:#}"
            );
            let connection = &found["evidence"]["connections"][0];
            assert_eq!(connection["peer"], "10.9.0.2:7300", "{found:#}");
            assert_eq!(
                connection["process"]["pid"],
                std::process::id(),
                "{found:#}"
            );
            assert!(
                found["fix"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("on the peer (10.9.0.2)"),
                "{found:#}"
            );
            assert!(
                found["evidence"]["suggested_maximum_bytes"]
                    .as_u64()
                    .unwrap_or(0)
                    > 65536,
                "{found:#}"
            );
            // The kernel's own accounting, as ss shows it (milliseconds).
            let (busy_ms, limited_ms) = ss_busy_times(port);
            let busy = connection["busy_seconds"].as_f64().unwrap_or(0.0);
            let limited = connection["limited_seconds"].as_f64().unwrap_or(0.0);
            assert!(
                (busy * 1000.0 - busy_ms as f64).abs() <= 2.0,
                "ss busy {busy_ms} ms: {found:#}"
            );
            assert!(
                (limited * 1000.0 - limited_ms as f64).abs() <= 2.0,
                "ss rwnd_limited {limited_ms} ms: {found:#}"
            );
            assert!(
                limited_ms * 2 >= busy_ms,
                "ss: {limited_ms} of {busy_ms} ms"
            );
            drop(small);

            // A receive buffer that can grow to 32 MiB: the connection now
            // fills the 200 Mbit/s link instead, and the window is not what
            // holds it back.
            peer.run(&["sysctl", "-qw", "net.ipv4.tcp_rmem=4096 131072 33554432"]);
            let big = bulk_transfer(3);
            let port = big.local_addr().expect("local").port();
            let (document, _) = tcptune_json(&["check"]);
            assert!(
                finding(&document, "buffer-limited").is_none(),
                "{:#}",
                document["sockets"]
            );
            let (busy_ms, limited_ms) = ss_busy_times(port);
            assert!(
                busy_ms >= 2000 && limited_ms * 4 < busy_ms,
                "ss: {limited_ms} of {busy_ms} ms"
            );
            drop(big);
            stop.store(true, Ordering::Relaxed);
            filler.join().expect("filler");
        },
    );
}
