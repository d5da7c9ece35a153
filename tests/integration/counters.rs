//! Counters judged as rates: `check --state-dir` keeps each reading and
//! judges the next run's counters by their change since then; without a
//! usable reading the totals are lifetime and raise no warning alone. Run on
//! copies of fixture trees, whose netstat the tests edit between runs.

use std::path::Path;

use serde_json::Value;

use crate::{copy_tree, fixture, json_output, tcptune};

/// Sets one `TcpExt` counter in a netstat file (header and value lines).
pub fn set_tcp_ext(proc: &Path, name: &str, value: i64) {
    let path = proc.join("net/netstat");
    let text = std::fs::read_to_string(&path).expect("read netstat");
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<String> = lines.iter().map(|line| (*line).to_owned()).collect();
    let header = lines
        .iter()
        .position(|line| line.starts_with("TcpExt:"))
        .expect("TcpExt header");
    let names: Vec<&str> = lines[header].split_whitespace().collect();
    let mut values: Vec<String> = lines[header + 1]
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    match names.iter().position(|known| *known == name) {
        Some(index) => values[index] = value.to_string(),
        None => {
            out[header] = format!("{} {name}", lines[header]);
            values.push(value.to_string());
        }
    }
    out[header + 1] = values.join(" ");
    std::fs::write(&path, out.join("\n") + "\n").expect("write netstat");
}

fn check(base: &Path, state: Option<&Path>, code: i32) -> Value {
    let mut command = tcptune();
    command
        .arg("--proc")
        .arg(base.join("proc"))
        .arg("--root")
        .arg(base.join("root"))
        .args(["check", "--format", "json"]);
    if let Some(state) = state {
        command.arg("--state-dir").arg(state);
    }
    json_output(&mut command, code)
}

fn listen_overflow(document: &Value) -> Option<&Value> {
    document["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|finding| finding["code"] == "listen-overflow")
}

#[test]
fn listen_overflows_are_judged_since_the_previous_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(&fixture("modern-defaults"), dir.path());
    let state = dir.path().join("state");
    set_tcp_ext(&dir.path().join("proc"), "ListenOverflows", 5000);
    set_tcp_ext(&dir.path().join("proc"), "ListenDrops", 5000);

    // First run: nothing to compare with, so the total is lifetime: told,
    // not warned about.
    let first = check(dir.path(), Some(&state), 0);
    assert_eq!(first["counter_window"]["basis"], "lifetime");
    let told = listen_overflow(&first).expect("lifetime listen-overflow");
    assert_eq!(told["severity"], "info");
    assert_eq!(told["evidence"]["ListenOverflows"], 5000);
    let kept: Vec<_> = std::fs::read_dir(&state)
        .expect("state dir")
        .map(|entry| entry.expect("entry").file_name())
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(
        kept[0].to_string_lossy().starts_with("counters-"),
        "{kept:?}"
    );

    // Nothing new since: no finding at all, though the total is 5000.
    let second = check(dir.path(), Some(&state), 0);
    assert_eq!(second["counter_window"]["basis"], "previous_run");
    assert_eq!(second["counter_window"]["changes"]["ListenOverflows"], 0);
    assert!(listen_overflow(&second).is_none(), "{second:#}");

    // Forty more overflows: a warning over the window since the last run.
    set_tcp_ext(&dir.path().join("proc"), "ListenOverflows", 5040);
    set_tcp_ext(&dir.path().join("proc"), "ListenDrops", 5040);
    let third = check(dir.path(), Some(&state), 1);
    assert_eq!(third["counter_window"]["basis"], "previous_run");
    let warned = listen_overflow(&third).expect("measured listen-overflow");
    assert_eq!(warned["severity"], "warning");
    assert_eq!(warned["evidence"]["ListenOverflows"], 40);
    assert_eq!(warned["evidence"]["ListenOverflows_total"], 5040);
    assert_eq!(
        warned["evidence"]["counter_window"]["basis"],
        "previous_run"
    );
    assert!(
        warned["message"]
            .as_str()
            .unwrap_or_default()
            .contains("since the previous check"),
        "{warned:#}"
    );

    // Counters lower than the kept reading: the namespace started again.
    set_tcp_ext(&dir.path().join("proc"), "ListenOverflows", 3);
    let restarted = check(dir.path(), Some(&state), 0);
    assert_eq!(restarted["counter_window"]["basis"], "lifetime");
    assert!(
        restarted["counter_window"]["note"]
            .as_str()
            .unwrap_or_default()
            .contains("started again")
    );
}

#[test]
fn a_fixture_run_keeps_nothing_without_a_state_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(&fixture("modern-defaults"), dir.path());
    // Even where the default state directory exists: a tree of plain files
    // is not a live namespace whose counters could be compared later.
    let default = dir.path().join("root/var/lib/tcptune");
    std::fs::create_dir_all(&default).expect("mkdir");
    let document = check(dir.path(), None, 0);
    assert_eq!(document["counter_window"]["basis"], "lifetime");
    assert_eq!(
        std::fs::read_dir(&default).expect("read state").count(),
        0,
        "check wrote into {}",
        default.display()
    );
}

/// Sets sockstat's `TCP: ... mem N` in a tree.
fn set_sockstat_mem(proc: &Path, pages: u64) {
    let path = proc.join("net/sockstat");
    let text = std::fs::read_to_string(&path).expect("read sockstat");
    let changed: Vec<String> = text
        .lines()
        .map(|line| {
            if !line.starts_with("TCP:") {
                return line.to_owned();
            }
            let mut words: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
            let at = words.iter().position(|word| word == "mem").expect("mem") + 1;
            words[at] = pages.to_string();
            words.join(" ")
        })
        .collect();
    std::fs::write(&path, changed.join("\n") + "\n").expect("write sockstat");
}

/// Global TCP memory pressure cannot be made inside a namespace (tcp_mem
/// and sockstat mem are the machine's), so a tree stands in for it.
#[test]
fn tcp_memory_at_its_hard_limit_is_an_error_with_what_holds_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(&fixture("modern-defaults"), dir.path());
    let proc = dir.path().join("proc");
    let state = dir.path().join("state");
    // tcp_mem of the fixture: 382185 509582 764370 pages.
    set_sockstat_mem(&proc, 600_000);
    set_tcp_ext(&proc, "TCPAbortOnMemory", 100);
    let first = check(dir.path(), Some(&state), 1);
    let pressure = first["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|finding| finding["code"] == "tcp-memory-pressure")
        .expect("tcp-memory-pressure");
    assert_eq!(pressure["severity"], "warning");
    assert_eq!(pressure["kind"], "workload");
    assert_eq!(pressure["evidence"]["mem_pages"], 600_000);
    assert_eq!(
        pressure["evidence"]["tcp_mem"],
        serde_json::json!([382185, 509582, 764370])
    );

    set_sockstat_mem(&proc, 770_000);
    set_tcp_ext(&proc, "TCPAbortOnMemory", 130);
    let second = check(dir.path(), Some(&state), 1);
    let full = second["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|finding| finding["code"] == "tcp-memory-pressure")
        .expect("tcp-memory-pressure");
    assert_eq!(full["severity"], "error");
    assert_eq!(full["evidence"]["TCPAbortOnMemory"], 30);
    assert!(
        full["rationale"]
            .as_str()
            .unwrap_or_default()
            .contains("TCP: out of memory -- consider tuning tcp_mem")
    );
    assert!(
        full["fix"]
            .as_str()
            .unwrap_or_default()
            .starts_with("find what holds the memory first: orphans")
    );
    // The same numbers for monitoring.
    let metrics = tcptune()
        .arg("--proc")
        .arg(&proc)
        .arg("--root")
        .arg(dir.path().join("root"))
        .args(["check", "--format", "prometheus"])
        .output()
        .expect("run tcptune");
    let metrics = String::from_utf8_lossy(&metrics.stdout);
    assert!(
        metrics.contains("tcptune_tcp_memory_pages 770000"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tcptune_tcp_mem_pages{threshold=\"max\"} 764370"),
        "{metrics}"
    );
}

/// A full table cannot be made in a child namespace (its limit is the
/// machine's and read-only there), so a tree stands in for it.
#[test]
fn conntrack_drops_are_judged_over_the_window_with_their_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(&fixture("modern-defaults"), dir.path());
    let proc = dir.path().join("proc");
    let state = dir.path().join("state");
    let netfilter = proc.join("sys/net/netfilter");
    std::fs::create_dir_all(&netfilter).expect("mkdir");
    std::fs::create_dir_all(proc.join("net/stat")).expect("mkdir");
    std::fs::write(netfilter.join("nf_conntrack_max"), "262144\n").expect("max");
    std::fs::write(netfilter.join("nf_conntrack_buckets"), "65536\n").expect("buckets");
    let stat = |drops: u32| {
        format!(
            "entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart\n\
             00001000  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000001 {drops:08x} 00000002 00000000  00000000 00000000 00000000 00000000\n\
             00001000  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 {drops:08x} 00000000 00000000  00000000 00000000 00000000 00000000\n"
        )
    };
    std::fs::write(netfilter.join("nf_conntrack_count"), "1000\n").expect("count");
    std::fs::write(proc.join("net/stat/nf_conntrack"), stat(5)).expect("stat");
    let first = check(dir.path(), Some(&state), 0);
    assert_eq!(first["conntrack"]["count"], 1000);
    assert_eq!(first["conntrack"]["stat"]["drop"], 10);
    let lifetime = first["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|finding| finding["code"] == "conntrack-table-full")
        .expect("lifetime conntrack finding");
    assert_eq!(lifetime["severity"], "info");

    // 255,000 of 262,144 and 2 x 0x20 - 10 = 54 more drops since.
    std::fs::write(netfilter.join("nf_conntrack_count"), "255000\n").expect("count");
    std::fs::write(proc.join("net/stat/nf_conntrack"), stat(0x20)).expect("stat");
    let second = check(dir.path(), Some(&state), 1);
    let full = second["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|finding| finding["code"] == "conntrack-table-full")
        .expect("conntrack-table-full");
    assert_eq!(full["severity"], "error");
    assert_eq!(full["key"], "net.netfilter.nf_conntrack_max");
    assert_eq!(full["evidence"]["drop"], 54);
    assert_eq!(full["evidence"]["usage_percent"], 97);
    assert_eq!(second["counter_window"]["changes"]["drop"], 54);
}
